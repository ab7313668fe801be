"""The serving benchmark's baseline: a minimal Starlette app that only GETs one Redis key per request.

    GET /u/{user_id}  ->  the raw value of rec:v<N>:u:champion:<user_id> (N from BASELINE_VERSION)

Run by ``bench.serve`` under uvicorn with the same worker count as the lookup service, so the
ratio between the two is what the service's own work costs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app() -> Starlette:
    url = os.environ["BASELINE_REDIS_URL"]
    version = int(os.environ.get("BASELINE_VERSION", "1"))
    state: dict[str, aioredis.Redis] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["client"] = aioredis.Redis.from_url(url)
        yield
        await state["client"].aclose()

    async def user(request: Request) -> Response:
        value = await state["client"].get(f"rec:v{version}:u:champion:{request.path_params['user_id']}")
        if value is None:
            return Response(status_code=404)
        return Response(value, media_type="application/octet-stream")

    return Starlette(routes=[Route("/u/{user_id}", user)], lifespan=lifespan)
