"""The API opens its pool before the first request (api/warm_up.py)."""

from __future__ import annotations

from api.main import create_app
from config import Settings
from temporal_client import connect


async def test_every_pooled_connection_is_open_before_the_first_request(
    settings: Settings,
) -> None:
    sized = settings.model_copy(update={"db_pool_size": 4})
    app = create_app(sized, temporal_client=await connect(sized, lazy=True))
    async with app.router.lifespan_context(app):
        pool = app.state.engine.pool
        assert (pool.checkedin(), pool.checkedout()) == (4, 0)
