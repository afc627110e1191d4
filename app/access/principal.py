"""The caller of a route or command, and what their role allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.errors import Forbidden, Unauthorized
from app.store.records import DatasetRecord

Role = Literal["public", "partner", "analyst", "admin", "embed"]
ROLES: tuple[str, ...] = ("public", "partner", "analyst", "admin")
_RANK = {"public": 0, "embed": 0, "partner": 1, "analyst": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    """Anonymous callers are ``public``; tokens carry a role, a partner and (embeds) a scope."""

    id: str = "anonymous"
    role: Role = "public"
    partner: str | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    #: The reader behind an ``/embed/<token>`` page: it reads exactly its scope's dataset,
    #: whatever its access level (its creator could), always suppressed.
    embed_view: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.id == "anonymous"

    @property
    def suppressed(self) -> bool:
        """Public and partner views suppress small counts; analysts and admins see them."""
        return _RANK[self.role] < _RANK["analyst"]

    def at_least(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: Role, action: str) -> None:
        """Raise Unauthorized (anonymous) or Forbidden unless the role is at least ``role``."""
        if self.at_least(role):
            return
        if self.is_anonymous:
            raise Unauthorized(f"{action} needs a token (Authorization: Bearer <token>)")
        raise Forbidden(f"{action} needs the {role} role; this token is {self.role}")

    def can_read(self, dataset: DatasetRecord) -> bool:
        """Open: everyone. Partner: partners and up. Restricted: its owner, analysts, admins."""
        if self.scope.get("dataset") not in (None, dataset.name):
            return False
        if self.embed_view:
            return self.scope.get("dataset") == dataset.name
        if dataset.access == "open" or self.at_least("analyst"):
            return True
        if dataset.access == "partner":
            return self.at_least("partner")
        return self.partner is not None and self.partner == dataset.owner

    def can_write(self, dataset: DatasetRecord | None) -> bool:
        """Analysts and admins load anything; a partner loads into its own (or new) datasets."""
        if self.at_least("analyst"):
            return True
        if self.role != "partner":
            return False
        return dataset is None or dataset.owner == self.partner

    def check_read(self, dataset: DatasetRecord) -> None:
        if not self.can_read(dataset):
            if self.is_anonymous:
                raise Unauthorized(f"dataset {dataset.name!r} is not public: send a token")
            raise Forbidden(f"this token may not read dataset {dataset.name!r}")


ANONYMOUS = Principal()
#: The CLI runs on the server with the store's own credentials.
OPERATOR = Principal(id="cli", role="admin")
