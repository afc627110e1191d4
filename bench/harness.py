"""Timing and checking shared by every case: warm-up and check first, then interleaved repeats.

Protocol of one case (see README.md):

1. build the inputs (untimed) and run ours and the peer once each: that is the warm-up, and
   its outputs are compared; a disagreement beyond the stated tolerance raises
   :class:`CaseFailed` and nothing is timed;
2. time ours and the peer alternately (A B A B ...), so that load from other processes on the
   machine falls on both, and report the median of each.

Repeats: at least :data:`MIN_REPEATS`; calls under a second get more (up to
:data:`MAX_REPEATS`, about two seconds per side) for a steadier median; a peer whose warm-up took
over :data:`SLOW_PEER_S` gets :data:`SLOW_REPEATS` and the case says so in its notes. Quick mode
(CI: does the harness still run and do the answers still agree?) times each side
:data:`QUICK_REPEATS` times.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_REPEATS = 5
MAX_REPEATS = 25
QUICK_REPEATS = 3
SLOW_PEER_S = 20.0
SLOW_REPEATS = 3
#: Wall time per side that fast cases aim for when choosing their repeats.
TARGET_SIDE_S = 2.0


class CaseFailed(Exception):
    """Ours and the peer disagree beyond the stated tolerance, or the case cannot be run."""


@dataclass
class Context:
    """What a case needs: mode, seeded inputs and a scratch folder."""

    quick: bool
    inputs: Any  # bench.data.Inputs (typed loosely to keep this module import-light)
    workdir: Path


@dataclass
class Side:
    """One contender: ``run`` is timed; ``setup`` (untimed) runs before every call of ``run``."""

    run: Callable[[], Any]
    setup: Callable[[], None] | None = None


@dataclass
class Timing:
    """Per-call wall times (seconds) of both sides, in call order, and what was noted."""

    ours: list[float]
    peer: list[float]
    notes: list[str] = field(default_factory=list)

    @property
    def ours_s(self) -> float:
        return statistics.median(self.ours)

    @property
    def peer_s(self) -> float:
        return statistics.median(self.peer)


def timed(side: Side | Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call (after its untimed setup and a garbage collection) and its result."""
    if not isinstance(side, Side):
        side = Side(side)
    if side.setup is not None:
        side.setup()
    gc.collect()
    start = time.perf_counter()
    out = side.run()
    return time.perf_counter() - start, out


def repeats_for(first_s: float, quick: bool, *, peer: bool) -> int:
    """How many timed calls a side gets, from the duration of its warm-up call."""
    if quick:
        return QUICK_REPEATS
    if peer and first_s > SLOW_PEER_S:
        return SLOW_REPEATS
    wanted = math.ceil(TARGET_SIDE_S / max(first_s, 1e-6))
    return max(MIN_REPEATS, min(MAX_REPEATS, wanted))


def measure(
    ours: Side, peer: Side, first_ours_s: float, first_peer_s: float, quick: bool
) -> Timing:
    """Time both sides alternately; ``first_*_s`` are the warm-up times (they set the repeats)."""
    n_ours = repeats_for(first_ours_s, quick, peer=False)
    n_peer = repeats_for(first_peer_s, quick, peer=True)
    timing = Timing([], [])
    for i in range(max(n_ours, n_peer)):
        if i < n_ours:
            timing.ours.append(timed(ours)[0])
        if i < n_peer:
            timing.peer.append(timed(peer)[0])
    if not quick and n_peer < MIN_REPEATS:
        timing.notes.append(
            f"the peer took {first_peer_s:.1f} s (> {SLOW_PEER_S:.0f} s) on its warm-up, so it "
            f"was timed {n_peer} times, not {MIN_REPEATS}"
        )
    return timing


def warm_up(ours: Side, peer: Side) -> tuple[float, Any, float, Any]:
    """Run each side once (untimed for the result): times and outputs for the check."""
    t_ours, out_ours = timed(ours)
    t_peer, out_peer = timed(peer)
    return t_ours, out_ours, t_peer, out_peer


def check(passed: bool, what: str, tolerance: str, **measured: Any) -> dict[str, Any]:
    """Record a correctness check; raise :class:`CaseFailed` when it did not pass."""
    result = {"ran": True, "passed": bool(passed), "what": what, "tolerance": tolerance}
    result.update({k: jsonable(v) for k, v in measured.items()})
    if not passed:
        detail = ", ".join(f"{k}={v}" for k, v in measured.items())
        raise CaseFailed(f"ours and the peer disagree: {what} (tolerance {tolerance}; {detail})")
    return result


def sig(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (for the results file)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")


def record(
    name: str,
    n: int,
    peer: str,
    timing: Timing,
    check_result: dict[str, Any],
    target: float | None,
    notes: list[str],
    *,
    ours: str,
    peer_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One ``cases`` entry of results.json; ``peer_s`` overrides the measured peer median."""
    ours_s = sig(timing.ours_s)
    peer_time = sig(timing.peer_s if peer_s is None else peer_s)
    speedup = sig(peer_time / ours_s, 4)
    out: dict[str, Any] = {
        "name": name,
        "n": int(n),
        "ours": ours,
        "ours_s": ours_s,
        "peer": peer,
        "peer_s": peer_time,
        "speedup": speedup,
        "target": target,
        "meets_target": None if target is None else bool(speedup >= target),
        "repeats": {"ours": len(timing.ours), "peer": len(timing.peer)},
        "ours_runs_s": [sig(t, 4) for t in timing.ours],
        "peer_runs_s": [sig(t, 4) for t in timing.peer],
        "check": check_result,
        "notes": [*notes, *timing.notes],
    }
    out.update({k: jsonable(v) for k, v in extra.items()})
    return out


def jsonable(value: Any) -> Any:
    """numpy scalars and tuples to plain JSON types (floats to 6 significant digits)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float):
        return sig(value)
    return value
