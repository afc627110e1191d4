"""Conditional requests and HEAD on every cacheable representation (RFC 9110 sections 9.3.2, 13.1.2).

Weak comparison is worked by hand: ``W/"x"`` and ``"x"`` match each other, ``"y"`` matches
neither, and ``*`` matches any current representation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.atlas import Atlas
from app.http.conditional import none_match_hits

PARAMS = {"dataset": "surrey", "by": "wards:2019"}
ROUTES = (
    ("/api/v1/tiles/counts/12/2045/1367.mvt", PARAMS),
    ("/api/v1/tiles/counts/12/2045/1367.png", PARAMS),
    ("/api/v1/tiles/counts/12/2045/1367@2x.png", PARAMS),
    ("/api/v1/tiles/counts/legend.png", PARAMS),
    ("/api/v1/tiles/counts/legend.json", PARAMS),
    ("/api/v1/tiles/counts/tilejson.json", PARAMS),
    ("/api/v1/tiles/hotspots/legend.json", {"dataset": "surrey", "grid": 1000}),
    ("/collections/counts-surrey-wards-2019/items", {"limit": 5}),
)


@pytest.fixture()
def loaded(atlas: Atlas, shared_data: Path) -> Atlas:
    atlas.ingest([shared_data / "crime" / "surrey" / "2022-03-surrey-street.csv"], "surrey")
    return atlas


@pytest.mark.parametrize(
    ("header", "etag", "hit"),
    [
        ('"abc"', '"abc"', True),
        ('W/"abc"', '"abc"', True),
        ('"abc"', 'W/"abc"', True),
        ('"x", W/"abc"', '"abc"', True),
        ('"x",W/"abc" , "y"', '"abc"', True),
        ("*", '"abc"', True),
        ('"abcd"', '"abc"', False),
        ('"x, y"', '"x"', False),
        ("", '"abc"', False),
        (None, '"abc"', False),
    ],
)
def test_if_none_match_uses_weak_comparison(header: str | None, etag: str, hit: bool) -> None:
    assert none_match_hits(header, etag) is hit


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_every_cacheable_route_revalidates(
    client: TestClient, loaded: Atlas, path: str, params: dict[str, object]
) -> None:
    got = client.get(path, params=params)
    assert got.status_code == 200, got.text
    etag = got.headers["etag"]
    assert got.headers["cache-control"] == "public, no-cache"
    opaque = etag.removeprefix("W/")
    for header in (etag, f"W/{opaque}", opaque, "*", f'"nope", {etag}'):
        again = client.get(path, params=params, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b"" and again.headers["etag"] == etag
    assert client.get(path, params=params, headers={"If-None-Match": '"nope"'}).status_code == 200


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_head_gives_the_get_head_without_a_body(
    client: TestClient, loaded: Atlas, path: str, params: dict[str, object]
) -> None:
    plain = {"Accept-Encoding": "identity"}
    got = client.get(path, params=params, headers=plain)
    head = client.head(path, params=params, headers=plain)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers["etag"] == got.headers["etag"]
    conditional = client.head(path, params=params, headers={"If-None-Match": got.headers["etag"]})
    assert conditional.status_code == 304


def test_ogc_items_etag_is_stable_across_time_stamps_and_follows_the_data(
    client: TestClient, loaded: Atlas, shared_data: Path
) -> None:
    url = "/collections/counts-surrey-wards-2019/items"
    first = client.get(url, params={"limit": 5})
    etag = first.headers["etag"]
    assert etag.startswith('W/"')  # the body's timeStamp changes; what it describes does not
    assert client.get(url, params={"limit": 5}).headers["etag"] == etag
    assert client.get(url, params={"limit": 6}).headers["etag"] != etag
    assert first.headers["content-crs"]
    loaded.ingest([shared_data / "crime" / "surrey" / "2022-04-surrey-street.csv"], "surrey")
    after = client.get(url, params={"limit": 5}, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag


def test_a_missing_resource_is_not_modified_by_star(client: TestClient, loaded: Atlas) -> None:
    """``*`` matches only a current representation: errors stay errors."""
    r = client.get(
        "/api/v1/tiles/counts/legend.json",
        params={"dataset": "nope", "by": "wards:2019"},
        headers={"If-None-Match": "*"},
    )
    assert r.status_code == 404
