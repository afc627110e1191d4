"""The area panel (trend with axes, hidden months, no verdict on hidden values), the phone
layout, what the downloads carry (PNG as on screen, CSV named for its view) and boundary
labels instead of raw selectors on the map and in embeds.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DATASET, LiveServer
from tests.e2e.helpers import READY, click_area

pytestmark = pytest.mark.browser


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
