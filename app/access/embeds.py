"""Signed, expiring, revocable, read-only map embeds for partner intranets.

An embed is one row of the tokens table (role ``embed``) whose ``scope`` fixes what the embedded
map shows: a dataset, a boundary version (``by``), an optional list of area codes, the layer
(``counts``, ``rates`` or ``hotspots``), the period and the category. The partner is given a URL
token::

    base64url({"v": 1, "id": <token id>, "exp": <unix seconds>}) + "." + base64url(HMAC-SHA256)

signed with the service secret (``settings.secret_key``, or a random key generated once under
``settings.var_dir`` with file mode 600). Every request checks the signature, the expiry and the
stored row (revocation, expiry, and that the exact token was issued: a SHA-256 of it is stored).

Paste this into an intranet page (``/embed/<token>`` is printed by ``atlas embeds create`` and
returned by ``POST /api/v1/embeds``)::

    <iframe src="https://atlas.example.org/embed/<token>"
            title="Community Safety Atlas: incidents by ward"
            width="100%" height="480" style="border:0" loading="lazy"
            referrerpolicy="no-referrer"></iframe>

The embedded page has no control that widens its scope; its data calls go to
``/embed/<token>/...`` routes that read the scope from the verified token only, and it shows
public-level (suppressed) figures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.access.principal import Principal, Role
from app.errors import BadRequest, Forbidden, NotFound, StoreError, Unauthorized
from app.store import Store
from app.store.records import TokenRecord

if TYPE_CHECKING:
    from app.atlas import Atlas
    from app.settings import Settings

#: Embeds sit on intranet pages long after they are made: they must expire within a year.
MAX_LIFETIME = timedelta(days=366)
ROLE: Role = "embed"
EMBED_LAYERS = ("counts", "rates", "hotspots")
KEY_FILE_NAME = "embed-signing.key"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,400}\.[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class EmbedScope:
    """What an embed shows; stored as the token row's ``scope`` JSON."""

    dataset: str
    by: str
    layer: str = "counts"
    areas: tuple[str, ...] | None = None
    first: str | None = None
    last: str | None = None
    category: str | None = None

    def doc(self) -> dict[str, Any]:
        out = asdict(self)
        out["areas"] = list(self.areas) if self.areas is not None else None
        out["from"], out["to"] = out.pop("first"), out.pop("last")
        return out

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EmbedScope:
        areas = doc.get("areas")
        return cls(
            dataset=str(doc["dataset"]),
            by=str(doc["by"]),
            layer=str(doc.get("layer") or "counts"),
            areas=tuple(str(a) for a in areas) if areas is not None else None,
            first=doc.get("from"),
            last=doc.get("to"),
            category=doc.get("category"),
        )


@dataclass(frozen=True)
class Embed:
    """A verified (or newly created) embed: its id, scope and expiry (UTC, naive)."""

    id: str
    scope: EmbedScope
    expires_at: datetime
    partner: str | None = None
    revoked_at: datetime | None = None
    token: str | None = None

    @property
    def path(self) -> str:
        """``/embed/<token>`` (only known when the embed was just created)."""
        if self.token is None:
            raise BadRequest("the embed token is shown once, when the embed is created")
        return f"/embed/{self.token}"

    def doc(self, base_url: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "scope": self.scope.doc(),
            "expires_at": self.expires_at.isoformat(),
            "partner": self.partner,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
        if self.token is not None:
            url = (base_url or "").rstrip("/") + self.path
            out.update({"token": self.token, "path": self.path, "url": url})
            out["iframe"] = iframe_snippet(url, title_for(self.scope))
        return out


# -- the service secret -----------------------------------------------------------------------


def service_secret(settings: Settings) -> bytes:
    """The HMAC key: ``settings.secret_key``, else a key generated once under ``var_dir``.

    The generated key is written with mode 600 and never rewritten, so embeds survive restarts;
    concurrent first calls agree because the file is created exclusively (``os.link``).
    """
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.var_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE_NAME}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            tmp.unlink()
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise StoreError(f"the embed signing key file {path} is empty: delete it to make a new one")
    return key.encode("ascii")


# -- signing ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict[str, Any], key: bytes) -> str:
    """``base64url(JSON payload) + "." + base64url(HMAC-SHA256(key, first part))``."""
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def looks_like_embed(token: str) -> bool:
    """True for the ``payload.signature`` shape (API tokens are ``csa_<id>_<secret>``)."""
    return bool(_TOKEN.match(token))


def _payload(token: str) -> dict[str, Any]:
    if not looks_like_embed(token):
        raise Unauthorized("malformed embed token")
    try:
        doc = json.loads(_unb64(token.split(".", 1)[0]))
    except (ValueError, binascii.Error) as exc:
        raise Unauthorized("malformed embed token") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise Unauthorized("malformed embed token")
    if not isinstance(doc.get("exp"), int):
        raise Unauthorized("malformed embed token")
    return doc


def verify_signature(token: str, key: bytes, now: datetime | None = None) -> dict[str, Any]:
    """The payload of a token signed with ``key`` and not yet expired (Unauthorized otherwise)."""
    doc = _payload(token)
    body, mac = token.split(".", 1)
    expected = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(_b64(expected), mac):
        raise Unauthorized("invalid embed token signature")
    moment = now or datetime.now(UTC)
    if doc["exp"] < moment.timestamp():
        raise Unauthorized("this embed has expired")
    return doc


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- checking ---------------------------------------------------------------------------------


def _naive_utc(moment: datetime | None) -> datetime:
    return (moment or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)


def _stored(store: Store, token: str, token_id: str, now: datetime | None) -> TokenRecord:
    record = store.tokens.by_secret(token_sha256(token))
    if record is None or record.id != token_id or record.role != ROLE:
        raise Unauthorized("unknown embed token")
    if record.revoked_at is not None:
        raise Unauthorized("this embed has been revoked")
    if record.expires_at is not None and record.expires_at < _naive_utc(now):
        raise Unauthorized("this embed has expired")
    return record


def _embed(record: TokenRecord) -> Embed:
    assert record.expires_at is not None
    return Embed(
        record.id,
        EmbedScope.from_doc(record.scope),
        record.expires_at,
        record.partner,
        record.revoked_at,
    )


def check_embed(store: Store, key: bytes, token: str, now: datetime | None = None) -> Embed:
    """The embed a URL token grants: signature, expiry and revocation checked.

    Raises
    ------
    Unauthorized
        Malformed, tampered (bad signature), expired, revoked or unknown token.
    """
    doc = verify_signature(token, key, now)
    return _embed(_stored(store, token, doc["id"], now))


def embed_principal(
    store: Store, token: str, key: bytes | None = None, now: datetime | None = None
) -> Principal:
    """The principal of an embed token sent as ``Authorization: Bearer`` to the generic API.

    With the service ``key`` the HMAC signature is verified as on the ``/embed`` routes; the token
    must also match its stored SHA-256 (only tokens this service issued do), be unexpired and not
    revoked. The principal has role ``embed``, no partner and the scope, so
    ``Principal.can_read`` limits it to its (open) dataset: through the general API it never reads
    more than an anonymous caller could. Scoped views go through ``/embed/<token>/...``.
    """
    doc = verify_signature(token, key, now) if key is not None else _payload(token)
    if doc["exp"] < (now or datetime.now(UTC)).timestamp():
        raise Unauthorized("this embed has expired")
    record = _stored(store, token, doc["id"], now)
    return Principal(id=record.id, role=ROLE, partner=None, scope=dict(record.scope))


# -- creating, listing and revoking -----------------------------------------------------------


def _check_month(value: str | None, name: str) -> None:
    if value is not None and not _MONTH.match(value):
        raise BadRequest(f"{name} must be a month YYYY-MM, not {value!r}")


def _check_scope(atlas: Atlas, principal: Principal, scope: EmbedScope) -> EmbedScope:
    """Validate a requested scope against the store; returns it with ``by`` pinned to a version."""
    principal.require("partner", "creating an embed")
    if scope.layer not in EMBED_LAYERS:
        raise BadRequest(f"layer must be one of {', '.join(EMBED_LAYERS)}")
    dataset = atlas.readable_dataset(scope.dataset, principal)
    if not principal.at_least("analyst") and dataset.owner != principal.partner:
        raise Forbidden(f"a partner may embed only its own datasets, not {dataset.name!r}")
    _check_month(scope.first, "from")
    _check_month(scope.last, "to")
    if scope.first and scope.last and scope.first > scope.last:
        raise BadRequest(f"from {scope.first} is after to {scope.last}")
    version = atlas.areas.resolve(scope.by)
    areas = scope.areas
    if areas is not None:
        codes = set(atlas.areas.layer(version.id).codes.tolist())
        unknown = sorted(set(areas) - codes)
        if unknown:
            raise NotFound(f"unknown area codes in {version.selector}: {', '.join(unknown[:5])}")
        if not areas:
            raise BadRequest("the area filter is empty")
        areas = tuple(dict.fromkeys(areas))
    category = scope.category
    if category:
        held = {c.casefold(): c for c in atlas.incidents.frame(dataset).categories()}
        if category.casefold() not in held:
            raise NotFound(f"dataset {dataset.name!r} holds no category {category!r}")
        category = held[category.casefold()]
    return EmbedScope(
        dataset.name, version.selector, scope.layer, areas, scope.first, scope.last, category
    )


def create_embed(
    atlas: Atlas, settings: Settings, principal: Principal, scope: EmbedScope, expires: date
) -> Embed:
    """Issue an embed; the returned ``Embed.token`` is shown once (only its SHA-256 is stored).

    Raises
    ------
    Unauthorized, Forbidden
        The caller may not embed this dataset (partners: their own datasets only).
    BadRequest, NotFound
        Bad layer, months or expiry; unknown dataset, boundary version, area code or category.
    """
    checked = _check_scope(atlas, principal, scope)
    if expires <= date.today():
        raise BadRequest("the embed's expiry must be a future date")
    if expires > date.today() + MAX_LIFETIME:
        raise BadRequest(f"an embed may live at most {MAX_LIFETIME.days} days; make a new one then")
    expires_at = datetime.combine(expires, time.max).replace(microsecond=0)
    token_id = secrets.token_hex(6)
    exp = int(expires_at.replace(tzinfo=UTC).timestamp())
    token = sign({"v": 1, "id": token_id, "exp": exp}, service_secret(settings))
    atlas.store.tokens.create(
        token_id, token_sha256(token), ROLE, principal.partner, checked.doc(), expires_at
    )
    atlas.store.audit.log(principal.id, "embed.create", token_id, checked.doc())
    return Embed(token_id, checked, expires_at, principal.partner, token=token)


def _may_manage(atlas: Atlas, principal: Principal, embed: Embed) -> bool:
    if principal.at_least("analyst"):
        return True
    if principal.role != "partner":
        return False
    if embed.partner is not None and embed.partner == principal.partner:
        return True
    found = atlas.store.datasets.find(embed.scope.dataset)
    return found is not None and found.owner == principal.partner


def list_embeds(atlas: Atlas, principal: Principal) -> list[Embed]:
    """Embeds the caller may manage (analysts and admins: all; partners: their own)."""
    principal.require("partner", "listing embeds")
    out = [_embed(t) for t in atlas.store.tokens.all() if t.role == ROLE]
    return [e for e in out if _may_manage(atlas, principal, e)]


def revoke_embed(atlas: Atlas, principal: Principal, embed_id: str) -> Embed:
    """Revoke an embed at once (NotFound for an id that is not an embed's)."""
    principal.require("partner", "revoking an embed")
    try:
        record = atlas.store.tokens.get(embed_id)
    except NotFound:
        record = None
    if record is None or record.role != ROLE:
        raise NotFound(f"no embed {embed_id!r}")
    if not _may_manage(atlas, principal, _embed(record)):
        raise Forbidden(f"this token may not revoke embed {embed_id!r}")
    revoked = atlas.store.tokens.revoke(embed_id)
    atlas.store.audit.log(principal.id, "embed.revoke", embed_id, {})
    return _embed(revoked)


# -- presentation -----------------------------------------------------------------------------


def title_for(scope: EmbedScope, areas_label: str | None = None) -> str:
    """The embed's title; ``areas_label`` names the boundary version for people (its title)."""
    what = {"counts": "Incidents", "rates": "Incidents per 1,000 residents"}.get(
        scope.layer, "Hotspots"
    )
    if areas_label:
        return f"Community Safety Atlas: {what} — {areas_label}"
    return f"Community Safety Atlas: {what}, {scope.by}"


def iframe_snippet(url: str, title: str) -> str:
    """The HTML a partner pastes into an intranet page."""
    return (
        f'<iframe src="{html.escape(url)}" title="{html.escape(title)}" width="100%" '
        'height="480" style="border:0" loading="lazy" referrerpolicy="no-referrer"></iframe>'
    )
