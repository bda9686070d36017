"""Every route's handler and dependencies are coroutines: FastAPI runs a plain ``def`` in
its thread pool, a hand-off per request and call (and a thread holding the GIL) for what
is mostly a field read. The walk covers all routes, so a new one cannot slip in."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant

from api.main import create_app
from tests.helpers import api_routes


def runs_on_the_event_loop(call: Any) -> bool:
    if inspect.isclass(call):
        return False  # instantiated by a plain __init__, in the thread pool
    function = call if inspect.isroutine(call) else type(call).__call__
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from calls(dependency)


def test_no_route_hands_work_to_the_thread_pool() -> None:
    routes = list(api_routes(create_app().routes))
    assert len(routes) > 20  # the walk sees the routes
    in_threads = sorted(
        f"{route.path}: {getattr(call, '__qualname__', type(call).__qualname__)}"
        for route in routes
        for call in [route.endpoint, *calls(route.dependant)]
        if not runs_on_the_event_loop(call)
    )
    assert in_threads == []
