"""The API documentation page works on an intranet with no internet: every asset it loads comes
from the service itself, and Swagger UI renders the operations in headless Chromium."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_docs_render_offline_from_our_own_assets(live_server: LiveServer, page: Any) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_server.url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/counts" in paths and "/api/v1/datasets/{dataset}/batches" in paths
    hosts = {urlparse(u).netloc for u in requested if u.startswith("http")}
    assert hosts == {urlparse(live_server.url).netloc}
    assert page.errors == []
