"""``atlas counts``, ``atlas hotspots``, ``atlas reassign``: analysis on any boundaries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from app.cli.common import (
    DbOpt,
    JsonOpt,
    emit,
    failures,
    open_atlas,
    out_console,
    print_table,
)
from app.services.counts import CountQuery
from app.services.crosswalks import read_aggregate
from app.services.export import csv_export
from app.services.hotspots import HotspotQuery

FromOpt = Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM (inclusive)")]
CategoryOpt = Annotated[str | None, typer.Option(help="Only this category")]
FormatOpt = Annotated[Literal["csv", "json"] | None, typer.Option("--format", help="csv or json")]


def _output(data: dict[str, Any], fmt: str | None, as_json: bool, human: Any) -> None:
    if fmt == "csv" and not as_json:
        sys.stdout.write(csv_export(data["rows"], data["meta"]).text)
        return
    emit(data, as_json or fmt == "json", human)


def _print_counts(data: dict[str, Any]) -> None:
    meta = data["meta"]
    print_table(data["rows"], title=f"{meta['dataset']} on {meta['boundary']['selector']}")
    out_console.print(
        f"period {meta['period']['from']} .. {meta['period']['to']}; method: {meta['method']}; "
        f"incidents {meta['incidents']}, in areas {meta['in_areas']}, outside {meta['outside']}, "
        f"unlocated {meta['unlocated']}"
    )
    for c in meta.get("caveats", []):
        out_console.print(f"note: {c}")


def _print_reassign(data: dict[str, Any]) -> None:
    meta = data["meta"]
    print_table(data["rows"], title=f"{meta['from']['selector']} -> {meta['to']['selector']}")
    out_console.print(
        f"method: {meta['method']} ({meta['weights']}); total in {meta['total_in']:g}, "
        f"out {meta['total_out']:g}, unallocated {meta['unallocated']:g}, "
        f"unmatched codes {len(meta['unmatched_codes'])}"
    )
    kinds = ", ".join(f"{n} {kind}" for kind, n in meta["changes"]["summary"].items())
    out_console.print(f"areas of {meta['from']['selector']}: {kinds}")


def _print_change(data: dict[str, Any]) -> None:
    meta = data["meta"]
    now, then = meta["period"], meta["comparison_period"]
    title = f"{now['from']}..{now['to']} vs {then['from']}..{then['to']}"
    cols = ["area_code", "area_name", "current", "previous", "pct_change", "p_value", "direction"]
    print_table(data["rows"], cols, title=title)
    for c in meta.get("caveats", []):
        out_console.print(f"note: {c}")


def _print_profile(data: dict[str, Any]) -> None:
    if data["method"] == "none":
        out_console.print(" ".join(data["caveats"]))
        return
    rows = [
        {"day": d, **{f"{h:02d}": round(v or 0, 1) for h, v in enumerate(r)}}
        for d, r in zip(data["days"], data["table"], strict=True)
    ]
    print_table(rows, title=f"{data['dataset']}: incidents by day and hour ({data['method']})")


def register(cli: typer.Typer) -> None:
    """Attach the analysis commands to the root CLI."""

    @cli.command()
    def change(
        dataset: Annotated[str, typer.Option(help="Dataset")],
        by: Annotated[str, typer.Option(help="Boundary selector")],
        first: FromOpt = None,
        last: ToOpt = None,
        category: CategoryOpt = None,
        compare: Annotated[
            Literal["previous", "last_year"], typer.Option(help="previous or last_year")
        ] = "last_year",
        fmt: FormatOpt = None,
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Per area: this period vs the previous period or the same period last year."""
        with failures():
            atlas = open_atlas(db)
            out = atlas.change(dataset, by, first, last, category, compare)
            _output(out, fmt, as_json, _print_change)

    @cli.command()
    def timeprofile(
        dataset: Annotated[str, typer.Option(help="Dataset")],
        first: FromOpt = None,
        last: ToOpt = None,
        category: CategoryOpt = None,
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Incidents by day of week x hour of day (aoristic apportionment for time windows)."""
        with failures():
            atlas = open_atlas(db)
            out = atlas.time_profile(dataset, first, last, category)
            emit(out, as_json, _print_profile)

    @cli.command()
    def hotspots(
        dataset: Annotated[str, typer.Option(help="Dataset")],
        grid: Annotated[
            float | None, typer.Option(help="Cell size in metres (BNG-aligned)")
        ] = None,
        by: Annotated[str | None, typer.Option(help="Boundary selector, for area hotspots")] = None,
        first: FromOpt = None,
        last: ToOpt = None,
        category: CategoryOpt = None,
        permutations: Annotated[
            int, typer.Option(help="Permutation draws for p_sim (0: none)")
        ] = 0,
        seed: Annotated[int | None, typer.Option(help="Seed for the permutations")] = None,
        method: Annotated[
            str, typer.Option(help="gi_star (default), kde, local_moran or emerging")
        ] = "gi_star",
        bandwidth: Annotated[
            float | None, typer.Option(help="kde: kernel bandwidth in metres (default 3 cells)")
        ] = None,
        kernel: Annotated[str, typer.Option(help="kde: quartic or gaussian")] = "quartic",
        extent: Annotated[
            str | None,
            typer.Option(help="Grid: partnership (default), data, or a boundary selector"),
        ] = None,
        fmt: Annotated[
            Literal["geojson", "csv"], typer.Option("--format", help="geojson or csv")
        ] = "geojson",
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Hotspots: Gi* with FDR (default), kde, local_moran or emerging; GeoJSON or CSV."""
        with failures():
            q = HotspotQuery(
                dataset,
                grid_m=grid,
                by=by,
                first=first,
                last=last,
                category=category,
                permutations=permutations,
                seed=seed,
                method=method,
                bandwidth_m=bandwidth,
                kernel=kernel,
                extent=extent,
            )
            out = open_atlas(db).hotspots(q)
            if fmt == "csv" and not as_json:
                sys.stdout.write(csv_export(out.rows(), out.meta).text)
            else:
                sys.stdout.write(out.geojson() + "\n")

    @cli.command()
    def reassign(
        csv_path: Annotated[
            Path,
            typer.Argument(
                metavar="CSV", help="Aggregate table by area", exists=True, dir_okay=False
            ),
        ],
        sel_from: Annotated[str, typer.Option("--from", help="Version the table is on")],
        sel_to: Annotated[str, typer.Option("--to", help="Version to move it to")],
        code_field: Annotated[str, typer.Option(help="Column with the area code")],
        value_field: Annotated[str, typer.Option(help="Column with the value")],
        weights: Annotated[
            Literal["area", "population"], typer.Option(help="area or population")
        ] = "area",
        fmt: FormatOpt = None,
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Convert an aggregate table between boundary versions through the crosswalk."""
        with failures():
            table = read_aggregate(csv_path, None, code_field, value_field)
            out = open_atlas(db).crosswalks.reassign_table(table, sel_from, sel_to, weights)
            _output(out, fmt, as_json, _print_reassign)

    @cli.command()
    def counts(
        dataset: Annotated[str, typer.Option(help="Dataset")],
        by: Annotated[str, typer.Option(help="Boundary selector: set:version, set@date or set")],
        first: FromOpt = None,
        last: ToOpt = None,
        category: CategoryOpt = None,
        rates: Annotated[
            bool, typer.Option("--rates", help="Add population and rates per 1,000")
        ] = False,
        smooth: Annotated[
            str | None,
            typer.Option(help="Add Empirical Bayes smoothed rates: eb_global or eb_local"),
        ] = None,
        fmt: FormatOpt = None,
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """One row per area of the selected boundary version: area_code, area_name, count."""
        with failures():
            q = CountQuery(dataset, by, first, last, category, rates, smooth)
            data = open_atlas(db).counts(q)
            _output(data, fmt, as_json, _print_counts)
