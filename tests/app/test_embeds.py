"""Embeds: HMAC-signed URL tokens, expiry, revocation, scope checks, scoped routes and the CLI.

Independent references: Python's ``hmac``/``hashlib``/``base64`` recompute the signature; the
expiry instant is recomputed with ``calendar.timegm``; slippy-map tile numbers come from the
OSM formula; tile pixels are decoded with Pillow and compared with the unscoped map's tile.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import io
import json
import math
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner, Result

from app.access.embeds import (
    EmbedScope,
    check_embed,
    create_embed,
    embed_principal,
    iframe_snippet,
    revoke_embed,
    service_secret,
    sign,
)
from app.access.principal import OPERATOR, Principal
from app.access.tokens import create_token, principal_for
from app.atlas import Atlas
from app.cli.main import cli
from app.errors import BadRequest, Forbidden, NotFound, Unauthorized
from app.http.factory import create_app
from app.services.counts import CountQuery
from app.settings import get_settings
from tests.app.conftest import make_settings

DATASET = "embed-demo"
#: Four of the twelve Epsom and Ewell wards (wards:2019).
AREAS = ("E05007273", "E05007274", "E05007275", "E05007283")
SECRET = "test-embed-secret-0123456789abcdef0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def loaded_db(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled boundaries plus one real police.uk month (2023-01) as an open dataset."""
    path = tmp_path_factory.mktemp("embeds") / "atlas.db"
    shutil.copy(template_db, path)
    atlas = Atlas.open(settings=make_settings(path, secret_key=SECRET))
    demo = atlas.settings.data_dir / "demo" / "police-uk" / "2023-01-surrey-street.csv.gz"
    atlas.ingest([demo], DATASET, profile="police-uk", access="open")
    atlas.close()
    return path


@pytest.fixture()
def eatlas(loaded_db: Path, tmp_path: Path) -> Iterator[Atlas]:
    path = tmp_path / "atlas.db"
    shutil.copy(loaded_db, path)
    a = Atlas.open(settings=make_settings(path, secret_key=SECRET))
    yield a
    a.close()


@pytest.fixture()
def eclient(eatlas: Atlas) -> Iterator[TestClient]:
    with TestClient(create_app(eatlas.settings, atlas=eatlas)) as c:
        yield c


def _key(atlas: Atlas) -> bytes:
    return service_secret(atlas.settings)


def _embed(atlas: Atlas, areas: tuple[str, ...] | None = AREAS, layer: str = "counts"):  # type: ignore[no-untyped-def]
    scope = EmbedScope(DATASET, "wards", layer, areas)
    return create_embed(atlas, atlas.settings, OPERATOR, scope, date.today() + timedelta(days=30))


def _bearer(atlas: Atlas, role: str, partner: str | None = None) -> dict[str, str]:
    if partner and partner not in {p.code for p in atlas.store.datasets.list_partners()}:
        atlas.store.datasets.add_partner(partner, partner)
    _id, token = create_token(atlas.store, role, partner)
    return {"Authorization": f"Bearer {token}"}


def _problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["status"] == status and doc["type"] and doc["title"] and doc["detail"]
    return doc


# -- signing ----------------------------------------------------------------------------------


def test_token_is_payload_dot_hmac_sha256_and_expires_end_of_day(eatlas: Atlas) -> None:
    expires = date.today() + timedelta(days=30)
    embed = create_embed(
        eatlas, eatlas.settings, OPERATOR, EmbedScope(DATASET, "wards", "counts", AREAS), expires
    )
    assert embed.token is not None
    body, mac = embed.token.split(".")
    expected = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
    assert unb64(mac) == expected and mac == b64(expected)
    payload = json.loads(unb64(body))
    end_of_day = calendar.timegm((expires.year, expires.month, expires.day, 23, 59, 59))
    assert payload == {"v": 1, "id": embed.id, "exp": end_of_day}
    # Only a SHA-256 of the token is stored, in the tokens table, with role embed.
    record = eatlas.store.tokens.by_secret(hashlib.sha256(embed.token.encode()).hexdigest())
    assert record is not None and record.id == embed.id and record.role == "embed"
    assert record.scope["areas"] == list(AREAS) and record.scope["by"] == "wards:2019"
    assert record.expires_at == datetime(expires.year, expires.month, expires.day, 23, 59, 59)


def test_service_secret_generated_once_with_mode_600(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "x.db")
    first = service_secret(settings)
    path = settings.var_dir / "embed-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service_secret(settings) == first and len(first) >= 32
    assert path.read_text().strip().encode() == first
    other = make_settings(tmp_path / "y" / "x.db", secret_key="configured-secret-of-some-length")
    assert service_secret(other) == b"configured-secret-of-some-length"
    assert not (other.var_dir / "embed-signing.key").exists()


def test_tampered_forged_and_malformed_tokens_are_refused(eatlas: Atlas) -> None:
    embed = _embed(eatlas)
    assert embed.token is not None
    key = _key(eatlas)
    assert check_embed(eatlas.store, key, embed.token).scope.areas == AREAS
    body, mac = embed.token.split(".")
    payload = json.loads(unb64(body))
    longer = b64(json.dumps({**payload, "exp": payload["exp"] + 10**6}).encode())
    cases = {
        "payload edited, old signature": f"{longer}.{mac}",
        "signature edited": f"{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BA'}",
        "signed with another key": sign(payload, b"another-key-another-key-another-key"),
        "truncated": embed.token[:-5],
        "not a token": "hello",
    }
    for name, bad in cases.items():
        with pytest.raises(Unauthorized):
            check_embed(eatlas.store, key, bad)
        assert name
    # Signed with the right key but never issued (no stored row): refused too.
    forged = sign({"v": 1, "id": "0123456789ab", "exp": payload["exp"]}, key)
    with pytest.raises(Unauthorized, match="unknown"):
        check_embed(eatlas.store, key, forged)


def test_expiry_is_checked(eatlas: Atlas) -> None:
    embed = _embed(eatlas)
    assert embed.token is not None
    key = _key(eatlas)
    just_before = embed.expires_at.replace(tzinfo=UTC) - timedelta(seconds=1)
    assert check_embed(eatlas.store, key, embed.token, now=just_before).id == embed.id
    with pytest.raises(Unauthorized, match="expired"):
        check_embed(eatlas.store, key, embed.token, now=just_before + timedelta(seconds=2))
    assert embed_principal(eatlas.store, embed.token, now=just_before).id == embed.id
    with pytest.raises(Unauthorized, match="expired"):
        embed_principal(eatlas.store, embed.token, now=datetime(2100, 1, 1, tzinfo=UTC))
    past = sign({"v": 1, "id": embed.id, "exp": int(datetime.now(UTC).timestamp()) - 60}, key)
    with pytest.raises(Unauthorized, match="expired"):
        check_embed(eatlas.store, key, past)


def test_revocation_takes_effect_at_once(eatlas: Atlas) -> None:
    embed = _embed(eatlas)
    assert embed.token is not None
    assert principal_for(eatlas.store, embed.token).role == "embed"
    revoked = revoke_embed(eatlas, OPERATOR, embed.id)
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthorized, match="revoked"):
        check_embed(eatlas.store, _key(eatlas), embed.token)
    with pytest.raises(Unauthorized, match="revoked"):
        principal_for(eatlas.store, embed.token)
    # An API token's id is not an embed's: revoke_embed will not touch it.
    token_id, _token = create_token(eatlas.store, "analyst")
    with pytest.raises(NotFound):
        revoke_embed(eatlas, OPERATOR, token_id)
    assert eatlas.store.tokens.get(token_id).revoked_at is None


def test_bearer_embed_principal_reads_no_more_than_its_open_dataset(eatlas: Atlas) -> None:
    embed = _embed(eatlas)
    assert embed.token is not None
    p = principal_for(eatlas.store, embed.token)
    assert (p.role, p.partner, p.scope["dataset"]) == ("embed", None, DATASET)
    assert p.suppressed and not p.at_least("partner")
    held = eatlas.store.datasets.get(DATASET)
    assert p.can_read(held)
    eatlas.store.datasets.configure(DATASET, None, "partner")
    assert not p.can_read(eatlas.store.datasets.get(DATASET))


# -- scope checks -----------------------------------------------------------------------------


def test_scope_is_validated_and_pinned(eatlas: Atlas) -> None:
    soon = date.today() + timedelta(days=5)

    def make(**kw: object):  # type: ignore[no-untyped-def]
        scope = EmbedScope(**{"dataset": DATASET, "by": "wards", **kw})  # type: ignore[arg-type]
        return create_embed(eatlas, eatlas.settings, OPERATOR, scope, soon)

    ok = make(category="burglary", first="2023-01", last="2023-01")
    assert ok.scope.by == "wards:2019" and ok.scope.category == "Burglary"
    with pytest.raises(NotFound, match="E05999999"):
        make(areas=("E05007273", "E05999999"))
    with pytest.raises(BadRequest):
        make(areas=())
    with pytest.raises(BadRequest):
        make(layer="areas")
    with pytest.raises(BadRequest):
        make(first="2023-13")
    with pytest.raises(BadRequest):
        make(first="2023-05", last="2023-01")
    with pytest.raises(NotFound):
        make(category="no such category")
    with pytest.raises(NotFound):
        make(by="parishes")
    with pytest.raises(BadRequest, match="future"):
        create_embed(eatlas, eatlas.settings, OPERATOR, EmbedScope(DATASET, "wards"), date.today())


def test_who_may_create_and_revoke(eatlas: Atlas) -> None:
    eatlas.store.datasets.add_partner("surrey-police", "Surrey Police")
    eatlas.store.datasets.add_partner("council", "Council")
    eatlas.store.datasets.configure(DATASET, "surrey-police", "restricted")
    scope, soon = EmbedScope(DATASET, "wards"), date.today() + timedelta(days=5)
    owner = Principal(id="t1", role="partner", partner="surrey-police")
    other = Principal(id="t2", role="partner", partner="council")
    with pytest.raises(Unauthorized):
        create_embed(eatlas, eatlas.settings, Principal(), scope, soon)
    with pytest.raises(Forbidden):
        create_embed(eatlas, eatlas.settings, Principal(id="p", role="public"), scope, soon)
    with pytest.raises(Forbidden):
        create_embed(eatlas, eatlas.settings, other, scope, soon)
    mine = create_embed(eatlas, eatlas.settings, owner, scope, soon)
    assert mine.partner == "surrey-police"
    with pytest.raises(Forbidden):
        revoke_embed(eatlas, other, mine.id)
    assert revoke_embed(eatlas, owner, mine.id).revoked_at is not None
    analyst = Principal(id="t3", role="analyst")
    assert create_embed(eatlas, eatlas.settings, analyst, scope, soon).partner is None


# -- HTTP -------------------------------------------------------------------------------------


def test_http_create_page_and_revoke(eclient: TestClient, eatlas: Atlas) -> None:
    body = {
        "dataset": DATASET,
        "by": "wards:2019",
        "areas": list(AREAS),
        "expires": (date.today() + timedelta(days=200)).isoformat(),
    }
    _problem(eclient.post("/api/v1/embeds", json=body), 401)
    headers = _bearer(eatlas, "analyst")
    _problem(eclient.post("/api/v1/embeds", json={**body, "layer": "areas"}, headers=headers), 400)
    resp = eclient.post("/api/v1/embeds", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert doc["path"] == f"/embed/{doc['token']}" and doc["url"].endswith(doc["path"])
    assert doc["iframe"] == iframe_snippet(
        doc["url"], "Community Safety Atlas: Incidents, wards:2019"
    )
    assert doc["scope"]["areas"] == list(AREAS)
    listed = eclient.get("/api/v1/embeds", headers=headers).json()
    assert [e["id"] for e in listed] == [doc["id"]] and "token" not in listed[0]

    page = eclient.get(doc["path"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f'"base": "{doc["path"]}"' in page.text and "/static/js/embed.js" in page.text
    geo = eclient.get(f"{doc['path']}/areas.geojson").json()
    assert sorted(f["properties"]["code"] for f in geo["features"]) == sorted(AREAS)
    legend = eclient.get(f"{doc['path']}/legend.json").json()
    assert legend["items"] and "incidents" not in legend["meta"]
    area = eclient.get(f"{doc['path']}/areas/{AREAS[0]}").json()
    assert area["figures"]["area_code"] == AREAS[0]
    assert area["summary"]["area"]["code"] == AREAS[0]
    _problem(eclient.get(f"{doc['path']}/areas/E05007276"), 404)  # Epsom ward not in the filter

    assert eclient.delete(f"/api/v1/embeds/{doc['id']}", headers=headers).status_code == 200
    for suffix in ("", "/legend.json", "/areas.geojson", "/tiles/12/2045/1370.png"):
        assert "revoked" in _problem(eclient.get(doc["path"] + suffix), 401)["detail"]
    tampered = doc["path"][:-1] + ("A" if doc["path"][-1] != "A" else "B")
    _problem(eclient.get(tampered), 401)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """OSM slippy-map tile numbers (https://wiki.openstreetmap.org/wiki/Slippy_map_tilenames)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _rgba(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))


def test_embed_tiles_draw_only_the_listed_areas(eclient: TestClient, eatlas: Atlas) -> None:
    embed = _embed(eatlas)
    geo = eclient.get(f"{embed.path}/areas.geojson").json()
    town = next(f for f in geo["features"] if f["properties"]["code"] == "E05007283")
    centre = shapely.geometry.shape(town["geometry"]).representative_point()
    z = 12
    x, y = _tile_of(centre.x, centre.y, z)
    scoped = eclient.get(f"{embed.path}/tiles/{z}/{x}/{y}.png")
    assert scoped.status_code == 200 and scoped.headers["content-type"] == "image/png"
    full = eclient.get(
        f"/api/v1/tiles/counts/{z}/{x}/{y}.png", params={"dataset": DATASET, "by": "wards:2019"}
    )
    a, b = _rgba(scoped.content), _rgba(full.content)
    painted_scoped, painted_full = a[..., 3] > 0, b[..., 3] > 0
    assert painted_scoped.sum() > 0
    assert not (painted_scoped & ~painted_full).any()  # nothing outside the full map
    assert painted_scoped.sum() < painted_full.sum()  # neighbouring wards are left out
    # The embed's own classes (of its areas only): solid pixels are its legend's colours.
    legend = eclient.get(f"{embed.path}/legend.json").json()
    palette = {tuple(int(i["colour"][k : k + 2], 16) for k in (1, 3, 5)) for i in legend["items"]}
    solid = {tuple(c) for c in a[a[..., 3] == 215][:, :3].tolist()}
    assert solid and solid <= palette
    # Query parameters cannot widen or change the embed's view.
    widened = eclient.get(
        f"{embed.path}/tiles/{z}/{x}/{y}.png", params={"by": "lsoa:2011", "dataset": "x"}
    )
    assert widened.content == scoped.content
    assert eclient.get(f"{embed.path}/tiles/{z}/{x}/{y}@2x.png").status_code == 200
    _problem(eclient.get(f"{embed.path}/tiles/{z}/{x}/{y}.mvt"), 400)


# -- CLI --------------------------------------------------------------------------------------


@pytest.fixture()
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """In-process CLI runs with their own var/ (the signing key) and no configured secret."""
    monkeypatch.setenv("ATLAS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ATLAS_SECRET_KEY", "")
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_cli_create_prints_path_and_iframe_then_revoke(
    loaded_db: Path, tmp_path: Path, cli_env: Path
) -> None:
    db = tmp_path / "atlas.db"
    shutil.copy(loaded_db, db)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, ["embeds", *args, "--db", f"sqlite:///{db}"])

    made = run(
        "create", "--dataset", DATASET, "--by", "wards", "--areas", ",".join(AREAS),
        "--from", "2023-01", "--to", "2023-01", "--expires", (date.today() + timedelta(days=300)).isoformat(), "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["path"].startswith("/embed/")
    assert f'src="http://127.0.0.1:8000{doc["path"]}"' in doc["iframe"]
    assert doc["scope"] == {
        "dataset": DATASET, "by": "wards:2019", "layer": "counts", "areas": list(AREAS),
        "from": "2023-01", "to": "2023-01", "category": None,
    }  # fmt: skip
    key_file = cli_env / "embed-signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    body, mac = doc["path"].removeprefix("/embed/").split(".")
    key = key_file.read_text().strip().encode()
    assert mac == b64(hmac.new(key, body.encode(), hashlib.sha256).digest())

    human = run(
        "create",
        "--dataset",
        DATASET,
        "--by",
        "wards",
        "--expires",
        (date.today() + timedelta(days=300)).isoformat(),
    )
    assert human.exit_code == 0 and human.stdout.startswith("/embed/")
    assert "<iframe" in human.stdout

    bad = run("create", "--dataset", DATASET, "--by", "wards", "--expires", "2001-01-01")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "future" in bad.stderr
    assert bad.stdout == ""

    revoked = run("revoke", doc["id"], "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["revoked_at"]
    listed = json.loads(run("list", "--json").stdout)
    assert next(e for e in listed if e["id"] == doc["id"])["revoked_at"]


def test_embed_of_a_restricted_dataset_is_scoped_and_suppressed(
    eclient: TestClient, eatlas: Atlas
) -> None:
    eatlas.store.datasets.add_partner("surrey-police", "Surrey Police")
    eatlas.store.datasets.configure(DATASET, "surrey-police", "restricted")
    full = eatlas.counts(CountQuery(DATASET, "wards:2019", category="Bicycle theft"), OPERATOR)
    small = [r["area_code"] for r in full["rows"] if 1 <= r["count"] <= 4]
    assert small  # one month of bicycle thefts: plenty of wards with 1-4
    scope = EmbedScope(DATASET, "wards:2019", "counts", None, category="Bicycle theft")
    analyst = Principal(id="a", role="analyst")
    embed = create_embed(eatlas, eatlas.settings, analyst, scope, date.today() + timedelta(1))
    params = {"dataset": DATASET, "by": "wards:2019", "category": "Bicycle theft"}
    _problem(eclient.get("/api/v1/counts", params=params), 401)  # not public
    _problem(eclient.get("/api/v1/counts", params=params, headers=_auth(embed.token)), 403)
    area = eclient.get(f"{embed.path}/areas/{small[0]}").json()
    assert area["figures"]["count"] is None and area["figures"]["suppressed"] is True
    labels = {
        f["properties"]["code"]: f["properties"]["label"]
        for f in eclient.get(f"{embed.path}/areas.geojson").json()["features"]
    }
    assert all(labels[c] == "suppressed" for c in small)
    legend = eclient.get(f"{embed.path}/legend.json").json()
    assert legend["meta"]["suppression"]["threshold"] == 5


def _auth(token: str | None) -> dict[str, str]:
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


# -- an area filter publishes nothing about the areas outside it ------------------------------

#: The acceptance report's three Epsom and Ewell wards; E05007276 (Ewell Court) borders them.
SCOPED = ("E05007273", "E05007274", "E05007275")
OUTSIDE = "E05007276"
EXTRA_PROFILE = """\
name = "extra"
[columns]
category = "type"
source = "team"
[dates]
month = "month"
[[locations]]
kind = "en"
easting = "easting"
northing = "northing"
"""


def _flood_outside(atlas: Atlas, tmp_path: Path, n: int = 400) -> None:
    """``n`` more incidents of 2023-01, every one inside the ward ``OUTSIDE`` (a new stream)."""
    layer = atlas.areas.layer(atlas.areas.resolve("wards:2019").id)
    point = shapely.point_on_surface(layer.geometries[list(layer.codes).index(OUTSIDE)])
    e, n_ = round(point.x), round(point.y)
    rows = [f"Anti-social behaviour,extra,2023-01,{e + k % 7},{n_ + k % 5}" for k in range(n)]
    csv = tmp_path / "extra.csv"
    csv.write_text("type,team,month,easting,northing\n" + "\n".join(rows) + "\n")
    profile = tmp_path / "extra.toml"
    profile.write_text(EXTRA_PROFILE)
    atlas.ingest([csv], DATASET, profile=str(profile))


def _restricted(atlas: Atlas) -> None:
    atlas.store.datasets.add_partner("surrey-police", "Surrey Police")
    atlas.store.datasets.configure(DATASET, "surrey-police", "restricted")


def _views(client: TestClient, path: str) -> dict[str, object]:
    """Everything a scoped embed publishes, as it would be compared before and after."""
    legend = client.get(f"{path}/legend.json").json()
    geo = client.get(f"{path}/areas.geojson").json()
    centre = shapely.geometry.shape(geo["features"][0]["geometry"]).representative_point()
    x, y = _tile_of(centre.x, centre.y, 12)
    area = client.get(f"{path}/areas/{SCOPED[0]}").json()
    return {
        "legend": legend,
        "labels": {f["properties"]["code"]: f["properties"]["label"] for f in geo["features"]},
        "figures": area["figures"],
        "tile": client.get(f"{path}/tiles/12/{x}/{y}.png").content,
    }


@pytest.mark.parametrize("layer", ["counts", "rates", "hotspots"])
def test_scoped_embed_does_not_depend_on_areas_outside_it(
    eclient: TestClient, eatlas: Atlas, tmp_path: Path, layer: str
) -> None:
    """Metamorphic: 400 more incidents in a neighbouring ward outside the filter change nothing
    the embed publishes (legend, classes, labels, figures, caveats, tiles)."""
    _restricted(eatlas)
    scope = EmbedScope(DATASET, "wards:2019", layer, SCOPED, "2023-01", "2023-01")
    embed = create_embed(eatlas, eatlas.settings, OPERATOR, scope, date.today() + timedelta(3))
    before = _views(eclient, embed.path)
    _flood_outside(eatlas, tmp_path)
    everything = eatlas.counts(CountQuery(DATASET, "wards:2019", "2023-01", "2023-01"), OPERATOR)
    outside = next(r["count"] for r in everything["rows"] if r["area_code"] == OUTSIDE)
    assert outside >= 400  # the flood landed where intended
    after = _views(eclient, embed.path)
    assert after == before


def test_scoped_embed_legend_classifies_only_its_areas(eclient: TestClient, eatlas: Atlas) -> None:
    _restricted(eatlas)
    scope = EmbedScope(DATASET, "wards:2019", "counts", SCOPED, "2023-01", "2023-01")
    embed = create_embed(eatlas, eatlas.settings, OPERATOR, scope, date.today() + timedelta(3))
    legend = eclient.get(f"{embed.path}/legend.json").json()
    full = eatlas.counts(CountQuery(DATASET, "wards:2019", "2023-01", "2023-01"), OPERATOR)
    counts = {r["area_code"]: r["count"] for r in full["rows"]}
    mine = np.array([counts[c] for c in SCOPED], dtype=float)
    assert (mine >= 5).all()  # nothing to suppress: the legend is the plain quantiles
    # Independent: numpy's linear percentiles are scipy's scoreatpercentile (mapclassify).
    expected = np.unique(np.percentile(mine, [20, 40, 60, 80, 100]))
    breaks = legend["meta"]["classification"]["breaks"]
    np.testing.assert_allclose(breaks, expected, rtol=1e-9)
    classes = [i for i in legend["items"] if i["lower"] is not None]
    assert classes[0]["lower"] == mine.min() and classes[-1]["upper"] == mine.max()
    assert max(counts.values()) > mine.max()  # the whole geography's maximum is not shown
    assert legend["meta"]["suppression"]["cells_hidden"] == 0
    assert legend["meta"]["areas"]["filter"] == len(SCOPED)


def test_embed_of_a_restricted_dataset_without_an_owner_works_and_stays_scoped(
    eclient: TestClient, eatlas: Atlas
) -> None:
    """An operator's restricted dataset has no owner partner: its embed must still read it (and
    nothing else), suppressed; the same token as a Bearer still reads no more than the public."""
    eatlas.store.datasets.configure(DATASET, None, "restricted")
    assert eatlas.store.datasets.get(DATASET).owner is None
    scope = EmbedScope(DATASET, "wards:2019", "counts", SCOPED, "2023-01", "2023-01")
    embed = create_embed(eatlas, eatlas.settings, OPERATOR, scope, date.today() + timedelta(3))
    legend = eclient.get(f"{embed.path}/legend.json")
    assert legend.status_code == 200, legend.text
    assert legend.json()["meta"]["suppression"]["threshold"] == 5
    area = eclient.get(f"{embed.path}/areas/{SCOPED[0]}")
    assert area.status_code == 200 and area.json()["figures"]["count"] >= 5
    params = {"dataset": DATASET, "by": "wards:2019"}
    _problem(eclient.get("/api/v1/counts", params=params, headers=_auth(embed.token)), 403)
