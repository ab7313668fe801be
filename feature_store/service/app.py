"""The ASGI app: ``create_app(settings)`` wires the service; routes turn its answers into HTTP.

Run it with ``make serve`` (``python -m feature_store.service``), or under any ASGI server as
``uvicorn feature_store.service.app:create_app --factory``. Errors become status codes here
and nowhere else: 422 names the field and the problem, 404 an item the version does not
hold, 503 a service that cannot answer at all (nothing published, or Redis away since start).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the routes' signatures at run
# time, and they refer to ``k_query``, a local of create_app that a string could not name.

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feature_store.service.bandit import ColdStartBandit
from feature_store.service.breaker import BreakerState, CircuitBreaker
from feature_store.service.errors import (
    InvalidRequestError,
    ServiceUnavailableError,
    UnknownItemError,
    check_context,
    check_id,
)
from feature_store.service.experiments import parse_experiments
from feature_store.service.feedback import FeedbackSink
from feature_store.service.lookup import LookupService
from feature_store.service.metrics import ServiceMetrics
from feature_store.service.privacy import AuditLog, UserHasher, user_hash_key
from feature_store.service.schemas import (
    ErrorBody,
    FeedbackIn,
    FeedbackOut,
    Health,
    Problem,
    Ready,
    Recommendations,
    Similar,
)
from feature_store.service.store import NotPublishedError, OnlineStore, StoreUnavailableError, connect
from recsys.errors import SettingsError
from recsys.settings import Settings, load_settings

log = logging.getLogger(__name__)
access_log = logging.getLogger("feature_store.service.access")

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A field is wrong: the body names it and the problem."},
    503: {
        "model": ErrorBody,
        "description": "Nothing published yet, or Redis away since this worker started.",
    },
}


def _taxonomy_codes() -> tuple[frozenset[str], frozenset[str]]:
    from tagging.taxonomy import load_taxonomy

    tags = load_taxonomy().tags
    return frozenset(t.code for t in tags), frozenset(
        t.code for t in tags if t.dimension == "target_audience"
    )


class Timing:
    """ASGI middleware: latency histogram and request counter per route template, and an access log.

    The route *template* (``/v1/users/{user_id}/recommendations``) labels both, so neither
    metrics nor the access log ever hold a user id.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(route).observe(elapsed)
            self.metrics.requests.labels(route, str(status)).inc()
            access_log.info("%s %s %d %.2fms", scope["method"], route, status, elapsed * 1000)


def _error(status: int, error: str, message: str, problems: list[Problem] | None = None) -> JSONResponse:
    body = ErrorBody(error=error, message=message, problems=problems or [])
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _scalar(value: object) -> str | int | float | bool | None:
    """A rejected value to echo back; a whole body or list is not echoed."""
    return value if value is None or isinstance(value, str | int | float | bool) else None


def _add_error_handlers(app: FastAPI) -> None:
    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for e in exc.errors():
            location, *path = [str(p) for p in e["loc"]] or ["request"]
            problem = str(e["msg"]).removeprefix("Value error, ")
            field = ".".join(path) or location
            problems.append(
                Problem(field=field, location=location, problem=problem, value=_scalar(e.get("input")))
            )
        message = "; ".join(f"{p.field}: {p.problem}" for p in problems)
        return _error(422, "invalid_request", message, problems)

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidRequestError)
        found = Problem(field=exc.field, location=exc.location, problem=exc.problem, value=_scalar(exc.value))
        return _error(422, "invalid_request", str(exc), [found])

    async def unknown(request: Request, exc: Exception) -> Response:
        return _error(404, "unknown_item", str(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        return _error(503, "unavailable", str(exc))

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        name = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, name, str(exc.detail))

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(InvalidRequestError, problem)
    app.add_exception_handler(UnknownItemError, unknown)
    app.add_exception_handler(ServiceUnavailableError, unavailable)
    app.add_exception_handler(HTTPException, http)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The lookup service for ``settings`` (read from the environment when not given).

    Raises:
        SettingsError: an invalid service setting (experiments, k bounds, production key).
    """
    settings = settings or load_settings()
    if settings.service_default_k > settings.service_max_k:
        raise SettingsError(
            f"invalid settings: RECSYS_SERVICE_DEFAULT_K ({settings.service_default_k}) "
            f"is above RECSYS_SERVICE_MAX_K ({settings.service_max_k})"
        )
    experiments = parse_experiments(settings.service_experiments)
    hasher = UserHasher(user_hash_key(settings))
    tags, personas = _taxonomy_codes()
    metrics = ServiceMetrics()
    for experiment, variant in experiments.labels():  # every variant's series exists from the start
        metrics.impressions.labels(experiment, variant)
        metrics.clicks.labels(experiment, variant)

    def on_breaker(state: BreakerState) -> None:
        metrics.breaker_state.set(int(state))
        metrics.breaker_transitions.labels(state.name.lower()).inc()
        log.warning("redis: circuit breaker %s", state.name.lower())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The client belongs to the worker's event loop, so it is made here, not at import.
        client = connect(settings.redis_url, settings.service_redis_timeout_s)
        breaker = CircuitBreaker(
            settings.service_breaker_failures, settings.service_breaker_open_s, on_change=on_breaker
        )
        store = OnlineStore(
            client,
            breaker,
            settings.service_pointer_ttl_s,
            on_snapshot=lambda s: metrics.version.set(s.version),
        )
        bandit = ColdStartBandit(
            settings.service_bandit_policy,
            settings.service_bandit_epsilon,
            settings.service_bandit_half_life_hours * 3600.0,
            settings.service_bandit_refresh_s,
        )
        sink = FeedbackSink(store, bandit, settings.service_feedback_maxlen)
        audit = AuditLog(settings.service_audit_sample_rate)
        app.state.lookup = LookupService(store, experiments, bandit, sink, metrics, hasher, audit)
        try:
            await store.current()  # warm the snapshot; Redis being away now is not fatal
        except (StoreUnavailableError, NotPublishedError) as exc:
            log.warning("rec: no snapshot at start (%s); /readyz says why", exc)
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="electroshop-recsys lookup service",
        version="1",
        summary="Precomputed recommendations from Redis, A/B variants, cold start, feedback.",
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    app.add_middleware(Timing, metrics=metrics)

    def lookup(request: Request) -> LookupService:
        service: LookupService = request.app.state.lookup
        return service

    k_query = Query(
        ge=1, le=settings.service_max_k, description=f"Items wanted, 1..{settings.service_max_k}."
    )

    @app.get("/v1/users/{user_id}/recommendations", responses=ERRORS)
    async def recommendations(
        request: Request,
        user_id: Annotated[str, Path(description="The shop's user id.")],
        k: Annotated[int, k_query] = settings.service_default_k,
        context: Annotated[
            str | None, Query(description="category:<name>, tag:<code> or persona:<code>; steers cold start.")
        ] = None,
    ) -> Recommendations:
        """The user's recommendations: published list, else a cold-start choice, else the snapshot."""
        check_id("user_id", user_id, "path")
        return await lookup(request).recommend(user_id, k, check_context(context, tags, personas))

    @app.get("/v1/items/{item_id}/similar", responses={404: {"model": ErrorBody}, **ERRORS})
    async def similar(
        request: Request,
        item_id: Annotated[str, Path(description="The shop's item id.")],
        k: Annotated[int, k_query] = settings.service_default_k,
    ) -> Similar:
        """Items similar to an item (co-visitation and content neighbours)."""
        check_id("item_id", item_id, "path")
        return await lookup(request).similar(item_id, k)

    @app.post("/v1/feedback", status_code=202, responses=ERRORS)
    async def feedback(request: Request, body: FeedbackIn) -> FeedbackOut:
        """Report an impression, click, cart or purchase on an answer, with its request_id."""
        return await lookup(request).feedback(body)

    @app.get("/healthz")
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/readyz", responses={503: {"model": Ready}})
    async def readyz(request: Request) -> Response:
        """Readiness: Redis answers and a version is published."""
        ready = await lookup(request).ready()
        return JSONResponse(ready.model_dump(), status_code=200 if ready.ready else 503)

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics, text format."""
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
