"""Shared CLI plumbing: --db / --json options, one-line errors, JSON or table output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from app.atlas import Atlas
from app.errors import AppError
from app.settings import get_settings
from geo.errors import GeoError

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (default: ATLAS_DATABASE_URL or sqlite:///var/atlas.db)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout")]

err_console = Console(stderr=True)
#: Piped output is not cut to 80 columns: tables are read by scripts and by wide terminals.
out_console = Console(width=None if sys.stdout.isatty() else 240)
#: ``atlas --db URL <command>``: the store for every command that is not given its own --db.
_root_db: str | None = None


def use_store(db: str | None) -> None:
    """Remember the root ``--db`` for commands given none of their own."""
    global _root_db  # noqa: PLW0603 - one CLI invocation, one store
    _root_db = db


def store_url(db: str | None) -> str | None:
    """The store URL a command uses: its own --db, else the root --db, else the settings'."""
    return db or _root_db


class CliFailure(Exception):
    """Raised inside commands for a one-line failure (exit 1)."""


@contextmanager
def failures() -> Iterator[None]:
    """Turn every error into one line on stderr and a non-zero exit; never a traceback."""
    try:
        yield
    except (AppError, GeoError) as exc:
        _fail(f"{getattr(exc, 'detail', str(exc))}")
    except CliFailure as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted (nothing half-written: batches are atomic)")
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get("ATLAS_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set ATLAS_DEBUG=1 for a traceback)")


def _fail(message: str) -> None:
    one_line = " ".join(message.split())
    print(f"atlas: error: {one_line}", file=sys.stderr)
    raise typer.Exit(1)


def open_atlas(db: str | None, migrate: bool = False) -> Atlas:
    """The engine over the store named by ``--db`` (or the settings)."""
    return open_atlas_with(db, {}, migrate=migrate)


def open_atlas_with(db: str | None, overrides: dict[str, Any], migrate: bool = False) -> Atlas:
    """The engine over the store named by ``--db``, with settings overridden for this run."""
    settings = get_settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    return Atlas.open(database_url=store_url(db), settings=settings, migrate=migrate)


def jsonable(value: Any) -> Any:
    """Plain JSON types for numpy values, dates and dataclass-like records."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """Print ``data`` as one JSON document, or through the human renderer."""
    if as_json:
        sys.stdout.write(json.dumps(jsonable(data), ensure_ascii=False) + "\n")
    else:
        human(data)


def print_table(
    rows: list[dict[str, Any]], columns: list[str] | None = None, title: str | None = None
) -> None:
    """A rich table of dictionaries (stdout)."""
    if not rows:
        out_console.print("(nothing)")
        return
    cols = columns or list(rows[0])
    table = Table(title=title)
    for c in cols:
        table.add_column(c, overflow="fold")  # wrap a long value, never cut it
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(jsonable(r.get(c))) for c in cols))
    out_console.print(table)


def print_mapping(data: dict[str, Any]) -> None:
    for k, v in data.items():
        out_console.print(f"[bold]{k}[/bold]: {jsonable(v)}")
