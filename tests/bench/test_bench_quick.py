"""The benchmark harness in quick mode: results follow the INTERFACE schema and every check ran.

No timing is asserted (speed is what the full run measures); these tests keep the harness from
rotting and show that its correctness checks can fail.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.settings import PROJECT_ROOT
from bench import cases
from bench.harness import CaseFailed

COMMITTED = PROJECT_ROOT / "bench" / "results.json"


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    """One ``python -m bench --quick --out TMP`` run (about 20-30 s)."""
    del shared_data  # the ingest case reads ../shared/data; fail clearly if it is missing
    out = tmp_path_factory.mktemp("bench") / "results.json"
    before = _digest(COMMITTED)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return {
        "returncode": done.returncode,
        "stderr": done.stderr,
        "out": out,
        "results": json.loads(out.read_text(encoding="utf-8")) if out.exists() else None,
        "committed_unchanged": _digest(COMMITTED) == before,
    }


def test_quick_run_succeeds_and_leaves_committed_results_alone(quick_run: dict[str, Any]) -> None:
    assert quick_run["returncode"] == 0, quick_run["stderr"][-3000:]
    assert quick_run["committed_unchanged"]
    folder = quick_run["out"].parent
    for name in ("README.md", "speedups.png", "scaling.png"):
        assert (folder / name).stat().st_size > 0
    assert (folder / "speedups.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_case_is_reported_measured_or_pending(quick_run: dict[str, Any]) -> None:
    results = quick_run["results"]
    measured = {c["name"] for c in results["cases"] + results["absolute"]}
    pending = {p["name"] for p in results["pending"]}
    assert results["failures"] == []
    assert measured | pending == set(cases.CASE_NAMES)
    assert not measured & pending
    for name in pending:  # a case is pending only while its module says so
        assert cases.load(name).pending() is not None


def test_results_follow_the_interface_schema(quick_run: dict[str, Any]) -> None:
    results = quick_run["results"]
    assert isinstance(results["machine"], dict) and results["machine"]["mode"] == "quick"
    assert results["cases"]
    for case in results["cases"]:
        assert isinstance(case["name"], str)
        assert isinstance(case["n"], int) and case["n"] > 0
        assert isinstance(case["peer"], str) and case["peer"]
        assert isinstance(case["ours_s"], float) and case["ours_s"] > 0
        for key in ("peer_s", "speedup"):
            assert isinstance(case[key], float) and case[key] > 0, (case["name"], key)
        assert case["speedup"] == pytest.approx(case["peer_s"] / case["ours_s"], rel=1e-3)
        assert case["meets_target"] == (case["speedup"] >= case["target"])
        assert min(case["repeats"].values()) >= 3
        assert len(case["ours_runs_s"]) == case["repeats"]["ours"]
        assert not any("warm-up, so it was timed" in note for note in case["notes"])
    # A measurement without a peer is kept apart, so `cases` is all numbers.
    (latency,) = results["absolute"]
    assert latency["name"] == "tile_server_p95" and latency["peer_s"] is None
    assert isinstance(latency["ours_s"], float) and latency["ours_s"] > 0


def test_each_case_checked_correctness_before_timing(quick_run: dict[str, Any]) -> None:
    for case in quick_run["results"]["cases"]:
        check = case["check"]
        assert check["ran"] is True and check["passed"] is True, case["name"]
        assert check["tolerance"] and check["what"]


def test_scaling_series_cover_both_sides_of_both_tasks(quick_run: dict[str, Any]) -> None:
    scaling = quick_run["results"]["scaling"]
    pairs = {(s["task"], s["side"]) for s in scaling["series"]}
    assert pairs == {("pip", "ours"), ("pip", "peer"), ("counts", "ours"), ("counts", "peer")}
    for series in scaling["series"]:
        assert [p["n"] for p in series["points"]] == scaling["sizes"]
        assert all(p["median_s"] > 0 and p["peak_mib"] >= 0 for p in series["points"])


# ------------------------------------------------ the checks reject answers that disagree


def test_projection_check_rejects_a_2_mm_offset() -> None:
    from bench.cases import project_lonlat

    e = np.array([500_000.0, 510_000.0])
    n = np.array([150_000.0, 160_000.0])
    assert project_lonlat.compare((e, n), (e + 0.0005, n))["passed"]
    with pytest.raises(CaseFailed):
        project_lonlat.compare((e, n), (e + 0.002, n))
    with pytest.raises(CaseFailed):  # outside the grid in one answer only
        project_lonlat.compare((e, n), (np.array([np.inf, 510_000.0]), n))


def test_assignment_and_count_checks_reject_a_single_difference() -> None:
    from bench.cases import counts_by_area, pip_surrey_wards

    wards = np.arange(2_000_000) % 187
    moved = wards.copy()
    moved[:3] = (moved[:3] + 1) % 187
    with pytest.raises(CaseFailed):
        pip_surrey_wards.compare(wards, moved)
    table = np.ones((4, 3), dtype=np.int64)
    other = table.copy()
    other[2, 1] = 2
    with pytest.raises(CaseFailed):
        counts_by_area.compare(table, other)
