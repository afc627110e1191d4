"""OSTN15 transformation: OS's published test points, PROJ as an independent reference, and a
40-digit evaluation of the Transverse Mercator series."""

from __future__ import annotations

import math
import shutil
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from geo.errors import GridFileMissing, InvalidInput
from geo.projection import OSTN15, _tm_forward, _tm_inverse, pyproj_reference

GRID = Path(__file__).resolve().parents[2] / "data" / "proj" / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"

# OS "OSTN15_OSGM15_TestInput_ETRStoOSGB.txt" / "...TestOutput_ETRStoOSGB.txt", TP01..TP40:
# ETRS89 lon, lat as published (rounded to 1e-9 / 1e-8 degrees) -> OSGB36 E, N in metres.
OS_TEST_POINTS = np.array(
    [
        (-6.299777520, 49.92226394, 91492.146, 11318.804),
        (-5.203046100, 49.96006138, 170370.718, 11572.405),
        (-4.108645636, 50.43885826, 250359.811, 62016.569),
        (-1.297822772, 50.57563665, 449816.371, 75335.861),
        (-1.450514337, 50.93127938, 438710.920, 114792.250),
        (-3.551283492, 51.40078220, 292184.870, 168003.465),
        (1.444547304, 51.37447026, 639821.835, 169565.858),
        (-2.544076183, 51.42754743, 362269.991, 169978.690),
        (-0.119925572, 51.48936565, 530624.974, 178388.464),
        (-4.308524770, 51.85890896, 241124.584, 220332.641),
        (0.897243270, 51.89436637, 599445.590, 225722.826),
        (-2.154586144, 52.25529382, 389544.190, 261912.153),
        (-0.912489570, 52.25160951, 474335.969, 262047.755),
        (0.401535471, 52.75136687, 562180.547, 319784.995),
        (-1.197476559, 52.96219109, 454002.834, 340834.943),
        (-2.640493208, 53.34480280, 357455.843, 383290.436),
        (-4.289180698, 53.41628516, 247958.971, 393492.909),
        (-4.289177929, 53.41630925, 247959.241, 393495.583),
        (-3.040454907, 53.77911026, 331534.564, 431920.794),
        (-1.663791682, 53.80021520, 422242.186, 433818.701),
        (-4.634521682, 54.08666318, 227778.330, 468847.388),
        (-0.077731332, 54.11685144, 525745.670, 470703.214),
        (-4.388491181, 54.32919541, 244780.636, 495254.887),
        (-2.938277411, 54.89542340, 339921.145, 556034.761),
        (-1.616576852, 54.97912274, 424639.355, 565012.703),
        (-4.296490163, 55.85399953, 256340.925, 664697.269),
        (-3.294792193, 55.92478266, 319188.434, 670947.534),
        (-5.828366919, 57.00606696, 167634.202, 797067.144),
        (-2.048560307, 57.13902519, 397160.491, 805349.736),
        (-4.219263986, 57.48625001, 267056.768, 846176.972),
        (-8.578544561, 57.81351838, 9587.909, 899448.996),
        (-7.592555606, 58.21262247, 71713.132, 938516.404),
        (-6.260914555, 58.51560361, 151968.652, 966483.780),
        (-3.726310221, 58.58120461, 299721.891, 967202.992),
        (-3.214540011, 59.03743871, 330398.323, 1017347.016),
        (-4.417576746, 59.09335035, 261596.778, 1025447.602),
        (-5.827993398, 59.09671617, 180862.461, 1029604.114),
        (-1.625169661, 59.53470794, 421300.525, 1072147.239),
        (-1.274869104, 59.85409914, 440725.073, 1107878.448),
        (-2.073828228, 60.13308092, 395999.668, 1138728.951),
    ]
)


@pytest.fixture(scope="module")
def ostn15() -> OSTN15:
    return OSTN15.load(GRID)


def test_os_test_points_forward_within_1cm(ostn15: OSTN15) -> None:
    lon, lat, e_os, n_os = OS_TEST_POINTS.T
    easting, northing = ostn15.to_bng(lon, lat)
    assert np.abs(easting - e_os).max() <= 0.01
    assert np.abs(northing - n_os).max() <= 0.01


def test_os_test_points_inverse_within_1e7_degrees(ostn15: OSTN15) -> None:
    lon_os, lat_os, easting, northing = OS_TEST_POINTS.T
    lon, lat = ostn15.to_lonlat(easting, northing)
    assert np.abs(lon - lon_os).max() <= 1e-7
    assert np.abs(lat - lat_os).max() <= 1e-7


def test_tp01_unrounded_to_the_millimetre(ostn15: OSTN15) -> None:
    easting, northing = ostn15.to_bng(-6.29977752014, 49.92226393730)
    assert easting == pytest.approx(91492.146, abs=1e-3)
    assert northing == pytest.approx(11318.804, abs=1e-3)


def _gb_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points over GB, ordered by grid tile: PROJ re-reads a tile for every cache miss."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-8.6, 1.8, n)
    lat = rng.uniform(49.8, 60.9, n)
    order = np.lexsort((np.floor((lon + 9) * 60 / 256), np.floor((61 - lat) * 120 / 256)))
    return lon[order], lat[order]


def test_agrees_with_pyproj_to_a_tenth_of_a_millimetre(ostn15: OSTN15) -> None:
    reference = pyproj_reference(GRID)
    lon, lat = _gb_points(100_000, seed=15)
    easting, northing = ostn15.to_bng(lon, lat)
    e_ref, n_ref = reference.transform(lon, lat)
    assert np.isfinite(easting).all()
    assert np.abs(easting - e_ref).max() <= 1e-4
    assert np.abs(northing - n_ref).max() <= 1e-4
    lon_back, lat_back = ostn15.to_lonlat(e_ref, n_ref)
    lon_ref, lat_ref = reference.transform(e_ref, n_ref, direction="INVERSE")
    # 1e-9 degrees is 0.1 mm of latitude
    assert np.abs(lon_back - lon_ref).max() <= 1e-9
    assert np.abs(lat_back - lat_ref).max() <= 1e-9


def test_outside_the_grid_is_nan_where_pyproj_fails(ostn15: OSTN15) -> None:
    lon = np.array([2.5, -9.5, 0.0, -3.0, -1.0, np.nan, -1.0])
    lat = np.array([52.0, 55.0, 48.5, 61.5, 52.0, 52.0, np.inf])
    easting, northing = ostn15.to_bng(lon, lat)
    e_ref, _ = pyproj_reference(GRID).transform(lon, lat)
    assert np.array_equal(np.isnan(easting), ~np.isfinite(e_ref))
    assert np.array_equal(np.isnan(easting), [True, True, True, True, False, True, True])
    assert np.array_equal(np.isnan(easting), np.isnan(northing))


def test_to_lonlat_outside_is_nan(ostn15: OSTN15) -> None:
    lon, lat = ostn15.to_lonlat([1.5e6, 400000.0, np.nan, 4e7], [200000.0, 300000.0, 1.0, 4e7])
    assert np.isnan(lon).tolist() == [True, False, True, True]
    assert np.isnan(lat).tolist() == [True, False, True, True]


def test_shapes_are_kept_and_checked(ostn15: OSTN15) -> None:
    lon = np.full((2, 3), -0.58)
    lat = np.full((2, 3), 51.24)
    easting, northing = ostn15.to_bng(lon, lat)
    assert easting.shape == northing.shape == (2, 3)
    scalar_e, _ = ostn15.to_bng(-0.58, 51.24)
    assert scalar_e.shape == ()
    assert float(scalar_e) == easting[0, 0]
    empty_e, _ = ostn15.to_bng(np.array([]), np.array([]))
    assert empty_e.shape == (0,)
    with pytest.raises(InvalidInput):
        ostn15.to_bng(np.zeros(3), np.zeros(4))
    with pytest.raises(InvalidInput):
        ostn15.to_lonlat(["a"], ["b"])


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, 20, elements=st.floats(-8.5, 1.7)),
    arrays(np.float64, 20, elements=st.floats(49.9, 60.8)),
)
def test_round_trip(ostn15: OSTN15, lon: np.ndarray, lat: np.ndarray) -> None:
    lon_back, lat_back = ostn15.to_lonlat(*ostn15.to_bng(lon, lat))
    assert np.abs(lon_back - lon).max() <= 1e-11
    assert np.abs(lat_back - lat).max() <= 1e-11


def test_missing_grid_has_no_fallback(tmp_path: Path) -> None:
    with pytest.raises(GridFileMissing):
        OSTN15.load(tmp_path / "nowhere.tif")
    with pytest.raises(GridFileMissing):
        pyproj_reference(tmp_path / "nowhere.tif")


def test_wrong_or_corrupt_grid_is_refused(tmp_path: Path) -> None:
    not_tiff = tmp_path / "notes.tif"
    not_tiff.write_text("not a grid")
    with pytest.raises(GridFileMissing):
        OSTN15.load(not_tiff)
    other = tmp_path / "other.tif"
    Image.fromarray(np.zeros((4, 4), dtype=np.float32)).save(other)
    with pytest.raises(GridFileMissing, match="not the OSTN15"):
        OSTN15.load(other)
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(GRID.read_bytes()[:100_000])
    with pytest.raises(GridFileMissing, match="corrupt"):
        OSTN15.load(truncated)
    with pytest.raises(GridFileMissing):
        OSTN15.load(tmp_path)  # a directory
    corrupt = tmp_path / "corrupt.tif"
    shutil.copy(GRID, corrupt)
    data = bytearray(corrupt.read_bytes())
    data[4000:9000] = bytes(5000)  # inside the first compressed tile
    corrupt.write_bytes(bytes(data))
    with pytest.raises(GridFileMissing):
        OSTN15.load(corrupt)


# --- Transverse Mercator against a 40-digit evaluation of Krüger's series (Karney 2011) -------


def _dec_exp(x: Decimal) -> Decimal:
    total, term, k = Decimal(1), Decimal(1), 0
    while abs(term) > Decimal(10) ** -45:
        k += 1
        term = term * x / k
        total += term
    return total


def _dec_sin_cos(x: Decimal) -> tuple[Decimal, Decimal]:
    sin, cos, term, k = Decimal(0), Decimal(0), Decimal(1), 0
    while abs(term) > Decimal(10) ** -45 or k < 2:
        if k % 4 in (0, 2):
            cos += term if k % 4 == 0 else -term
        else:
            sin += term if k % 4 == 1 else -term
        k += 1
        term = term * x / k
    return sin, cos


# α_k as (power of n, (numerator, denominator)) terms, Karney (2011) eq. 35.
_ALPHA_RATIONALS = (
    ((1, (1, 2)), (2, (-2, 3)), (3, (5, 16)), (4, (41, 180)), (5, (-127, 288)), (6, (7891, 37800))),
    ((2, (13, 48)), (3, (-3, 5)), (4, (557, 1440)), (5, (281, 630)), (6, (-1983433, 1935360))),
    ((3, (61, 240)), (4, (-103, 140)), (5, (15061, 26880)), (6, (167603, 181440))),
    ((4, (49561, 161280)), (5, (-179, 168)), (6, (6601661, 7257600))),
    ((5, (34729, 80640)), (6, (-3418889, 1995840))),
    ((6, (212378941, 319334400)),),
)


def _dec_tmerc(lon_deg: str, lat_deg: str) -> tuple[Decimal, Decimal]:
    """E, N by direct sums of the 6th-order series with 40 significant digits."""
    pi = Decimal("3.141592653589793238462643383279502884197169")
    a, b, k0 = Decimal("6377563.396"), Decimal("6356256.910"), Decimal("0.9996012717")
    n = (a - b) / (a + b)
    e = (1 - (b / a) ** 2).sqrt()
    alpha = [
        sum((Decimal(p) / q * n**power for power, (p, q) in row), Decimal(0))
        for row in _ALPHA_RATIONALS
    ]
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64 + n**6 / 256)

    def xi_eta(lon: Decimal, lat: Decimal) -> tuple[Decimal, Decimal]:
        sin_phi, cos_phi = _dec_sin_cos(lat * pi / 180)
        sin_lam, cos_lam = _dec_sin_cos((lon + 2) * pi / 180)
        tau = sin_phi / cos_phi
        es = e * sin_phi
        sigma_exp = ((1 + es) / (1 - es)).ln() * e / 2  # e·atanh(e sin φ)
        sigma = (_dec_exp(sigma_exp) - _dec_exp(-sigma_exp)) / 2
        tau_c = tau * (1 + sigma**2).sqrt() - sigma * (1 + tau**2).sqrt()
        xi_p = Decimal(math.atan2(float(tau_c), float(cos_lam)))
        for _ in range(4):  # Newton on tan ξ' = τ'/cos λ
            s, c = _dec_sin_cos(xi_p)
            xi_p -= (s / c - tau_c / cos_lam) * c * c
        x = sin_lam / (tau_c**2 + cos_lam**2).sqrt()
        eta_p = (x + (x * x + 1).sqrt()).ln()
        xi, eta = xi_p, eta_p
        for k, coeff in enumerate(alpha, start=1):
            s, c = _dec_sin_cos(2 * k * xi_p)
            ep, em = _dec_exp(2 * k * eta_p), _dec_exp(-2 * k * eta_p)
            xi += coeff * s * (ep + em) / 2
            eta += coeff * c * (ep - em) / 2
        return xi, eta

    with localcontext() as ctx:
        ctx.prec = 40
        xi, eta = xi_eta(Decimal(lon_deg), Decimal(lat_deg))
        xi0, _ = xi_eta(Decimal(-2), Decimal(49))
        return k0 * big_a * eta + 400000, k0 * big_a * (xi - xi0) - 100000


@pytest.mark.parametrize(
    ("lon", "lat"),
    [("-8.5", "49.6"), ("-8.49", "57.8"), ("1.76", "52.5"), ("-2", "55"), ("-0.58", "51.24")],
)
def test_transverse_mercator_is_exact_to_a_micrometre(lon: str, lat: str) -> None:
    e_ref, n_ref = _dec_tmerc(lon, lat)
    easting, northing = _tm_forward(np.array([float(lon)]), np.array([float(lat)]))
    assert abs(easting[0] - float(e_ref)) < 1e-6
    assert abs(northing[0] - float(n_ref)) < 1e-6
    lon_back, lat_back = _tm_inverse(np.array([float(e_ref)]), np.array([float(n_ref)]))
    assert lon_back[0] == pytest.approx(float(lon), abs=1e-12)
    assert lat_back[0] == pytest.approx(float(lat), abs=1e-12)
