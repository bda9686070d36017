"""API keys with roles: ``Authorization: Bearer <key>``.

401 when the key is missing or unknown, 403 when its role may not call the route.
``admin`` may call every route. Keys are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config import Role, Settings

bearer_scheme = HTTPBearer(auto_error=False, description="API key of a role")


@dataclass(frozen=True)
class Principal:
    """Who calls: the role and a short fingerprint of the key (for audit trails, never the key)."""

    role: Role
    key_fingerprint: str

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.key_fingerprint}"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def identify(presented: str, settings: Settings) -> Principal | None:
    """The principal whose key matches; every configured key is compared (no early exit)."""
    presented_digest = _digest(presented)
    found: Principal | None = None
    for role, keys in settings.api_keys().items():
        for key in keys:
            if hmac.compare_digest(presented_digest, _digest(key.get_secret_value())):
                found = Principal(role, presented_digest.hex()[:12])
    return found


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


class RequireRole:
    """Route dependency admitting the given roles (and admin)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles) | {Role.ADMIN}

    async def __call__(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthorized("missing API key (Authorization: Bearer <key>)")
        principal = identify(credentials.credentials, request.app.state.settings)
        if principal is None:
            raise _unauthorized("unknown API key")
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(role.value for role in self.roles))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role.value} may not call this route (allowed: {allowed})",
            )
        return principal
