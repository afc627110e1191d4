"""OGC API - Features (Part 1 core, GeoJSON; Part 2 CRS) over boundaries, counts and hotspots.

Handlers only adapt: parse the request, hand it with the caller's principal to
``app.services.ogc`` and wrap what comes back. Errors are raised and become RFC 9457 problems.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.http.conditional import cached_response, weak_etag
from app.http.deps import AtlasDep, PrincipalDep
from app.http.routers.analysis import MONTH
from app.services import ogc, ogc_params

router = APIRouter(tags=["OGC API - Features"])

Limit = Annotated[
    int,
    Query(
        ge=1,
        description=(
            f"Features per page; above {ogc_params.MAX_LIMIT} the maximum "
            f"{ogc_params.MAX_LIMIT} is used"
        ),
    ),
]
Offset = Annotated[int, Query(ge=0, description="Features to skip (next/prev links set it)")]
Bbox = Annotated[
    str | None,
    Query(
        description=(
            "minx,miny,maxx,maxy in CRS84 degrees (lon/lat; numbers out of range are refused), "
            "or in bbox-crs (EPSG:27700 metres); intersects"
        )
    ),
]
BboxCrs = Annotated[
    str | None, Query(alias="bbox-crs", description="CRS of bbox: CRS84 URI or EPSG:27700")
]
Crs = Annotated[
    str | None,
    Query(description="Output CRS: CRS84 (default) or http://www.opengis.net/def/crs/EPSG/0/27700"),
]
Datetime = Annotated[
    str | None,
    Query(
        alias="datetime",
        description="Instant or interval (start/end, '..' open); counts: the months it overlaps",
    ),
]
First = Annotated[str | None, Query(alias="from", pattern=MONTH)]
Last = Annotated[str | None, Query(alias="to", pattern=MONTH)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _url(request: Request) -> ogc.RequestUrl:
    return ogc.RequestUrl(
        _base(request), request.url.path, tuple(request.query_params.multi_items())
    )


@router.get("/")
def landing(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Landing page: links to the API definition, its docs, conformance and the collections."""
    del principal  # the same for every caller
    return ogc.landing_doc(_base(request), request.app.openapi_version)


@router.get("/conformance")
def conformance(principal: PrincipalDep) -> dict[str, Any]:
    """The conformance classes this service implements."""
    del principal
    return {"conformsTo": list(ogc_params.CONFORMANCE)}


@router.get("/collections")
def list_collections(request: Request, atlas: AtlasDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every collection the caller may read: boundaries, counts and hotspots."""
    return ogc.collections_doc(atlas, principal, _base(request))


@router.get("/collections/{collection_id}")
def get_collection(
    request: Request, collection_id: str, atlas: AtlasDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One collection: id, title, extent (CRS84 bbox, time), CRS list and links."""
    found = ogc.find_collection(atlas, principal, collection_id)
    return ogc.collection_doc(atlas, found, _base(request))


@router.get("/collections/{collection_id}/items", response_class=Response)
def items(
    request: Request,
    collection_id: str,
    atlas: AtlasDep,
    principal: PrincipalDep,
    limit: Limit = ogc_params.DEFAULT_LIMIT,
    offset: Offset = 0,
    bbox: Bbox = None,
    bbox_crs: BboxCrs = None,
    crs: Crs = None,
    when: Datetime = None,
    first: First = None,
    last: Last = None,
    category: str | None = None,
) -> Response:
    """A page of features as GeoJSON (CRS84, or ``crs``), with numberMatched and next links."""
    q = ogc_params.ItemsQuery.parse(limit, offset, bbox, bbox_crs, crs, when, first, last, category)
    page = ogc.items_page(atlas, principal, collection_id, q, _url(request))
    return cached_response(
        page.body.encode(),
        ogc_params.GEOJSON,
        request,
        principal,
        etag=weak_etag(page.version_basis),
        headers=ogc.content_crs(q.crs),
    )


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response)
def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    atlas: AtlasDep,
    principal: PrincipalDep,
    crs: Crs = None,
    when: Datetime = None,
    first: First = None,
    last: Last = None,
    category: str | None = None,
) -> Response:
    """One feature as GeoJSON (CRS84, or ``crs``)."""
    q = ogc_params.ItemsQuery.parse(
        crs=crs, datetime_text=when, first=first, last=last, category=category
    )
    body = ogc.feature_doc(atlas, principal, collection_id, feature_id, q, _url(request))
    return Response(body, media_type=ogc_params.GEOJSON, headers=ogc.content_crs(q.crs))
