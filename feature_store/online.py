"""The online feature store: the latest user and item features, one Redis hash per entity.

    feat:v<N>:user:<user_id>   hash  feature name -> value (as text)
    feat:v<N>:item:<item_id>   hash  likewise

Publishing writes a complete new version and switches ``feat:current`` in one command
(see ``feature_store.versioned``); a publish for an older day than the one serving is
skipped, so an out-of-order backfill never rolls the online store back in time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import redis

from feature_store.versioned import VersionedKeyspace, parse_version, version_prefix, write_batches

log = logging.getLogger(__name__)

NAMESPACE = "feat"
ENTITIES = {"user": "user_id", "item": "item_id"}


def entity_key(version: int, entity: str, entity_id: str) -> str:
    """``feat:v<N>:<entity>:<id>``."""
    return f"{version_prefix(NAMESPACE, version)}{entity}:{entity_id}"


def _encode(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None  # absent field = no value (e.g. no purchase in 30 days)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return format(float(value), ".7g")  # type: ignore[arg-type]


def _rows(version: int, entity: str, frame: pd.DataFrame) -> Iterator[tuple[str, dict[str, str]]]:
    key = ENTITIES[entity]
    columns = [c for c in frame.columns if c != key]
    for record in frame[[key, *columns]].itertuples(index=False, name=None):
        mapping = {
            c: text for c, v in zip(columns, record[1:], strict=True) if (text := _encode(v)) is not None
        }
        yield entity_key(version, entity, str(record[0])), mapping or {"_": "0"}


@dataclass(frozen=True)
class PublishResult:
    version: int | None
    keys: int
    seconds: float
    skipped: str = ""


class OnlineFeatureStore:
    """Write (publish) and read the online user and item features."""

    def __init__(self, client: redis.Redis, keep_versions: int = 2, pointer_ttl_s: float = 1.0) -> None:
        self.client = client
        self.versions = VersionedKeyspace(client, NAMESPACE, keep=keep_versions)
        self._pointer_ttl_s = pointer_ttl_s
        self._pointer: tuple[float, int | None] = (-math.inf, None)

    def publish(self, dt: str, features: dict[str, pd.DataFrame]) -> PublishResult:
        """Publish the user and item tables of partition ``dt`` as a new version."""
        started = time.perf_counter()
        reason = self.versions.serves_later_than(dt)
        if reason is not None:
            log.info("online features: skipped, %s", reason)
            return PublishResult(None, 0, time.perf_counter() - started, skipped=reason)
        version = self.versions.begin(dt)
        written = 0
        for entity in ENTITIES:
            written += write_batches(self.client, _rows(version, entity, features[entity]))
        self.versions.switch(version, written)
        self.versions.prune()
        return PublishResult(version, written, time.perf_counter() - started)

    def current_version(self) -> int | None:
        """The serving version, cached for ``pointer_ttl_s`` seconds."""
        fetched_at, version = self._pointer
        if time.monotonic() - fetched_at > self._pointer_ttl_s:
            version = parse_version(self.client.get(f"{NAMESPACE}:current"))
            self._pointer = (time.monotonic(), version)
        return version

    def get(self, entity: str, entity_id: str, version: int | None = None) -> dict[str, float] | None:
        """One entity's features in the serving (or the given) version, or ``None`` if it has none."""
        version = version if version is not None else self.current_version()
        if version is None:
            return None
        raw = self.client.hgetall(entity_key(version, entity, entity_id))
        if not raw:
            return None
        fields = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
        fields.pop("_", None)  # the placeholder of an entity whose every value is empty
        return fields

    def user(self, user_id: str) -> dict[str, float] | None:
        return self.get("user", user_id)

    def item(self, item_id: str) -> dict[str, float] | None:
        return self.get("item", item_id)
