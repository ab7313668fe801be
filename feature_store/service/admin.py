"""Admin endpoints of the lookup service: reset the cold-start bandit, replace the A/B experiments.

    POST   /v1/admin/bandit/reset[?context=]  the bandit's statistics: every bucket, or one context's
    GET    /v1/admin/experiments              the experiments this worker serves, their source, version
    PUT    /v1/admin/experiments              store a config (RECSYS_SERVICE_EXPERIMENTS' shape)
    DELETE /v1/admin/experiments              back to RECSYS_SERVICE_EXPERIMENTS
    POST   /v1/admin/experiments/reload       this worker re-reads the stored config now

Disabled (403) unless ``RECSYS_SERVICE_ADMIN_API_KEY`` is set; then each call needs the key as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (none: 401, a wrong one: 403). Each call
is counted and logged at INFO under the key's id (``key_id``), never the key.

A stored config is the Redis hash ``service:experiments``: ``config`` (the JSON; absent: the
settings' config), ``version`` (bumped by every PUT and DELETE), ``updated_at``, ``updated_by``.
Each worker reads it at start and then every ``service_pointer_ttl_s`` in a background task
(off the request path, like the rollup flush) and swaps its LookupService's experiments when the
version moved: all workers serve one config within that time. Docs: docs/service.md.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' signatures at run time, and
# their dependencies are made by a method of Admin, which a string annotation could not name.

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from feature_store.recommendations import user_key
from feature_store.service.bandit import KEY_PREFIX, RESET_LUA, context_bucket, stats_key
from feature_store.service.errors import InvalidRequestError, ServiceUnavailableError, check_context
from feature_store.service.experiments import CHAMPION, SETTING, Experiments, parse_experiments
from feature_store.service.lookup import LookupService
from feature_store.service.metrics import ServiceMetrics
from feature_store.service.schemas import ErrorBody, Problem
from feature_store.service.store import NotPublishedError, OnlineStore, StoreUnavailableError
from recsys.errors import SettingsError
from recsys.settings import Settings

log = logging.getLogger(__name__)

EXPERIMENTS_KEY = "service:experiments"
DISABLED = "admin endpoints are disabled: set RECSYS_SERVICE_ADMIN_API_KEY"
CHALLENGE = 'Bearer realm="recsys-admin"'
MIN_POLL_S = 0.1  # a pointer TTL of 0 (re-read at every request) must not make the poller spin
# SCAN in small slices (each a fraction of a millisecond of Redis), so serving is never blocked.
SCAN_COUNT = 1000
SCAN_CALLS = 200  # a variant's list is looked for among this many slices' keys at most
Source = Literal["settings", "redis"]

bearer = HTTPBearer(
    auto_error=False, scheme_name="AdminBearer", description="`Authorization: Bearer <admin API key>`"
)
api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="AdminApiKey", description="`X-API-Key: <admin API key>`"
)

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "No API key: send `Authorization: Bearer <key>` or `X-API-Key`.",
    },
    403: {"model": ErrorBody, "description": "A wrong key, or the admin endpoints are disabled."},
    503: {"model": ErrorBody, "description": "Redis cannot answer: the message says what may have happened."},
}
_VARIANT_SCHEMA = {
    "type": "object",
    "required": ["name", "share"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "reads": {"type": "string", "description": "First experiment only: the published list read."},
    },
}
_EXPERIMENT_SCHEMA = {
    "type": "object",
    "required": ["name", "salt", "variants"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "salt": {"type": "string", "minLength": 1},
        "variants": {"type": "array", "minItems": 1, "items": _VARIANT_SCHEMA},
    },
}


class AdminError(Exception):
    """An admin call refused: the status, error code and message of the service's error body."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        outcome: str,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.outcome = status, error, message, outcome
        self.problems = problems or []
        self.headers = headers


class BanditReset(BaseModel):
    buckets: list[str] = Field(description="The buckets reset: all, ctx:<context|none>.")
    cleared: int = Field(description="How many of them held statistics.")
    reset_at: float = Field(description="Unix time of the reset, each bucket's decay time `_t` from now on.")


class ExperimentsState(BaseModel):
    source: Source = Field(
        description="settings: RECSYS_SERVICE_EXPERIMENTS; redis: the config a PUT stored."
    )
    version: int | None = Field(description="The stored version this worker applied; null: none yet.")
    stored_version: int | None = Field(
        description="The version Redis holds now: equal once this worker is in step."
    )
    updated_at: float | None = Field(description="Unix time of the PUT or DELETE that made `version`.")
    updated_by: str | None = Field(description="The key id of that call.")
    experiments: list[dict[str, Any]] = Field(description="The config served, as RECSYS_SERVICE_EXPERIMENTS.")


@dataclass(frozen=True)
class Applied:
    """The config a worker serves, and where it came from."""

    source: Source
    version: int | None
    config: list[dict[str, Any]]
    updated_at: float | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class Stored:
    """What ``service:experiments`` holds (all None when it does not exist)."""

    version: int | None
    config: bytes | None
    updated_at: float | None
    updated_by: str | None


class Outcome:
    """What an admin action did, for its log line (set by the endpoint)."""

    summary = ""


def key_id(key: str) -> str:
    """A key as logs name it: 12 hex digits of its SHA-256 (a long random key cannot be guessed from it)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _digest(key: str) -> bytes:
    # Compared as digests: equal lengths, so compare_digest leaks not even the key's length.
    return hashlib.sha256(key.encode()).digest()


def _invalid(message: str) -> AdminError:
    problem = Problem(field="experiments", location="body", problem=message)
    return AdminError(400, "invalid_experiments", message, "invalid", [problem])


def config_of(body: bytes) -> list[dict[str, Any]]:
    """A PUT body as a config: a JSON list of objects (parse_experiments checks the rest)."""
    try:
        config = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise _invalid(f"the body is not JSON: {exc}") from None
    if not isinstance(config, list) or not all(isinstance(e, dict) for e in config):
        raise _invalid(f"the body must be a JSON list of experiment objects, as {SETTING}")
    return config


def experiments_of(config: list[dict[str, Any]]) -> Experiments:
    """``parse_experiments`` with its problem as a 400 (without the setting's name: this is a body)."""
    try:
        return parse_experiments(config)
    except SettingsError as exc:
        raise _invalid(str(exc).removeprefix(f"invalid settings: {SETTING}: ")) from None


@contextlib.contextmanager
def _redis(effect: str) -> Iterator[None]:
    """Redis trouble during an admin call: a 503 that says what may have happened."""
    try:
        yield
    except StoreUnavailableError as exc:
        raise ServiceUnavailableError(f"Redis cannot answer ({exc.reason}): {effect}") from exc
    except redis.RedisError as exc:
        raise ServiceUnavailableError(f"Redis refused ({type(exc).__name__}: {exc}): {effect}") from exc


async def _scan(store: OnlineStore, pattern: str, calls: int | None = None) -> list[bytes]:
    """Keys matching ``pattern``, SCANned in slices; with ``calls``, the first slice's match and
    no more than ``calls`` slices (to learn whether any key matches)."""
    found: list[bytes] = []
    cursor, made = 0, 0
    while True:
        pipe = store.client.pipeline(transaction=False)
        pipe.scan(cursor, match=pattern, count=SCAN_COUNT)
        ((cursor, keys),) = await store.execute(pipe)
        found += keys
        made += 1
        if cursor == 0 or (calls is not None and (found or made >= calls)):
            return found


async def read_stored(store: OnlineStore) -> Stored:
    """``service:experiments`` in one round trip through the breaker.

    Raises:
        StoreUnavailableError, redis.RedisError: Redis cannot answer.
    """
    pipe = store.client.pipeline(transaction=False)
    pipe.hmget(EXPERIMENTS_KEY, ["version", "config", "updated_at", "updated_by"])
    ((version, config, updated_at, updated_by),) = await store.execute(pipe)
    return Stored(
        int(version) if version is not None else None,
        config,
        float(updated_at) if updated_at is not None else None,
        updated_by.decode() if updated_by is not None else None,
    )


def _outcome(exc: Exception) -> str:
    if isinstance(exc, AdminError):
        return exc.outcome
    if isinstance(exc, InvalidRequestError):
        return "invalid"
    if isinstance(exc, ServiceUnavailableError):
        return "unavailable"
    return "error"


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminError)
    body = ErrorBody(error=exc.error, message=exc.message, problems=exc.problems)
    return JSONResponse(body.model_dump(), status_code=exc.status, headers=exc.headers)


def _service(request: Request) -> LookupService:
    service: LookupService = request.app.state.lookup
    return service


class Admin:
    """The admin endpoints of one app, and each worker's watch over the stored experiments."""

    def __init__(
        self,
        settings: Settings,
        experiments: Experiments,
        metrics: ServiceMetrics,
        tags: frozenset[str],
        personas: frozenset[str],
    ) -> None:
        key = settings.service_admin_api_key
        self._digest = _digest(key.get_secret_value()) if key is not None else None
        self._key_id = key_id(key.get_secret_value()) if key is not None else "-"
        self._defaults = experiments  # RECSYS_SERVICE_EXPERIMENTS, parsed by create_app
        self._default_config = settings.service_experiments
        self._every_s = max(settings.service_pointer_ttl_s, MIN_POLL_S)
        self.metrics = metrics
        self.tags, self.personas = tags, personas
        self.applied = Applied("settings", None, self._default_config)
        self._seen: int | None = None  # the stored version last looked at (applied, or invalid)
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    # -- wiring (create_app) ---------------------------------------------------------------

    def install(self, app: FastAPI) -> None:
        """Add the admin routes and their error handler to ``app``."""
        app.include_router(self.router())
        app.add_exception_handler(AdminError, _refused)

    async def start(self, service: LookupService) -> None:
        """At a worker's start: apply the stored config before serving, then watch it."""
        self._lock = asyncio.Lock()  # here: it belongs to the worker's event loop
        self.applied, self._seen = Applied("settings", None, self._default_config), None
        self.metrics.experiments_version.set(0)
        try:
            stored = await read_stored(service.store)
        except (StoreUnavailableError, redis.RedisError) as exc:
            log.warning(
                "admin: %s unread at start (%s): serving the settings' experiments", EXPERIMENTS_KEY, exc
            )
            stored = None
        if not self.enabled:
            if stored is not None and stored.config is not None:
                log.warning(
                    "admin: %s holds experiments v%s, ignored: the admin endpoints are disabled, so the "
                    "settings' experiments serve (set RECSYS_SERVICE_ADMIN_API_KEY to use it or delete it)",
                    EXPERIMENTS_KEY,
                    stored.version,
                )
            return
        if stored is not None:
            async with self._lock:
                self._take(service, stored)
        self._task = asyncio.create_task(self._watch(service))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- the stored experiments -------------------------------------------------------------

    async def _watch(self, service: LookupService) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.sync(service)
            except StoreUnavailableError:
                pass  # Redis away: the breaker logs it, the next look tries again
            except Exception:  # the watch must outlive any one bad answer, or reloads stop unseen
                log.exception("admin: reading %s failed", EXPERIMENTS_KEY)

    async def sync(self, service: LookupService, force: bool = False) -> Stored:
        """Apply the stored config if its version moved since the last look (or ``force``).

        Raises:
            StoreUnavailableError, redis.RedisError: Redis cannot answer; nothing changes.
            AdminError: (``force`` only) the stored config is invalid; the worker serves on.
        """
        assert self._lock is not None, "start() first"
        async with self._lock:  # with PUT and DELETE: an older read never replaces a newer config
            stored = await read_stored(service.store)
            if force or stored.version != self._seen:
                problem = self._take(service, stored)
                if problem is not None and force:
                    raise AdminError(409, "invalid_stored_config", problem, "conflict")
            return stored

    def _take(self, service: LookupService, stored: Stored) -> str | None:
        """Serve ``stored``'s config (the settings' when it holds none); the problem if it is invalid."""
        self._seen = stored.version
        if stored.config is None:
            applied = Applied(
                "settings", stored.version, self._default_config, stored.updated_at, stored.updated_by
            )
            self._apply(service, self._defaults, applied)
            return None
        try:
            config = config_of(stored.config)
            experiments = experiments_of(config)
        except AdminError as exc:  # written by hand, or by another release: keep serving what serves
            problem = (
                f"{EXPERIMENTS_KEY} v{stored.version} is invalid ({exc.message}); "
                f"still serving the {self.applied.source} experiments"
            )
            log.error("admin: %s", problem)
            return problem
        self._apply(
            service,
            experiments,
            Applied("redis", stored.version, config, stored.updated_at, stored.updated_by),
        )
        return None

    def _apply(self, service: LookupService, experiments: Experiments, applied: Applied) -> None:
        for experiment, variant in experiments.labels():  # every variant's series exists from the start
            self.metrics.impressions.labels(experiment, variant)
            self.metrics.clicks.labels(experiment, variant)
        # One attribute swap: a request reads service.experiments once, so it sees one config.
        service.experiments = experiments
        self.applied = applied
        self.metrics.experiments_version.set(applied.version or 0)
        names = ", ".join(f"{e}/{v}" for e, v in experiments.labels())
        log.info("admin: serving the %s experiments (stored v%s): %s", applied.source, applied.version, names)

    def _state(self, stored_version: int | None) -> ExperimentsState:
        applied = self.applied
        return ExperimentsState(
            source=applied.source,
            version=applied.version,
            stored_version=stored_version,
            updated_at=applied.updated_at,
            updated_by=applied.updated_by,
            experiments=applied.config,
        )

    async def _check_reads(self, store: OnlineStore, experiments: Experiments) -> None:
        """Every variant of the first experiment reads champion, an alias or a list of the serving version.

        The publication's meta names its aliases, not its lists: a list is looked for as its
        users' keys (``rec:v<N>:u:<reads>:*``), SCANned in slices until one is found.
        """
        try:
            snapshot = await store.current()
        except NotPublishedError as exc:
            message = f"{exc}: the variants' reads cannot be checked against a publication; publish first"
            raise AdminError(409, "not_published", message, "conflict") from exc
        known = {CHAMPION, *snapshot.aliases, *snapshot.aliases.values()}
        first = experiments.first
        for variant in first.variants:
            if variant.reads in known:
                continue
            pattern = user_key(snapshot.version, variant.reads, "*")  # names hold no glob characters
            if await _scan(store, pattern, calls=SCAN_CALLS):
                known.add(variant.reads)
                continue
            aliases = ", ".join(sorted(snapshot.aliases)) or "none"
            raise _invalid(
                f"experiment {first.name!r} variant {variant.name!r} reads {variant.reads!r}: the serving "
                f"version v{snapshot.version} holds no such list (no key {pattern}) and no alias of "
                f"that name (its aliases: {aliases}); it reads {CHAMPION!r} or a published list"
            )

    # -- the bandit ---------------------------------------------------------------------------

    async def _reset_bandit(self, service: LookupService, context: str | None) -> BanditReset:
        if context is None:  # every bucket Redis holds, and UCB1's even if it holds none
            keys: set[bytes] = {stats_key("all").encode()}
            with _redis("nothing was reset"):
                keys.update(await _scan(service.store, KEY_PREFIX + "*"))
        else:
            named = None if context == "none" else check_context(context, self.tags, self.personas)
            keys = {stats_key(context_bucket(named)).encode()}
        ordered, now = sorted(keys), time.time()
        pipe = service.store.client.pipeline(transaction=False)
        pipe.eval(RESET_LUA, len(ordered), *ordered, repr(now))
        with _redis("the reset may or may not have been made (all buckets or none): reset again"):
            (cleared,) = await service.store.execute(pipe)
        service.bandit.forget()  # this worker at once; the others within service_bandit_refresh_s
        buckets = [k.decode(errors="replace").removeprefix(KEY_PREFIX) for k in ordered]
        return BanditReset(buckets=buckets, cleared=int(cleared), reset_at=now)

    # -- auth, logs and metrics ---------------------------------------------------------------

    def _guard(self, action: str) -> Callable[..., Awaitable[str]]:
        """The dependency that lets ``action`` through with the right key; answers the key's id."""

        async def guard(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
            header: Annotated[str | None, Security(api_key)],
        ) -> str:
            presented = credentials.credentials if credentials is not None else header
            if self._digest is None:
                raise self._refuse(request, action, AdminError(403, "admin_disabled", DISABLED, "disabled"))
            if not presented:
                message = "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
                error = AdminError(
                    401, "unauthorized", message, "unauthorized", headers={"WWW-Authenticate": CHALLENGE}
                )
                raise self._refuse(request, action, error)
            if not hmac.compare_digest(_digest(presented), self._digest):
                raise self._refuse(
                    request, action, AdminError(403, "forbidden", "the API key is wrong", "forbidden")
                )
            return self._key_id

        return guard

    def _refuse(self, request: Request, action: str, error: AdminError) -> AdminError:
        client = request.client.host if request.client is not None else "-"
        level = logging.WARNING if error.outcome == "forbidden" else logging.INFO
        log.log(level, "admin: %s from %s refused: %s (%s)", action, client, error.outcome, error.message)
        self.metrics.admin_actions.labels(action, error.outcome).inc()
        return error

    @contextlib.contextmanager
    def _action(self, action: str, who: str) -> Iterator[Outcome]:
        """Count and log one authorised action: what it did, or why it failed."""
        outcome = Outcome()
        try:
            yield outcome
        except Exception as exc:
            result = _outcome(exc)
            log.info("admin: %s by key %s: %s (%s)", action, who, result, exc)
            self.metrics.admin_actions.labels(action, result).inc()
            raise
        log.info("admin: %s by key %s: ok (%s)", action, who, outcome.summary)
        self.metrics.admin_actions.labels(action, "ok").inc()

    # -- routes -------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=AUTH_ERRORS)
        body_errors: dict[int | str, dict[str, Any]] = {
            400: {"model": ErrorBody, "description": "The config is invalid: the message names the problem."},
            409: {
                "model": ErrorBody,
                "description": "Nothing is published, so the variants' reads cannot be checked.",
            },
        }
        put_body = {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "minItems": 1, "items": _EXPERIMENT_SCHEMA},
                        "example": self._default_config,
                    }
                },
            }
        }

        @router.post("/bandit/reset", responses={422: {"model": ErrorBody, "description": "A bad context."}})
        async def reset_bandit(
            request: Request,
            who: Annotated[str, Depends(self._guard("bandit_reset"))],
            context: Annotated[
                str | None,
                Query(
                    description="Only this context's bucket (category:/tag:/persona:, or none); default all."
                ),
            ] = None,
        ) -> BanditReset:
            """Reset the cold-start bandit's statistics: every arm untried, in one atomic script.

            A reset bucket keeps only its decay time, so the hourly restore (which rebuilds absent
            buckets from the lake) leaves it alone; workers read it within service_bandit_refresh_s.
            """
            with self._action("bandit_reset", who) as outcome:
                answer = await self._reset_bandit(_service(request), context)
                outcome.summary = f"{len(answer.buckets)} bucket(s) reset, {answer.cleared} held statistics"
                return answer

        @router.get("/experiments")
        async def get_experiments(
            request: Request, who: Annotated[str, Depends(self._guard("experiments_get"))]
        ) -> ExperimentsState:
            """The experiments this worker serves, their source and version, and the stored version."""
            with self._action("experiments_get", who) as outcome, _redis("the stored version is unknown"):
                stored = await read_stored(_service(request).store)
                outcome.summary = f"serving {self.applied.source} v{self.applied.version}"
                return self._state(stored.version)

        @router.put("/experiments", responses=body_errors, openapi_extra=put_body)
        async def put_experiments(
            request: Request, who: Annotated[str, Depends(self._guard("experiments_put"))]
        ) -> ExperimentsState:
            """Store a new config (the shape of RECSYS_SERVICE_EXPERIMENTS); every worker serves it
            within service_pointer_ttl_s, this one at once."""
            with self._action("experiments_put", who) as outcome:
                service = _service(request)
                config = config_of(await request.body())
                experiments = experiments_of(config)
                with _redis("nothing was stored"):
                    await self._check_reads(service.store, experiments)
                assert self._lock is not None
                async with self._lock:
                    now = time.time()
                    pipe = service.store.client.pipeline(transaction=True)
                    text = json.dumps(config, separators=(",", ":"))
                    pipe.hset(
                        EXPERIMENTS_KEY, mapping={"config": text, "updated_at": repr(now), "updated_by": who}
                    )
                    pipe.hincrby(EXPERIMENTS_KEY, "version", 1)
                    with _redis("the config may or may not be stored: GET /v1/admin/experiments to see"):
                        _, version = await service.store.execute(pipe)
                    self._seen = version
                    self._apply(service, experiments, Applied("redis", version, config, now, who))
                outcome.summary = f"stored v{version}: {', '.join(e.name for e in experiments.experiments)}"
                return self._state(version)

        @router.delete("/experiments")
        async def delete_experiments(
            request: Request, who: Annotated[str, Depends(self._guard("experiments_delete"))]
        ) -> ExperimentsState:
            """Drop the stored config: every worker serves RECSYS_SERVICE_EXPERIMENTS again."""
            with self._action("experiments_delete", who) as outcome:
                service = _service(request)
                assert self._lock is not None
                async with self._lock:
                    now = time.time()
                    pipe = service.store.client.pipeline(transaction=True)
                    pipe.hdel(EXPERIMENTS_KEY, "config")
                    pipe.hset(EXPERIMENTS_KEY, mapping={"updated_at": repr(now), "updated_by": who})
                    pipe.hincrby(EXPERIMENTS_KEY, "version", 1)
                    with _redis("the config may or may not be dropped: GET /v1/admin/experiments to see"):
                        *_, version = await service.store.execute(pipe)
                    self._seen = version
                    self._apply(
                        service, self._defaults, Applied("settings", version, self._default_config, now, who)
                    )
                outcome.summary = f"v{version}: the settings' experiments"
                return self._state(version)

        @router.post(
            "/experiments/reload",
            responses={409: {"model": ErrorBody, "description": "The stored config is invalid."}},
        )
        async def reload_experiments(
            request: Request, who: Annotated[str, Depends(self._guard("experiments_reload"))]
        ) -> ExperimentsState:
            """This worker re-reads the stored config now (the others do within service_pointer_ttl_s)."""
            with (
                self._action("experiments_reload", who) as outcome,
                _redis("this worker serves on unchanged"),
            ):
                stored = await self.sync(_service(request), force=True)
                outcome.summary = f"serving {self.applied.source} v{self.applied.version}"
                return self._state(stored.version)

        return router
