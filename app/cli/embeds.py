"""``atlas embeds``: signed, expiring, revocable read-only map embeds for partner intranets."""

from __future__ import annotations

import typer

cli = typer.Typer(help="Read-only map embeds for partner intranets.", no_args_is_help=True)
