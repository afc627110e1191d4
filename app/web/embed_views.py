"""What an embed shows: its map, legend, areas and figures, read from the verified scope only.

Nothing here takes a parameter that could widen an embed: the dataset, geography, layer,
period, category and area filter all come from the token's stored scope. Maps are the engine's
own thematic maps (classified once, server-side). With an area filter everything is computed
from the listed areas alone: classes, suppression, Gi*, caveats and totals. Classes taken from
the whole geography would publish facts about areas outside the filter (the minimum, maximum
and quantiles of a restricted dataset's other areas), so an embed's colours are its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from app.access.embeds import Embed, check_embed, service_secret
from app.access.principal import Principal
from app.errors import NotFound
from app.services.counts import CountQuery
from app.services.geojson import feature_collection
from app.services.hotspots import HotspotQuery
from app.services.maps import MapSpec, ThematicMap

if TYPE_CHECKING:
    from app.atlas import Atlas
    from app.settings import Settings

#: Legend metadata an embed may show (totals over the whole geography are left out).
LEGEND_META = (
    "dataset",
    "boundary",
    "period",
    "category",
    "method",
    "method_detail",
    "features",
    "classification",
    "suppression",
    "rates",
    "caveats",
    "areas",
    "months",
)


def feature_codes(m: ThematicMap) -> np.ndarray:
    """Area code of each feature of an area map (``code``; area hotspots use ``id``)."""
    codes = m.properties.get("code")
    if codes is None:
        codes = m.properties["id"]
    return np.asarray(codes, dtype=object)


class EmbedViews:
    """Verifies embed tokens and renders their scoped views (one per application)."""

    def __init__(self, atlas: Atlas, settings: Settings) -> None:
        self.atlas = atlas
        self.key = service_secret(settings)

    def grant(self, token: str) -> Embed:
        """The embed of a URL token (Unauthorized: tampered, expired, revoked, unknown)."""
        return check_embed(self.atlas.store, self.key, token)

    def viewer(self, embed: Embed) -> Principal:
        """The principal an embed's reads run as.

        The embed's creator was allowed to read the dataset when it was created; the viewer
        reads exactly that dataset (``scope``), whatever its access level and owner, with small
        numbers suppressed (``embed_view``).
        """
        return Principal(
            id=f"embed:{embed.id}",
            role="embed",
            scope={"dataset": embed.scope.dataset},
            embed_view=True,
        )

    def spec(self, embed: Embed) -> MapSpec:
        s = embed.scope
        return MapSpec(s.layer, s.dataset, s.by, None, s.first, s.last, s.category, areas=s.areas)

    def map(self, embed: Embed) -> ThematicMap:
        """The embed's thematic map, of its listed areas alone when it has an area filter."""
        return self.atlas.maps.get(self.spec(embed), self.viewer(embed))

    def legend(self, embed: Embed) -> dict[str, Any]:
        doc = self.map(embed).legend_doc()
        doc["meta"] = {k: v for k, v in doc["meta"].items() if k in LEGEND_META}
        return doc

    def areas_geojson(self, embed: Embed) -> str:
        """The embed's areas in WGS84 with code, name and the map's label (for hover/click)."""
        m = self.map(embed)
        labels = dict(
            zip(
                feature_codes(m).astype(str).tolist(),
                _labels(m),
                strict=True,
            )
        )
        version = self.atlas.areas.resolve(embed.scope.by)
        layer = self.atlas.areas.layer(version.id)
        keep = np.isin(layer.codes.astype(str), np.array(list(labels), dtype=str))
        geoms = self.atlas.areas.wgs84(version.id, self.atlas.geocoder.ostn15.to_lonlat)[keep]
        codes, names = layer.codes[keep].tolist(), layer.names[keep].tolist()
        props = [
            {"code": c, "name": n, "label": labels.get(c, "")}
            for c, n in zip(codes, names, strict=True)
        ]
        return feature_collection(geoms, props, ids=codes)

    def area(self, embed: Embed, code: str) -> dict[str, Any]:
        """One area's figures in the embed's view, with its trend when the engine offers it."""
        s = embed.scope
        if s.areas is not None and code not in s.areas:
            raise NotFound(f"area {code!r} is not part of this embed")
        viewer = self.viewer(embed)
        if s.layer == "hotspots":
            out = self.atlas.hotspots(
                HotspotQuery(
                    s.dataset,
                    by=s.by,
                    first=s.first,
                    last=s.last,
                    category=s.category,
                    areas=s.areas,
                ),
                viewer,
            )
            rows = [
                {"area_code": str(i), **p} for i, p in zip(out.ids, out.properties, strict=True)
            ]
        else:
            q = CountQuery(
                s.dataset, s.by, s.first, s.last, s.category, s.layer == "rates", areas=s.areas
            )
            rows = self.atlas.counts(q, viewer)["rows"]
        row = next((r for r in rows if r["area_code"] == code), None)
        if row is None:
            raise NotFound(f"no area {code!r} in {s.by}")
        # The trend covers the map's own period (the scope's, else every month held).
        period = self.map(embed).meta.get("period") or {}
        first, last = s.first or period.get("from") or None, s.last or period.get("to") or None
        dataset = self.atlas.readable_dataset(s.dataset, viewer)
        summary = self.atlas.trends.area_summary(
            dataset, s.by, code, first, last, s.category, viewer
        )
        # Each series month says whether it is held, not held or suppressed (its ``status``).
        return {"figures": row, "summary": summary}

    def boundary_label(self, embed: Embed) -> str:
        """The embed's boundary version for people: its title, else e.g. "Wards (2019)"."""
        version = self.atlas.areas.resolve(embed.scope.by)
        return version.title or f"{version.set_name.capitalize()} ({version.version})"

    def page(self, embed: Embed) -> dict[str, Any]:
        """What the embed page needs to know (no secrets beyond the token it was loaded with)."""
        s = embed.scope
        return {
            "layer": s.layer,
            "dataset": s.dataset,
            "by": s.by,
            "boundary_label": self.boundary_label(embed),
            "from": s.first,
            "to": s.last,
            "category": s.category,
            "areas": len(s.areas) if s.areas is not None else None,
            "expires_at": embed.expires_at.isoformat(),
        }


def _labels(m: ThematicMap) -> list[str]:
    if "label" in m.properties:
        return [str(v) for v in m.properties["label"].tolist()]
    if "hotspot_bin" in m.properties:
        return [f"Gi* bin {int(b):+d}" for b in m.properties["hotspot_bin"].tolist()]
    return [""] * len(m.ids)
