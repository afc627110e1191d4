"""UK postcode normalisation, vectorised: "gu1 1aa", "GU11AA", "GU1 OAA" → "GU1 0AA".

A postcode is an outward code (A9, A99, AA9, AA99, A9A or AA9A: letters A, digits 9) and an
inward code 9AA whose two letters are never C, I, K, M, O or V; plus the special GIR 0AA. Input
is upper-cased and stripped, spaces are removed and the single space is put back before the
three-character inward code.

Typing errors are fixed only where unambiguous: a letter O or I where the format can only hold a
digit becomes 0 or 1. The inward code always starts with a digit; in the outward code a position
counts as "digit only" when every outward pattern of that length that fits the other characters
has a digit there ("GUO" can only be AA9 → "GU0", but "W1O" may be A99 or A9A and is left alone).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from geo.errors import InvalidInput, InvalidPostcode

__all__ = ["normalise_postcode", "normalise_postcodes"]

_WIDTH = 7  # longest postcode without its space: AA9A9AA
# Outward patterns right-aligned in the first four columns: L letter, D digit, _ padding.
_OUTWARD = ("__LD", "_LDD", "_LLD", "_LDL", "LLDD", "LLDL")
_INWARD_LETTERS = np.array([c not in "CIKMOV" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"])
_SPACE, _O, _I, _ZERO, _ONE = (ord(c) for c in " OI01")
_GIR = np.frombuffer(b" GIR0AA", dtype=np.uint8)
_WHITESPACE = "[ \t\r\n\u00a0]+"


def normalise_postcodes(texts: Sequence[str | None] | NDArray[Any]) -> NDArray[np.str_]:
    """Canonical form of many postcodes at once (pyarrow + numpy; no Python loop per row).

    Parameters
    ----------
    texts : sequence of str, or array
        Free-text postcodes; None and NaN are allowed (they are not postcodes).

    Returns
    -------
    numpy.ndarray of str
        ``"GU1 1AA"`` style, or ``""`` where the text is not a UK postcode.

    Raises
    ------
    InvalidInput
        ``texts`` holds something other than strings and missing values.
    """
    try:
        arr = pa.array(texts, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise InvalidInput(f"expected text values: {exc}") from exc
    compact = pc.replace_substring_regex(arr, _WHITESPACE, "")
    chars = pc.fill_null(pc.utf8_length(compact), 0)
    # Same byte and character count: ASCII only (so upper-casing cannot create ASCII letters).
    usable = pc.and_(
        pc.and_(pc.greater_equal(chars, 5), pc.less_equal(chars, _WIDTH)),
        pc.equal(chars, pc.binary_length(compact)),
    )
    padded = pc.utf8_lpad(pc.utf8_upper(compact), _WIDTH, " ")
    padded = pc.if_else(pc.fill_null(usable, False), padded, " " * _WIDTH)
    codes = _fix_typos(_ascii_matrix(padded))
    valid = _is_postcode(codes)
    return _render(codes, valid)


def normalise_postcode(text: str) -> str:
    """Canonical form of one postcode, e.g. ``"gu1 oaa"`` → ``"GU1 0AA"``.

    Raises
    ------
    InvalidPostcode
        ``text`` is not a UK postcode (with the reason).
    """
    if not isinstance(text, str):
        raise InvalidPostcode(f"{text!r} is not a postcode (expected text such as 'GU1 1AA')")
    result = str(normalise_postcodes([text])[0])
    if result:
        return result
    compact = re.sub(_WHITESPACE, "", text)
    if not 5 <= len(compact) <= _WIDTH:
        reason = f"{len(compact)} characters without spaces; a postcode has 5 to 7"
    else:
        reason = "not in a UK format (A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA)"
    raise InvalidPostcode(f"{text!r} is not a UK postcode: {reason}")


def _ascii_matrix(strings: pa.Array) -> NDArray[np.uint8]:
    """Bytes of a string array whose elements are all ``_WIDTH`` ASCII characters."""
    if len(strings) == 0:
        return np.zeros((0, _WIDTH), dtype=np.uint8)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset :]
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)
    matrix: NDArray[np.uint8] = data[offsets[: len(strings), None] + np.arange(_WIDTH)]
    return matrix


def _classes(codes: NDArray[np.uint8]) -> tuple[NDArray[np.bool_], ...]:
    letter = (codes >= ord("A")) & (codes <= ord("Z"))
    digit = (codes >= ord("0")) & (codes <= ord("9"))
    return letter, digit, codes == _SPACE


def _outward_matches(
    letter: NDArray[np.bool_], digit: NDArray[np.bool_], pad: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """(rows, patterns): does the outward code (columns 0-3) fit each pattern of _OUTWARD?"""
    need = {"L": letter, "D": digit, "_": pad}
    fits = np.ones((letter.shape[0], len(_OUTWARD)), dtype=bool)
    for p, pattern in enumerate(_OUTWARD):
        for col, kind in enumerate(pattern):
            fits[:, p] &= need[kind][:, col]
    return fits


def _fix_typos(codes: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Replace O/I by 0/1 where every fitting pattern wants a digit (see the module notes)."""
    letter, digit, pad = _classes(codes)
    o_or_i = (codes == _O) | (codes == _I)
    # Consistent patterns: an O or I may stand for a digit.
    fits = _outward_matches(letter, digit | o_or_i, pad)
    digit_only = np.zeros(codes.shape, dtype=bool)
    for col in range(4):
        wants_digit = np.array([pattern[col] == "D" for pattern in _OUTWARD])
        digit_only[:, col] = fits.any(axis=1) & (~fits | wants_digit).all(axis=1)
    digit_only[(codes[:, :4] == _GIR[:4]).all(axis=1), :4] = False  # GIR 0AA is special
    digit_only[:, 4] = True  # first character of the inward code
    fixed = codes.copy()
    fixed[digit_only & (codes == _O)] = _ZERO
    fixed[digit_only & (codes == _I)] = _ONE
    return fixed


def _is_postcode(codes: NDArray[np.uint8]) -> NDArray[np.bool_]:
    letter, digit, pad = _classes(codes)
    outward = _outward_matches(letter, digit, pad).any(axis=1)
    inward_letters = letter[:, 5:] & _INWARD_LETTERS[np.clip(codes[:, 5:].astype(int) - 65, 0, 25)]
    valid: NDArray[np.bool_] = outward & digit[:, 4] & inward_letters.all(axis=1)
    valid |= (codes == _GIR).all(axis=1)
    return valid


def _render(codes: NDArray[np.uint8], valid: NDArray[np.bool_]) -> NDArray[np.str_]:
    """ "OUT IN" from right-aligned rows; invalid rows become ""."""
    outward_len = 4 - (codes[:, :4] == _SPACE).sum(axis=1, keepdims=True)
    # Extra columns: 7 holds the separating space, 8 a NUL (numpy strips trailing NULs).
    extended = np.concatenate(
        [codes, np.full((len(codes), 1), _SPACE, np.uint8), np.zeros((len(codes), 1), np.uint8)],
        axis=1,
    )
    j = np.arange(_WIDTH + 1)
    source = np.where(
        j < outward_len,
        4 - outward_len + j,
        np.where(j == outward_len, 7, np.where(j <= outward_len + 3, 3 + j - outward_len, 8)),
    )
    out = np.take_along_axis(extended, source, axis=1)
    out[~valid] = 0
    return out.view(f"S{_WIDTH + 1}").ravel().astype(f"U{_WIDTH + 1}")
