"""Postcode lookup, API tokens and the audit log in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, Row, delete, func, insert, select, update

from app.errors import NotFound
from app.store.engine import bump_data_version, utc_now
from app.store.models import AuditEntry, Postcode, Token
from app.store.records import PostcodeTable, TokenRecord

LOOKUP_CHUNK = 5_000


class SqlPostcodes:
    """Postcode -> grid reference lookup (replaced wholesale on import)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replace(self, table: PostcodeTable) -> int:
        cols = ("postcode", "easting", "northing", "precision_m", "introduced", "terminated")
        arrays = [getattr(table, c).tolist() for c in cols]
        rows = [dict(zip(cols, r, strict=True)) for r in zip(*arrays, strict=True)]
        with self.engine.begin() as conn:
            conn.execute(delete(Postcode))
            for start in range(0, len(rows), 20_000):
                conn.execute(insert(Postcode), rows[start : start + 20_000])
            bump_data_version(conn)
        return len(rows)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Postcode)).scalar_one())

    def lookup(self, postcodes: np.ndarray) -> PostcodeTable:
        """Rows for the distinct normalised postcodes found (order not guaranteed)."""
        wanted = sorted({p for p in postcodes.tolist() if p})
        rows: list[Row[Any]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows.extend(
                    conn.execute(
                        select(*Postcode.__table__.c).where(Postcode.postcode.in_(chunk))
                    ).all()
                )
        recs = rows
        return PostcodeTable(
            postcode=np.array([r.postcode for r in recs], dtype=object),
            easting=np.array([r.easting for r in recs], dtype=np.float64),
            northing=np.array([r.northing for r in recs], dtype=np.float64),
            precision_m=np.array([r.precision_m for r in recs], dtype=np.int32),
            introduced=np.array([r.introduced for r in recs], dtype=object),
            terminated=np.array([r.terminated for r in recs], dtype=object),
        )


def _token(t: Any) -> TokenRecord:
    return TokenRecord(
        t.id, t.role, t.partner, dict(t.scope or {}), t.created_at, t.expires_at, t.revoked_at
    )


class SqlTokens:
    """API and embed tokens; only a hash of each secret is kept."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        token_id: str,
        secret_sha256: str,
        role: str,
        partner: str | None,
        scope: dict[str, Any],
        expires_at: datetime | None,
    ) -> TokenRecord:
        with self.engine.begin() as conn:
            conn.execute(
                insert(Token).values(
                    id=token_id,
                    secret_sha256=secret_sha256,
                    role=role,
                    partner=partner,
                    scope=scope,
                    created_at=utc_now(),
                    expires_at=expires_at,
                )
            )
        return self.get(token_id)

    def get(self, token_id: str) -> TokenRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(*Token.__table__.c).where(Token.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    def by_secret(self, secret_sha256: str) -> TokenRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*Token.__table__.c).where(Token.secret_sha256 == secret_sha256)
            ).first()
        return _token(row) if row else None

    def revoke(self, token_id: str) -> TokenRecord:
        self.get(token_id)
        with self.engine.begin() as conn:
            conn.execute(update(Token).where(Token.id == token_id).values(revoked_at=utc_now()))
            bump_data_version(conn)
        return self.get(token_id)

    def all(self) -> list[TokenRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*Token.__table__.c).order_by(Token.created_at)).all()
        return [_token(r) for r in rows]


class SqlAudit:
    """Append-only audit log of who did or saw what."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def log(self, principal: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(AuditEntry).values(
                    at=utc_now(), principal=principal, action=action, target=target, detail=detail
                )
            )

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        q = select(*AuditEntry.__table__.c).order_by(AuditEntry.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "at": r.at.isoformat(),
                "principal": r.principal,
                "action": r.action,
                "target": r.target,
                "detail": r.detail,
            }
            for r in rows
        ]
