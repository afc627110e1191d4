"""Hardening of the upload boundary and the reader (review findings M7, M8, M9, S3, S4, S5).

Each test reproduces a reviewer's finding and fails on the code as it was before the fix.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.atlas import Atlas
from app.errors import PayloadTooLarge, ProfileError, UnreadableFile
from app.http.factory import create_app
from app.http.routers import datasets as datasets_router
from app.ingest import profiles
from app.ingest.profiles import BUILTIN_DIR, load_profile
from app.ingest.reader import SourceFile, open_upload, read_table, read_zip
from tests.app.test_http_ingest import _assert_problem, _token

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
ROW = (
    "{id},2022-03,Surrey Police,Surrey Police,-0.570000,51.240000,On or near High Street,"
    "E01030000,Guildford 001A,Burglary,Under investigation,"
)
BAD_MONTH = ROW.replace("2022-03", "2022-13")
PROJECT = Path(__file__).resolve().parents[2]


def police_csv(n_good: int, n_bad: int = 0, prefix: str = "r") -> bytes:
    rows = [ROW.format(id=f"{prefix}{i}") for i in range(n_good)]
    rows += [BAD_MONTH.format(id=f"{prefix}bad{i}") for i in range(n_bad)]
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode()


def upload(
    client: TestClient, dataset: str, data: bytes, headers: dict[str, str], **form: str
) -> Any:
    return client.post(
        f"/api/v1/datasets/{dataset}/batches",
        files={"file": ("f.csv", data, "text/csv")},
        data=form,
        headers=headers,
    )


# -- M7: the profile form field never opens a path ------------------------------------------


def test_profile_field_never_opens_a_path(client: TestClient, atlas: Atlas, tmp_path: Path) -> None:
    headers = _token(atlas, "analyst")
    existing = PROJECT / "pyproject.toml"
    binary = Path(sys.executable).resolve()  # a real binary file (the reviewer's python3.11)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert existing.is_file() and binary.is_file()
    paths = [existing, PROJECT / "no-such-profile.toml", binary, folder, Path("/etc/passwd")]
    details = set()
    for path in paths:
        resp = upload(client, "d", police_csv(3), headers, profile=str(path))
        doc = _assert_problem(resp, 422)
        assert doc["type"].endswith("/invalid-profile")
        assert "build-system" not in doc["detail"] and "root:" not in doc["detail"]
        details.add(doc["detail"].replace(str(path), "PATH"))
    # One answer for every path: whether a file exists, or what it holds, is not revealed.
    assert len(details) == 1, details
    assert atlas.store.datasets.find("d") is None


def test_profile_field_takes_a_builtin_name_or_toml_text(client: TestClient, atlas: Atlas) -> None:
    headers = _token(atlas, "analyst")
    by_name = upload(client, "a", police_csv(3, prefix="n"), headers, profile="police-uk")
    assert by_name.status_code == 201, by_name.text
    text = (BUILTIN_DIR / "police-uk.toml").read_text(encoding="utf-8")
    by_text = upload(client, "b", police_csv(3, prefix="t"), headers, profile=text)
    assert by_text.status_code == 201, by_text.text
    assert by_text.json()["profile"] == "police-uk" and by_text.json()["accepted"] == 3
    one_line = 'name = "x"'  # TOML because it holds '=': parsed, and its problems listed
    doc = _assert_problem(upload(client, "c", police_csv(1), headers, profile=one_line), 422)
    assert "dates" in doc["detail"]
    doc = _assert_problem(upload(client, "c", police_csv(1), headers, profile="no-such"), 422)
    assert "police-uk" in doc["detail"]


def test_load_profile_turns_unreadable_files_into_profile_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "python3.11"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(128, 256)))
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for spec in (binary, folder):
        with pytest.raises(ProfileError):
            load_profile(str(spec))
    # The CLI still takes FILE.toml paths.
    good = tmp_path / "mine.toml"
    good.write_text((BUILTIN_DIR / "police-uk.toml").read_text().replace("police-uk", "mine"))
    assert load_profile(str(good)).name == "mine"

    # Root ignores file modes, so the permission error is raised by hand.
    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ProfileError, match="cannot be read"):
        load_profile(str(good))


# -- M8: uploads are refused before they are decompressed or received -----------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_of_several_csvs_is_refused_before_any_member_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = b"a,b\n" + b"1,2\n" * (4 * 2**20)  # 16 MB per member, ~16 KB compressed
    data = _zip({"one.csv": big, "two.csv": big, "three.csv": big})
    assert len(data) < 200_000

    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a member was decompressed")

    monkeypatch.setattr(zipfile.ZipFile, "open", never)
    monkeypatch.setattr(zipfile.ZipFile, "read", never)
    with pytest.raises(UnreadableFile, match="3 CSV files") as exc:
        open_upload("download.zip", data, 200 * 2**20)
    assert "one CSV per request" in exc.value.detail


def test_zip_of_several_csvs_is_422_over_http(client: TestClient, atlas: Atlas) -> None:
    data = _zip({"a.csv": police_csv(2, prefix="a"), "b.csv": police_csv(2, prefix="b")})
    resp = client.post(
        "/api/v1/datasets/z/batches",
        files={"file": ("two.zip", data, "application/zip")},
        headers=_token(atlas, "analyst"),
    )
    doc = _assert_problem(resp, 422)
    assert doc["type"].endswith("/unreadable-file") and "2 CSV files" in doc["detail"]
    one = {"file": ("one.zip", _zip({"a.csv": police_csv(2)}), "application/zip")}
    ok = client.post("/api/v1/datasets/z/batches", files=one, headers=_token(atlas, "analyst"))
    assert ok.status_code == 201 and ok.json()["accepted"] == 2


def test_zip_members_are_read_through_a_capped_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_open = zipfile.ZipFile.open

    class Recorder:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def read(self, n: int = -1) -> bytes:
            sizes.append(n)
            return bytes(self.stream.read(n))

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

    def recording_open(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> Recorder:
        return Recorder(real_open(self, *args, **kwargs))

    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("ZipFile.read trusts the header's size")

    body = police_csv(50)
    data = _zip({"x.csv": body})
    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    monkeypatch.setattr(zipfile.ZipFile, "read", never)
    (got,) = read_zip("x.zip", data, max_bytes=10_000)
    assert got.data == body
    assert sizes and all(0 <= n <= 10_001 for n in sizes)
    monkeypatch.undo()
    with pytest.raises(PayloadTooLarge, match="larger than"):
        read_zip("x.zip", data, max_bytes=len(body) - 1)


def test_zip_whose_header_understates_a_member_is_refused() -> None:
    body = b"a,b\n" + b"1,2\n" * 5000
    data = bytearray(_zip({"x.csv": body}))
    # Claim 10 bytes in both the local header (offset 22) and the central directory (offset 24).
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    # A regression guard rather than a reproduction: zipfile stops at the declared size and then
    # fails its CRC check, so this was refused before too; it must stay a 422, never a 500.
    with pytest.raises(UnreadableFile, match="CRC"):
        list(read_zip("lying.zip", bytes(data), max_bytes=1000))


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "guardtestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + b"x" * size + tail, f"multipart/form-data; boundary={boundary}"


def _call(app: Any, path: str, headers: dict[str, str], body: bytes) -> tuple[dict, int]:
    """Drive the ASGI app directly; the answer and how many body bytes it pulled."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= len(body) and chunks == []:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(_scope(path, headers), receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    return {"status": start["status"], "headers": head, "doc": json.loads(body_out)}, pulled


def _problem(answer: dict, status: int) -> dict:
    assert answer["status"] == status, answer
    assert answer["headers"]["content-type"].startswith("application/problem+json")
    assert answer["doc"]["status"] == status and answer["doc"]["detail"]
    return dict(answer["doc"])


@pytest.fixture()
def small_cap_app(atlas: Atlas) -> Any:
    return create_app(atlas.settings.model_copy(update={"max_upload_mb": 1}), atlas=atlas)


def test_anonymous_upload_is_refused_before_its_body_is_read(small_cap_app: Any) -> None:
    body, ctype = _multipart(3 * 2**20)
    headers = {"content-type": ctype, "content-length": str(len(body))}
    answer, pulled = _call(small_cap_app, "/api/v1/datasets/d/batches", headers, body)
    doc = _problem(answer, 401)
    assert doc["type"].endswith("/unauthorized") and answer["headers"]["www-authenticate"]
    assert pulled == 0


def test_declared_oversize_body_is_refused_before_it_is_read(
    small_cap_app: Any, atlas: Atlas
) -> None:
    body, ctype = _multipart(3 * 2**20)
    headers = {"content-type": ctype, "content-length": str(len(body)), **_token(atlas, "admin")}
    for path in ("/api/v1/datasets/d/batches", "/api/v1/reassign"):
        answer, pulled = _call(small_cap_app, path, headers, body)
        assert _problem(answer, 413)["type"].endswith("/payload-too-large")
        assert pulled == 0


def test_chunked_oversize_body_is_cut_off_at_the_cap(small_cap_app: Any, atlas: Atlas) -> None:
    body, ctype = _multipart(6 * 2**20)
    headers = {"content-type": ctype, **_token(atlas, "admin")}  # no Content-Length
    answer, pulled = _call(small_cap_app, "/api/v1/datasets/d/batches", headers, body)
    doc = _problem(answer, 413)
    assert doc["type"].endswith("/payload-too-large") and "1 MB" in doc["detail"]
    # Stopped within one chunk of the cap (1 MiB + the multipart allowance), not at 6 MB.
    assert pulled <= 2**20 + 256 * 1024 + 65536
    assert atlas.store.datasets.find("d") is None


def test_guard_lets_small_bodies_and_other_routes_through(small_cap_app: Any) -> None:
    body, ctype = _multipart(1000)
    headers = {"content-type": ctype}  # chunked, anonymous, small: reassign reads it
    answer, pulled = _call(small_cap_app, "/api/v1/reassign", headers, body)
    assert answer["status"] == 400 and pulled == len(body)  # the form lacks its fields
    answer, _ = _call(small_cap_app, "/api/v1/datasets/d/batchesX", headers, body)
    assert answer["status"] in (404, 405)


# -- M9: the upload's work runs in a worker thread, not on the event loop ---------------------


def test_upload_work_runs_off_the_event_loop(
    client: TestClient, atlas: Atlas, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, list[bool]] = {}

    def spy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            calls.setdefault(name, []).append(on_loop)
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(datasets_router, "open_upload", spy("open", datasets_router.open_upload))
    monkeypatch.setattr(profiles, "parse_profile", spy("profile", profiles.parse_profile))
    monkeypatch.setattr(atlas, "ingest_sources", spy("ingest", atlas.ingest_sources))
    monkeypatch.setattr(atlas.store.datasets, "find", spy("find", atlas.store.datasets.find))
    batches = atlas.store.batches
    monkeypatch.setattr(
        batches, "find_by_idempotency_key", spy("key", batches.find_by_idempotency_key)
    )
    headers = {**_token(atlas, "analyst"), "Idempotency-Key": "k1"}
    text = (BUILTIN_DIR / "police-uk.toml").read_text(encoding="utf-8")
    first = upload(client, "loop", police_csv(5), headers, profile=text)
    again = upload(client, "loop", police_csv(5), headers, profile=text)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert set(calls) == {"open", "profile", "ingest", "find", "key"}, calls
    assert not any(on for seen in calls.values() for on in seen), calls


# -- S3, S4: batch reports are for writers; rejects_file everywhere; bounded ids -------------


def test_batch_reports_are_for_writers_only(
    client: TestClient, atlas: Atlas, tmp_path: Path
) -> None:
    atlas.store.datasets.add_partner("police", "Surrey Police")
    path = tmp_path / "small.csv"
    path.write_bytes(police_csv(5, n_bad=1))
    (outcome,) = atlas.ingest([path], "open-ds", owner="police", access="open")
    base = "/api/v1/datasets/open-ds/batches"
    one = f"{base}/{outcome.batch.id}"
    assert [d["dataset"] for d in client.get("/api/v1/datasets").json()] == ["open-ds"]
    for url in (base, one, f"{one}/rejects.csv"):
        _assert_problem(client.get(url), 401)
        _assert_problem(client.get(url, headers=_token(atlas, "public")), 403)
        _assert_problem(client.get(url, headers=_token(atlas, "partner", "youth")), 403)
        for writer in (_token(atlas, "partner", "police"), _token(atlas, "analyst")):
            assert client.get(url, headers=writer).status_code == 200
    report = client.get(one, headers=_token(atlas, "analyst")).json()
    assert (report["accepted"], report["rejected"]) == (5, {"invalid_date": 1})


def _rejects_rows(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, str]]:
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(resp.text)))


def test_rejects_file_is_in_every_batch_report(client: TestClient, atlas: Atlas) -> None:
    headers = {**_token(atlas, "analyst"), "Idempotency-Key": "with-rejects"}
    first = upload(client, "rj", police_csv(4, n_bad=2), headers)
    assert first.status_code == 201, first.text
    batch_id = first.json()["batch_id"]
    url = f"/api/v1/datasets/rj/batches/{batch_id}/rejects.csv"
    replay = upload(client, "rj", police_csv(4, n_bad=2), headers)
    assert replay.status_code == 200 and replay.json()["status"] == "already_ingested"
    listed = client.get("/api/v1/datasets/rj/batches", headers=headers).json()
    got = client.get(f"/api/v1/datasets/rj/batches/{batch_id}", headers=headers).json()
    for report in (first.json(), replay.json(), listed[0], got):
        assert report["batch_id"] == batch_id and report["rejects_file"] == url
    rows = _rejects_rows(client, url, headers)
    assert [(r["source_row"], r["reason"]) for r in rows] == [
        ("5", "invalid_date"),
        ("6", "invalid_date"),
    ]
    clean_headers = {**_token(atlas, "analyst"), "Idempotency-Key": "clean"}
    clean = upload(client, "rj", police_csv(3, prefix="c"), clean_headers)
    clean_replay = upload(client, "rj", police_csv(3, prefix="c"), clean_headers)
    clean_id = clean.json()["batch_id"]
    listed = client.get("/api/v1/datasets/rj/batches", headers=headers).json()
    clean_listed = next(b for b in listed if b["batch_id"] == clean_id)
    got = client.get(f"/api/v1/datasets/rj/batches/{clean_id}", headers=headers).json()
    for report in (clean.json(), clean_replay.json(), clean_listed, got):
        assert report["rejects_file"] is None


def test_batch_ids_beyond_int64_are_400_not_500(client: TestClient, atlas: Atlas) -> None:
    headers = _token(atlas, "analyst")
    assert upload(client, "ids", police_csv(2), headers).status_code == 201
    base = "/api/v1/datasets/ids/batches"
    for bad in ("0", "-1", str(2**62 + 1), str(2**63), "99999999999999999999999"):
        for url in (f"{base}/{bad}", f"{base}/{bad}/rejects.csv"):
            _assert_problem(client.get(url, headers=headers), 400)
    _assert_problem(client.get(f"{base}/{2**62}", headers=headers), 404)


# -- S5: UTF-16 with a byte-order mark --------------------------------------------------------


def _utf16(text: str, order: str) -> bytes:
    bom = b"\xff\xfe" if order == "le" else b"\xfe\xff"
    return bom + text.encode(f"utf-16-{order}")


@pytest.mark.parametrize("order", ["le", "be"])
def test_utf16_with_bom_reads_like_pandas(order: str) -> None:
    text = "name,place,amount\r\nCafé Noir,Guildford £,12\r\nŁódź,Épsom,3\r\n"
    data = _utf16(text, order)
    assert b"\x00" in data[:100]  # the NULs that used to make it "binary data"
    table = read_table(SourceFile(f"{order}.csv", data))
    expected = pd.read_csv(io.BytesIO(data), encoding="utf-16", dtype=str)
    assert table.header == list(expected.columns)
    for name in table.header:
        assert table.columns[name].tolist() == expected[name].tolist()
    assert table.encoding == f"utf-16-{order}"


def test_utf16_that_does_not_decode_is_unreadable_not_500() -> None:
    with pytest.raises(UnreadableFile, match="utf-16-le"):
        read_table(SourceFile("odd.csv", b"\xff\xfea\x00b"))
    with pytest.raises(UnreadableFile, match="binary"):
        read_table(SourceFile("nul.csv", b"a,b\n\x00\x01\x02\n"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(
            st.text(
                st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters=',"'),
                min_size=1,
                max_size=8,
            ).filter(lambda s: s.strip() == s),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_bom_encoding_reads_the_same_table(rows: list[list[str]]) -> None:
    text = "\r\n".join(",".join(r) for r in [["a", "b", "c"], *rows]) + "\r\n"
    reference = read_table(SourceFile("u8.csv", text.encode("utf-8")))
    for data in (b"\xef\xbb\xbf" + text.encode(), _utf16(text, "le"), _utf16(text, "be")):
        got = read_table(SourceFile("x.csv", data))
        assert got.header == reference.header == ["a", "b", "c"]
        for name in got.header:
            assert got.columns[name].tolist() == reference.columns[name].tolist()


def test_utf16_police_file_uploads_like_its_utf8_original(
    client: TestClient, atlas: Atlas, shared_data: Path
) -> None:
    path = shared_data / "crime" / "surrey" / "2022-01-surrey-street.csv"
    text = path.read_bytes().decode("utf-8")
    headers = _token(atlas, "analyst")
    utf8 = upload(client, "u8", text.encode("utf-8"), headers)
    utf16 = upload(client, "u16", _utf16(text, "le"), headers)
    assert utf8.status_code == utf16.status_code == 201, utf16.text
    a, b = utf8.json(), utf16.json()
    assert a["rows_read"] == 7038 and b["encoding"] == "utf-16-le"
    keys = ("rows_read", "accepted", "unlocated", "outside_area", "duplicates", "rejected")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
