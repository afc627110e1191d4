"""The area panel (trend with axes, hidden months, no verdict on hidden values), the phone
layout, what the downloads carry (PNG as on screen, CSV named for its view) and boundary
labels instead of raw selectors on the map and in embeds.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from app.access.embeds import EmbedScope, create_embed
from app.access.principal import OPERATOR
from tests.e2e.conftest import DATASET, LiveServer
from tests.e2e.helpers import (
    FILL_ALPHA,
    READY,
    blend,
    click_area,
    near_pixels,
    open_map,
    rgb,
    view_of,
)

pytestmark = pytest.mark.browser
#: On screen the choropleth is faded to this opacity under a hotspot overlay (map.js FADED).
FADED = 0.45
TOWN = "E05007283"  # Town ward, Epsom (wards:2019)


def _num(n: float) -> str:
    return f"{n:,.0f}"


def _open_town(page: Any) -> None:
    page.locator(f"path[data-code='{TOWN}']").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel .comparisons", timeout=30_000)


def test_sparkline_has_values_months_and_hidden_months_labelled(
    page: Any, live_server: LiveServer
) -> None:
    def hide_some(route: Any) -> None:
        resp = route.fetch()
        doc = resp.json()
        # The series' own status says why a month has no count.
        doc["series"][1].update(count=None, status="suppressed")
        doc["series"][2].update(count=None, status="not_held")
        doc["series"][3].update(count=None, status="suppressed")
        # As the service sent it before the server-side fix: a verdict on hidden values.
        doc["vs_last_year"].update(
            current=None, previous=None, pct_change=None, p_value=None, suppressed=True
        )
        route.fulfill(response=resp, body=json.dumps(doc))

    page.route("**/api/v1/areas/summary?*", hide_some)
    # One month, so that both comparisons have the months they need.
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019&from=2024-01&to=2024-01")
    _open_town(page)
    summary = live_server.get(f"/api/v1/areas/summary?dataset={DATASET}&by=wards:2019&area={TOWN}")
    series = summary["series"]
    shown = [s["count"] for i, s in enumerate(series) if i not in (1, 2, 3)]
    texts = page.locator("#panel svg.sparkline text").all_text_contents()
    for expected in (series[0]["month"], series[-1]["month"], _num(max(shown)), _num(min(shown))):
        assert expected in texts, (expected, texts)
    label = page.locator("#panel svg.sparkline").get_attribute("aria-label")
    assert f"highest {_num(max(shown))}" in label and f"lowest {_num(min(shown))}" in label
    assert "2 months fewer than 5" in label and "1 month not held" in label
    assert page.locator("#panel svg.sparkline .spark-suppressed").count() == 2
    cells = {
        row.locator("th").text_content(): row.locator("td").first.text_content()
        for row in page.locator("#panel .series tbody tr").all()
    }
    assert cells[series[1]["month"]] == "fewer than 5"
    assert cells[series[2]["month"]] == "not held"
    assert cells[series[3]["month"]] == "fewer than 5"
    assert cells[series[0]["month"]] == _num(series[0]["count"])
    last_year = page.locator("#panel .comparisons li").nth(1).inner_text()
    assert "not shown (small numbers)" in last_year
    assert "significant" not in last_year and "suppressed vs" not in last_year
    assert page.locator("#panel .comparisons li").nth(1).locator("strong").count() == 0
    assert page.errors == []


def test_phone_layout_fits_and_shows_an_opened_area(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        pg = context.new_page()
        pg.goto(f"{live_server.url}/map#dataset={DATASET}&by=lsoa:2011")
        pg.wait_for_selector(READY, timeout=60_000)
        pg.click("#options > summary")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        for control in ("#by", "#dataset", "#category", "#classes"):
            box = pg.locator(control).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (control, box)
        pg.click("#options > summary")
        pg.locator("#map").scroll_into_view_if_needed()
        click_area(pg, live_server, "lsoa:2011", "E01030555")
        pg.wait_for_selector("#panel .comparisons", timeout=30_000)
        pg.wait_for_timeout(300)
        panel = pg.locator("#panel").bounding_box()
        spark = pg.locator("#panel svg.sparkline").bounding_box()
        assert panel["y"] >= 0, panel
        assert spark["y"] + spark["height"] <= 844, spark  # figures and trend are on screen
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_png_export_fades_the_choropleth_as_on_screen(page: Any, live_server: LiveServer) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013&hotspots=grid")
    view = view_of(page)
    params = "&".join(f"{k}={view[k]}" for k in ("dataset", "by", "from", "to", "classes"))
    legend = live_server.get(f"/api/v1/tiles/counts/legend.json?{params}")
    classes = [i["colour"] for i in legend["items"] if i["lower"] is not None]
    screen = rgb(page.locator("#map").screenshot())
    with page.expect_download() as got:
        page.click("#dl-png")
    exported = rgb(got.value.path().read_bytes())
    box = page.locator("#map").bounding_box()
    drawn = exported[56 : 56 + round(box["height"]), : round(box["width"])]  # the map part
    faded = sum(near_pixels(drawn, blend(c, FILL_ALPHA * FADED)) for c in classes)
    full = sum(near_pixels(drawn, blend(c)) for c in classes)
    on_screen = sum(near_pixels(screen, blend(c, FILL_ALPHA * FADED)) for c in classes)
    assert on_screen > 2000 and faded > 0.8 * on_screen, (faded, on_screen)
    assert full < 0.05 * faded, (full, faded)
    # Hot and cold cells are outlined (on screen and in the file) so they stand apart.
    hot_tile = page.locator(".atlas-hotspots img").first
    assert hot_tile.evaluate("e => getComputedStyle(e).filter") != "none"
    assert near_pixels(drawn, blend("#222222", 1.0), tolerance=40) > 100


def test_download_filenames_state_dataset_geography_and_period(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013&category=Burglary")
    view = view_of(page)
    stem = f"{DATASET}_districts-2013_counts_burglary_{view['from']}-to-{view['to']}"
    for button, ext in (("#dl-csv", "csv"), ("#dl-geojson", "geojson"), ("#dl-png", "png")):
        with page.expect_download() as got:
            page.click(button)
        assert got.value.suggested_filename == f"{stem}.{ext}"
    note = page.locator("#status").inner_text()
    assert note.startswith(f"Downloaded {stem}.png") and "Small numbers are suppressed" in note


def test_boundary_title_not_selector_on_map_and_embed(page: Any, live_server: LiveServer) -> None:
    title = next(
        b["title"]
        for b in live_server.get("/api/v1/boundaries")
        if b["set"] == "wards" and b["version"] == "2019"
    )
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019")
    assert title in page.locator("#status").inner_text()
    assert "wards:2019" not in page.locator("#status").inner_text()
    assert f"Areas: {title}" in page.locator("#legend .legend-notes").inner_text()
    _open_town(page)
    assert title in page.locator("#panel .note").first.inner_text()
    scope = EmbedScope(DATASET, "wards:2019", "counts", (TOWN,))
    soon = date.today() + timedelta(days=7)
    embed = create_embed(live_server.atlas, live_server.atlas.settings, OPERATOR, scope, soon)
    page.goto(f"{live_server.url}{embed.path}")
    page.wait_for_selector(READY, timeout=60_000)
    heading = page.locator("#embed-title").inner_text()
    assert title in heading and "wards:2019" not in heading
    assert title in page.title() and "wards:2019" not in page.title()
    assert f"Areas: {title}" in page.locator("#legend .legend-notes").inner_text()
