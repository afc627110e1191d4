"""HTTP: batch upload, idempotency, caps, authorisation and RFC 9457 problems."""

from __future__ import annotations

import gzip
from pathlib import Path

from fastapi.testclient import TestClient

from app.access.tokens import create_token
from app.atlas import Atlas


def _token(atlas: Atlas, role: str, partner: str | None = None) -> dict[str, str]:
    if partner and partner not in {p.code for p in atlas.store.datasets.list_partners()}:
        atlas.store.datasets.add_partner(partner, partner)
    _id, token = create_token(atlas.store, role, partner)
    return {"Authorization": f"Bearer {token}"}


def _assert_problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert {"type", "title", "status", "detail"} <= doc.keys() and doc["status"] == status
    return doc


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/openapi.json").json()["info"]["title"] == "Community Safety Atlas"
    assert client.get("/docs").status_code == 200


def test_upload_batch_and_read_report(client: TestClient, atlas: Atlas, shared_data: Path) -> None:
    path = shared_data / "crime" / "surrey" / "2022-01-surrey-street.csv"
    headers = _token(atlas, "analyst")
    files = {"file": (path.name, path.read_bytes(), "text/csv")}
    resp = client.post("/api/v1/datasets/surrey/batches", files=files, headers=headers)
    assert resp.status_code == 201, resp.text
    report = resp.json()
    assert report["rows_read"] == 7038 and report["status"] == "new"
    assert resp.headers["location"].endswith(f"/batches/{report['batch_id']}")
    got = client.get(resp.headers["location"], headers=headers).json()
    assert got["rows_read"] == 7038
    # Same content again (here gzipped): nothing added, 200.
    files = {"file": (path.name + ".gz", gzip.compress(path.read_bytes()), "application/gzip")}
    again = client.post("/api/v1/datasets/surrey/batches", files=files, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "already_ingested"


def test_idempotency_key(client: TestClient, atlas: Atlas, shared_data: Path) -> None:
    headers = {**_token(atlas, "admin"), "Idempotency-Key": "k-123"}
    a = shared_data / "crime" / "surrey" / "2022-02-surrey-street.csv"
    b = shared_data / "crime" / "surrey" / "2022-03-surrey-street.csv"
    first = client.post(
        "/api/v1/datasets/s/batches", files={"file": (a.name, a.read_bytes())}, headers=headers
    )
    assert first.status_code == 201
    replay = client.post(
        "/api/v1/datasets/s/batches", files={"file": (a.name, a.read_bytes())}, headers=headers
    )
    assert replay.status_code == 200 and replay.json()["batch_id"] == first.json()["batch_id"]
    other = client.post(
        "/api/v1/datasets/s/batches", files={"file": (b.name, b.read_bytes())}, headers=headers
    )
    _assert_problem(other, 409)


def test_upload_needs_a_writer(client: TestClient, atlas: Atlas) -> None:
    files = {"file": ("x.csv", b"a,b\n1,2\n")}
    _assert_problem(client.post("/api/v1/datasets/d/batches", files=files), 401)
    _assert_problem(
        client.post("/api/v1/datasets/d/batches", files=files, headers=_token(atlas, "public")), 403
    )
    bad = {"Authorization": "Bearer csa_nope_nope"}
    _assert_problem(client.post("/api/v1/datasets/d/batches", files=files, headers=bad), 401)


def test_upload_cap_and_bad_files_are_problems(atlas: Atlas, tmp_path: Path) -> None:
    from app.http.factory import create_app

    settings = atlas.settings.model_copy(update={"max_upload_mb": 1})
    with TestClient(create_app(settings, atlas=atlas)) as c:
        headers = _token(atlas, "admin")
        big = {"file": ("big.csv", b"x" * (2 * 2**20))}
        _assert_problem(c.post("/api/v1/datasets/d/batches", files=big, headers=headers), 413)
        garbage = {"file": ("g.csv", bytes(range(256)) * 10)}
        doc = _assert_problem(
            c.post("/api/v1/datasets/d/batches", files=garbage, headers=headers), 422
        )
        assert "binary" in doc["detail"]
        wrong = {"file": ("w.csv", b"a,b\n1,2\n")}
        doc = _assert_problem(
            c.post("/api/v1/datasets/d/batches", files=wrong, headers=headers), 422
        )
        assert "needs columns" in doc["detail"]
        # A small gzip that inflates past the cap is the same 413 as a large body.
        bomb = {"file": ("bomb.csv.gz", gzip.compress(b"a,b\n" + b"1,2\n" * 600_000))}
        doc = _assert_problem(
            c.post("/api/v1/datasets/d/batches", files=bomb, headers=headers), 413
        )
        assert "decompresses to more than 1 MB" in doc["detail"]
    # Failed first uploads leave no dataset behind.
    assert atlas.store.datasets.find("d") is None


def test_partner_datasets_are_private(client: TestClient, atlas: Atlas, shared_data: Path) -> None:
    path = shared_data / "crime" / "surrey" / "2022-04-surrey-street.csv"
    atlas.store.datasets.add_partner("youth", "Youth offending")
    atlas.ingest([path], "yot", owner="youth", access="restricted")
    assert [d["dataset"] for d in client.get("/api/v1/datasets").json()] == []
    _assert_problem(client.get("/api/v1/datasets/yot/batches"), 401)
    _assert_problem(
        client.get("/api/v1/datasets/yot/batches", headers=_token(atlas, "partner", "police")), 403
    )
    ok = client.get("/api/v1/datasets/yot/batches", headers=_token(atlas, "partner", "youth"))
    assert ok.status_code == 200 and len(ok.json()) == 1


def test_geocode_route(client: TestClient) -> None:
    got = client.get("/api/v1/geocode", params={"q": ["SU 99417 49731", "51.24,-0.57"]}).json()
    assert got[0]["easting"] == 499417 and got[0]["northing"] == 149731
    assert got[0]["gridref"] == "SU 99417 49731" and got[0]["precision_m"] == 1
    assert got[1]["source"] == "lonlat-ostn15"
    _assert_problem(client.get("/api/v1/geocode", params={"q": "not a place"}), 400)
