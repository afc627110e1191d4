"""The map page and embeds in headless Chromium against the live server and the demo data.

What a partnership officer would see: the page loads, PNG tiles arrive, the choropleth is drawn
in the legend's colours (screenshot pixels), the legend matches the server's ``legend.json``,
clicking (or Enter on) an area opens its figures, which equal the counts API's; an embed draws
only its areas, and revoked, expired or tampered embeds are refused with a problem document.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image

from app.access.embeds import EmbedScope, create_embed, revoke_embed, service_secret, sign
from app.access.principal import OPERATOR
from app.access.tokens import create_token
from tests.e2e.conftest import DATASET, LiveServer
from tests.e2e.helpers import READY, class_pixels, click_area, open_map, view_of

pytestmark = pytest.mark.browser
#: Epsom and Ewell wards (wards:2019) for the embed.
EMBED_AREAS = ("E05007273", "E05007274", "E05007275", "E05007283")


def test_map_draws_choropleth_from_png_tiles_with_server_legend(
    page: Any, live_server: LiveServer
) -> None:
    tiles = open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019")
    assert len(tiles) >= 4 and all(r.status in (200, 304) for r in tiles)
    assert all(r.headers["content-type"] == "image/png" for r in tiles if r.status == 200)
    assert all("/api/v1/tiles/counts/" in r.url for r in tiles)
    view = view_of(page)
    assert view["by"] == "wards:2019" and view["measure"] == "counts"
    params = {k: view[k] for k in ("dataset", "by", "from", "to", "classes")}
    legend = live_server.get(f"/api/v1/tiles/counts/legend.json?{urlencode(params)}")
    shown = page.locator("#legend .legend-items li").all_inner_texts()
    assert [s.strip() for s in shown] == [i["label"] for i in legend["items"]]
    pixels = class_pixels(page.locator("#map").screenshot(), legend)
    # Quantiles over 187 wards: every one of the five classes covers visible ground.
    assert len(pixels) == 5 and all(n > 300 for n in pixels.values()), pixels
    assert page.locator("path.atlas-area").count() == 187
    assert page.errors == []


def test_clicking_an_area_opens_its_figures_and_trend(page: Any, live_server: LiveServer) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=wards:2019&measure=rates")
    view = view_of(page)
    code = "E05007283"  # Town ward, Epsom
    click_area(page, live_server, "wards:2019", code)
    page.wait_for_selector("#panel .comparisons", timeout=30_000)
    params = {k: view[k] for k in ("dataset", "by", "from", "to")}
    counts = live_server.get(f"/api/v1/counts?{urlencode({**params, 'rates': 'true'})}")
    row = next(r for r in counts["rows"] if r["area_code"] == code)
    assert page.locator("#panel h2").inner_text() == row["area_name"] == "Town"
    figures = dict(
        zip(
            page.locator("#panel dt").all_inner_texts(),
            page.locator("#panel dd").all_inner_texts(),
            strict=True,
        )
    )
    assert figures["Incidents"] == f"{row['count']:,}"
    assert figures["Rate per 1,000 residents"] == f"{row['rate_per_1000']:,.2f}"
    assert figures["95% interval"].startswith(f"{row['ci_low']:,.2f} to {row['ci_high']:,.2f}")
    assert page.locator("#panel svg.sparkline path.spark-count").count() == 1
    assert page.locator("#panel .comparisons li").count() == 2
    assert page.errors == []


def test_keyboard_enter_opens_an_area_and_escape_returns_focus(
    page: Any, live_server: LiveServer
) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013")
    first = page.locator("path.atlas-area[tabindex='0']")  # the areas' one tab stop
    first.focus()
    assert first.evaluate("p => getComputedStyle(p).strokeOpacity") == "1"  # focus is visible
    first_code = first.get_attribute("data-code")
    page.keyboard.press("ArrowDown")
    second_code = page.evaluate("document.activeElement.dataset.code")
    assert second_code and second_code != first_code
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel h2")
    # Focus and the status message follow the panel asynchronously: wait for them, don't race.
    page.wait_for_function("document.activeElement.tagName === 'H2'", timeout=15_000)
    name = page.locator("#panel h2").inner_text()
    label = page.locator(f"path[data-code='{second_code}']").get_attribute("aria-label")
    assert label.startswith(f"{name}: ")
    page.wait_for_function(
        "([t]) => document.querySelector('#status[role=status]').innerText === t",
        arg=[f"Details of {name}."],
        timeout=15_000,
    )
    page.keyboard.press("Escape")
    page.wait_for_selector("#panel", state="hidden", timeout=15_000)
    page.wait_for_function(
        "([c]) => document.activeElement.dataset.code === c", arg=[second_code], timeout=15_000
    )


def test_downloads_csv_and_png_of_the_currentview_of(page: Any, live_server: LiveServer) -> None:
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013")
    view = view_of(page)
    with page.expect_download() as got:
        page.click("#dl-csv")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text(encoding="utf-8"))))
    params = {k: view[k] for k in ("dataset", "by", "from", "to")}
    api = live_server.get(f"/api/v1/counts?{urlencode(params)}")["rows"]
    assert [(r["area_code"], int(r["count"])) for r in rows] == [
        (r["area_code"], r["count"]) for r in api
    ]
    with page.expect_download() as got:
        page.click("#dl-geojson")
    geo = json.loads(got.value.path().read_text(encoding="utf-8"))
    assert geo["type"] == "FeatureCollection"
    got_counts = {f["properties"]["area_code"]: f["properties"]["count"] for f in geo["features"]}
    assert got_counts == {r["area_code"]: r["count"] for r in api}
    with page.expect_download() as got:
        page.click("#dl-png")
    assert got.value.suggested_filename.endswith(".png")
    png = got.value.path().read_bytes()
    size = page.locator("#map").bounding_box()
    img = Image.open(io.BytesIO(png))
    assert img.size[0] == round(size["width"]) + 250
    legend = live_server.get(
        f"/api/v1/tiles/counts/legend.json?{urlencode({**params, 'classes': view['classes']})}"
    )
    assert sum(n > 300 for n in class_pixels(png, legend).values()) >= 4


def test_token_is_sent_with_tiles_and_printview_of(page: Any, live_server: LiveServer) -> None:
    _id, token = create_token(live_server.atlas.store, "analyst")
    page.goto(f"{live_server.url}/map#dataset={DATASET}&by=districts:2013")
    page.wait_for_selector(READY, timeout=60_000)
    page.click("#token-state")
    page.fill("#token", token)
    authorised: list[str] = []
    page.on(
        "request",
        lambda r: (
            authorised.append(r.url)
            if "/tiles/" in r.url and r.headers.get("authorization") == f"Bearer {token}"
            else None
        ),
    )
    page.click("#token-form button[type=submit]")
    page.wait_for_selector(
        "body[data-state=ready][data-draws='2']", timeout=60_000
    )  # the map redrawn with the token
    assert page.evaluate("sessionStorage.getItem('atlas.token')") == token
    assert any(u.split("?")[0].endswith(".png") for u in authorised)
    assert page.locator(".atlas-choropleth img[src^='blob:']").count() > 0
    # The Print button lays the map out at print size and waits for its tiles, then prints.
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.click("#print")
    page.wait_for_selector("body.printing[data-printed=yes]")
    page.emulate_media(media="print")
    view = view_of(page)
    params = {k: view[k] for k in ("dataset", "by", "from", "to", "classes")}
    legend = live_server.get(f"/api/v1/tiles/counts/legend.json?{urlencode(params)}")
    drawn = class_pixels(page.locator("#map").screenshot(), legend)
    assert sum(n > 300 for n in drawn.values()) >= 4, drawn
    assert page.locator(".site-header").is_hidden() and page.locator("#print-info").is_visible()
    assert DATASET in page.locator("#print-title").inner_text()
    assert page.locator("#print-date").inner_text().startswith("Printed")
    assert page.locator("#legend").is_visible() and page.locator("#map").is_visible()


def test_phone_layout_stacks_map_and_legend_with_retina_tiles(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2
    )
    try:
        pg = context.new_page()
        tiles: list[str] = []
        pg.on("response", lambda r: tiles.append(r.url) if "/tiles/counts/" in r.url else None)
        pg.goto(f"{live_server.url}/map#dataset={DATASET}&by=districts:2013")
        pg.wait_for_selector(READY, timeout=60_000)
        m, legend = pg.locator("#map").bounding_box(), pg.locator("#legend").bounding_box()
        assert m["width"] >= 380 and legend["y"] >= m["y"] + m["height"] - 1
        assert not pg.locator("#options").evaluate("d => d.open")  # options folded away
        pngs = [u.split("?")[0] for u in tiles if ".png" in u]
        assert pngs and all(u.endswith("@2x.png") for u in pngs)
    finally:
        context.close()


def test_missing_categories_route_is_explained(page: Any, live_server: LiveServer) -> None:
    problem = {"type": "about:blank", "title": "Not found", "status": 404, "detail": "Not Found"}
    page.route(
        "**/api/v1/datasets/*/categories",
        lambda route: route.fulfill(
            status=404, content_type="application/problem+json", body=json.dumps(problem)
        ),
    )
    open_map(page, live_server, f"#dataset={DATASET}&by=districts:2013")
    assert page.locator("#category").is_disabled()
    note = page.locator("#category-note").inner_text()
    assert "Categories are not available" in note and "404" in note
    assert page.locator("#legend .legend-items li").count() >= 3  # the map is still drawn


# -- embeds -----------------------------------------------------------------------------------


def _embed(server: LiveServer) -> Any:
    scope = EmbedScope(DATASET, "wards:2019", "counts", EMBED_AREAS)
    soon = date.today() + timedelta(days=7)
    return create_embed(server.atlas, server.atlas.settings, OPERATOR, scope, soon)


def test_embed_loads_and_draws_only_its_areas(page: Any, live_server: LiveServer) -> None:
    embed = _embed(live_server)
    tiles: list[Any] = []
    page.on("response", lambda r: tiles.append(r) if "/tiles/" in r.url else None)
    page.goto(f"{live_server.url}{embed.path}")
    page.wait_for_selector(READY, timeout=60_000)
    assert tiles and all(r.status == 200 and embed.path in r.url for r in tiles)
    assert page.locator("path.atlas-area").count() == len(EMBED_AREAS)
    assert page.locator("select, input").count() == 0  # nothing to widen the view with
    legend = live_server.get(f"{embed.path}/legend.json")
    pixels = class_pixels(page.locator("#map").screenshot(), legend)
    assert sum(pixels.values()) > 2000, pixels
    page.locator(f"path[data-code='{EMBED_AREAS[-1]}']").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel .figures dd")
    assert page.locator("#panel h2").inner_text() == "Town"
    assert page.errors == []


def _refused(page: Any, url: str) -> dict[str, Any]:
    resp = page.goto(url)
    assert resp is not None and resp.status in (401, 403)
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = json.loads(resp.body())
    assert doc["status"] == resp.status and doc["detail"]
    return doc


def test_revoked_expired_and_tampered_embeds_are_refused(
    page: Any, live_server: LiveServer
) -> None:
    embed = _embed(live_server)
    assert embed.token is not None
    ok = page.goto(f"{live_server.url}{embed.path}")
    assert ok is not None and ok.status == 200
    body, mac = embed.token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert "signature" in _refused(page, f"{live_server.url}/embed/{body}.{flipped}")["detail"]
    key = service_secret(live_server.atlas.settings)
    past = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    expired = sign({"v": 1, "id": embed.id, "exp": past}, key)
    assert "expired" in _refused(page, f"{live_server.url}/embed/{expired}")["detail"]
    revoke_embed(live_server.atlas, OPERATOR, embed.id)
    assert "revoked" in _refused(page, f"{live_server.url}{embed.path}")["detail"]
    assert (
        "revoked"
        in _refused(page, f"{live_server.url}{embed.path}/tiles/12/2045/1370.png")["detail"]
    )
