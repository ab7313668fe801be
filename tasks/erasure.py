"""Erasing one user (``recsys_maintenance``): one step per store, then a step that checks them all.

    forget_user(settings, request)             list the user's keyed hash: ingest drops them from now
    erase_feedback_stream(settings, request)   their entries in feedback:events
    erase_lake(settings, request)              their rows in every lake Parquet file, mentions in text
    erase_landing(settings, request)           their lines in the shop's exports (landing zone)
    erase_online_features(settings, request)   feat:v<N>:user:<id>, every kept version
    erase_recommendations(settings, request)   rec:v<N>:u:<variant>:<id>, and target-user lists
    verify_erasure(settings, request, *steps)  every store scanned again; fails naming what is left;
                                               writes the erasure record (maintenance/erasures)

The order matters where one store is made from another: the stream before the lake (the hourly
consume copies the stream into the lake), the lake before Redis (publishing copies the lake into
Redis). A run that raced such a copy finds the user again in ``verify``, which fails: run it
again. Every step only removes what is there, so a re-run after any failure completes the work,
and a re-run after success erases nothing and records zero counts.

Only the keyed hash of the id (``feature_store/service/privacy.py``) is logged, returned to
XCom or stored; a dry run counts what a real run would erase and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from feature_store import lake
from feature_store.erasure import files, redis_store
from feature_store.erasure.erased_users import add_erased_user, read_erased_users
from feature_store.erasure.user import ErasedUser, check_user_id
from recsys.errors import RecsysError
from recsys.settings import Settings, load_settings
from tasks.connections import redis_client

log = logging.getLogger(__name__)

ERASURES = "maintenance/erasures"
RECORD_SCHEMA = pa.schema(
    [
        ("user_hash", pa.string()),
        ("run_id", pa.string()),
        ("requested_at", pa.timestamp("us", tz="UTC")),
        ("verified_at", pa.timestamp("us", tz="UTC")),
        ("lake_rows", pa.int64()),
        ("lake_files", pa.int64()),
        ("lake_mentions", pa.int64()),
        ("landing_lines", pa.int64()),
        ("landing_files", pa.int64()),
        ("online_feature_keys", pa.int64()),
        ("recommendation_lists", pa.int64()),
        ("target_lists", pa.int64()),
        ("stream_entries", pa.int64()),
        ("by_dataset", pa.string()),  # JSON: rows (or mentions) per lake and landing dataset
        ("redis_persistence", pa.string()),
    ]
)


COUNTS = tuple(f.name for f in RECORD_SCHEMA if pa.types.is_integer(f.type))


class ErasureIncompleteError(RecsysError):
    """Something of the user is still stored after every erasure step: the message says where."""


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase, whether only to count, and which run asks (for the record)."""

    user_id: str
    dry_run: bool = False
    run_id: str = "manual"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], run_id: str) -> ErasureRequest:
        """From the DAG's params.

        Raises:
            InvalidUserIdError: ``user_id`` is missing or breaks the shop's id rule.
            ValueError: ``dry_run`` is not a boolean.
        """
        dry_run = params.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ValueError(f"param dry_run must be true or false, got {dry_run!r}")
        return cls(check_user_id(params.get("user_id")), dry_run, run_id)


def _outcome(store: str, user: ErasedUser, request: ErasureRequest, **facts: Any) -> dict[str, Any]:
    what = "would erase" if request.dry_run else "erased"
    log.info("%s: %s %s of user %s", store, what, facts, user.user_hash)
    return {"store": store, "user_hash": user.user_hash, "dry_run": request.dry_run, **facts}


def forget_user(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """Put the user's hash on the erased-users list first, so an ingest running meanwhile, or
    any later one, leaves out their events from before now."""
    user = ErasedUser.of(request.user_id, settings)
    now = datetime.now(UTC)
    before = read_erased_users(settings.lake_root).get(user.user_hash)
    if not request.dry_run:
        add_erased_user(settings.lake_root, user.user_hash, now)
    return _outcome(
        "erased_users",
        user,
        request,
        requested_at=now.isoformat(),
        listed_before=before.isoformat() if before else None,
    )


def erase_feedback_stream(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """The user's entries in the lookup service's feedback stream."""
    user = ErasedUser.of(request.user_id, settings)
    sweep = redis_store.sweep_feedback_stream(redis_client(settings), user, apply=not request.dry_run)
    return _outcome("feedback_stream", user, request, entries=sweep.entries)


def erase_lake(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """The user's rows in every Parquet file of the lake, and quoted mentions in its text files."""
    user = ErasedUser.of(request.user_id, settings)
    sweep = files.sweep_lake(settings.lake_root, user, apply=not request.dry_run)
    return _outcome("lake", user, request, **sweep.summary())


def erase_landing(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """The user's lines in the shop's exports kept in the landing zone."""
    user = ErasedUser.of(request.user_id, settings)
    sweep = files.sweep_landing(settings.landing_root, user, apply=not request.dry_run)
    return _outcome("landing", user, request, **sweep.summary())


def erase_online_features(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """The user's online features in every version Redis keeps."""
    user = ErasedUser.of(request.user_id, settings)
    sweep = redis_store.sweep_online_features(redis_client(settings), user, apply=not request.dry_run)
    return _outcome("online_features", user, request, **sweep.summary())


def erase_recommendations(settings: Settings, request: ErasureRequest) -> dict[str, Any]:
    """The user's published lists (every variant, every kept version) and target-user entries."""
    user = ErasedUser.of(request.user_id, settings)
    sweep = redis_store.sweep_recommendations(redis_client(settings), user, apply=not request.dry_run)
    return _outcome("recommendations", user, request, **sweep.summary())


def _redacted(place: str | bytes, user: ErasedUser) -> str:
    text = place.decode(errors="replace") if isinstance(place, bytes) else place
    return text.replace(user.user_id, "<user>")


@dataclass(frozen=True)
class Leftovers:
    """What a scan of every store found of the user."""

    found: dict[str, Any]  # per store: what was found (the counts a real run would erase)
    problems: list[str]  # one line per store holding something, the id shown as <user>
    unknown: list[str]  # of those, stores no step erases (Redis keys of no known family)


def scan_everything(settings: Settings, user: ErasedUser) -> Leftovers:
    """Every store scanned for the user, as verify does it."""
    client = redis_client(settings)
    lake_left = files.sweep_lake(settings.lake_root, user, apply=False)
    landing_left = files.sweep_landing(settings.landing_root, user, apply=False)
    features_left = redis_store.sweep_online_features(client, user, apply=False)
    lists_left = redis_store.sweep_recommendations(client, user, apply=False)
    stream_left = redis_store.sweep_feedback_stream(client, user, apply=False)
    unknown_keys = redis_store.unknown_keys_mentioning(client, user)
    found = {
        "lake": lake_left.summary(),
        "landing": landing_left.summary(),
        "online_features": features_left.summary(),
        "recommendations": lists_left.summary(),
        "feedback_stream": stream_left.summary(),
        "unknown_redis_keys": len(unknown_keys),
    }
    problems = []
    for name, sweep in (("lake", lake_left), ("landing", landing_left)):
        if sweep.rows or sweep.mentions:
            shown = ", ".join(_redacted(p, user) for p in sweep.places[:10])
            problems.append(f"{name}: {sweep.rows} rows and {sweep.mentions} mentions in {shown}")
    for name, left in (("online features", features_left), ("recommendations", lists_left)):
        if left.keys or left.lists_edited:
            problems.append(
                f"{name}: {left.keys} keys, {left.lists_edited} lists in versions {left.versions}"
            )
    if stream_left.entries:
        problems.append(f"feedback stream: {stream_left.entries} entries")
    unknown = []
    if unknown_keys:
        shown = ", ".join(_redacted(k, user) for k in unknown_keys[:10])
        unknown.append(f"redis keys of no known family mention the user: {shown}")
    return Leftovers(found, problems + unknown, unknown)


def verify_erasure(settings: Settings, request: ErasureRequest, *steps: Mapping[str, Any]) -> dict[str, Any]:
    """Scan every store again; fail naming what is left; else write the erasure record.

    ``steps``: the other steps' outcomes (their counts go into the record). In a dry run the
    scan's findings are the report of what a real run would erase, and nothing is written.

    Raises:
        ErasureIncompleteError: something of the user is still stored (the message says where,
            with the id shown as ``<user>``).
    """
    user = ErasedUser.of(request.user_id, settings)
    left = scan_everything(settings, user)
    if request.dry_run:
        log.info("dry run for user %s: a real run would erase %s", user.user_hash, left.found)
        return {
            "store": "verify",
            "user_hash": user.user_hash,
            "dry_run": True,
            "would_erase": left.found,
            "would_fail": left.unknown,  # what no step erases: a real run's verify would fail on it
        }
    if left.problems:
        raise ErasureIncompleteError(
            f"user {user.user_hash} is not erased: " + "; ".join(left.problems) + ". A publish, ingest "
            "or feedback run may have copied the user back meanwhile: trigger recsys_maintenance again; "
            "if it persists, a store the erasure does not know holds the user"
        )
    persistence = redis_store.compact_persistence(redis_client(settings))
    record = _record(user, request, steps, persistence)
    path = write_erasure_record(settings.lake_root, record)
    log.info("user %s erased; record %s; redis persistence %s", user.user_hash, path, persistence)
    return {
        "store": "verify",
        "user_hash": user.user_hash,
        "dry_run": False,
        "record": str(path),
        "redis_persistence": persistence,
        "counts": {name: record[name] for name in COUNTS},
    }


def _record(
    user: ErasedUser, request: ErasureRequest, steps: tuple[Mapping[str, Any], ...], persistence: str
) -> dict[str, Any]:
    by_store = {str(step["store"]): step for step in steps}

    def count(store: str, name: str) -> int:
        return int(by_store.get(store, {}).get(name, 0))

    requested = by_store.get("erased_users", {}).get("requested_at")
    datasets = {
        f"{store}:{name}": rows
        for store in ("lake", "landing")
        for name, rows in by_store.get(store, {}).get("by_dataset", {}).items()
    }
    now = datetime.now(UTC)
    return {
        "user_hash": user.user_hash,
        "run_id": request.run_id,
        "requested_at": datetime.fromisoformat(requested) if requested else now,
        "verified_at": now,
        "lake_rows": count("lake", "rows"),
        "lake_files": count("lake", "files_changed"),
        "lake_mentions": count("lake", "mentions"),
        "landing_lines": count("landing", "rows"),
        "landing_files": count("landing", "files_changed"),
        "online_feature_keys": count("online_features", "keys"),
        "recommendation_lists": count("recommendations", "keys"),
        "target_lists": count("recommendations", "lists_edited"),
        "stream_entries": count("feedback_stream", "entries"),
        "by_dataset": json.dumps(datasets, sort_keys=True),
        "redis_persistence": persistence,
    }


def write_erasure_record(root: Path, record: Mapping[str, Any]) -> Path:
    """Add ``record`` to ``maintenance/erasures/dt=<day verified>``; a record of the same run
    (a retried verify) is replaced, not repeated."""
    day = record["verified_at"].date()
    row = pa.Table.from_pylist([dict(record)], schema=RECORD_SCHEMA)
    if lake.has_partition(root, ERASURES, day):
        existing = lake.read_partition(root, ERASURES, day).cast(RECORD_SCHEMA)
        row = pa.concat_tables(
            [existing.filter(pc.not_equal(existing.column("run_id"), record["run_id"])), row]
        )
    return lake.write_partition(root, ERASURES, day, row, {"erasures": row.num_rows})


def read_erasure_records(root: Path) -> pa.Table:
    """Every erasure record, oldest day first."""
    tables = [
        lake.read_partition(root, ERASURES, day).cast(RECORD_SCHEMA)
        for day in lake.list_partitions(root, ERASURES)
    ]
    return pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "forget_user": forget_user,
    "erase_feedback_stream": erase_feedback_stream,
    "erase_lake": erase_lake,
    "erase_landing": erase_landing,
    "erase_online_features": erase_online_features,
    "erase_recommendations": erase_recommendations,
    "verify": verify_erasure,
}


def run_from_airflow(
    step: str, airflow_context: Mapping[str, Any], *steps: Mapping[str, Any]
) -> dict[str, Any]:
    """Inside a running task of ``recsys_maintenance``: the request from the run's params, then the step."""
    params = airflow_context.get("params") or {}
    request = ErasureRequest.from_params(params, str(airflow_context.get("run_id") or "manual"))
    return STEPS[step](load_settings(), request, *steps)
