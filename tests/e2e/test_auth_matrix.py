"""Every route requires a key of an allowed role: 401 without or with an unknown key, 403 for
another role. The walk covers all routes, so a new route cannot forget its guard."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from api.auth import RequireRole
from api.main import create_app
from config import Role
from tests.helpers import api_routes, auth

PUBLIC = {"/healthz"}


def guarded_routes() -> list[tuple[str, str, frozenset[Role]]]:
    routes = []
    for route in api_routes(create_app().routes):
        if route.path in PUBLIC:
            continue
        guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, RequireRole)]
        assert len(guards) == 1, f"{route.path} has no role guard"
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
        for method in sorted(route.methods):
            routes.append((method, path, guards[0].roles))
    return routes


ROUTES = guarded_routes()


def test_the_walk_sees_the_routes() -> None:
    paths = {path.split("/")[2] for _, path, _ in ROUTES}
    assert {"customers", "contracts", "catalog", "admin"} <= paths


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES)
async def test_route_guard(
    api: httpx.AsyncClient, method: str, path: str, roles: frozenset[Role]
) -> None:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    missing = await api.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = await api.request(
        method, path, json=body, headers={"Authorization": "Bearer not-a-key"}
    )
    assert unknown.status_code == 401
    for role in Role:
        response = await api.request(method, path, json=body, headers=auth(role.value))
        if role in roles:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)


def test_openapi_shows_the_bearer_scheme() -> None:
    schema = create_app().openapi()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
