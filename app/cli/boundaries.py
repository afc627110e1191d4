"""``atlas boundaries``: register, list and compare boundary versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import DbOpt, JsonOpt, emit, failures, open_atlas, print_mapping, print_table
from app.errors import BadRequest
from app.services.boundaries import BoundarySpec, version_summary

cli = typer.Typer(help="Boundary sets and their versions.", no_args_is_help=True)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"{option} {text!r} is not a date (YYYY-MM-DD)") from exc


@cli.command("import")
def boundaries_import(
    path: Annotated[
        Path, typer.Argument(help="Any vector file GDAL reads (GeoPackage, GeoJSON, Shapefile zip)")
    ],
    set_name: Annotated[str, typer.Option("--set", help="Boundary set, e.g. wards")],
    version: Annotated[str, typer.Option(help="Version label, e.g. 2019")],
    valid_from: Annotated[str, typer.Option(help="First day in force, YYYY-MM-DD")],
    code_field: Annotated[str, typer.Option(help="Field holding the area code")],
    name_field: Annotated[str, typer.Option(help="Field holding the area name")],
    valid_to: Annotated[str | None, typer.Option(help="Last day in force, YYYY-MM-DD")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer, for multi-layer files")] = None,
    title: Annotated[str, typer.Option()] = "",
    source: Annotated[str, typer.Option()] = "",
    licence: Annotated[str, typer.Option()] = "",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register one version of a boundary set (reprojected to EPSG:27700, validated)."""
    with failures():
        start = _date(valid_from, "--valid-from")
        assert start is not None
        spec = BoundarySpec(
            path=path,
            set_name=set_name,
            version=version,
            valid_from=start,
            valid_to=_date(valid_to, "--valid-to"),
            code_field=code_field,
            name_field=name_field,
            layer=layer,
            title=title,
            source=source,
            licence=licence,
        )
        rec = open_atlas(db).import_boundaries(spec)
        out = {
            "set": rec.set_name,
            "version": rec.version,
            "valid_from": rec.valid_from,
            "valid_to": rec.valid_to,
            "features": rec.features,
            "report": rec.report,
        }
        emit(out, as_json, print_mapping)


@cli.command("list")
def boundaries_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Sets, versions, validity dates and feature counts."""
    with failures():
        rows = [version_summary(v) for v in open_atlas(db).areas.versions()]
        emit(rows, as_json, print_table)


@cli.command("diff")
def boundaries_diff(
    sel_a: Annotated[str, typer.Argument(help="From version, e.g. wards:2013")],
    sel_b: Annotated[str, typer.Argument(help="To version, e.g. wards:2019")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How two versions relate: pairs with area shares, unchanged areas, and what changed."""
    with failures():
        out = open_atlas(db).crosswalks.diff(sel_a, sel_b)
        emit(out, as_json, _print_diff)


def _print_diff(out: dict[str, Any]) -> None:
    print_mapping({"from": out["from"]["selector"], "to": out["to"]["selector"], **out["summary"]})
    changed = [p for p in out["pairs"] if out["changes"].get(p["from_code"]) != "unchanged"]
    print_table(changed, title="Changed areas (share of the from-area)")
