"""OS grid references: OS's worked examples, the published letter layout, and round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InvalidGridReference, InvalidInput
from geo.gridref import (
    GridRef,
    format_gridref,
    format_gridrefs,
    parse_gridref,
    parse_gridrefs,
)

# The 100 km squares of the National Grid as OS prints them, north row first (1200-1300 km)
# down to the row at the false origin (0-100 km); columns 0-700 km east.
OS_SQUARE_LAYOUT = """
HL HM HN HO HP JL JM
HQ HR HS HT HU JQ JR
HV HW HX HY HZ JV JW
NA NB NC ND NE OA OB
NF NG NH NJ NK OF OG
NL NM NN NO NP OL OM
NQ NR NS NT NU OQ OR
NV NW NX NY NZ OV OW
SA SB SC SD SE TA TB
SF SG SH SJ SK TF TG
SL SM SN SO SP TL TM
SQ SR SS ST SU TQ TR
SV SW SX SY SZ TV TW
"""
SQUARES = {
    name: (col * 100_000, (12 - row) * 100_000)
    for row, line in enumerate(OS_SQUARE_LAYOUT.split("\n")[1:-1])
    for col, name in enumerate(line.split())
}
LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # OS, "A guide to coordinate systems in Great Britain", worked example
        ("TG 51409 13177", GridRef(651409, 313177, 1)),
        # Ben Nevis summit
        ("NN 16667 71285", GridRef(216667, 771285, 1)),
        ("SU 99417 49731", GridRef(499417, 149731, 1)),
        ("SU9941749731", GridRef(499417, 149731, 1)),
        ("su 994 497", GridRef(499400, 149700, 100)),
        ("SU9949", GridRef(499000, 149000, 1000)),
        ("su 9 4", GridRef(490000, 140000, 10000)),
        ("SU 9941 4973", GridRef(499410, 149730, 10)),
        ("  tq\t", GridRef(500000, 100000, 100_000)),
        ("SV", GridRef(0, 0, 100_000)),
        ("HP", GridRef(400000, 1_200_000, 100_000)),
        ("NT 2547 7338", GridRef(325470, 673380, 10)),
        ("SV 00000 00000", GridRef(0, 0, 1)),
        ("JM 99999 99999", GridRef(699999, 1_299_999, 1)),
    ],
)
def test_worked_examples(text: str, expected: GridRef) -> None:
    assert parse_gridref(text) == expected


def test_every_square_of_the_published_layout() -> None:
    assert len(SQUARES) == 91
    for name, (easting, northing) in SQUARES.items():
        assert parse_gridref(name) == GridRef(easting, northing, 100_000)
        assert format_gridref(easting + 50_000.5, northing + 99_999.9, 0) == name


def test_squares_outside_the_layout_are_invalid() -> None:
    pairs = [a + b for a in LETTERS for b in LETTERS if a + b not in SQUARES]
    assert len(pairs) == 25 * 25 - 91
    parsed = parse_gridrefs(pairs)
    assert not parsed.valid.any()
    for pair in ("AA", "ZZ", "JZ", "TZ", "OC"):
        with pytest.raises(InvalidGridReference, match="outside the National Grid"):
            parse_gridref(pair)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("SI 12 34", "letter I"),
        ("IS 12 34", "letter I"),
        ("SU 123", "odd number"),
        ("SU 12345 678", "same number of digits"),
        ("SU 12345678901", "more than 10"),
        ("SU 123456 123456", "more than 10"),
        ("SU 12a4", "only digits"),
        ("SU 12.4 56.7", "only digits"),
        ("S U 12", "two letters"),
        ("12 SU", "two letters"),
        ("SU 12 34 56", "two equal groups"),
        ("SU-1234", "only digits"),
        ("ＳＵ 12 34", "two letters"),  # full-width letters are not ASCII
        ("SU ١٢ ٣٤", "only digits"),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidGridReference, match=reason):
        parse_gridref(text)
    assert not parse_gridrefs([text]).valid[0]


def test_vectorised_parse_handles_missing_values() -> None:
    texts = np.array(["SU 99417 49731", None, "", math.nan, "TQ", "bogus"], dtype=object)
    parsed = parse_gridrefs(texts)
    assert parsed.valid.tolist() == [True, False, False, False, True, False]
    assert parsed.easting.dtype == np.float64
    assert parsed.precision_m.dtype == np.int32
    assert parsed.precision_m.tolist() == [1, 0, 0, 0, 100_000, 0]
    assert np.isnan(parsed.easting[~parsed.valid]).all()
    assert np.isnan(parsed.northing[~parsed.valid]).all()
    assert parsed.northing[4] == 100_000
    assert parse_gridrefs([]).valid.shape == (0,)
    with pytest.raises(InvalidInput):
        parse_gridrefs(np.array([1, 2], dtype=object))


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        (10, "SU 99417 49731"),
        (8, "SU 9941 4973"),
        (6, "SU 994 497"),
        (4, "SU 99 49"),
        (2, "SU 9 4"),
        (0, "SU"),
    ],
)
def test_format_truncates(digits: int, expected: str) -> None:
    # 499417.99 would round to 499418: OS references truncate.
    assert format_gridref(499417.99, 149731.99, digits) == expected


def test_format_rejects_bad_input() -> None:
    for digits in (1, 3, 12, -2):
        with pytest.raises(InvalidInput):
            format_gridref(1.0, 1.0, digits)
    for easting, northing in ((-0.1, 5.0), (700_000.0, 5.0), (5.0, 1_300_000.0), (math.nan, 1.0)):
        with pytest.raises(InvalidGridReference):
            format_gridref(easting, northing)
    out = format_gridrefs(np.array([651409.7, np.nan, -1.0]), np.array([313177.2, 1.0, 1.0]))
    assert out.tolist() == ["TG 51409 13177", "", ""]
    assert format_gridrefs(np.zeros((2, 2)), np.zeros((2, 2)), 4).tolist() == [
        ["SV 00 00", "SV 00 00"],
        ["SV 00 00", "SV 00 00"],
    ]


# --- properties -------------------------------------------------------------------------------

squares = st.sampled_from(sorted(SQUARES))
gaps = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def references(draw: st.DrawFn) -> tuple[str, str]:
    """(free-form text, canonical text) of a valid reference."""
    square = draw(squares)
    half = draw(st.integers(0, 5))
    east = draw(st.text("0123456789", min_size=half, max_size=half))
    north = draw(st.text("0123456789", min_size=half, max_size=half))
    letters = "".join(draw(st.sampled_from([c, c.lower()])) for c in square)
    text = draw(gaps) + letters + (draw(gaps) + east + draw(gaps) + north if half else "")
    canonical = f"{square} {east} {north}" if half else square
    return text + draw(gaps), canonical


@settings(max_examples=300, deadline=None)
@given(references())
def test_format_of_parse_is_canonical(ref: tuple[str, str]) -> None:
    text, canonical = ref
    parsed = parse_gridref(text)
    digits = 2 * (5 - round(math.log10(parsed.precision_m)))
    assert format_gridref(parsed.easting, parsed.northing, digits) == canonical
    assert parse_gridref(canonical) == parsed


@settings(max_examples=300, deadline=None)
@given(
    st.floats(0, 699_999.999, allow_nan=False),
    st.floats(0, 1_299_999.999, allow_nan=False),
    st.sampled_from([0, 2, 4, 6, 8, 10]),
)
def test_parse_of_format_is_the_truncated_south_west_corner(
    easting: float, northing: float, digits: int
) -> None:
    precision = 10 ** (5 - digits // 2)
    parsed = parse_gridref(format_gridref(easting, northing, digits))
    assert parsed == GridRef(
        easting=int(easting // precision) * precision,
        northing=int(northing // precision) * precision,
        precision_m=precision,
    )
    assert parsed.easting <= easting < parsed.easting + precision


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(references().map(lambda r: r[0]), st.text(max_size=16)), max_size=30))
def test_vectorised_and_scalar_agree(texts: list[str]) -> None:
    parsed = parse_gridrefs(texts)
    for i, text in enumerate(texts):
        try:
            ref = parse_gridref(text)
        except InvalidGridReference:
            assert not parsed.valid[i]
            continue
        assert parsed.valid[i]
        assert (parsed.easting[i], parsed.northing[i], parsed.precision_m[i]) == (
            ref.easting,
            ref.northing,
            ref.precision_m,
        )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-1e5, 8e5), min_size=1, max_size=20),
    st.sampled_from([0, 2, 4, 6, 8, 10]),
)
def test_vectorised_and_scalar_format_agree(values: list[float], digits: int) -> None:
    easting = np.array(values)
    northing = easting[::-1] * 1.5
    out = format_gridrefs(easting, northing, digits)
    for e, n, text in zip(easting, northing, out, strict=True):
        if text:
            assert format_gridref(e, n, digits) == text
        else:
            with pytest.raises(InvalidGridReference):
                format_gridref(e, n, digits)
