"""Which months of a requested period the dataset holds, and the caveat when some are missing.

A month no batch covers is unknown, not zero: a table or map over a period with such months says
so in its metadata (``meta.months``) and its caveats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.aggregate import months_between
from geo.wording import count_of

#: Missing months listed by name in a caveat; beyond that they are counted.
MAX_LISTED = 12


def _listing(missing: list[str]) -> str:
    shown = ", ".join(missing[:MAX_LISTED])
    rest = len(missing) - MAX_LISTED
    return shown + (f" and {rest} more" if rest > 0 else "")


def coverage_caveat(first: str, last: str, requested: int, missing: list[str]) -> str | None:
    """Plain words for the months of ``first..last`` that are not held (None: all held)."""
    if not missing:
        return None
    if first == last:
        return f"no data is held for {first}"
    span = f"{first} to {last}"
    if len(missing) == requested:
        return f"no data is held for any of the {count_of(requested, 'month')} {span}"
    held = requested - len(missing)
    return (
        f"only {held} of the {requested} months {span} {'is' if held == 1 else 'are'} held; "
        f"no data for {_listing(missing)}: figures cover the months held"
    )


def add_coverage(meta: dict[str, Any], held: Sequence[str]) -> None:
    """Add ``months`` (requested, held, missing) and any caveat for ``meta["period"]``.

    Nothing is added without a complete period (a selection with no incidents and no months
    asked for) or for an inverted one.
    """
    period = meta.get("period") or {}
    first, last = period.get("from"), period.get("to")
    if not first or not last or first > last:
        return
    wanted = months_between(first, last)
    have = set(held)
    missing = [m for m in wanted if m not in have]
    meta["months"] = {
        "requested": len(wanted),
        "held": len(wanted) - len(missing),
        "missing": missing,
    }
    caveat = coverage_caveat(first, last, len(wanted), missing)
    if caveat:
        meta.setdefault("caveats", []).append(caveat)
