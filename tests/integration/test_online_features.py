"""The online feature store and versioned keyspaces against a real redis-server."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
import redis

from feature_store.online import NAMESPACE, OnlineFeatureStore, entity_key
from feature_store.versioned import VersionedKeyspace, current_key, meta_key, parse_version

pytestmark = pytest.mark.integration


def tables(users: int, marker: float, items: int = 5) -> dict[str, pd.DataFrame]:
    user = pd.DataFrame(
        {
            "user_id": [f"U{i}" for i in range(users)],
            "clicks_7d": list(range(users)),
            "ctr_7d": [marker] * users,
            "recency_purchase_s": [float("nan")] * users,
        }
    )
    item = pd.DataFrame(
        {"item_id": [f"P{i}" for i in range(items)], "in_catalog": [True] * items, "ctr_1d": [marker] * items}
    )
    return {"user": user, "item": item}


def test_key_layout_is_pure() -> None:
    assert entity_key(7, "user", "U1") == "feat:v7:user:U1"
    assert current_key("rec") == "rec:current" and meta_key("rec", 3) == "rec:v3:meta"
    assert parse_version(b"v12") == 12 and parse_version(None) is None
    with pytest.raises(ValueError, match="malformed"):
        parse_version("12")


def test_publish_then_read_user_and_item(redis_url: str) -> None:
    store = OnlineFeatureStore(redis.Redis.from_url(redis_url))
    result = store.publish("2026-11-02", tables(3, 0.125))
    assert result.version == 1 and result.keys == 8
    assert store.user("U2") == {"clicks_7d": 2.0, "ctr_7d": 0.125}  # NaN recency: field absent
    assert store.item("P0") == {"in_catalog": 1.0, "ctr_1d": 0.125}
    assert store.user("U-unknown") is None


def test_versions_switch_atomically_are_pruned_and_roll_back(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = OnlineFeatureStore(client, keep_versions=2, pointer_ttl_s=0)
    for n, day in enumerate(["2026-11-02", "2026-11-03", "2026-11-04"], start=1):
        store.publish(day, tables(4, n / 10))
    assert store.current_version() == 3 and store.user("U1")["ctr_7d"] == pytest.approx(0.3)  # type: ignore[index]
    versions = VersionedKeyspace(client, NAMESPACE)
    assert versions.versions() == [2, 3]  # v1 pruned, keys and meta
    assert not list(client.scan_iter(match="feat:v1:*"))
    assert versions.rollback() == 2
    assert store.user("U1")["ctr_7d"] == pytest.approx(0.2)  # type: ignore[index]


def test_an_older_day_never_replaces_a_newer_one(redis_url: str) -> None:
    store = OnlineFeatureStore(redis.Redis.from_url(redis_url), pointer_ttl_s=0)
    store.publish("2026-11-05", tables(2, 0.5))
    skipped = store.publish("2026-11-01", tables(2, 0.1))
    assert skipped.version is None and "2026-11-05" in skipped.skipped
    assert store.user("U0")["ctr_7d"] == 0.5  # type: ignore[index]
    assert store.publish("2026-11-05", tables(2, 0.6)).version == 2  # a re-run of the same day publishes


def test_a_reader_polling_during_publishes_never_sees_a_mixed_version(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    writer = OnlineFeatureStore(client, pointer_ttl_s=0)
    writer.publish("2026-11-01", tables(2000, 1.0))
    seen: list[tuple[int | None, set[float]]] = []
    stop = threading.Event()

    def read() -> None:
        reader = OnlineFeatureStore(redis.Redis.from_url(redis_url), pointer_ttl_s=0)
        while not stop.is_set():
            version = reader.current_version()  # one request: one pointer read, then its keys
            values = set()
            for user in ("U0", "U999", "U1999"):
                row = reader.get("user", user, version)
                values.add(row["ctr_7d"] if row is not None else None)
            seen.append((version, values))

    thread = threading.Thread(target=read)
    thread.start()
    for n in range(2, 5):
        writer.publish(f"2026-11-0{n}", tables(2000, float(n)))
    time.sleep(0.05)
    stop.set()
    thread.join()
    assert len(seen) > 20
    for version, values in seen:
        assert values == {float(version)}, f"v{version}: saw {values}"  # type: ignore[arg-type]


def test_switch_refuses_an_incomplete_version(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    versions = VersionedKeyspace(client, "feat")
    v = versions.begin("2026-11-02")
    client.hset(f"feat:v{v}:user:U1", mapping={"x": "1"})
    with pytest.raises(RuntimeError, match="holds 1 keys, expected 2: not switching"):
        versions.switch(v, expected_keys=2)
    assert versions.current() is None
