"""Public views cannot give back a hidden small count: the reviewer's three attacks, pinned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.spatial import cKDTree

from app.access.principal import Principal
from app.atlas import Atlas
from app.services.counts import CountQuery
from app.services.hotspot_disclosure import EXACT_STATISTICS
from app.services.hotspots import HotspotQuery

ANALYST = Principal(id="t", role="analyst")
PUBLIC = Principal()


@pytest.fixture()
def loaded(atlas: Atlas, shared_data: Path) -> Atlas:
    months = ["2022-03", "2022-04"]
    atlas.ingest(
        [shared_data / "crime" / "surrey" / f"{m}-surrey-street.csv" for m in months], "surrey"
    )
    return atlas


def test_public_area_hotspots_carry_no_statistic_that_inverts_to_counts(loaded: Atlas) -> None:
    q = HotspotQuery("surrey", by="wards:2019", category="Robbery", first="2022-03", last="2022-03")
    public, full = loaded.hotspots(q, PUBLIC), loaded.hotspots(q, ANALYST)
    small = [i for i, p in enumerate(full.properties) if 1 <= p["count"] <= 4]
    assert small, "the test needs hidden cells"
    for p in public.properties:
        assert not set(EXACT_STATISTICS) & set(p)
    assert all(public.properties[i]["count"] is None for i in small)
    assert [p["hotspot_bin"] for p in public.properties] == [
        p["hotspot_bin"] for p in full.properties
    ]


def test_public_kde_shows_no_cell_with_fewer_than_five_incidents_in_reach(loaded: Atlas) -> None:
    cell, bandwidth = 100.0, 300.0
    q = HotspotQuery("surrey", grid_m=cell, method="kde", bandwidth_m=bandwidth, category="Robbery")
    out = loaded.hotspots(q, PUBLIC)
    frame = loaded.incidents.frame(loaded.store.datasets.get("surrey"))
    sel = frame.select(None, None, "Robbery") & frame.located
    tree = cKDTree(np.column_stack([frame.easting[sel], frame.northing[sel]]))
    bounds = np.array([g.bounds for g in out.geometries])
    centres = np.column_stack(
        [(bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2]
    )
    within = np.array([len(n) for n in tree.query_ball_point(centres, bandwidth)])
    assert len(within) and within.min() >= 5  # independent count by exact distances
    assert len(loaded.hotspots(q, ANALYST).properties) > len(out.properties)


def test_kde_bandwidth_below_the_cell_is_refused(client: TestClient, loaded: Atlas) -> None:
    r = client.get(
        "/api/v1/hotspots",
        params={"dataset": "surrey", "grid": 100, "method": "kde", "bandwidth": 10},
    )
    assert r.status_code == 400 and "bandwidth" in r.json()["detail"]


def test_summary_totals_do_not_give_back_a_hidden_month(client: TestClient, loaded: Atlas) -> None:
    params = {
        "dataset": "surrey",
        "by": "districts",
        "category": "Robbery",
        "from": "2022-03",
        "to": "2022-04",
    }
    for code in [r["area_code"] for r in loaded.counts(CountQuery("surrey", "districts"))["rows"]]:
        doc = client.get("/api/v1/areas/summary", params={**params, "area": code}).json()
        hidden = [
            s for s in doc["series"] if s["count"] is None and s["month"] in ("2022-03", "2022-04")
        ]
        for key in ("vs_previous", "vs_last_year"):
            if hidden and doc.get(key):
                assert doc[key]["current"] is None and doc[key]["p_value"] is None


def test_smoothed_rates_are_for_analysts(client: TestClient, loaded: Atlas) -> None:
    r = client.get(
        "/api/v1/counts",
        params={"dataset": "surrey", "by": "wards:2019", "rates": "true", "smooth": "eb_local"},
    )
    assert r.status_code == 403
    table = loaded.counts(
        CountQuery("surrey", "wards:2019", rates=True, smooth="eb_local"), ANALYST
    )
    assert all("rate_smoothed_per_1000" in row for row in table["rows"])


def test_summary_verdicts_never_rest_on_a_suppressed_side(
    client: TestClient, loaded: Atlas, shared_data: Path
) -> None:
    """Per area: a side made only of published months is shown (their sum, checked against the
    analyst's figure); a side with a hidden month is hidden and the comparison has no verdict."""
    loaded.ingest([shared_data / "crime" / "surrey" / "2022-06-surrey-street.csv"], "surrey")
    params = {
        "dataset": "surrey",
        "by": "wards:2019",
        "from": "2022-04",
        "to": "2022-04",
        "category": "Shoplifting",
    }
    codes = [r["area_code"] for r in loaded.counts(CountQuery("surrey", "wards:2019"))["rows"]]
    kinds = {"verdict": 0, "withheld, current shown": 0, "withheld": 0}
    for code in codes[:60]:
        public = client.get("/api/v1/areas/summary", params={**params, "area": code}).json()
        truth = loaded.area_summary(
            "surrey", "wards:2019", code, "2022-04", "2022-04", "Shoplifting"
        )
        status = {s["month"]: s["status"] for s in public["series"]}
        assert status["2022-05"] == "not_held"  # a gap in the data, not a hidden count
        for s, t in zip(public["series"], truth["series"], strict=True):
            assert (s["status"] == "held") == (s["count"] is not None)
            assert s["status"] != "held" or s["count"] == t["count"]
            assert (s["status"] == "not_held") == (t["count"] is None)
        c, t = public["vs_previous"], truth["vs_previous"]
        current_ok, previous_ok = status["2022-04"] == "held", status["2022-03"] == "held"
        assert c["current"] == (t["current"] if current_ok else None)
        assert c["previous"] == (t["previous"] if previous_ok else None)
        if current_ok and previous_ok:
            assert c["direction"] == t["direction"] and c["p_value"] == t["p_value"]
            kinds["verdict"] += 1
        else:
            assert c["direction"] is None and c["p_value"] is None
            assert "suppressed" in c["withheld"]
            kinds["withheld, current shown" if current_ok else "withheld"] += 1
    assert all(kinds.values()), kinds  # every case was exercised
    assert set(public["meta"]["series_status"]) == {"held", "not_held", "suppressed"}


def test_change_rows_with_a_hidden_count_give_no_verdict(client: TestClient, loaded: Atlas) -> None:
    params = {"dataset": "surrey", "by": "wards:2019", "from": "2022-04", "compare": "previous"}
    rows = client.get("/api/v1/change", params=params).json()["rows"]
    hidden = [r for r in rows if r["current"] is None or r["previous"] is None]
    assert hidden
    assert all(r["direction"] is None and r["withheld"] for r in hidden)
    assert all(
        r["direction"] for r in rows if r["current"] is not None and r["previous"] is not None
    )


@pytest.fixture()
def six_months(atlas: Atlas, shared_data: Path) -> Atlas:
    months = [f"2022-0{m}" for m in range(1, 7)]
    atlas.ingest(
        [shared_data / "crime" / "surrey" / f"{m}-surrey-street.csv" for m in months], "surrey"
    )
    return atlas


@pytest.mark.parametrize("category", ["Burglary", "Vehicle crime"])
def test_a_period_total_beside_its_months_gives_no_hidden_month_back(
    six_months: Atlas, category: str
) -> None:
    """Invariant over every ward: when the area's total for the period is published (the counts
    table; the panel shows it beside the series), the months of that period hidden in the
    series never add up to a small number (the analyst's figures), so 'total less the months
    shown' gives no small count back (months 0, 5 and a hidden 1 of a total 6 gave the 1)."""
    first, last = "2022-03", "2022-05"
    q = CountQuery("surrey", "wards:2019", first, last, category)
    public = {r["area_code"]: r["count"] for r in six_months.counts(q, PUBLIC)["rows"]}
    checked = 0
    for code, total in public.items():
        if total is None:
            continue
        args = ("surrey", "wards:2019", code, first, last, category)
        shown = six_months.area_summary(*args, PUBLIC)["series"]
        true = {s["month"]: s["count"] for s in six_months.area_summary(*args, ANALYST)["series"]}
        hidden = [s["month"] for s in shown if first <= s["month"] <= last and s["count"] is None]
        if hidden:
            checked += 1
            # What 'total less the months shown' gives: one month's count, or several months'
            # sum. Either must not be a small number (1-4).
            derived = sum(true[m] for m in hidden)
            assert derived == 0 or derived >= 5, (code, hidden, derived)
    assert checked, "no ward had a hidden month beside a published total"


def test_a_public_csv_says_which_counts_are_suppressed(client: TestClient, loaded: Atlas) -> None:
    """A blank cell must not read as 'no data': the CSV carries the JSON's suppressed flag."""
    import csv
    import io

    params = {"dataset": "surrey", "by": "wards:2019", "category": "Robbery", "format": "csv"}
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/counts", params=params).text)))
    full = loaded.counts(CountQuery("surrey", "wards:2019", category="Robbery"), ANALYST)["rows"]
    small = {r["area_code"] for r in full if 1 <= r["count"] <= 4}
    assert small
    for r in rows:
        if r["area_code"] in small:
            assert r["count"] == "" and r["suppressed"] == "true"
    assert any(r["suppressed"] == "" and r["count"] != "" for r in rows)
