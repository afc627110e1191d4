"""Numbers in words for notes and caveats: "1 area", "3 areas"; tidy decimals for display."""

from __future__ import annotations

import math

#: Significant digits kept when a computed number is shown: enough to keep every real digit of
#: the data, few enough to drop floating-point noise (``52.400000000000006`` -> ``52.4``).
DISPLAY_DIGITS = 10


def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 area"``, ``"0 areas"``, ``"2 areas"`` (``plural`` defaults to ``singular + "s"``).

    Parameters
    ----------
    n : int
        How many.
    singular, plural : str
        The noun for one and for any other number.
    """
    noun = singular if n == 1 else (plural or f"{singular}s")
    return f"{n:,} {noun}"


def tidy(value: float) -> float:
    """``value`` rounded to :data:`DISPLAY_DIGITS` significant digits (non-finite unchanged).

    For JSON and labels only: classification itself keeps the exact value.
    """
    if not math.isfinite(value) or value == 0:
        return float(value)
    return float(f"{value:.{DISPLAY_DIGITS}g}")
