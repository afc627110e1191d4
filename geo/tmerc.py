"""Transverse Mercator of the OSGB36 National Grid: Krüger's series on the Airy 1830 ellipsoid.

Krüger's series in the third flattening (Karney 2011, 6th order), accurate to nanometres in Great
Britain, written in numpy over whole arrays. It is the projection step of :mod:`geo.projection`
(after the OSTN15 grid shift) and kept apart from it because it is pure ellipsoid arithmetic: it
needs no grid file and does not depend on how the shifts are read or interpolated.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["BNG_TMERC", "tm_forward", "tm_inverse"]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: The OSGB36 National Grid projection, as PROJ spells it (``+ellps=airy``: b = 6356256.910 m).
BNG_TMERC = "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy"

# Airy 1830 as in PROJ's +ellps=airy (OS quotes b = 6356256.909 m; the difference is < 0.05 mm).
_A_M, _B_M = 6377563.396, 6356256.910
_K0, _LON0_DEG, _LAT0_DEG, _X0_M, _Y0_M = 0.9996012717, -2.0, 49.0, 400000.0, -100000.0
# Newton on tan φ stops below √ε/10: the next step would change τ by less than ε.
_NEWTON_TOL = math.sqrt(np.finfo(np.float64).eps) / 10


# Krüger series (Karney 2011, eq. 35-36): coefficients of n¹…n⁶ in α_k (forward) and β_k (inverse).
_ALPHA_N = (
    (1 / 2, -2 / 3, 5 / 16, 41 / 180, -127 / 288, 7891 / 37800),
    (0, 13 / 48, -3 / 5, 557 / 1440, 281 / 630, -1983433 / 1935360),
    (0, 0, 61 / 240, -103 / 140, 15061 / 26880, 167603 / 181440),
    (0, 0, 0, 49561 / 161280, -179 / 168, 6601661 / 7257600),
    (0, 0, 0, 0, 34729 / 80640, -3418889 / 1995840),
    (0, 0, 0, 0, 0, 212378941 / 319334400),
)
_BETA_N = (
    (1 / 2, -2 / 3, 37 / 96, -1 / 360, -81 / 512, 96199 / 604800),
    (0, 1 / 48, 1 / 15, -437 / 1440, 46 / 105, -1118711 / 3870720),
    (0, 0, 17 / 480, -37 / 840, -209 / 4480, 5569 / 90720),
    (0, 0, 0, 4397 / 161280, -11 / 504, -830251 / 7257600),
    (0, 0, 0, 0, 4583 / 161280, -108847 / 3991680),
    (0, 0, 0, 0, 0, 20648693 / 638668800),
)
_N = (_A_M - _B_M) / (_A_M + _B_M)
_E = math.sqrt(1 - (_B_M / _A_M) ** 2)
_ALPHA = [sum(c * _N ** (i + 1) for i, c in enumerate(row)) for row in _ALPHA_N]
_BETA = [sum(c * _N ** (i + 1) for i, c in enumerate(row)) for row in _BETA_N]
# k0 × rectifying radius: metres of grid per radian of ξ/η
_KA = _K0 * _A_M / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64 + _N**6 / 256)


def _krueger_sum(coeffs: list[float], tan_xi: FloatArray, sinh_eta: FloatArray) -> ComplexArray:
    """Σ_k coeffs[k-1]·sin(2kζ) for ζ = ξ + iη given tan ξ and sinh η (Clenshaw's recurrence).

    sin 2ζ and cos 2ζ come from rational identities rather than sin/cos/sinh/cosh: numpy's
    float64 sin and cos are several times slower than tan, and these are exact to rounding.
    """
    t2 = tan_xi * tan_xi
    sin2xi = 2.0 * tan_xi / (1.0 + t2)
    cos2xi = (1.0 - t2) / (1.0 + t2)
    s2 = sinh_eta * sinh_eta
    cosh2eta = 1.0 + 2.0 * s2
    sinh2eta = 2.0 * sinh_eta * np.sqrt(1.0 + s2)
    two_cos2z = np.empty(tan_xi.shape, dtype=np.complex128)
    two_cos2z.real = 2.0 * cos2xi * cosh2eta
    two_cos2z.imag = -2.0 * sin2xi * sinh2eta
    b2 = np.full_like(two_cos2z, coeffs[-1])
    b1 = two_cos2z * coeffs[-1]
    b1 += coeffs[-2]
    for c in reversed(coeffs[:-2]):
        b0 = two_cos2z * b1
        b0 -= b2
        b0 += c
        b1, b2 = b0, b1
    sin2z = two_cos2z  # reuse the buffer
    sin2z.real = sin2xi * cosh2eta
    sin2z.imag = cos2xi * sinh2eta
    b1 *= sin2z
    return b1


def tm_forward(lon_deg: FloatArray, lat_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Airy 1830 lon/lat (degrees, OSGB36) → easting/northing (metres) of the National Grid.

    Valid for |lon + 2| < 90°; callers only pass points inside the OSTN15 grid.

    Parameters
    ----------
    lon_deg, lat_deg : numpy.ndarray
        float64 OSGB36 longitude and latitude in degrees, of one shape (not ETRS89: apply the
        OSTN15 shift first, as :class:`geo.projection.OSTN15` does).

    Returns
    -------
    tuple of numpy.ndarray
        ``(easting, northing)`` in metres (EPSG:27700), new float64 arrays of the input's shape.
    """
    # sin λ and cos λ from tan(λ/2): cheaper than sin and cos, exact to rounding.
    t_half = np.tan((lon_deg - _LON0_DEG) * (math.pi / 360.0))
    t2 = t_half * t_half
    inv = 1.0 / (1.0 + t2)
    sin_lam = 2.0 * t_half * inv
    cos_lam = (1.0 - t2) * inv
    tau = np.tan(lat_deg * (math.pi / 180.0))
    sec = np.sqrt(1.0 + tau * tau)
    sigma = np.sinh(_E * np.arctanh(_E * tau / sec))
    # tan of the conformal latitude (Karney 2011 eq. 7-9)
    tau_c = tau * np.sqrt(1.0 + sigma * sigma)
    tau_c -= sigma * sec
    tan_xi = tau_c / cos_lam
    sinh_eta = sin_lam / np.sqrt(tau_c * tau_c + cos_lam * cos_lam)
    zeta = np.empty(lon_deg.shape, dtype=np.complex128)
    zeta.real = np.arctan(tan_xi)
    zeta.imag = np.arcsinh(sinh_eta)
    zeta += _krueger_sum(_ALPHA, tan_xi, sinh_eta)
    easting = zeta.imag * _KA
    easting += _X0_M
    northing = zeta.real * _KA
    northing += _Y0_M - _NORTHING_AT_LAT0_M
    return easting, northing


def tm_inverse(easting: FloatArray, northing: FloatArray) -> tuple[FloatArray, FloatArray]:
    """National Grid easting/northing (metres) → Airy 1830 lon/lat (degrees, OSGB36).

    Far-away points (more than ~6,000 km east/west or ~9,500 km north/south of the true origin)
    come back as NaN rather than wrapping round through the tan identities.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        float64 grid coordinates in metres (EPSG:27700), of one shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in degrees on OSGB36 (not ETRS89), new float64 arrays of the input's shape.
    """
    xi = (northing - _Y0_M + _NORTHING_AT_LAT0_M) / _KA
    eta = (easting - _X0_M) / _KA
    far = (np.abs(xi) > 1.5) | (np.abs(eta) > 1.0)
    xi[far] = np.nan
    zeta = np.empty(xi.shape, dtype=np.complex128)
    zeta.real = xi
    zeta.imag = eta
    zeta -= _krueger_sum(_BETA, np.tan(xi), np.sinh(eta))
    tan_xi = np.tan(zeta.real)
    cos_xi = 1.0 / np.sqrt(1.0 + tan_xi * tan_xi)
    sinh_eta = np.sinh(zeta.imag)
    tau_c = tan_xi * cos_xi / np.sqrt(sinh_eta * sinh_eta + cos_xi * cos_xi)
    lat = np.arctan(_tau_from_conformal(tau_c))
    lat *= 180.0 / math.pi
    lon = np.arctan(sinh_eta / cos_xi)
    lon *= 180.0 / math.pi
    lon += _LON0_DEG
    return lon, lat


def _tau_from_conformal(tau_c: FloatArray) -> FloatArray:
    """tan φ from the tangent of the conformal latitude: Newton's method (Karney 2011 eq. 19-21)."""
    e2m = 1.0 - _E * _E
    tau = tau_c / e2m
    for _ in range(5):  # converges quadratically: two steps reach machine precision
        sec = np.sqrt(1.0 + tau * tau)
        sigma = np.sinh(_E * np.arctanh(_E * tau / sec))
        tau_i = tau * np.sqrt(1.0 + sigma * sigma) - sigma * sec
        dtau = (tau_c - tau_i) * (1.0 + e2m * tau * tau)
        dtau /= e2m * sec * np.sqrt(1.0 + tau_i * tau_i)
        tau += dtau
        if not (np.abs(dtau) >= _NEWTON_TOL * np.maximum(1.0, np.abs(tau))).any():
            break
    return tau


def _meridian_arc_m(lat_deg: float) -> float:
    """Grid distance (metres) from the equator to ``lat_deg`` along the central meridian."""
    tau = math.tan(math.radians(lat_deg))
    sigma = math.sinh(_E * math.atanh(_E * tau / math.hypot(1.0, tau)))
    chi = math.atan(tau * math.hypot(1.0, sigma) - sigma * math.hypot(1.0, tau))
    return _KA * (chi + sum(a * math.sin(2 * k * chi) for k, a in enumerate(_ALPHA, start=1)))


_NORTHING_AT_LAT0_M = _meridian_arc_m(_LAT0_DEG)
