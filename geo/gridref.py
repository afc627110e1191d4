"""OS National Grid references ⇄ easting/northing in metres (EPSG:27700), one or millions at a time.

A reference is two letters and an even number (0-10) of digits: the first letter names a 500 km
square and the second a 100 km square inside it (both from 5 × 5 letter grids without I, A at the
top left; the false origin is the south-west corner of SV), then the easting digits followed by as
many northing digits. A reference names a square, not a point: parsing gives its SOUTH-WEST corner
and its side ``precision_m``; formatting TRUNCATES to the square that contains the point.

Spaces (tabs, newlines, no-break spaces) may separate the letters from the digits and the easting
digits from the northing digits: "SU 99417 49731", "SU9941749731", "su 994 497", "TQ". Valid
squares are those inside the National Grid, 0-700 km east and 0-1300 km north.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from geo.errors import InvalidGridReference, InvalidInput

__all__ = [
    "GridRef",
    "ParsedGridRefs",
    "format_gridref",
    "format_gridrefs",
    "parse_gridref",
    "parse_gridrefs",
]

_SQUARE_M = 100_000
_EAST_SQUARES, _NORTH_SQUARES = 7, 13  # the National Grid: 700 km × 1300 km
_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # 25 letters, no I
_DIGITS = (0, 2, 4, 6, 8, 10)
# Python ``re`` and RE2 (pyarrow) read this identically: ASCII classes only, no \d or \s.
_WS = "[ \t\r\n\u00a0]"
_BODY = f"{_WS}*(?P<l1>[A-Za-z])(?P<l2>[A-Za-z]){_WS}*(?P<e>[0-9]*){_WS}*(?P<n>[0-9]*){_WS}*"
_PATTERN = re.compile(_BODY)


def _square_tables() -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.str_]]:
    """100 km square index (east, north) per letter pair ('A'..'Z' × 'A'..'Z'; -1 invalid),
    and the letter pair of every square of the grid."""
    east = np.full((26, 26), -1, dtype=np.int64)
    north = np.full((26, 26), -1, dtype=np.int64)
    names = np.empty((_NORTH_SQUARES, _EAST_SQUARES), dtype="U2")
    for i1, first in enumerate(_LETTERS):
        row1, col1 = divmod(i1, 5)
        for i2, second in enumerate(_LETTERS):
            row2, col2 = divmod(i2, 5)
            # S (row 3, column 2 of the 500 km letters) holds the false origin.
            e100 = 5 * (col1 - 2) + col2
            n100 = 5 * (3 - row1) + 4 - row2
            if 0 <= e100 < _EAST_SQUARES and 0 <= n100 < _NORTH_SQUARES:
                a, b = ord(first) - 65, ord(second) - 65
                east[a, b], north[a, b] = e100, n100
                names[n100, e100] = first + second
    return east, north, names


_SQUARE_EAST, _SQUARE_NORTH, _SQUARE_NAME = _square_tables()


@dataclass(frozen=True)
class GridRef:
    """A parsed grid reference: the south-west corner of its square, in metres (EPSG:27700)."""

    easting: int
    northing: int
    precision_m: int  # side of the square: 100000 (letters only), 10000, 1000, 100, 10 or 1


@dataclass(frozen=True)
class ParsedGridRefs:
    """Vectorised parse result, one element per input text."""

    easting: NDArray[np.float64]  # metres, south-west corner; NaN where invalid
    northing: NDArray[np.float64]
    precision_m: NDArray[np.int32]  # 0 where invalid
    valid: NDArray[np.bool_]


def parse_gridref(text: str) -> GridRef:
    """Parse one OS grid reference.

    Parameters
    ----------
    text : str
        E.g. ``"SU 99417 49731"``, ``"su9949"`` or ``"TQ"`` (case and spacing are free).

    Returns
    -------
    GridRef
        South-west corner of the referenced square (EPSG:27700 metres) and its side.

    Raises
    ------
    InvalidGridReference
        With the reason: not two letters, letter I, square outside the National Grid, an odd
        number or more than 10 digits, unequal digit groups or other characters.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidGridReference("empty grid reference (expected e.g. 'SU 99417 49731')")
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise InvalidGridReference(_syntax_problem(text))
    letters = (match["l1"] + match["l2"]).upper()
    if "I" in letters:
        raise InvalidGridReference(f"{text!r}: the letter I is not used in OS grid references")
    e100 = int(_SQUARE_EAST[ord(letters[0]) - 65, ord(letters[1]) - 65])
    n100 = int(_SQUARE_NORTH[ord(letters[0]) - 65, ord(letters[1]) - 65])
    if e100 < 0:
        raise InvalidGridReference(
            f"{text!r}: square {letters} lies outside the National Grid (0-700 km east, "
            "0-1300 km north)"
        )
    east_digits, north_digits = _split_digits(text, match["e"], match["n"])
    precision_m = 10 ** (5 - len(east_digits))
    return GridRef(
        easting=e100 * _SQUARE_M + int(east_digits or 0) * precision_m,
        northing=n100 * _SQUARE_M + int(north_digits or 0) * precision_m,
        precision_m=precision_m,
    )


def _split_digits(text: str, first: str, second: str) -> tuple[str, str]:
    if second:
        if len(first) != len(second):
            raise InvalidGridReference(
                f"{text!r}: easting and northing need the same number of digits "
                f"({len(first)} and {len(second)} given)"
            )
        digits = first + second
    else:
        digits = first
    if len(digits) > 10:
        raise InvalidGridReference(f"{text!r}: more than 10 digits ({len(digits)})")
    if len(digits) % 2:
        raise InvalidGridReference(
            f"{text!r}: an odd number of digits ({len(digits)}); easting and northing need "
            "the same number"
        )
    half = len(digits) // 2
    return digits[:half], digits[half:]


def _syntax_problem(text: str) -> str:
    stripped = text.strip()
    if not re.fullmatch("[A-Za-z]{2}.*", stripped, flags=re.DOTALL):
        return f"{text!r}: a grid reference starts with two letters, e.g. 'SU 99417 49731'"
    if re.search("[^0-9 \t\r\n\u00a0]", stripped[2:]):
        return f"{text!r}: only digits and spaces may follow the two letters"
    return f"{text!r}: the digits must be one group or two equal groups (easting, northing)"


def parse_gridrefs(texts: Sequence[str | None] | NDArray[Any]) -> ParsedGridRefs:
    """Parse many grid references at once (pyarrow regex + numpy; no Python loop per row).

    Parameters
    ----------
    texts : sequence of str, or array
        Grid references; None, NaN and "" are invalid rows, as is anything
        :func:`parse_gridref` would reject.

    Returns
    -------
    ParsedGridRefs
        South-west corners in EPSG:27700 metres (NaN where invalid), ``precision_m`` (0 where
        invalid) and ``valid``.

    Raises
    ------
    InvalidInput
        ``texts`` holds something other than strings and missing values.
    """
    parts = pc.extract_regex(_string_array(texts), pattern=f"^{_BODY}$")
    # Rows that do not match are null structs whose fields read as "".
    matched = parts.is_valid()
    letters = pc.binary_join_element_wise(parts.field("l1"), parts.field("l2"), "")
    letters = pc.if_else(matched, pc.utf8_upper(letters), "II")
    codes = _ascii_matrix(letters, 2).astype(np.int64) - 65
    e100 = _SQUARE_EAST[codes[:, 0], codes[:, 1]]
    n100 = _SQUARE_NORTH[codes[:, 0], codes[:, 1]]
    east_len = _lengths(parts.field("e"))
    north_len = _lengths(parts.field("n"))
    n_digits = east_len + north_len
    valid = (
        matched.to_numpy(zero_copy_only=False)
        & (e100 >= 0)
        & (n_digits <= 10)
        & (n_digits % 2 == 0)
    )
    valid &= (north_len == 0) | (east_len == north_len)
    joined = pc.binary_join_element_wise(parts.field("e"), parts.field("n"), "")
    joined = pc.if_else(pa.array(valid & (n_digits > 0)), joined, "0")
    number = pc.cast(joined, pa.int64()).to_numpy(zero_copy_only=False)
    half = np.where(valid, n_digits // 2, 0)
    per_square = 10**half
    precision = 10 ** (5 - half)
    easting = (e100 * _SQUARE_M + number // per_square * precision).astype(np.float64)
    northing = (n100 * _SQUARE_M + number % per_square * precision).astype(np.float64)
    return ParsedGridRefs(
        easting=np.where(valid, easting, np.nan),
        northing=np.where(valid, northing, np.nan),
        precision_m=np.where(valid, precision, 0).astype(np.int32),
        valid=valid,
    )


def _string_array(texts: object) -> pa.Array:
    try:
        arr = pa.array(texts, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise InvalidInput(f"expected text values: {exc}") from exc
    return arr


def _lengths(strings: pa.Array) -> NDArray[np.int64]:
    length = pc.fill_null(pc.utf8_length(strings), 0)
    return np.asarray(length.to_numpy(zero_copy_only=False), dtype=np.int64)


def _ascii_matrix(strings: pa.Array, width: int) -> NDArray[np.uint8]:
    """Bytes of a non-null string array whose elements are all ``width`` ASCII characters."""
    if len(strings) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset :]
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)
    matrix: NDArray[np.uint8] = data[offsets[: len(strings), None] + np.arange(width)]
    return matrix


def format_gridref(easting: float, northing: float, digits: int = 10) -> str:
    """The grid reference of the square of side 10^(5 - digits/2) m containing a point.

    Parameters
    ----------
    easting, northing : float
        EPSG:27700 metres.
    digits : int
        Total number of digits: 0 (letters only), 2, 4, 6, 8 or 10 (1 m squares).

    Returns
    -------
    str
        E.g. ``"SU 99417 49731"``: digits are truncated, never rounded.

    Raises
    ------
    InvalidInput
        ``digits`` is not one of 0, 2, 4, 6, 8, 10.
    InvalidGridReference
        The point is NaN or outside the National Grid (0-700 km east, 0-1300 km north).
    """
    text = str(format_gridrefs(np.array([easting], float), np.array([northing], float), digits)[0])
    if not text:
        raise InvalidGridReference(
            f"({easting}, {northing}) is not a point of the National Grid "
            "(0-700000 m east, 0-1300000 m north)"
        )
    return text


def format_gridrefs(easting: ArrayLike, northing: ArrayLike, digits: int = 10) -> NDArray[np.str_]:
    """Vectorised :func:`format_gridref`: "" where a point is NaN or outside the National Grid.

    Raises
    ------
    InvalidInput
        ``digits`` is not one of 0, 2, 4, 6, 8, 10, or the arrays differ in shape.
    """
    if digits not in _DIGITS:
        raise InvalidInput(f"digits must be one of {_DIGITS}, not {digits!r}")
    e = np.asarray(easting, dtype=np.float64)
    n = np.asarray(northing, dtype=np.float64)
    if e.shape != n.shape:
        raise InvalidInput(f"easting and northing differ in shape: {e.shape} vs {n.shape}")
    e, n = e.ravel(), n.ravel()
    ok = (e >= 0) & (e < _EAST_SQUARES * _SQUARE_M) & (n >= 0) & (n < _NORTH_SQUARES * _SQUARE_M)
    e_m = np.floor(np.where(ok, e, 0)).astype(np.int64)
    n_m = np.floor(np.where(ok, n, 0)).astype(np.int64)
    half = digits // 2
    width = 2 + (1 + half) * 2 * (half > 0)
    out = np.zeros((e.size, width), dtype=np.uint8)
    names = _SQUARE_NAME[n_m // _SQUARE_M, e_m // _SQUARE_M].astype("S2")
    out[:, :2] = names.view(np.uint8).reshape(-1, 2)
    for start, metres in ((3, e_m), (4 + half, n_m)) if half else ():
        out[:, start - 1] = ord(" ")
        value = metres % _SQUARE_M // 10 ** (5 - half)
        for pos in range(half):
            out[:, start + pos] = value // 10 ** (half - 1 - pos) % 10 + ord("0")
    out[~ok] = 0
    return out.view(f"S{width}").ravel().astype(f"U{width}").reshape(np.shape(easting))
