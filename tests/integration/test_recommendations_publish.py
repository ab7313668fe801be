"""Publishing precomputed recommendations to a real redis-server, and reading them back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis

from feature_store.recommendations import (
    ALIASES_FIELD,
    CHANNELS,
    STAGES,
    PublishError,
    PublishLockedError,
    PublishReport,
    Recommendation,
    RecommendationReader,
    VerificationError,
    _RawConnection,
    decode_aliases,
    encode_user_list,
    lock_key,
    publish_recommendations,
    rollback,
    user_key,
)
from feature_store.versioned import VersionedKeyspace, meta_key
from tests.support import ROOT

pytestmark = pytest.mark.integration


def user_lists(
    users: int, per_user: int, tag: int, variants: tuple[str, ...] = ("champion",)
) -> pd.DataFrame:
    """Lists whose every row says which publish it came from: items ``<tag>-P..``, scores tag + x."""
    rng = np.random.default_rng(tag)
    rows = users * per_user * len(variants)
    return pd.DataFrame(
        {
            "variant": np.repeat(variants, users * per_user),
            "user_id": np.tile(np.repeat([f"U{u}" for u in range(users)], per_user), len(variants)),
            "rank": np.tile(np.arange(1, per_user + 1), users * len(variants)),
            "item_id": [f"{tag}-P{i}" for i in rng.integers(0, 500, rows)],
            "score": tag + rng.random(rows),
            "channel": rng.choice(CHANNELS, rows),
            "stage": rng.choice(STAGES, rows),
        }
    )


def item_lists(tag: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["similar", "similar", "segment", "segment", "segment"],
            "key": [f"{tag}-P1", f"{tag}-P1", "global", "global", "category:phones"],
            "rank": [1, 2, 1, 2, 1],
            "item_id": [f"{tag}-P2", f"{tag}-P3", f"{tag}-P4", f"{tag}-P5", f"{tag}-P6"],
            "score": [0.9, 0.8, 5.0, 4.0, 3.0],
        }
    )


def target_users(tag: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"{tag}-N1"] * 3,
            "rank": [1, 2, 3],
            "user_id": ["U2", "U0", "U1"],
            "score": [0.7, 0.6, 0.5],
        }
    )


def expected_lists(frame: pd.DataFrame) -> dict[tuple[str, str], list[Recommendation]]:
    """The source as a reader should return it (scores are stored as float32)."""
    out: dict[tuple[str, str], list[Recommendation]] = {}
    ordered = frame.sort_values(["variant", "user_id", "rank"])
    for (variant, user), rows in ordered.groupby(["variant", "user_id"], sort=False):
        out[(str(variant), str(user))] = [
            Recommendation(item, float(np.float32(score)), channel, stage)
            for item, score, channel, stage in rows[["item_id", "score", "channel", "stage"]].itertuples(
                index=False, name=None
            )
        ]
    return out


def publish(
    client: redis.Redis, tag: int, users: pd.DataFrame | list[pd.DataFrame], **options: object
) -> PublishReport:
    settings: dict[str, object] = {"keep": 3, "batch_size": 100, "verify_sample": 50, "seed": tag}
    settings.update(options)
    return publish_recommendations(
        client,
        f"2026-11-{tag:02d}",
        users,
        item_lists(tag),
        target_users(tag),
        **settings,  # type: ignore[arg-type]
    )


def version_keys(client: redis.Redis, version: int) -> list[bytes]:
    return list(client.scan_iter(match=f"rec:v{version}:*", count=1000))


def test_every_published_list_reads_back_as_the_source(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    frame = user_lists(users=120, per_user=9, tag=1, variants=("champion", "challenger"))
    shuffled = frame.iloc[1080:].sample(frac=1.0, random_state=3)  # a shard out of order
    report = publish(client, 1, [frame.iloc[:1080], shuffled], verify_sample=10_000)

    assert report.version == 1 and report.users == 240 and (report.similar, report.segments) == (1, 2)
    assert report.targets == 1 and report.keys == 240 + 1 + 2 + 1 + 1  # + the item dictionary
    assert report.bytes_per_user_list == 1 + 9 * 9 and report.swap_ms < 50 and report.keys_per_s > 0
    reader = RecommendationReader(client)
    assert reader.current_version() == 1
    for (variant, user), recommendations in expected_lists(frame).items():
        assert reader.user(variant, user) == recommendations, (variant, user)
    assert reader.user("champion", "U-unknown") is None
    assert reader.similar("1-P1") == [("1-P2", pytest.approx(0.9)), ("1-P3", pytest.approx(0.8))]
    assert reader.segment("global", k=1) == [("1-P4", 5.0)]
    assert reader.segment("category:phones") == [("1-P6", 3.0)]
    assert reader.target_users("1-N1", k=2) == [("U2", pytest.approx(0.7)), ("U0", pytest.approx(0.6))]
    assert reader.similar("nothing") == [] and reader.target_users("nothing", 5) == []
    meta = {k.decode(): v.decode() for k, v in client.hgetall(meta_key("rec", 1)).items()}
    assert meta["state"] == "complete" and meta["dt"] == "2026-11-01" and meta["user"] == "240"


def test_readers_during_a_publish_see_one_whole_version_then_only_the_new_one(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    old, new = user_lists(800, 10, tag=1), user_lists(800, 10, tag=2)
    publish(client, 1, old)
    expected = {1: expected_lists(old), 2: expected_lists(new)}
    users = [("champion", f"U{u}") for u in range(800)]
    reads: list[tuple[float, int]] = []  # (when the read began, whose list it returned)
    problems: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        reader = RecommendationReader(redis.Redis.from_url(redis_url), pointer_ttl_s=0)
        n = 0
        while not stop.is_set():
            variant, user = users[(n * 7919) % len(users)]
            n += 1
            began = time.monotonic()
            found = reader.user(variant, user)
            whose = [tag for tag in (1, 2) if found == expected[tag][(variant, user)]]
            if not whose:
                problems.append(
                    f"{user}: {'missing' if found is None else found[:2]} is neither v1's nor v2's"
                )
            reads.append((began, whose[0] if whose else 0))

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.05)
    publish(client, 2, new)
    switched = time.monotonic()
    time.sleep(0.1)
    stop.set()
    thread.join()
    assert not problems, problems[:5]
    assert {tag for _, tag in reads} == {1, 2}, "the reader should have seen both versions"
    assert all(tag == 2 for began, tag in reads if began > switched)
    first_new = min(i for i, (_, tag) in enumerate(reads) if tag == 2)
    assert all(tag == 2 for _, tag in reads[first_new:]), "once v2 is seen, v1 never comes back"


CHILD = """
import sys
import numpy as np
import pandas as pd
import redis
from feature_store.recommendations import CHANNELS, STAGES, publish_recommendations

users, per_user = 30_000, 30
rows = users * per_user
rng = np.random.default_rng(5)
frame = pd.DataFrame({
    "variant": "champion",
    "user_id": np.repeat([f"U{u}" for u in range(users)], per_user),
    "rank": np.tile(np.arange(1, per_user + 1), users),
    "item_id": [f"2-P{i}" for i in rng.integers(0, 500, rows)],
    "score": 2 + rng.random(rows),
    "channel": rng.choice(CHANNELS, rows),
    "stage": rng.choice(STAGES, rows),
})
shards = [frame.iloc[i : i + 3000 * per_user] for i in range(0, rows, 3000 * per_user)]
print("ready", flush=True)
publish_recommendations(redis.Redis.from_url(sys.argv[1]), "2026-11-02", shards, None, None,
                        keep=3, batch_size=50, verify_sample=10, lock_ttl_s=1.0)
print("finished", flush=True)
"""


def test_a_publish_killed_half_way_leaves_the_old_version_and_is_cleaned_up(
    redis_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    old = user_lists(200, 10, tag=1)
    publish(client, 1, old)
    before = int(client.dbsize())
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(script), redis_url], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = client.hget(meta_key("rec", 2), "state")
            if state == b"writing" and client.dbsize() > before + 2000:
                break
            assert child.poll() is None, "the child finished before it could be killed: give it more data"
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert client.hget(meta_key("rec", 2), "state") == b"writing", "killed after the switch: not half-way"
    written = len(version_keys(client, 2))
    assert 2000 < written < 30_000, f"{written} keys of v2: not half-way"

    reader = RecommendationReader(client, pointer_ttl_s=0)
    assert reader.current_version() == 1
    assert reader.user("champion", "U7") == expected_lists(old)[("champion", "U7")]

    with pytest.raises(PublishLockedError, match="another publish holds rec:lock"):
        publish(client, 3, user_lists(200, 10, tag=3))  # the dead child's lock has not expired yet
    report = publish(client, 3, user_lists(200, 10, tag=3), lock_wait_s=5.0)
    assert report.abandoned == (2,) and report.version == 3  # the refused attempt took no version
    assert version_keys(client, 2) == []
    assert reader.user("champion", "U7") == expected_lists(user_lists(200, 10, tag=3))[("champion", "U7")]


def test_rollback_is_one_set_and_readers_follow_after_their_pointer_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first, second = user_lists(50, 5, tag=1), user_lists(50, 5, tag=2)
    publish(client, 1, first)
    publish(client, 2, second)
    reader = RecommendationReader(client, pointer_ttl_s=0.2)
    assert reader.user("champion", "U3") == expected_lists(second)[("champion", "U3")]

    client.config_resetstat()
    assert rollback(client) == 1
    stats = client.info("commandstats")
    writes = {
        name: s["calls"]
        for name, s in stats.items()
        if name.split("_", 1)[1] in {"set", "hset", "del", "unlink"}
    }
    assert writes == {"cmdstat_set": 1}, writes
    assert reader.user("champion", "U3") == expected_lists(second)[("champion", "U3")]  # cached pointer
    time.sleep(0.25)
    assert reader.current_version() == 1
    assert reader.user("champion", "U3") == expected_lists(first)[("champion", "U3")]
    assert reader.similar("1-P1")[0][0] == "1-P2"


def test_a_reader_whose_version_vanishes_under_it_looks_up_the_pointer_again(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    publish(client, 1, user_lists(10, 3, tag=1))
    reader = RecommendationReader(client, pointer_ttl_s=60)
    assert reader.current_version() == 1  # cached for a minute, its dictionary not yet read
    second = user_lists(10, 3, tag=2)
    publish(client, 2, second)
    client.delete("rec:v1:items")  # v1 half pruned between the reader's two GETs
    assert reader.user("champion", "U4") == expected_lists(second)[("champion", "U4")]
    assert reader.current_version() == 2


def test_only_keep_complete_versions_remain(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    reports = [publish(client, tag, user_lists(30, 4, tag=tag), keep=2) for tag in range(1, 5)]
    assert [r.pruned for r in reports] == [(), (), (1,), (2,)]
    assert VersionedKeyspace(client, "rec").versions() == [3, 4]
    assert version_keys(client, 1) == [] and version_keys(client, 2) == []
    assert (
        RecommendationReader(client).user("champion", "U0")
        == expected_lists(user_lists(30, 4, tag=4))[("champion", "U0")]
    )


def tamper_score(client: redis.Redis, version: int) -> None:
    client.set(
        user_key(version, "champion", "U3"), encode_user_list([0, 1, 2, 3], [9.0, 0, 0, 0], [0] * 4, [0] * 4)
    )


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (tamper_score, r"rec:v2:u:champion:U3 at rank 1: item_id is '2-P\d+', the source has '2-P\d+'|score"),
        (lambda c, v: c.delete(user_key(v, "champion", "U3")), "holds 39 user keys, 40 were written"),
        (lambda c, v: c.set(f"rec:v{v}:u:champion:ghost", b"\x01"), "holds 41 user keys, 40 were written"),
        (
            lambda c, v: c.set(f"rec:v{v}:seg:global", b"\x02"),
            r"rec:v2:seg:global holds 0 entries, the source has 2",
        ),
        (
            lambda c, v: c.set(f"rec:v{v}:items", b"\x04P"),
            r"rec:v2:items differs from the dictionary written",
        ),
    ],
    ids=["changed-list", "lost-key", "extra-key", "emptied-segment", "wrong-dictionary"],
)
def test_a_verification_failure_raises_and_the_previous_version_keeps_serving(
    redis_url: str, tamper: object, message: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    first = user_lists(40, 4, tag=1)
    publish(client, 1, first)
    with pytest.raises(VerificationError, match=message) as raised:
        publish(
            client, 2, user_lists(40, 4, tag=2), verify_sample=10_000, after_write=lambda v: tamper(client, v)
        )  # type: ignore[operator]
    assert "v2 is not switched (left in state writing); v1 keeps serving" in str(raised.value)
    reader = RecommendationReader(client, pointer_ttl_s=0)
    assert reader.current_version() == 1
    assert reader.user("champion", "U3") == expected_lists(first)[("champion", "U3")]
    assert client.get(lock_key()) is None, "the lock is released after a failure"
    report = publish(client, 3, user_lists(40, 4, tag=3))
    assert report.abandoned == (2,) and version_keys(client, 2) == []


def test_a_held_lock_refuses_a_second_publish_before_it_writes(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set(lock_key(), "other-host:42:abc", px=60_000)
    with pytest.raises(
        PublishLockedError, match=r"another publish holds rec:lock \(token b'other-host:42:abc'"
    ):
        publish(client, 1, user_lists(5, 2, tag=1))
    assert client.get("rec:seq") is None and client.get(lock_key()) == b"other-host:42:abc"


def test_a_failing_input_generator_leaves_debris_that_the_next_publish_deletes(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    publish(client, 1, user_lists(20, 3, tag=1))

    def shards() -> Iterator[pd.DataFrame]:
        yield user_lists(20, 3, tag=2)
        raise RuntimeError("shard 2 of candidate generation is unreadable")

    with pytest.raises(RuntimeError, match="shard 2 of candidate generation is unreadable"):
        publish(client, 2, shards())  # type: ignore[arg-type]
    assert RecommendationReader(client).current_version() == 1
    assert client.hget(meta_key("rec", 2), "state") == b"writing" and client.get(lock_key()) is None
    assert publish(client, 3, user_lists(20, 3, tag=3)).abandoned == (2,)


def test_a_refused_set_names_its_key(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.config_set("maxmemory-policy", "noeviction")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used + 200_000)
    try:
        with pytest.raises(
            PublishError, match=r"SET rec:v1:u:champion:U\d+ failed: b.-OOM command not allowed"
        ):
            publish(client, 1, user_lists(2000, 30, tag=1))
    finally:
        client.config_set("maxmemory", 0)
    assert RecommendationReader(client).current_version() is None


class _OwnConnection(redis.Connection):
    """A connection class the publisher does not know: it must fall back to redis-py's sockets."""


def test_password_database_and_redis_py_fallback_connections_publish_the_same(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    frame = user_lists(30, 4, tag=1)
    port = admin.connection_pool.connection_kwargs["port"]
    fallback = redis.Redis(
        connection_pool=redis.ConnectionPool(port=port, db=1, connection_class=_OwnConnection)
    )
    assert _RawConnection.open(fallback) is None
    publish(fallback, 1, frame)
    assert RecommendationReader(fallback).user("champion", "U1") == expected_lists(frame)[("champion", "U1")]
    admin.config_set("requirepass", "s3cret")
    try:
        secured = redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/2")
        publish(secured, 1, frame)
        assert (
            RecommendationReader(secured).user("champion", "U2") == expected_lists(frame)[("champion", "U2")]
        )
        assert secured.dbsize() == fallback.dbsize() > 30
        with pytest.raises(redis.AuthenticationError):
            publish(redis.Redis.from_url(f"redis://:wrong@127.0.0.1:{port}/3"), 1, frame)
    finally:
        redis.Redis(port=port, password="s3cret").config_set("requirepass", "")


def test_aliases_are_kept_in_the_meta_and_must_name_a_published_list(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    lists = user_lists(3, 5, tag=1)
    report = publish(client, 1, lists, aliases={"tags": "champion"})
    assert decode_aliases(client.hget(meta_key("rec", report.version), ALIASES_FIELD)) == {"tags": "champion"}
    with pytest.raises(
        ValueError, match=r"aliases \{'tags': 'baseline'\} name lists this publication does not"
    ):
        publish(client, 2, lists, aliases={"tags": "baseline"})
    assert client.get("rec:current") == f"v{report.version}".encode()  # the failed publish switched nothing
