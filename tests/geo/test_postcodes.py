"""UK postcode normalisation: worked examples, every Surrey postcode, an independent regex of the
format, and invariants (idempotence, spacing and case)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InvalidInput, InvalidPostcode
from geo.postcodes import normalise_postcode, normalise_postcodes

# The format as the brief (and the Royal Mail/GOV.UK descriptions) state it, written out
# independently: outward A9, A99, AA9, AA99, A9A, AA9A; inward 9AA without C I K M O V.
ORACLE = re.compile(r"GIR 0AA|[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UW-Z]{2}")


def respace(text: str) -> str:
    """Upper-case, drop whitespace, one space before the last three characters."""
    compact = re.sub(r"\s", "", text).upper()
    return f"{compact[:-3]} {compact[-3:]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gu1 1aa", "GU1 1AA"),
        ("GU11AA", "GU1 1AA"),
        ("GU1 OAA", "GU1 0AA"),  # letter O where only a digit can be
        ("  gu1    1aa\t", "GU1 1AA"),
        ("G U 1 1 A A", "GU1 1AA"),
        ("SW1A 2AA", "SW1A 2AA"),
        ("sw1a2aa", "SW1A 2AA"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("GU101AA", "GU10 1AA"),  # Code-Point Open's fixed 7-character form
        ("GIR 0AA", "GIR 0AA"),
        ("gir oaa", "GIR 0AA"),
        ("M1 IAE", "M1 1AE"),  # inward code starts with a digit
        ("MI 1AE", "M1 1AE"),  # two-character outward codes are always A9
        ("GUO 1AA", "GU0 1AA"),  # only AA9 fits "GU?"
        ("GUI 1AA", "GU1 1AA"),
        ("RHI0 1AA", "RH10 1AA"),  # AA99 or AA9A: the third character is a digit in both
        ("RHIO 1AA", "RH1O 1AA"),  # ... but the fourth may be a letter (AA9A): left alone
        ("W1O 1AA", "W1O 1AA"),  # A99 or A9A: ambiguous, left as typed (valid as A9A)
        ("AO1 1AA", "AO1 1AA"),  # A99 or AA9: ambiguous, left as typed (valid as AA9)
    ],
)
def test_worked_examples(text: str, expected: str) -> None:
    assert normalise_postcode(text) == expected
    assert normalise_postcodes([text]).tolist() == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GU1",
        "GU1 1A",
        "GU1 1CA",  # C never ends a postcode
        "GU1 1AV",
        "GU1 AAA",
        "1GU 1AA",
        "GUUU 1AA",
        "G 1AA",
        "GU123 1AA",
        "ABCDEFG",
        "WIO 1AA",  # W10, WI0 and W1O all fit: no unambiguous fix
        "GIR 1AA",
        "GU1 1AÄ",
        "ıW1A 1AA",  # dotless i upper-cases to I: not ASCII, not a postcode
        "SW1A-2AA",
    ],
)
def test_not_postcodes(text: str) -> None:
    assert normalise_postcodes([text]).tolist() == [""]
    with pytest.raises(InvalidPostcode):
        normalise_postcode(text)


def test_missing_values_and_types() -> None:
    out = normalise_postcodes(np.array(["gu1 1aa", None, math.nan, ""], dtype=object))
    assert out.tolist() == ["GU1 1AA", "", "", ""]
    assert out.dtype.kind == "U"
    assert normalise_postcodes([]).shape == (0,)
    with pytest.raises(InvalidPostcode):
        normalise_postcode(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        normalise_postcodes(np.array([1, 2], dtype=object))


def test_every_surrey_postcode_is_recognised(shared_data: Path) -> None:
    """Code-Point Open writes 7-character postcodes without their space ("GU101AA"); every
    postcode must normalise to its canonical form, and the canonical form to itself."""
    for name in ("surrey_codepoint_open_2014.csv", "surrey_nspl_may2025_latlon.csv"):
        codes = pd.read_csv(shared_data / "postcodes" / name, usecols=["postcode"])["postcode"]
        raw = codes.to_numpy(dtype=str)
        canonical = np.array([respace(c) for c in raw])
        assert all(ORACLE.fullmatch(c) for c in canonical)
        assert (normalise_postcodes(raw) == canonical).all()
        assert (normalise_postcodes(canonical) == canonical).all()
        assert (normalise_postcodes(np.char.lower(canonical)) == canonical).all()
        assert (normalise_postcodes(np.char.replace(canonical, " ", "")) == canonical).all()


# --- properties -------------------------------------------------------------------------------

LETTER = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGIT = st.sampled_from("0123456789")
OUTWARD_SHAPES = ["A9", "A99", "AA9", "AA99", "A9A", "AA9A"]


@st.composite
def near_postcodes(draw: st.DrawFn) -> str:
    """Postcode-shaped text: right and wrong shapes, any letters, random case and spaces."""
    shape = draw(st.sampled_from([*OUTWARD_SHAPES, "9A", "AAA", "A", "AA99A"]))
    outward = "".join(draw(LETTER if c == "A" else DIGIT) for c in shape)
    inward = draw(DIGIT | LETTER) + draw(LETTER) + draw(LETTER | DIGIT)
    text = outward + draw(st.sampled_from(["", " ", "  "])) + inward
    return "".join(c.lower() if draw(st.booleans()) else c for c in text)


texts = st.one_of(near_postcodes(), st.text(max_size=10))


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=20))
def test_idempotent_and_in_the_format(values: list[str]) -> None:
    once = normalise_postcodes(values)
    assert (normalise_postcodes(once) == once).all()
    for out in once:
        if out:
            assert ORACLE.fullmatch(str(out))


@settings(max_examples=500, deadline=None)
@given(near_postcodes())
def test_agrees_with_the_format_when_there_is_nothing_to_fix(text: str) -> None:
    if re.search("[OoIi]", text):
        return
    expected = respace(text) if ORACLE.fullmatch(respace(text)) else ""
    assert normalise_postcodes([text]).tolist() == [expected]


@settings(max_examples=500, deadline=None)
@given(near_postcodes())
def test_fixes_only_swap_o_and_i_for_digits(text: str) -> None:
    out = str(normalise_postcodes([text])[0])
    if out:
        typed = respace(text)
        assert len(out) == len(typed)
        for got, was in zip(out, typed, strict=True):
            assert got == was or (was, got) in {("O", "0"), ("I", "1")}


@settings(max_examples=300, deadline=None)
@given(near_postcodes(), st.lists(st.sampled_from([" ", "\t", ""]), min_size=12, max_size=12))
def test_spacing_and_case_variants_agree(text: str, gaps: list[str]) -> None:
    compact = re.sub(r"\s", "", text)
    spaced = "".join(g + c for g, c in zip(gaps, compact, strict=False)) + gaps[-1]
    variants = [text, compact, compact.lower(), compact.upper(), spaced, f"  {text.swapcase()} "]
    assert len(set(normalise_postcodes(variants).tolist())) == 1
