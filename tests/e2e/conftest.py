"""Browser fixtures: the demo store (built once per run), a live server and headless Chromium.

The store (bundled boundaries + the demo police.uk months) takes ~40 s to build, so it is built
once per test run and shared by the xdist workers through a file lock; each worker serves its
own copy (embed tests write tokens) from uvicorn in a thread on a free port. Chromium is
Debian's (``scripts/ensure-chromium``), driven by Playwright without downloading a browser.
"""

from __future__ import annotations

import fcntl
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.atlas import Atlas
from app.http.factory import create_app
from app.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SECRET = "e2e-embed-signing-secret-0123456789abcdef"
DATASET = "police-uk-surrey"


def settings_for(db: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{db}", var_dir=db.parent / "var", secret_key=SECRET)  # type: ignore[call-arg]


def _build(db: Path) -> None:
    atlas = Atlas.open(settings=settings_for(db), migrate=True)
    try:
        atlas.init()
        atlas.demo()
    finally:
        atlas.close()


@pytest.fixture(scope="session")
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the bundled boundaries and demo data, built once for all workers."""
    if not hasattr(request.config, "workerinput"):
        db = tmp_path_factory.mktemp("e2e-demo") / "atlas.db"
        _build(db)
        return db
    shared = tmp_path_factory.getbasetemp().parent / "e2e-demo"
    shared.mkdir(exist_ok=True)
    db, done = shared / "atlas.db", shared / "built"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _build(db)
            done.touch()
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    atlas: Atlas  # the served engine: create embeds with it

    def get(self, path: str) -> Any:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=60) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="session")
def live_server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("e2e-serve") / "atlas.db"
    shutil.copy(demo_db, db)
    settings = settings_for(db)
    atlas = Atlas.open(settings=settings)
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, atlas=atlas), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", atlas)
    server.should_exit = True
    thread.join(timeout=10)
    atlas.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no shared storage) at a desktop size; page errors are kept."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()
