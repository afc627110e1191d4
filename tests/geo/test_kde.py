"""geo.kde: binned FFT kernel density against scipy.stats.gaussian_kde and exact evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from geo.errors import InvalidInput
from geo.kde import DensitySurface, kde_grid

#: Woking town centre, EPSG:27700 metres.
_CENTRE = (500_800.0, 158_800.0)


@pytest.fixture(scope="module")
def woking_points(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 242 police.uk incidents (2022-06) within 1.5 km of Woking centre, OSTN15 BNG."""
    df = pd.read_csv(shared_data / "crime" / "surrey" / "2022-06-surrey-street.csv")
    df = df.dropna(subset=["Longitude", "Latitude"])
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    to_bng = pyproj.Transformer.from_crs(4326, 27700, always_xy=True)
    e, n = to_bng.transform(df["Longitude"].to_numpy(), df["Latitude"].to_numpy())
    near = (np.abs(e - _CENTRE[0]) < 1500) & (np.abs(n - _CENTRE[1]) < 1500)
    e, n = e[near][:250], n[near][:250]
    assert e.size == 242
    return e, n


def _centres(surface: DensitySurface) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = surface.density_per_km2.shape
    s = surface.cell_m
    xc = (surface.i0 + np.arange(nx) + 0.5) * s
    yc = (surface.j0 + np.arange(ny) + 0.5) * s
    return np.meshgrid(xc, yc)


def _exact_quartic(surface: DensitySurface, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Direct evaluation of sum_p 3/(pi h^2) (1 - d^2/h^2)^2 at every cell centre, per km²."""
    x, y = _centres(surface)
    h = surface.bandwidth_m
    out = np.zeros_like(x)
    for pe, pn in zip(e, n, strict=True):
        d2 = (x - pe) ** 2 + (y - pn) ** 2
        out += np.where(d2 < h * h, 3.0 / (np.pi * h * h) * (1.0 - d2 / (h * h)) ** 2, 0.0)
    return out * 1e6


def _isotropic_gaussian_kde(e: np.ndarray, n: np.ndarray, sigma: float) -> stats.gaussian_kde:
    """scipy's gaussian_kde with covariance sigma² I.

    gaussian_kde always scales the *data* covariance by ``factor²``, so no ``bw_method`` gives an
    isotropic kernel for data whose covariance is not already isotropic (and whitening the data
    makes the kernel isotropic in whitened space, not in metres). So we construct it and then set
    the kernel covariance and the quantities ``evaluate`` uses (its Cholesky factor and log
    determinant) to those of sigma² I; the test checks the override took effect.
    """
    kde = stats.gaussian_kde(np.vstack([e, n]))
    kde.covariance = np.eye(2) * sigma**2
    kde.cho_cov = np.eye(2) * sigma
    kde.log_det = 2.0 * np.log(2.0 * np.pi * sigma**2)
    return kde


@pytest.mark.parametrize(("ratio", "bound"), [(0.25, 0.01), (0.1, 0.0015)])
def test_gaussian_matches_scipy_gaussian_kde(
    woking_points: tuple[np.ndarray, np.ndarray], ratio: float, bound: float
) -> None:
    e, n = woking_points
    sigma = 150.0
    surface = kde_grid(e, n, sigma * ratio, sigma, kernel="gaussian")
    kde = _isotropic_gaussian_kde(e, n, sigma)
    # the override is right: one evaluation against the formula written out
    probe = np.array([[_CENTRE[0]], [_CENTRE[1]]])
    d2 = (e - _CENTRE[0]) ** 2 + (n - _CENTRE[1]) ** 2
    by_hand = np.mean(np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2))
    assert kde(probe)[0] == pytest.approx(by_hand, rel=1e-12)

    x, y = _centres(surface)
    ref = kde(np.vstack([x.ravel(), y.ravel()])).reshape(x.shape) * e.size * 1e6
    err = np.abs(surface.density_per_km2 - ref).max() / ref.max()
    assert err < bound
    assert surface.kernel == "gaussian" and surface.bandwidth_m == sigma


def test_quartic_matches_exact_evaluation_and_error_shrinks(
    woking_points: tuple[np.ndarray, np.ndarray],
) -> None:
    e, n = woking_points
    h = 400.0
    errors = []
    for ratio, bound in [(0.5, 0.16), (0.25, 0.05), (0.1, 0.01)]:
        surface = kde_grid(e, n, h * ratio, h)
        exact = _exact_quartic(surface, e, n)
        err = np.abs(surface.density_per_km2 - exact).max() / exact.max()
        assert err < bound, (ratio, err)
        errors.append(err)
    assert errors[0] > errors[1] > errors[2]


def test_single_point_at_a_cell_centre_gives_the_sampled_kernel() -> None:
    # point at the centre of cell (10, 20) of 100 m cells; quartic h = 300 m reaches 2 cells
    s, h = 100.0, 300.0
    surface = kde_grid(np.array([1050.0]), np.array([2050.0]), s, h)
    d = surface.density_per_km2
    r, c = 20 - surface.j0, 10 - surface.i0
    assert np.unravel_index(np.argmax(d), d.shape) == (r, c)
    off = np.arange(-2, 3) * s
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    k = (1 - d2 / h**2) ** 2 * (d2 < h**2)
    expected = k / k.sum() / (s / 1000) ** 2  # one incident spread over the sampled kernel
    np.testing.assert_allclose(d[r - 2 : r + 3, c - 2 : c + 3], expected, rtol=1e-9, atol=1e-9)
    assert d.sum() * (s / 1000) ** 2 == pytest.approx(1.0)
    # and close to the continuous kernel at the centre: 3 / (pi h^2) per m²
    assert d[r, c] == pytest.approx(3 / (np.pi * h * h) * 1e6, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(
    pts=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 60), st.just(3)),
        elements=st.floats(0, 1, allow_nan=False),
    ),
    kernel=st.sampled_from(["quartic", "gaussian"]),
    cell_m=st.sampled_from([25.0, 50.0, 100.0]),
    bandwidth_m=st.floats(20.0, 400.0),
)
def test_total_weight_is_conserved(
    pts: np.ndarray, kernel: str, cell_m: float, bandwidth_m: float
) -> None:
    e = 512_345.0 + pts[:, 0] * 3000
    n = 161_234.0 + pts[:, 1] * 3000
    w = pts[:, 2] * 5
    surface = kde_grid(e, n, cell_m, bandwidth_m, kernel=kernel, weights=w)  # type: ignore[arg-type]
    total = surface.density_per_km2.sum() * (cell_m / 1000) ** 2
    assert total == pytest.approx(w.sum(), rel=1e-9, abs=1e-9)
    assert (surface.density_per_km2 >= 0).all()


def test_explicit_extent_is_a_crop_of_the_full_surface(
    woking_points: tuple[np.ndarray, np.ndarray],
) -> None:
    """Points outside an extent still contribute inside it: the surface is a window."""
    e, n = woking_points
    full = kde_grid(e, n, 50.0, 300.0)
    extent = (_CENTRE[0] - 1000, _CENTRE[1] - 600, _CENTRE[0] + 700, _CENTRE[1] + 900)
    part = kde_grid(e, n, 50.0, 300.0, extent=extent)
    r0, c0 = part.j0 - full.j0, part.i0 - full.i0
    ny, nx = part.density_per_km2.shape
    window = full.density_per_km2[r0 : r0 + ny, c0 : c0 + nx]
    np.testing.assert_allclose(part.density_per_km2, window, rtol=1e-9, atol=1e-9 * window.max())
    mass = part.density_per_km2.sum() * 0.05**2
    assert mass < e.size  # what falls beyond the extent is lost


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cell_m": 0.0},
        {"cell_m": -1.0},
        {"bandwidth_m": 0.0},
        {"bandwidth_m": float("nan")},
        {"kernel": "epanechnikov"},
        {"weights": np.array([1.0, -1.0])},
        {"weights": np.array([1.0])},
        {"cell_m": 1.0, "bandwidth_m": 5000.0},
    ],
)
def test_bad_input_raises(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"cell_m": 100.0, "bandwidth_m": 300.0}
    args.update(kwargs)
    with pytest.raises(InvalidInput):
        kde_grid(np.array([0.0, 10.0]), np.array([0.0, 10.0]), **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        kde_grid(np.empty(0), np.empty(0), 100.0, 300.0)
