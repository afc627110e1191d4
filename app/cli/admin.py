"""``atlas partners``, ``atlas tokens``, ``atlas datasets``: partners and who sees what."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from app.access.tokens import create_token
from app.atlas import ACCESS_LEVELS
from app.cli.common import (
    DbOpt,
    JsonOpt,
    emit,
    failures,
    open_atlas,
    out_console,
    print_mapping,
    print_table,
)
from app.errors import BadRequest

partners_cli = typer.Typer(help="Partner organisations.", no_args_is_help=True)
tokens_cli = typer.Typer(help="API tokens (Authorization: Bearer <token>).", no_args_is_help=True)
datasets_cli = typer.Typer(help="Datasets: owner, access level, batches.", no_args_is_help=True)


@partners_cli.command("add")
def partners_add(
    partner: Annotated[str, typer.Argument(help="Short code, e.g. surrey-police")],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a partner organisation."""
    with failures():
        rec = open_atlas(db).add_partner(partner, name)
        emit({"partner": rec.code, "name": rec.name}, as_json, print_mapping)


@partners_cli.command("list")
def partners_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The registered partners."""
    with failures():
        rows = [
            {"partner": p.code, "name": p.name}
            for p in open_atlas(db).store.datasets.list_partners()
        ]
        emit(rows, as_json, print_table)


@tokens_cli.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="public|partner|analyst|admin")],
    partner: Annotated[str | None, typer.Option(help="Partner the token acts for")] = None,
    expires: Annotated[str | None, typer.Option(help="Expiry date YYYY-MM-DD")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    with failures():
        until = _date(expires) if expires else None
        atlas = open_atlas(db)
        token_id, token = create_token(atlas.store, role, partner, until)
        atlas.store.audit.log("cli", "token.create", token_id, {"role": role, "partner": partner})
        out = {"token": token, "id": token_id, "role": role, "partner": partner, "expires": expires}
        emit(out, as_json, _print_token)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _print_token(out: dict[str, Any]) -> None:
    out_console.print(out["token"], soft_wrap=True, highlight=False)
    err = typer.style(
        f"token id {out['id']} ({out['role']}); keep the token secret: it is not stored", dim=True
    )
    typer.echo(err, err=True)


@tokens_cli.command("revoke")
def tokens_revoke(token_id: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke a token by its id."""
    with failures():
        atlas = open_atlas(db)
        rec = atlas.store.tokens.revoke(token_id)
        atlas.store.audit.log("cli", "token.revoke", token_id, {})
        emit({"id": rec.id, "revoked_at": rec.revoked_at}, as_json, print_mapping)


@tokens_cli.command("list")
def tokens_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Tokens (ids, roles, expiry; never the secrets)."""
    with failures():
        rows = [
            {
                "id": t.id,
                "role": t.role,
                "partner": t.partner,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in open_atlas(db).store.tokens.all()
        ]
        emit(rows, as_json, print_table)


@datasets_cli.command("configure")
def datasets_configure(
    dataset: str,
    owner: Annotated[str | None, typer.Option(help="Owner partner")] = None,
    access: Annotated[str | None, typer.Option(help="open|partner|restricted")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a dataset's owner and access level."""
    with failures():
        atlas = open_atlas(db)
        if access is not None and access not in ACCESS_LEVELS:
            raise BadRequest(f"access must be one of {', '.join(ACCESS_LEVELS)}")
        rec = atlas.store.datasets.configure(dataset, owner, access)
        atlas.store.audit.log(
            "cli", "dataset.configure", dataset, {"owner": owner, "access": access}
        )
        emit(
            {"dataset": rec.name, "owner": rec.owner, "access": rec.access}, as_json, print_mapping
        )


@datasets_cli.command("list")
def datasets_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Datasets with their owner, access level and active batches."""
    with failures():
        atlas = open_atlas(db)
        rows = [
            {
                "dataset": d.name,
                "owner": d.owner,
                "access": d.access,
                "batches": len(atlas.store.batches.all(d.id, active_only=True)),
            }
            for d in atlas.store.datasets.all()
        ]
        emit(rows, as_json, print_table)


@datasets_cli.command("batches")
def datasets_batches(
    dataset: str,
    active: Annotated[
        bool, typer.Option("--active", help="Only batches still in use (not corrected)")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A dataset's batch history: every file loaded, its report, and what corrected it."""
    with failures():
        atlas = open_atlas(db)
        ds = atlas.store.datasets.get(dataset)
        # JSON: each batch's own report (the ingest report's names) with its history fields.
        batches = [
            {
                **b.report,
                "batch_id": b.id,
                "file": b.filename,
                "created_at": b.created_at,
                "months": list(b.months),
                "active": b.active,
                "superseded_by": b.superseded_by,
            }
            for b in atlas.store.batches.all(ds.id, active_only=active)
        ]
        emit(batches, as_json, _print_batches)


def _print_batches(batches: list[dict[str, Any]]) -> None:
    print_table(
        [
            {
                "batch": b["batch_id"],
                "file": b["file"],
                "loaded": b["created_at"],
                "status": b.get("status"),
                "months": ",".join(b["months"]),
                "rows": b.get("rows_read"),
                "accepted": b.get("accepted"),
                "rejected": sum((b.get("rejected") or {}).values()),
                "superseded_by": b["superseded_by"],
            }
            for b in batches
        ]
    )
