"""Keyboard use of /map: focus survives the area panel's re-render, the area picker does not
open an area on every arrow key, the area layer is one tab stop (arrow keys move between areas)
and a skip link jumps past the map.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DATASET, LiveServer
from tests.e2e.helpers import active, open_map, view_of, wait_active

pytestmark = pytest.mark.browser
PANEL_HEADING = "#panel h2"
TAB_STOP = "path.atlas-area[tabindex='0']"


def test_focus_stays_on_the_panel_heading_when_the_trend_arrives(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013")
    page.locator("path.atlas-area").first.focus()
    page.keyboard.press("Enter")
    wait_active(page, PANEL_HEADING)
    page.wait_for_selector("#panel .comparisons", timeout=30_000)  # the summary re-rendered it
    page.wait_for_timeout(100)
    assert active(page, PANEL_HEADING), page.evaluate("document.activeElement.outerHTML")
    assert page.errors == []


def test_area_picker_opens_an_area_only_when_committed(page: Any, live_server: LiveServer) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019")
    options = page.locator("#area-pick option")
    assert options.count() == 188  # "—" and 187 wards
    page.locator("#area-pick").focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert active(page, "#area-pick")
    assert page.locator("#panel").is_hidden()
    third = options.nth(3)
    assert page.locator("#area-pick").input_value() == third.get_attribute("value")
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel .comparisons", timeout=30_000)
    name = third.inner_text().rsplit(" (", 1)[0]
    assert page.locator(PANEL_HEADING).inner_text() == name
    wait_active(page, PANEL_HEADING)
    # The Go button does the same for pointer and touch users.
    page.locator("#area-pick").select_option(index=5)
    assert page.locator(PANEL_HEADING).inner_text() == name  # a change alone opens nothing
    page.click("#area-go")
    fifth = options.nth(5).inner_text().rsplit(" (", 1)[0]
    page.wait_for_function(
        "([n]) => document.querySelector('#panel h2')?.innerText === n", arg=[fifth]
    )
    wait_active(page, PANEL_HEADING)


def test_area_layer_is_one_tab_stop_with_arrow_keys_between_areas(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019")
    assert page.locator("path.atlas-area").count() == 187
    assert page.locator(TAB_STOP).count() == 1
    start = page.locator(TAB_STOP)
    start.focus()
    code = start.get_attribute("data-code")
    page.keyboard.press("Tab")
    assert active(page, ".leaflet-control-zoom-in")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.code") == code
    x0 = page.evaluate("document.activeElement.getBoundingClientRect().x")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("document.activeElement.dataset.code")
    assert moved and moved != code
    assert page.evaluate("document.activeElement.getBoundingClientRect().x") > x0
    assert page.locator(TAB_STOP).get_attribute("data-code") == moved  # the stop moves along
    assert page.locator(TAB_STOP).count() == 1
    page.keyboard.press("Enter")
    wait_active(page, PANEL_HEADING)
    label = page.locator(f"path[data-code='{moved}']").get_attribute("aria-label")
    assert label.startswith(page.locator(PANEL_HEADING).inner_text() + ": ")


def test_tab_reaches_the_area_picker_without_visiting_every_area(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019")
    page.evaluate("document.activeElement.blur()")
    presses = 0
    while not active(page, "#area-pick"):
        presses += 1
        if presses > 60:
            pytest.fail("60 presses of Tab did not reach 'Go to an area'")
        page.keyboard.press("Tab")
    assert presses < 40  # the controls, one stop for the areas, zoom, attribution


def test_skip_link_jumps_past_the_map_and_keeps_the_view(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013")
    before = view_of(page)
    skip = page.locator("a.skip-link[href='#side']")
    skip.focus()
    assert skip.is_visible()  # shown when focused
    page.keyboard.press("Enter")
    wait_active(page, "#side")
    page.keyboard.press("Tab")
    assert active(page, "#area-pick")
    assert view_of(page) == before  # the link did not replace the view in the URL fragment
