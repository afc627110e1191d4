"""``atlas embeds``: signed, expiring, revocable read-only map embeds for partner intranets.

``atlas embeds create`` prints the embed's path and the iframe snippet to paste into an intranet
page (the token is shown once; only its SHA-256 is stored)::

    <iframe src="http://127.0.0.1:8000/embed/<token>" title="Community Safety Atlas: ..."
            width="100%" height="480" style="border:0" loading="lazy"
            referrerpolicy="no-referrer"></iframe>
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from app.access.embeds import EmbedScope, create_embed, list_embeds, revoke_embed
from app.access.principal import OPERATOR
from app.cli.common import DbOpt, JsonOpt, emit, failures, open_atlas, out_console, print_table
from app.errors import BadRequest

cli = typer.Typer(help="Read-only map embeds for partner intranets.", no_args_is_help=True)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"{text!r} is not a date (YYYY-MM-DD)") from exc


@cli.command("create")
def embeds_create(
    dataset: Annotated[str, typer.Option(help="Dataset shown")],
    by: Annotated[str, typer.Option(help="Boundary selector (pinned to its version)")],
    expires: Annotated[str, typer.Option(help="Last day the embed works, YYYY-MM-DD")],
    layer: Annotated[str, typer.Option(help="counts|rates|hotspots")] = "counts",
    areas: Annotated[
        str | None, typer.Option(help="Comma-separated area codes to show (default all)")
    ] = None,
    first: Annotated[str | None, typer.Option("--from", help="First month YYYY-MM")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM (inclusive)")] = None,
    category: Annotated[str | None, typer.Option(help="One category")] = None,
    base_url: Annotated[
        str, typer.Option(help="Public address of this service, for the iframe snippet")
    ] = "http://127.0.0.1:8000",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an embed; prints its URL path and an iframe snippet (the token is shown once)."""
    with failures():
        codes = tuple(c.strip() for c in areas.split(",") if c.strip()) if areas else None
        atlas = open_atlas(db)
        scope = EmbedScope(dataset, by, layer, codes, first, last, category)
        embed = create_embed(atlas, atlas.settings, OPERATOR, scope, _date(expires))
        emit(embed.doc(base_url=base_url), as_json, _print_created)


def _print_created(out: dict[str, Any]) -> None:
    out_console.print(out["path"], soft_wrap=True, highlight=False)
    out_console.print(out["iframe"], soft_wrap=True, highlight=False, markup=False)
    typer.echo(
        typer.style(
            f"embed id {out['id']} (expires {out['expires_at']}); revoke with "
            f"`atlas embeds revoke {out['id']}`",
            dim=True,
        ),
        err=True,
    )


@cli.command("revoke")
def embeds_revoke(embed_id: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke an embed by its id: its page stops working at once."""
    with failures():
        embed = revoke_embed(open_atlas(db), OPERATOR, embed_id)
        emit(embed.doc(), as_json, lambda d: out_console.print(f"revoked embed {d['id']}"))


@cli.command("list")
def embeds_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Embeds with their scope, expiry and revocation (never their tokens)."""
    with failures():
        rows = [
            {
                "id": e.id,
                "dataset": e.scope.dataset,
                "by": e.scope.by,
                "layer": e.scope.layer,
                "areas": len(e.scope.areas) if e.scope.areas is not None else "all",
                "expires_at": e.expires_at,
                "revoked_at": e.revoked_at,
            }
            for e in list_embeds(open_atlas(db), OPERATOR)
        ]
        emit(rows, as_json, print_table)
