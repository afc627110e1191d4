"""Free-text location queries: one test per kind, the decision rule, and junk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.errors import InvalidGridReference, InvalidInput, OutsideGridExtent
from geo.gridref import format_gridref
from geo.query import LocationQuery, parse_location_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "SU 99417 49731",
            LocationQuery("gridref", "SU 99417 49731", 499417.0, 149731.0, 1),
        ),
        ("SU9949", LocationQuery("gridref", "SU9949", 499000.0, 149000.0, 1000)),
        ("  tq ", LocationQuery("gridref", "tq", 500000.0, 100000.0, 100_000)),
        ("NN 166 712", LocationQuery("gridref", "NN 166 712", 216600.0, 771200.0, 100)),
    ],
)
def test_grid_references(text: str, expected: LocationQuery) -> None:
    assert parse_location_query(text) == expected


@pytest.mark.parametrize(
    ("text", "postcode"),
    [
        ("GU1 1AA", "GU1 1AA"),
        ("gu11aa", "GU1 1AA"),
        (" kt22 9aj ", "KT22 9AJ"),
        ("GU1 OAA", "GU1 0AA"),
    ],
)
def test_postcodes(text: str, postcode: str) -> None:
    assert parse_location_query(text) == LocationQuery("postcode", text.strip(), postcode=postcode)


@pytest.mark.parametrize(
    ("text", "lat", "lon"),
    [
        ("51.24,-0.58", 51.24, -0.58),
        ("51.24, -0.58", 51.24, -0.58),
        ("51.24 -0.58", 51.24, -0.58),
        ("51.24;-0.58", 51.24, -0.58),
        ("+57.81, -8.57", 57.81, -8.57),  # St Kilda
        ("60.15,-1.15", 60.15, -1.15),  # Lerwick
        ("51.5,.1", 51.5, 0.1),
    ],
)
def test_lat_lon_latitude_first(text: str, lat: float, lon: float) -> None:
    query = parse_location_query(text)
    assert (query.kind, query.lat, query.lon) == ("lonlat", lat, lon)
    assert query.easting is None and query.postcode is None


@pytest.mark.parametrize(
    ("text", "easting", "northing"),
    [
        ("499417,149731", 499417.0, 149731.0),
        ("499417.5 149731.25", 499417.5, 149731.25),
        ("651409, 313177", 651409.0, 313177.0),
        ("181,5", 181.0, 5.0),  # one number above 180 makes both metres
        ("5,181", 5.0, 181.0),
    ],
)
def test_easting_northing(text: str, easting: float, northing: float) -> None:
    query = parse_location_query(text)
    assert (query.kind, query.easting, query.northing) == ("en", easting, northing)
    assert query.lon is None and query.precision_m is None


def test_swapped_lat_lon_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match="latitude first") as info:
        parse_location_query("-0.58,51.24")
    assert "51.24,-0.58" in info.value.detail


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", InvalidInput),
        ("   ", InvalidInput),
        ("hello world", InvalidInput),
        ("GU1 1CA", InvalidInput),
        ("51.24", InvalidInput),
        ("51.24,-0.58,3", InvalidInput),
        ("1e5,2e5", InvalidInput),
        ("0,0", InvalidInput),
        ("SU 123", InvalidGridReference),
        ("ZZ 12 34", InvalidGridReference),
        ("SI 12 34", InvalidGridReference),
        ("48.86,2.35", OutsideGridExtent),  # Paris
        ("53.35,-6.26", OutsideGridExtent),  # Dublin
        ("91,0.5", OutsideGridExtent),
        ("800000,100000", OutsideGridExtent),
        ("-5,300000", OutsideGridExtent),
    ],
)
def test_junk_is_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_location_query(text)
    assert issubclass(error, InvalidInput)


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_location_query(None)  # type: ignore[arg-type]


@given(st.floats(0, 699_999), st.floats(0, 1_299_999), st.sampled_from([0, 2, 4, 6, 8, 10]))
def test_formatted_grid_references_come_back_as_grid_references(
    easting: float, northing: float, digits: int
) -> None:
    query = parse_location_query(format_gridref(easting, northing, digits))
    assert query.kind == "gridref"
    assert query.precision_m == 10 ** (5 - digits // 2)
    assert query.easting is not None and query.northing is not None
    assert 0 <= easting - query.easting < query.precision_m


@given(st.floats(-180, 180), st.floats(-180, 180))
def test_small_number_pairs_are_never_metres(first: float, second: float) -> None:
    try:
        query = parse_location_query(f"{first!r},{second!r}")
    except InvalidInput:
        return
    assert query.kind == "lonlat"
    assert (query.lat, query.lon) == (first, second)
