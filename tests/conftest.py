"""Shared fixtures: where the shared open data lives, and a scratch store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT

#: Real open data shipped beside the repository for tests (see ../shared/data/SOURCES.md).
SHARED_DATA = Path(os.environ.get("ATLAS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; the suite needs it (CI clones main with ../shared beside it)."""
    if not (SHARED_DATA / "SOURCES.md").exists():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (set ATLAS_SHARED_DATA)")
    return SHARED_DATA
