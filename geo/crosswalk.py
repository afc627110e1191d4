"""Crosswalks between two versions of a boundary set, and moving aggregate tables through them.

A :class:`Crosswalk` is a sparse table of ``(from_idx, to_idx, share)``: ``share`` is the fraction
of the source area's weight (its area, or its population through a finer layer) that lies in the
target area. Shares of one source sum to at most 1; the rest lies outside every target area and is
reported as unallocated, never silently dropped. All geometry is EPSG:27700 (metres, m²) and built
with vectorised shapely 2 operations: STRtree pairs, then ``intersection`` and ``area`` on arrays.

Rules shared by both builders: pieces whose share is below ``min_share`` (boundary slivers from
differently generalised layers) are dropped and their share is spread over the source's remaining
pieces in proportion, so the covered fraction is unchanged; a source whose shares sum to more than
1 (overlapping target areas) or to within 1e-9 of 1 is rescaled to sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely

from geo.boundaries import check_areal, check_codes
from geo.errors import InvalidInput

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

#: Coverage this close to 1 counts as complete (floating-point area sums are not exact).
_SNAP = 1e-9
#: diff_versions: a source with less than this share of its area in any target was removed.
SUBSTANTIVE_SHARE = 0.01
#: diff_versions: an area at least this fraction inside another is wholly inside it.
WHOLLY_INSIDE = 0.99
_MAX_EXACT_INT = 2.0**53


@dataclass(frozen=True)
class Crosswalk:
    """Sparse weights from the areas of one version (source) to another (target).

    ``share`` is the fraction of the SOURCE area's weight going to ``to_idx``. ``area_fallback``
    lists the sources of a population-weighted crosswalk that had no weight and so use area shares.
    """

    from_idx: I32
    to_idx: I32
    share: F64
    n_from: int
    n_to: int
    weights: Literal["area", "population"]
    area_fallback: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def unallocated_share(self) -> F64:
        """Per source area: 1 - sum(share), the part outside every target area (0 when covered)."""
        covered = np.bincount(self.from_idx, weights=self.share, minlength=self.n_from)
        rest = 1.0 - covered
        rest[rest <= _SNAP] = 0.0
        return np.clip(rest, 0.0, 1.0)


@dataclass(frozen=True)
class Reassigned:
    """An aggregate table moved to the target areas; ``unallocated`` fell outside all of them."""

    values: npt.NDArray[Any]
    unallocated: float


@dataclass(frozen=True)
class VersionDiff:
    """How two versions relate (see :func:`diff_versions` for the rules)."""

    pairs: list[tuple[str, str, float]]
    unchanged: list[str]
    change: dict[str, str]


@dataclass(frozen=True)
class _Pieces:
    from_idx: I64
    to_idx: I64
    geoms: GeomArray
    area_m2: F64


def _pieces(from_geoms: GeomArray, to_geoms: GeomArray) -> _Pieces:
    """Non-empty intersections of every source with every target (areas in m²)."""
    fi, tj = shapely.STRtree(to_geoms).query(from_geoms, predicate="intersects")
    geoms = shapely.intersection(from_geoms[fi], to_geoms[tj])
    area = shapely.area(geoms)
    keep = area > 0
    return _Pieces(fi[keep].astype(np.int64), tj[keep].astype(np.int64), geoms[keep], area[keep])


def _finish(
    fi: I64, tj: I64, share: F64, n_from: int, n_to: int, min_share: float
) -> tuple[I32, I32, F64]:
    """Drop slivers keeping each source's covered fraction; rescale sums above (or near) 1."""
    total = np.bincount(fi, weights=share, minlength=n_from)
    keep = share >= min_share
    fi, tj, share = fi[keep], tj[keep], share[keep]
    kept = np.bincount(fi, weights=share, minlength=n_from)
    wanted = np.where((total > 1.0) | (np.abs(total - 1.0) <= _SNAP), 1.0, total)
    share = share * (wanted[fi] / kept[fi])
    order = np.lexsort((tj, fi))
    return fi[order].astype(np.int32), tj[order].astype(np.int32), share[order]


def _area_walk(src: GeomArray, dst: GeomArray, pieces: _Pieces, min_share: float) -> Crosswalk:
    share = pieces.area_m2 / shapely.area(src)[pieces.from_idx]
    fi, tj, sh = _finish(pieces.from_idx, pieces.to_idx, share, src.size, dst.size, min_share)
    return Crosswalk(fi, tj, sh, int(src.size), int(dst.size), "area")


def _check_min_share(min_share: float) -> None:
    if not (0.0 <= min_share < 1.0):
        raise InvalidInput("min_share must be in [0, 1)")


def area_crosswalk(from_geoms: Any, to_geoms: Any, min_share: float = 1e-6) -> Crosswalk:
    """Area-weighted crosswalk: share = area(from ∩ to) / area(from).

    Parameters
    ----------
    from_geoms, to_geoms : valid Polygons/MultiPolygons in EPSG:27700 (metres).
    min_share : pieces below this fraction of their source are treated as slivers (module doc).

    Raises
    ------
    InvalidGeometry
        A geometry is missing, empty, not areal or invalid.
    InvalidInput
        ``min_share`` outside [0, 1).
    """
    _check_min_share(min_share)
    src, dst = check_areal(from_geoms), check_areal(to_geoms)
    return _area_walk(src, dst, _pieces(src, dst), min_share)


def nested(crosswalk: Crosswalk, nest_share: float = 0.95, cover_share: float = 0.9) -> Crosswalk:
    """Roll a fine layer up to a coarser one by nesting where it nests (ONS best fit).

    Statistical geographies are built to nest (LSOAs in districts), but generalised polygons of
    different layers overlap by slivers, so pure area shares leak people into neighbours and
    beyond the outline. A source area with at least ``nest_share`` of its area in one target goes
    wholly to that target. Any other source covered at least ``cover_share`` by the targets keeps
    its shares rescaled to sum to 1 (its edge slivers are generalisation, not territory outside);
    sources covered less keep their shares and unallocated remainder.

    Raises
    ------
    InvalidInput
        Thresholds outside (0, 1].
    """
    if not (0.0 < cover_share <= 1.0 and 0.5 < nest_share <= 1.0):
        raise InvalidInput("nest_share must be in (0.5, 1] and cover_share in (0, 1]")
    fi, tj, share = crosswalk.from_idx, crosswalk.to_idx, crosswalk.share
    covered = np.bincount(fi, weights=share, minlength=crosswalk.n_from)
    best = np.zeros(crosswalk.n_from)
    np.maximum.at(best, fi, share)
    nests = best >= nest_share
    is_best = share == best[fi]
    keep = ~nests[fi] | is_best
    # Ties for the best piece: keep the first (pieces are sorted by target within a source).
    first = np.ones(fi.size, dtype=bool)
    first[1:] = ~((fi[1:] == fi[:-1]) & is_best[1:] & is_best[:-1] & nests[fi[1:]])
    keep &= first
    fi, tj, share = fi[keep], tj[keep], share[keep]
    share = np.where(nests[fi], 1.0, share)
    rescale = ~nests[fi] & (covered[fi] >= cover_share)
    share = np.where(rescale, share / covered[fi], share)
    return Crosswalk(
        fi.astype(np.int32),
        tj.astype(np.int32),
        share,
        crosswalk.n_from,
        crosswalk.n_to,
        crosswalk.weights,
        crosswalk.area_fallback,
    )


def _fine_weight(geoms: GeomArray, fine: GeomArray, density: F64) -> F64:
    """Weight of each geometry: sum over fine units of density × area of the overlap."""
    gi, fj = shapely.STRtree(fine).query(geoms, predicate="intersects")
    overlap = shapely.area(shapely.intersection(geoms[gi], fine[fj]))
    weight = np.bincount(gi, weights=overlap * density[fj], minlength=geoms.size)
    return weight.astype(np.float64)


def weighted_crosswalk(
    from_geoms: Any,
    to_geoms: Any,
    fine_geoms: Any,
    fine_weight: Any,
    min_share: float = 1e-6,
) -> Crosswalk:
    """Population-weighted crosswalk through a finer layer (e.g. LSOA populations).

    Each fine unit's weight is spread uniformly over its area; the weight of a region is the sum
    over fine units of weight × (area of the unit inside the region / area of the unit), and
    ``share = weight(from ∩ to) / weight(from)``. A source with zero weight (no fine unit, or only
    zero-weight units, overlaps it) falls back to area shares; its index is listed in
    ``Crosswalk.area_fallback``. Parts of a source outside the fine layer carry no weight.

    Parameters
    ----------
    from_geoms, to_geoms, fine_geoms : valid Polygons/MultiPolygons in EPSG:27700 (metres).
    fine_weight : one finite, non-negative weight per fine unit (e.g. residents).
    min_share : as :func:`area_crosswalk`.

    Raises
    ------
    InvalidGeometry
        A geometry is missing, empty, not areal or invalid.
    InvalidInput
        ``fine_weight`` has the wrong length, is negative or not finite; bad ``min_share``.
    """
    _check_min_share(min_share)
    src, dst, fine = check_areal(from_geoms), check_areal(to_geoms), check_areal(fine_geoms)
    weight = np.asarray(fine_weight, dtype=np.float64).reshape(-1)
    if weight.size != fine.size:
        raise InvalidInput(f"{weight.size} weights for {fine.size} fine areas")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise InvalidInput("fine_weight must be finite and non-negative")
    density = weight / shapely.area(fine)
    pieces = _pieces(src, dst)
    piece_weight = _fine_weight(pieces.geoms, fine, density)
    source_weight = _fine_weight(src, fine, density)
    fi = pieces.from_idx
    empty = source_weight <= 0
    by_area = pieces.area_m2 / shapely.area(src)[fi]
    share = np.where(empty[fi], by_area, piece_weight / np.where(empty, 1.0, source_weight)[fi])
    f32, t32, sh = _finish(fi, pieces.to_idx, share, src.size, dst.size, min_share)
    fallback = np.flatnonzero(empty).astype(np.int32)
    return Crosswalk(f32, t32, sh, int(src.size), int(dst.size), "population", fallback)


def _split_product(a: F64, b: F64) -> tuple[F64, F64]:
    """Error-free product (Dekker): a·b == p + e exactly, for finite a, b without overflow."""
    p = a * b
    factor = 134217729.0  # 2**27 + 1 splits a double into two 26-bit halves
    ca, cb = factor * a, factor * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _largest_remainder(values: I64, src: I64, dst: I64, share: F64) -> I64:
    """Integer parts per bucket that sum exactly to each source's value (largest remainder)."""
    p, e = _split_product(values[src].astype(np.float64), share)
    base = np.floor(p)
    # floor of the exact product p + e: p may have rounded up onto an integer.
    base -= (base == p) & (e < 0)
    frac = (p - base) + e
    base_int = base.astype(np.int64)
    floors = np.zeros(values.size, dtype=np.int64)
    np.add.at(floors, src, base_int)
    remainder = values - floors
    order = np.lexsort((dst, -frac, src))  # per source: largest fraction first, then lowest target
    first = np.searchsorted(src[order], src[order], side="left")
    rank = np.arange(order.size) - first
    bump = np.zeros(order.size, dtype=np.int64)
    bump[order] = rank < remainder[src[order]]
    return base_int + bump


def _check_values(values: Any, crosswalk: Crosswalk, integer: bool) -> npt.NDArray[Any]:
    v = np.asarray(values)
    if v.shape != (crosswalk.n_from,):
        raise InvalidInput(f"expected {crosswalk.n_from} values, got shape {v.shape}")
    if v.dtype.kind not in "iuf" or (v.dtype.kind == "f" and not np.isfinite(v).all()):
        raise InvalidInput("values must be finite numbers")
    if not integer:
        return v.astype(np.float64)
    if v.dtype.kind == "f" and (v != np.round(v)).any():
        raise InvalidInput("integer=True needs whole-number values")
    if (np.abs(v.astype(np.float64)) >= _MAX_EXACT_INT).any():
        raise InvalidInput("integer values must be below 2**53 in magnitude")
    return v.astype(np.int64)


def reassign(values: Any, crosswalk: Crosswalk, integer: bool = False) -> Reassigned:
    """Move per-source values (counts, populations) to the target areas.

    Parameters
    ----------
    values : one finite number per source area, in source order.
    crosswalk : from :func:`area_crosswalk` or :func:`weighted_crosswalk`.
    integer : keep counts whole: each source's value is split over its targets and its unallocated
        part by largest remainder (ties: lowest target index, unallocated last), so every source's
        total is conserved to the unit and ``sum(values) == sum(result.values) + unallocated``
        holds exactly.

    Returns
    -------
    Reassigned
        ``values`` per target area (int64 when ``integer``, else float64) and ``unallocated``. With
        floats the totals are conserved up to floating-point rounding.

    Raises
    ------
    InvalidInput
        Wrong length, non-finite values, or non-whole values / magnitude >= 2**53 with ``integer``.
    """
    v = _check_values(values, crosswalk, integer)
    rest = crosswalk.unallocated_share()
    src = crosswalk.from_idx.astype(np.int64)
    if not integer:
        out = np.bincount(
            crosswalk.to_idx, weights=v[src] * crosswalk.share, minlength=crosswalk.n_to
        )
        return Reassigned(values=out, unallocated=float(np.dot(v, rest)))
    n_from = np.arange(crosswalk.n_from, dtype=np.int64)
    parts = _largest_remainder(
        v,
        np.concatenate([src, n_from]),
        np.concatenate([crosswalk.to_idx, np.full(crosswalk.n_from, crosswalk.n_to)]),
        np.concatenate([crosswalk.share, rest]),
    )
    to_target = parts[: src.size]
    counts = np.zeros(crosswalk.n_to, dtype=np.int64)
    np.add.at(counts, crosswalk.to_idx, to_target)
    return Reassigned(values=counts, unallocated=float(parts[src.size :].sum()))


def _classify(pieces: _Pieces, area_from: F64, area_to: F64, same_to: I64) -> npt.NDArray[np.str_]:
    """Change of each source area (rules in :func:`diff_versions`).

    Split and merged are judged by containment, never by dropping small pieces: a split source is
    covered by targets that each lie wholly inside it, however small some of them are.
    """
    fi, tj = pieces.from_idx, pieces.to_idx
    n = area_from.size
    share = pieces.area_m2 / area_from[fi]  # fraction of the source in this target
    inside_to = pieces.area_m2 / area_to[tj]  # fraction of the target inside the source
    covered = np.bincount(fi, weights=share, minlength=n)
    held = inside_to >= WHOLLY_INSIDE  # the target lies wholly inside the source
    n_held = np.bincount(fi[held], minlength=n)
    held_cover = np.bincount(fi[held], weights=share[held], minlength=n)
    split = (n_held >= 2) & (held_cover >= WHOLLY_INSIDE)
    whole = share >= WHOLLY_INSIDE  # the source lies wholly inside this target
    wholes_per_target = np.bincount(tj[whole], minlength=area_to.size)
    merged = np.bincount(fi[whole & (wholes_per_target[tj] >= 2)], minlength=n) > 0
    change = np.full(n, "redrawn", dtype="<U9")
    change[merged] = "merged"
    change[split] = "split"
    change[covered < SUBSTANTIVE_SHARE] = "removed"
    change[same_to >= 0] = "recoded"
    return change


def diff_versions(
    from_codes: Sequence[str],
    from_geoms: Any,
    to_codes: Sequence[str],
    to_geoms: Any,
    tolerance_m2: float = 1.0,
    rel_tolerance: float = 1e-4,
) -> VersionDiff:
    """Relate two versions of a boundary set (EPSG:27700).

    Rules, per source area ``f`` (shares are fractions of ``f``'s area):

    * same polygon: a target ``t`` with area(f Δ t) <= min(tolerance_m2, rel_tolerance × area(f))
      (the relative bound keeps a tiny polygon from matching a very different one); the change is
      ``"unchanged"`` if ``t`` has ``f``'s code, else ``"recoded"``; both are listed in
      ``unchanged``.
    * ``"removed"``: less than 1 % (SUBSTANTIVE_SHARE) of ``f`` lies in any target.
    * ``"split"``: at least two targets lie >= 99 % (WHOLLY_INSIDE, share of the *target's* area)
      inside ``f`` and together they cover >= 99 % of ``f``. Small targets count like large ones
      (a district split into wards, some under 1 % of it, is split); targets straddling ``f``'s
      edge may take at most the remaining 1 % (slivers of differently generalised layers).
    * ``"merged"``: >= 99 % of ``f`` lies in one target that holds at least one other source
      likewise (several sources wholly inside one target).
    * ``"redrawn"``: anything else (boundaries moved).

    ``pairs`` are the area-crosswalk shares (``min_share`` 1e-6) as ``(from_code, to_code,
    share)``, ordered by source then target.

    Raises
    ------
    InvalidInput
        Codes missing, duplicated or not one per geometry; negative tolerances.
    InvalidGeometry
        A geometry is missing, empty, not areal or invalid.
    """
    if tolerance_m2 < 0 or rel_tolerance < 0:
        raise InvalidInput("tolerances must be non-negative")
    src, dst = check_areal(from_geoms), check_areal(to_geoms)
    fcodes, tcodes = check_codes(from_codes, src.size), check_codes(to_codes, dst.size)
    area_from, area_to = shapely.area(src), shapely.area(dst)
    pieces = _pieces(src, dst)
    fi, tj = pieces.from_idx, pieces.to_idx
    sym = area_from[fi] + area_to[tj] - 2.0 * pieces.area_m2
    same = sym <= np.minimum(tolerance_m2, rel_tolerance * area_from[fi])
    same_to = np.full(src.size, -1, dtype=np.int64)
    same_to[fi[same]] = tj[same]
    change = _classify(pieces, area_from, area_to, same_to)
    kept = same_to >= 0
    change[kept & (tcodes[np.maximum(same_to, 0)] == fcodes)] = "unchanged"
    walk = _area_walk(src, dst, pieces, 1e-6)
    pairs = [
        (str(fcodes[a]), str(tcodes[b]), float(s))
        for a, b, s in zip(walk.from_idx, walk.to_idx, walk.share, strict=True)
    ]
    return VersionDiff(
        pairs=pairs,
        unchanged=[str(c) for c in fcodes[kept]],
        change=dict(zip(fcodes.tolist(), change.tolist(), strict=True)),
    )
