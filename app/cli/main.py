"""``atlas``: set-up, ingest, geocoding and serving. Sub-groups live in sibling modules."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from app.cli import admin, analysis, boundaries, embeds
from app.cli.common import (
    CliFailure,
    DbOpt,
    JsonOpt,
    emit,
    failures,
    open_atlas,
    open_atlas_with,
    out_console,
    print_mapping,
    print_table,
    store_url,
    use_store,
)
from app.cli.progress import progress_reporter
from app.cli.usage import click_errors
from app.http.factory import create_app
from app.ingest.report import summarise
from app.services.postcodes import PostcodeFields
from app.settings import get_settings

cli = typer.Typer(
    name="atlas",
    help="Community Safety Atlas: load partner incident files, count and map them on any boundary.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
postcodes_cli = typer.Typer(help="Postcode -> grid reference lookup.", no_args_is_help=True)
population_cli = typer.Typer(help="Resident population per area.", no_args_is_help=True)


@cli.callback()
def _root(db: DbOpt = None) -> None:
    # `atlas --db URL <command>`: the store for the whole invocation.
    use_store(db)


cli.add_typer(boundaries.cli, name="boundaries")
cli.add_typer(postcodes_cli, name="postcodes")
cli.add_typer(population_cli, name="population")
cli.add_typer(admin.partners_cli, name="partners")
cli.add_typer(admin.tokens_cli, name="tokens")
cli.add_typer(admin.datasets_cli, name="datasets")
cli.add_typer(embeds.cli, name="embeds")


@cli.command()
def init(
    empty: Annotated[bool, typer.Option(help="Only create/migrate the schema")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or migrate the store; also register the bundled boundary sets and population."""
    with failures():
        atlas = open_atlas(db, migrate=True)
        out = atlas.init(empty=empty)
        emit(out, as_json, _print_init)


def _print_init(out: dict[str, Any]) -> None:
    out_console.print(f"store ready: {out['store']}")
    for b in out["boundaries"]:
        out_console.print(f"  boundaries {b['boundary']}: {b['status']} ({b['features']} areas)")
    for p in out["population"]:
        out_console.print(f"  population {p['population']}: {p['status']}")


@cli.command()
def demo(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Load the bundled demo data (police.uk Surrey, 2023-01 .. 2024-01) into the store."""
    with failures():
        atlas = open_atlas(db)
        out = atlas.demo()
        emit(out, as_json, _print_demo)


def _print_demo(out: dict[str, Any]) -> None:
    total = summarise(out["batches"])
    new = sum(1 for b in out["batches"] if b["status"] != "already_ingested")
    out_console.print(
        f"dataset {out['dataset']}: {len(out['batches'])} files ({new} new), "
        f"{total['accepted']:,} incidents accepted of {total['rows_read']:,} rows"
    )


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, .csv.gz, .zip of CSVs, or folders")],
    dataset: Annotated[str, typer.Option(help="Dataset to load into (created if new)")],
    profile: Annotated[
        str | None, typer.Option(help="Built-in profile name (police-uk) or a FILE.toml")
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Owner partner when the dataset is created")
    ] = None,
    access: Annotated[
        str | None, typer.Option(help="open|partner|restricted when the dataset is created")
    ] = None,
    partner: Annotated[
        str | None, typer.Option(help="Partner sending the files (default: the dataset owner)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the files and report; write nothing")
    ] = False,
    max_distance_km: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Reject located rows further than this from the partnership area "
            "(default ATLAS_MAX_DISTANCE_KM or 50; 0 = no limit, e.g. another force's data)",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load incident files and print the batch report of each."""
    with failures():
        limit = {} if max_distance_km is None else {"max_distance_km": max_distance_km}
        atlas = open_atlas_with(db, limit)
        if dry_run:
            _dry_run(atlas, paths, dataset, profile, partner, as_json)
            return
        with progress_reporter(enabled=not as_json and sys.stderr.isatty()) as report:
            outcomes = atlas.ingest(
                paths, dataset, profile, owner, access, partner, progress=report
            )
        reports = [
            _with_rejects_file(atlas.settings.var_dir, o.batch.id, o.report, atlas)
            for o in outcomes
        ]
        emit(summarise(reports), as_json, _print_ingest)


def _dry_run(
    atlas: Any,
    paths: list[Path],
    dataset: str,
    profile: str | None,
    partner: str | None,
    as_json: bool,
) -> None:
    with progress_reporter(enabled=not as_json and sys.stderr.isatty()) as report:
        prepared = atlas.dry_run(paths, dataset, profile, partner, progress=report)
    folder = rejects_folder(atlas.settings.var_dir, atlas.store.url)
    reports = []
    for i, p in enumerate(prepared, 1):
        r = {**p.new.report, "status": f"dry-run ({p.new.report['status']})", "batch_id": None}
        if r["rejected"] or r["duplicates"]:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"dry-run-{i}-{Path(p.new.filename).stem}-rejects.csv"
            path.write_bytes(p.new.rejects_csv)
            r["rejects_file"] = str(path)
        reports.append(r)
    emit(summarise(reports), as_json, _print_ingest)


def rejects_folder(var: Path, store_url: str) -> Path:
    """var/rejects/<store>/: one folder per store, so two stores never overwrite each other."""
    digest = hashlib.sha256(store_url.encode()).hexdigest()[:10]
    return var / "rejects" / digest


def _with_rejects_file(
    var: Path, batch_id: int, report: dict[str, Any], atlas: Any
) -> dict[str, Any]:
    """Write the batch's rejects CSV under var/rejects/ and point the report at it."""
    if not report.get("rejected") and not report.get("duplicates"):
        return {**report, "rejects_file": None}
    folder = rejects_folder(var, atlas.store.url)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{batch_id}-rejects.csv"
    path.write_bytes(atlas.store.batches.rejects_csv(batch_id))
    return {**report, "rejects_file": str(path)}


def _print_ingest(summary: dict[str, Any]) -> None:
    rows = [
        {
            "batch": b["batch_id"],
            "file": b["file"],
            "status": b["status"],
            "rows": b["rows_read"],
            "accepted": b["accepted"],
            "unlocated": b["unlocated"],
            "outside": b["outside_area"],
            "duplicates": b["duplicates"],
            "identical": b["identical_rows"],
            "rejected": sum(b["rejected"].values()),
        }
        for b in summary["batches"]
    ]
    print_table(rows, title="Batch report")
    rejected = summary.get("rejected") or {}
    if rejected:
        out_console.print(
            "rejected by reason: " + ", ".join(f"{k} {v}" for k, v in rejected.items())
        )
    for b in summary["batches"]:
        if b.get("rejects_file"):
            out_console.print(f"rejects of batch {b['batch_id']}: {b['rejects_file']}")


@cli.command()
def geocode(
    queries: Annotated[
        list[str], typer.Argument(help="Grid refs, postcodes, 'lat,lon' or 'easting,northing'")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Easting/northing (EPSG:27700) and a 10-figure grid reference for each query."""
    with failures():
        results = [r.as_dict() for r in open_atlas(db).geocoder.geocode_each(queries)]
        emit(results, as_json, print_table)
        failed = [r for r in results if "error" in r]
        if failed:
            raise CliFailure(
                f"{len(failed)} of {len(results)} queries could not be geocoded "
                f"(first: {failed[0]['query']!r}: {failed[0]['error']})"
            )


@postcodes_cli.command("import")
def postcodes_import(
    path: Path,
    postcode_field: Annotated[str, typer.Option(help="Column holding the postcode")],
    easting_field: Annotated[str | None, typer.Option()] = None,
    northing_field: Annotated[str | None, typer.Option()] = None,
    lat_field: Annotated[str | None, typer.Option()] = None,
    lon_field: Annotated[str | None, typer.Option()] = None,
    introduced_field: Annotated[str | None, typer.Option(help="e.g. ONSPD dointr")] = None,
    terminated_field: Annotated[str | None, typer.Option(help="e.g. ONSPD doterm")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load or replace the postcode lookup (ONS Postcode Directory, Code-Point Open or any CSV)."""
    with failures():
        atlas = open_atlas(db)
        fields = PostcodeFields(
            postcode_field,
            easting_field,
            northing_field,
            lat_field,
            lon_field,
            introduced_field,
            terminated_field,
        )
        emit(atlas.import_postcodes(path, fields), as_json, print_mapping)


@population_cli.command("import")
def population_import(
    path: Path,
    set_name: Annotated[str, typer.Option("--set", help="Boundary set")],
    version: Annotated[str, typer.Option(help="Boundary version label")],
    code_field: Annotated[str, typer.Option()],
    value_field: Annotated[str, typer.Option()],
    year: Annotated[int, typer.Option()],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resident population for the areas of one boundary version."""
    with failures():
        atlas = open_atlas(db)
        out = atlas.import_population(path, f"{set_name}:{version}", code_field, value_field, year)
        emit(out, as_json, print_mapping)


@cli.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    db: DbOpt = None,
) -> None:
    """Serve the HTTP API and the map page."""
    with failures():
        settings = get_settings()
        if store_url(db):
            settings = settings.model_copy(update={"database_url": store_url(db)})
        application = create_app(settings)
        out_console.print(
            f"Community Safety Atlas on http://{host}:{port}  (map: /map, API docs: /docs)"
        )
        uvicorn.run(application, host=host, port=port, log_level="info")


# Registered last so `atlas --help` lists set-up and loading first, then analysis.
analysis.register(cli)


def main() -> None:
    """Console-script entry point. Usage errors are one line on stderr (exit 2), like every
    other failure; help still prints in full."""
    try:
        code = cli(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "atlas --help")
        code = 0
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "atlas"
        message = " ".join(exc.format_message().split())
        print(f"atlas: error: {message} (see `{where} --help`)", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        print("atlas: error: aborted", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
