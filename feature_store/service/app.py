"""The ASGI app: ``create_app(settings)`` wires the service; routes turn its answers into HTTP.

Run it with ``make serve`` (``python -m feature_store.service``), or under any ASGI server as
``uvicorn feature_store.service.app:create_app --factory``. Errors become status codes here
and nowhere else: 422 names the field and the problem, 404 an item the version does not
hold, 503 a service that cannot answer at all (nothing published, or Redis away since start).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the routes' signatures at run
# time, and they refer to ``k_query``, a local of create_app that a string could not name.

import asyncio
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import unquote_plus

import redis
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feature_store.service.admin import Admin
from feature_store.service.bandit import ColdStartBandit
from feature_store.service.batching import ReadBatcher
from feature_store.service.breaker import BreakerState, CircuitBreaker
from feature_store.service.codec import answer_json, to_json
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
from feature_store.service.rollup import HourlyRollup
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
JSON, JSON_BYTES = "application/json", b"application/json"

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A field is wrong: the body names it and the problem."},
    503: {
        "model": ErrorBody,
        "description": "Nothing published yet, or Redis away since this worker started.",
    },
}


def _tune_gc() -> tuple[int, int, int]:
    """Tune the cyclic garbage collector for serving; returns the thresholds to restore.

    What the worker holds at start (its imports, the app, the snapshot: ~130k objects) lives as
    long as it does, yet every full collection traversed it again: under load one every second
    or so, 40 ms each (a p99 spike) and 8 µs per request. Frozen, it is left out; and young
    collections, triggered every 700 container allocations (a few dozen requests), run every
    20,000. Measured in a worker under wrk: collections from 12 to 2 µs per request.
    """
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, threshold[1], threshold[2])
    return threshold


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
            record(self.metrics, scope, status, time.perf_counter() - started)


def record(metrics: ServiceMetrics, scope: Scope, status: int, elapsed: float) -> None:
    """A request's latency and count under its route template, and its access log line."""
    route = getattr(scope.get("route"), "path", "unmatched")
    metrics.latency_of(route).observe(elapsed)
    metrics.requests_of(route, str(status)).inc()
    if access_log.isEnabledFor(logging.INFO):
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


def plain_query(raw: bytes, k: int, max_k: int) -> tuple[int, str | None] | None:
    """``k`` and ``context`` of a plain query string, or None for one FastAPI must parse.

    Plain: names without escapes, ``k`` a decimal in 1..``max_k`` with no leading zero (``k``
    when absent). As in FastAPI, other names are ignored, the last of a repeated name counts,
    and ``context`` is unescaped as Starlette does (``parse_qsl`` of the latin-1 text).
    """
    context = None
    if raw:
        for pair in raw.split(b"&"):
            name, _, value = pair.partition(b"=")
            if name == b"k":
                if not (value.isdigit() and len(value) <= 4 and value[0] != 0x30):  # 0x30: "0"
                    return None
                k = int(value)
                if k > max_k:
                    return None
            elif name == b"context":
                context = unquote_plus(value.decode("latin-1"))
            elif b"%" in name or b"+" in name:  # might spell k or context
                return None
    return k, context


class FastLane:
    """ASGI middleware: one route's plain requests answered without FastAPI's per-request work.

    For each request FastAPI validates the parameters through pydantic and makes a Request, exit
    stacks and a response object, and the router tries the routes in turn: together more CPU
    than the lookup itself. A GET (the route's method) whose path ``route`` matches and whose query
    ``plain_query`` understands, which a valid request of a shop's client almost always is,
    goes straight to ``answer`` (the endpoint's own checks and logic, the same bytes), with the
    route and path parameters put in the scope as the router would. Its errors go to the app's
    exception handlers, as ExceptionMiddleware would send them, and it is timed, counted and
    logged as Timing does (``record``), which it sits in front of. Any other request takes the
    usual way through Timing and FastAPI, so an unusual or invalid query gets FastAPI's parsing
    and 422 body.
    """

    def __init__(
        self,
        app: ASGIApp,
        route: APIRoute,
        answer: Callable[[dict[str, Any], int, str | None], Awaitable[bytes]],
        default_k: int,
        max_k: int,
        handlers: Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]],
        metrics: ServiceMetrics,
    ) -> None:
        self.app = app
        self.route = route
        self.answer = answer
        self.default_k, self.max_k = default_k, max_k
        self.handlers = handlers
        self.metrics = metrics
        self._answered = metrics.latency_of(route.path), metrics.requests_of(route.path, "200")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, route = time.perf_counter(), self.route
        match = query = None
        if scope["type"] == "http" and scope["method"] in route.methods and not scope.get("root_path"):
            match = route.path_regex.match(scope["path"])
            if match is not None:
                query = plain_query(scope["query_string"], self.default_k, self.max_k)
        if match is None or query is None:
            await self.app(scope, receive, send)
            return
        status = 500
        params = {n: route.param_convertors[n].convert(v) for n, v in match.groupdict().items()}
        scope.update(route=route, endpoint=route.endpoint, path_params=params)
        try:
            try:
                body = await self.answer(params, *query)
            except Exception as exc:
                handler = next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)
                if handler is None:  # not an error of the service's: ServerErrorMiddleware's 500
                    raise
                made = handler(Request(scope, receive), exc)
                response = await made if inspect.isawaitable(made) else made
                status = response.status_code
                await response(scope, receive, send)
                return
            headers = [(b"content-length", str(len(body)).encode()), (b"content-type", JSON_BYTES)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            status = 200  # as Timing has it: the status once the response has started
            await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            if status == 200 and not access_log.isEnabledFor(logging.INFO):  # record(), its children known
                latency, count = self._answered
                latency.observe(elapsed)
                count.inc()
            else:
                record(self.metrics, scope, status, elapsed)


async def _send_rollup(store: OnlineStore, rollup: HourlyRollup) -> None:
    """One HINCRBY round trip of the worker's pending hourly counts; kept for later if it fails."""
    pipe = store.client.pipeline(transaction=False)
    taken = rollup.queue(pipe)
    if not taken:
        return
    try:
        await store.execute(pipe)
    except (StoreUnavailableError, redis.RedisError):
        rollup.restore(taken)


async def _flush_rollup(store: OnlineStore, rollup: HourlyRollup, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await _send_rollup(store, rollup)


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
    admin = Admin(settings, experiments, metrics, tags, personas)

    def on_breaker(state: BreakerState) -> None:
        metrics.breaker_state.set(int(state))
        metrics.breaker_transitions.labels(state.name.lower()).inc()
        log.warning("redis: circuit breaker %s", state.name.lower())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The client belongs to the worker's event loop, so it is made here, not at import.
        client = connect(settings)
        breaker = CircuitBreaker(
            settings.service_breaker_failures, settings.service_breaker_open_s, on_change=on_breaker
        )
        store = OnlineStore(
            client,
            breaker,
            settings.service_pointer_ttl_s,
            settings.service_redis_timeout_s,
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
        rollup = HourlyRollup()
        reads = ReadBatcher(store, settings.service_read_batch, on_batch=metrics.read_batches.observe)
        app.state.lookup = LookupService(
            store, experiments, bandit, sink, metrics, hasher, audit, rollup, reads
        )
        try:
            await store.current()  # warm the snapshot; Redis being away now is not fatal
        except (StoreUnavailableError, NotPublishedError) as exc:
            log.warning("rec: no snapshot at start (%s); /readyz says why", exc)
        await admin.start(app.state.lookup)  # a stored experiments config, before the first request
        threshold = _tune_gc()
        flushing = asyncio.create_task(_flush_rollup(store, rollup, settings.service_rollup_flush_s))
        try:
            yield
        finally:
            flushing.cancel()
            await admin.stop()
            await _send_rollup(store, rollup)  # the last counts of this worker
            gc.unfreeze()
            gc.set_threshold(*threshold)
            await client.aclose()

    app = FastAPI(
        title="electroshop-recsys lookup service",
        version="1",
        summary="Precomputed recommendations from Redis, A/B variants, cold start, feedback.",
        lifespan=lifespan,
    )
    _add_error_handlers(app)

    def lookup(request: Request) -> LookupService:
        service: LookupService = request.app.state.lookup
        return service

    k_query = Query(
        ge=1, le=settings.service_max_k, description=f"Items wanted, 1..{settings.service_max_k}."
    )

    # Answers are dicts in the models' shape, encoded once (codec.py); the models still declare
    # the responses in the OpenAPI document.
    @app.get("/v1/users/{user_id}/recommendations", response_model=Recommendations, responses=ERRORS)
    async def recommendations(
        request: Request,
        user_id: Annotated[str, Path(description="The shop's user id.")],
        k: Annotated[int, k_query] = settings.service_default_k,
        context: Annotated[
            str | None, Query(description="category:<name>, tag:<code> or persona:<code>; steers cold start.")
        ] = None,
    ) -> Response:
        """The user's recommendations: published list, else a cold-start choice, else the snapshot."""
        return Response(await recommendations_json({"user_id": user_id}, k, context), media_type=JSON)

    async def recommendations_json(path: dict[str, Any], k: int, context: str | None) -> bytes:
        user_id = check_id("user_id", path["user_id"], "path")
        service: LookupService = app.state.lookup
        return answer_json(await service.recommend(user_id, k, check_context(context, tags, personas)))

    @app.get(
        "/v1/items/{item_id}/similar",
        response_model=Similar,
        responses={404: {"model": ErrorBody}, **ERRORS},
    )
    async def similar(
        request: Request,
        item_id: Annotated[str, Path(description="The shop's item id.")],
        k: Annotated[int, k_query] = settings.service_default_k,
    ) -> Response:
        """Items similar to an item (co-visitation and content neighbours)."""
        check_id("item_id", item_id, "path")
        return Response(to_json(await lookup(request).similar(item_id, k)), media_type=JSON)

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

    admin.install(app)  # after the service's routes, which the router then tries first

    # The last added is the outermost: the fast lane in front of Timing, times its own answers.
    app.add_middleware(Timing, metrics=metrics)
    (route,) = [r for r in app.routes if isinstance(r, APIRoute) and r.endpoint is recommendations]
    app.add_middleware(
        FastLane,
        route=route,
        answer=recommendations_json,
        default_k=settings.service_default_k,
        max_k=settings.service_max_k,
        # As ExceptionMiddleware takes them: Exception (and 500) belong to ServerErrorMiddleware.
        handlers={c: h for c, h in app.exception_handlers.items() if c not in (500, Exception)},
        metrics=metrics,
    )
    return app
