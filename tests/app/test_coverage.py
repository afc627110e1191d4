"""Months asked for but not held are reported (meta.months and a caveat) wherever figures are.

Hand-worked: the store holds 2022-06 and 2022-09 only, so the default period 2022-06..2022-09
has 4 months of which 2 are held and 2022-07, 2022-08 are missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.atlas import Atlas
from app.services.coverage import coverage_caveat

EXPECTED = {"requested": 4, "held": 2, "missing": ["2022-07", "2022-08"]}
CAVEAT = (
    "only 2 of the 4 months 2022-06 to 2022-09 are held; no data for 2022-07, 2022-08: "
    "figures cover the months held"
)


@pytest.fixture()
def gappy(atlas: Atlas, shared_data: Path) -> Atlas:
    crime = shared_data / "crime" / "surrey"
    atlas.ingest([crime / "2022-06-surrey-street.csv", crime / "2022-09-surrey-street.csv"], "s")
    return atlas


def _meta(client: TestClient, path: str, **params: object) -> dict[str, object]:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()["meta"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/counts", {"by": "wards:2019"}),
        ("/api/v1/counts", {"by": "wards:2019", "rates": "true"}),
        ("/api/v1/hotspots", {"grid": 1000}),
        ("/api/v1/hotspots", {"by": "wards:2019"}),
        ("/api/v1/tiles/counts/legend.json", {"by": "wards:2019"}),
        ("/api/v1/tiles/rates/legend.json", {"by": "wards:2019"}),
        ("/api/v1/tiles/hotspots/legend.json", {"grid": 1000}),
    ],
)
def test_a_period_with_months_not_held_says_which(
    client: TestClient, gappy: Atlas, path: str, params: dict[str, object]
) -> None:
    meta = _meta(client, path, dataset="s", **params)
    assert meta["period"] == {"from": "2022-06", "to": "2022-09"}
    assert meta["months"] == EXPECTED
    assert CAVEAT in meta["caveats"]  # type: ignore[operator]


def test_a_fully_held_period_has_no_coverage_caveat(client: TestClient, gappy: Atlas) -> None:
    meta = _meta(client, "/api/v1/counts", dataset="s", by="wards:2019", to="2022-06")
    assert meta["months"] == {"requested": 1, "held": 1, "missing": []}
    assert not [c for c in meta["caveats"] if "held" in c]  # type: ignore[attr-defined]
    meta = _meta(client, "/api/v1/counts", dataset="s", by="wards:2019", **{"from": "2021-01"})
    assert meta["months"]["requested"] == 21 and meta["months"]["held"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("first", "last", "requested", "missing", "text"),
    [
        ("2022-01", "2022-03", 3, [], None),
        ("2021-01", "2021-01", 1, ["2021-01"], "no data is held for 2021-01"),
        (
            "2021-01",
            "2021-03",
            3,
            ["2021-01", "2021-02", "2021-03"],
            "no data is held for any of the 3 months 2021-01 to 2021-03",
        ),
        (
            "2022-11",
            "2023-01",
            3,
            ["2022-11", "2022-12"],
            "only 1 of the 3 months 2022-11 to 2023-01 is held; no data for 2022-11, 2022-12: "
            "figures cover the months held",
        ),
    ],
)
def test_coverage_caveat_wording(
    first: str, last: str, requested: int, missing: list[str], text: str | None
) -> None:
    assert coverage_caveat(first, last, requested, missing) == text


def test_a_long_list_of_missing_months_is_cut_short() -> None:
    missing = [f"2000-{m:02d}" for m in range(1, 13)] + ["2001-01", "2001-02"]
    text = coverage_caveat("2000-01", "2001-03", 15, missing)
    assert text is not None and text.endswith("2000-12 and 2 more: figures cover the months held")
