"""recsys_maintenance end to end: a user present in every store is erased, and nothing of them is left.

The tiny shop's eight days (copied, so the session's lake stays as built) with a quarantined
line of the user; online features and recommendations published twice into a real redis-server
(every kept version must be cleaned); feedback sent through the lookup service, consumed into
the lake. The proofs scan bytes and values independently of the erasure code: every Parquet
file's string columns, the raw bytes of every file under the lake and landing roots, every Redis
key's name and value of whatever type, stream entries included.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import redis
from airflow.sdk.exceptions import ParamValidationError

from feature_store import lake
from feature_store.erasure import files
from feature_store.erasure.erased_users import add_erased_user
from feature_store.erasure.user import ErasedUser, InvalidUserIdError
from feature_store.online import OnlineFeatureStore
from feature_store.recommendations import RecommendationReader, publish_recommendations
from feature_store.service.app import create_app
from feature_store.service.feedback import STREAM
from feature_store.service.privacy import DEVELOPMENT_USER_HASH_KEY, UserHasher
from recsys.settings import Settings, load_settings
from tasks import erasure, feedback
from tasks.context import RunContext
from tasks.features import publish_online_features
from tasks.ingest.events import ingest_events
from tasks.pipeline import ingest_day
from tasks.shop_export import land_shop_export
from tests.support import load_dag_module

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 in TestClient; httpx still works
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

FIRST, DAY = date(2026, 11, 1), date(2026, 11, 8)  # the tiny lake's days
HASH = UserHasher(DEVELOPMENT_USER_HASH_KEY)


@dataclass
class Shop:
    settings: Settings
    client: Any  # a binary redis.Redis (replies are bytes)
    user: str  # the user to erase: in every store
    other: str  # a user who must keep everything


# -- independent scans -----------------------------------------------------------------------


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if p.is_file())


def rows_mentioning(path: Path, needle: str) -> tuple[int, int]:
    """(rows, rows with ``needle`` inside any string column) of one Parquet file."""
    table = pq.read_table(path)
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for column, kind in zip(table.columns, table.schema.types, strict=True):
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            mask = pc.or_(mask, pc.fill_null(pc.match_substring(column, needle), False))
    return table.num_rows, int(pc.sum(mask).as_py() or 0)


def files_mentioning(root: Path, needle: str) -> list[str]:
    """Files under ``root`` whose raw bytes, or (Parquet) whose string values, hold ``needle``."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
        elif path.suffix == ".parquet" and rows_mentioning(path, needle)[1]:
            found.append(f"{path.relative_to(root)} (values)")
    return found


def redis_mentioning(client: Any, needle: str) -> list[str]:
    """Keys whose name, or any stored byte string (of any type, stream entries too), holds ``needle``."""
    raw, found = needle.encode(), []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [x for pair in client.hgetall(key).items() for x in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [
                x for eid, fields in client.xrange(key) for x in (eid, *fields.keys(), *fields.values())
            ]
        else:
            raise AssertionError(f"key {key!r} of unexpected type {kind}")
        if raw in key or any(raw in bytes(v) for v in values):
            found.append(key.decode(errors="replace"))
    return found


def digests(*roots: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(conf: dict[str, object]) -> tuple[str, dict[str, str]]:
    dag = load_dag_module("recsys_maintenance").maintenance_dag
    run = dag.test(run_conf=conf)
    return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


# -- the shop --------------------------------------------------------------------------------


def _pick_users(root: Path) -> tuple[str, str]:
    """The user with events on the most days (and on DAY), and the next one."""
    days: dict[str, int] = {}
    for day in lake.list_partitions(root, "events"):
        for user in set(lake.read_partition(root, "events", day, columns=["user_id"])["user_id"].to_pylist()):
            days[user] = days.get(user, 0) + 1
    on_day = set(lake.read_partition(root, "events", DAY, columns=["user_id"])["user_id"].to_pylist())
    ranked = sorted((u for u in days if u in on_day), key=lambda u: (-days[u], u))
    return ranked[0], ranked[1]


def _quarantine_lines(settings: Settings, users: list[str]) -> None:
    """A bad line of each user in an export of the third day, ingested again (→ quarantine/events)."""
    day = FIRST + timedelta(days=2)
    path = sorted((settings.landing_root / "events" / f"dt={day}").glob("*.jsonl"))[-1]
    lines = [
        json.dumps(
            {
                "event_id": f"E-bad-{n}",
                "event_time": f"{day}T23:00:00Z",
                "user_id": user,
                "session_id": "S-bad",
                "item_id": "P-bad",
                "event_type": "like",
                "price": 1.0,
                "device": "app",
                "placement": "home",
                "position": 0,
            }
        )
        for n, user in enumerate(users)
    ]
    with open(path, "a") as out:
        out.write("\n".join(lines) + "\n")
    ingest_events(RunContext(day, settings))


def _publish_lists(settings: Settings, client: redis.Redis, users: list[str], items: list[str]) -> None:
    """Two published versions: champion lists of every user, tags lists of some, target users."""
    rows = [
        {
            "variant": variant,
            "user_id": user,
            "rank": r + 1,
            "item_id": item,
            "score": 10.0 - r,
            "channel": "faiss",
            "stage": "fine",
        }
        for n, user in enumerate(users)
        for variant in (["champion", "tags"] if n < 5 else ["champion"])
        for r, item in enumerate(items[n % 7 : n % 7 + 5])
    ]
    frame = pd.DataFrame(rows)
    targets = pd.DataFrame(
        {
            "item_id": [items[0]] * 3 + [items[1]] * 2,
            "rank": [1, 2, 3, 1, 2],
            "user_id": [users[3], users[0], users[1], users[0], users[2]],
            "score": [0.9, 0.8, 0.7, 0.9, 0.5],
        }
    )
    lists = pd.DataFrame({"kind": "segment", "key": "global", "rank": range(1, 21), "item_id": items[:20],
                          "score": [float(20 - r) for r in range(20)]})  # fmt: skip
    root = settings.lake_root
    lake.write_partition(root, "recommendations/users/shard=000", DAY, pa.Table.from_pandas(frame))
    lake.write_partition(root, "serving/target_users", DAY, pa.Table.from_pandas(targets))
    lake.write_partition(root, "serving/lists", DAY, pa.Table.from_pandas(lists))
    for _ in range(2):
        publish_recommendations(
            client, DAY.isoformat(), frame, lists, targets, keep=3, batch_size=200, verify_sample=20
        )


def _send_feedback(settings: Settings, users: list[str]) -> None:
    """Impressions and clicks through the lookup service (POST /v1/feedback), then consumed into the lake."""
    with TestClient(create_app(settings)) as api:
        for user in users:
            answer = api.get(f"/v1/users/{user}/recommendations", params={"k": 3}).json()
            rid, item = answer["request_id"], answer["items"][0]["item_id"]
            for event in ({"event": "impression"}, {"event": "click", "item_id": item}):
                out = api.post("/v1/feedback", json={"request_id": rid, "user_id": user, **event})
                assert out.status_code == 202 and not out.json()["queued"], out.text
    client: Any = redis.Redis.from_url(settings.redis_url)
    hours = {int(entry_id.split(b"-")[0]) // 3_600_000 for entry_id, _ in client.xrange(STREAM)}
    for hour in sorted(hours):
        label = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H")
        feedback.consume_feedback(RunContext(DAY, settings), label)


@pytest.fixture
def shop(
    tiny_shop_lake: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shop]:
    for name in ("lake", "landing"):
        shutil.copytree(tiny_shop_lake / name, tmp_path / name)
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("RECSYS_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("RECSYS_SIM_SCALE", "tiny")
    monkeypatch.setenv("RECSYS_SIM_SEED", "7")
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    settings = load_settings()
    client = redis.Redis.from_url(redis_url)
    user, other = _pick_users(settings.lake_root)
    _quarantine_lines(settings, [user, other])
    for day in (DAY - timedelta(days=1), DAY):  # two kept versions of the online features
        publish_online_features(RunContext(day, settings))
    users = [other, user] + [
        u for u in lake.read_partition(settings.lake_root, "features/user", DAY)["user_id"].to_pylist()
        if u not in (user, other)
    ]  # fmt: skip
    items = lake.read_partition(settings.lake_root, "catalog", DAY, columns=["item_id"])[
        "item_id"
    ].to_pylist()
    _publish_lists(settings, client, users, items)
    _send_feedback(settings, [user, other, "NEW-1"])  # NEW-1: a cold start, so the bandit learns too
    docs = settings.lake_root / "docs" / "validation" / "events" / f"dt={DAY}" / "result.json"
    docs.parent.mkdir(parents=True, exist_ok=True)  # data docs of a failed gate list sample values
    docs.write_text(json.dumps({"partial_unexpected_list": [user, other], "element_count": 7}))
    yield Shop(settings, client, user, other)


# -- the tests -------------------------------------------------------------------------------


def test_a_user_is_erased_from_every_store_and_nothing_of_them_remains(airflow_db: Path, shop: Shop) -> None:
    settings, client, user, other = shop.settings, shop.client, shop.user, shop.other
    lake_root, landing_root = settings.lake_root, settings.landing_root
    # The user really is everywhere before.
    everywhere = files_mentioning(lake_root, user)
    for dataset in ("events/", "quarantine/events/", "features/user/", "feature_partials/user/",
                    "feature_state/30d/user/", "recommendations/users/", "serving/target_users/",
                    "feedback/events/", "docs/validation/"):  # fmt: skip
        assert any(f.startswith(dataset) for f in everywhere), dataset
    assert files_mentioning(landing_root, user)
    in_redis = redis_mentioning(client, user)
    assert {"feat:v1:user:" + user, "feat:v2:user:" + user, STREAM} <= set(in_redis)
    assert {f"rec:v{v}:u:{variant}:{user}" for v in (1, 2) for variant in ("champion", "tags")} <= set(
        in_redis
    )
    before = {p: rows_mentioning(p, user) for p in parquet_files(lake_root)}
    user_entries = sum(f[b"user_id"] == user.encode() for _, f in client.xrange(STREAM))
    stream_before = client.xinfo_stream(STREAM)
    reader = RecommendationReader(client, pointer_ttl_s=0.0)
    other_list = reader.user("champion", other)
    other_features = [OnlineFeatureStore(client).get("user", other, version=v) for v in (1, 2)]
    assert other_list and all(other_features)

    # A dry run counts and changes nothing.
    untouched, keys = digests(lake_root, landing_root), sorted(client.scan_iter())
    assert _run({"user_id": user, "dry_run": True})[0] == "success"
    assert digests(lake_root, landing_root) == untouched and sorted(client.scan_iter()) == keys

    state, tasks = _run({"user_id": user, "dry_run": False})
    assert state == "success", tasks

    # Nothing of the user is left: lake, landing, Redis.
    assert files_mentioning(lake_root, user) == []
    assert files_mentioning(landing_root, user) == []
    assert redis_mentioning(client, user) == []
    # Everyone else's rows are intact: each file lost exactly the user's rows.
    for path, (rows, mine) in before.items():
        assert pq.read_metadata(path).num_rows == rows - mine, path
        meta = path.parent / "_meta.json"
        if mine and meta.exists() and "rows" in json.loads(meta.read_text()):
            assert json.loads(meta.read_text())["rows"] == rows - mine, meta
    assert files_mentioning(lake_root, other) and redis_mentioning(client, other)
    assert reader.user("champion", user) is None
    assert list(client.scan_iter(match="bandit:cold_start:*"))  # sums over everyone are left
    assert reader.user("champion", other) == other_list
    assert [OnlineFeatureStore(client).get("user", other, version=v) for v in (1, 2)] == other_features
    targets = lake.read_partition(lake_root, "serving/target_users", DAY).to_pandas().sort_values("rank")
    for item, expected in targets.groupby("item_id")["user_id"]:  # Redis holds what the erased lake holds
        assert [u for u, _ in reader.target_users(str(item))] == expected.tolist()
    stream_after = client.xinfo_stream(STREAM)
    assert stream_after["length"] == stream_before["length"] - user_entries
    # The deletion is no loss: recsys_feedback's feedback_lost rule reads this mark.
    assert stream_after["max-deleted-entry-id"] in (stream_before["max-deleted-entry-id"], b"0-1")
    result = json.loads((lake_root / "docs/validation/events" / f"dt={DAY}" / "result.json").read_text())
    assert result["partial_unexpected_list"] == ["[erased]", other]

    # The record: the keyed hash, never the id, and what was erased where.
    records = erasure.read_erasure_records(lake_root).to_pylist()
    assert len(records) == 1
    record = records[0]
    assert record["user_hash"] == HASH(user) and user not in json.dumps(record, default=str)
    assert record["lake_rows"] == sum(mine for _, mine in before.values())
    assert record["stream_entries"] == user_entries == 2  # an impression and a click
    # Two kept versions of each: features; champion and tags lists; one item's target users.
    assert (record["online_feature_keys"], record["recommendation_lists"], record["target_lists"]) == (
        2,
        4,
        2,
    )
    assert record["lake_mentions"] == 1  # the data docs' sample value
    assert record["landing_lines"] > 0 and record["landing_files"] > 0

    # Running it again is a no-op success, recorded with zero counts.
    assert _run({"user_id": user, "dry_run": False})[0] == "success"
    again = erasure.read_erasure_records(lake_root).to_pylist()
    assert len(again) == 2 and all(again[-1][name] == 0 for name in erasure.COUNTS)

    # Later ingests leave the user out, though the simulated shop writes their events again.
    ctx = RunContext(DAY, settings)
    land_shop_export(ctx)
    assert files_mentioning(landing_root / "events" / f"dt={DAY}", user)
    ingest_events(ctx)
    assert not rows_mentioning(lake.partition_dir(lake_root, "events", DAY) / lake.DATA_FILE, user)[1]
    ingest_day(RunContext(DAY + timedelta(days=1), settings))  # the windows roll on from erased states
    assert files_mentioning(landing_root / "events" / f"dt={DAY + timedelta(days=1)}", user)
    assert files_mentioning(lake_root, user) == []


def test_a_user_id_param_that_breaks_the_id_rule_is_refused(airflow_db: Path, shop: Shop) -> None:
    with pytest.raises(ParamValidationError, match="user_id"):
        _run({"user_id": "U1 U2", "dry_run": False})
    with pytest.raises(ParamValidationError, match="user_id"):
        _run({"user_id": "", "dry_run": False})
    with pytest.raises(InvalidUserIdError, match=r"not a shop user id: it must be 1-128 characters"):
        erasure.ErasureRequest.from_params({"user_id": "U1\tU2"}, "manual")
    assert erasure.read_erasure_records(shop.settings.lake_root).num_rows == 0


def test_a_user_the_shop_never_had_completes_with_zero_counts(airflow_db: Path, shop: Shop) -> None:
    keys = sorted(shop.client.scan_iter())
    assert _run({"user_id": "U-nobody-0000", "dry_run": False})[0] == "success"
    [record] = erasure.read_erasure_records(shop.settings.lake_root).to_pylist()
    assert record["user_hash"] == HASH("U-nobody-0000")
    assert all(record[name] == 0 for name in erasure.COUNTS)
    assert sorted(shop.client.scan_iter()) == keys


def test_verify_fails_naming_the_store_that_still_holds_the_user(
    airflow_db: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("RECSYS_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    frame = pd.DataFrame(
        {
            "variant": "champion",
            "user_id": ["U1", "U1", "U2"],
            "rank": [1, 2, 1],
            "item_id": ["P1", "P2", "P1"],
            "score": [2.0, 1.0, 1.0],
            "channel": "faiss",
            "stage": "fine",
        }
    )
    publish_recommendations(client, "2026-11-08", frame, None, None, keep=2, batch_size=10, verify_sample=2)
    # A step that leaves the user's list in place (as a publish racing the erasure would).
    monkeypatch.setitem(erasure.STEPS, "erase_recommendations", lambda settings, request: {"store": "none"})
    dag = load_dag_module("recsys_maintenance").maintenance_dag
    for task in dag.tasks:
        task.retries = 0  # dag.test would wait out the retries
    run = dag.test(run_conf={"user_id": "U1", "dry_run": False})
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed" and tasks.pop("verify") == "failed"
    assert set(tasks.values()) == {"success"}
    assert client.exists("rec:v1:u:champion:U1")  # left as it was, and no record claims otherwise
    assert erasure.read_erasure_records(tmp_path / "lake").num_rows == 0
    with pytest.raises(erasure.ErasureIncompleteError, match=r"recommendations: 1 keys.*versions \[1\]"):
        erasure.verify_erasure(load_settings(), erasure.ErasureRequest("U1"))


def test_a_lake_erasure_cut_off_midway_is_completed_by_the_next_run(
    tiny_shop_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(tiny_shop_lake / "lake", tmp_path / "lake")
    settings = load_settings(lake_root=tmp_path / "lake", landing_root=tmp_path / "landing")
    user, _ = _pick_users(settings.lake_root)
    before = {p: rows_mentioning(p, user) for p in parquet_files(settings.lake_root)}
    write, calls = files._atomic_write, []

    def crash_on_the_fifth(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 5:
            raise OSError("disk full (simulated)")
        write(path, data)

    monkeypatch.setattr(files, "_atomic_write", crash_on_the_fifth)
    request = erasure.ErasureRequest(user)
    with pytest.raises(OSError, match="simulated"):
        erasure.erase_lake(settings, request)
    monkeypatch.setattr(files, "_atomic_write", write)
    finished = erasure.erase_lake(settings, request)
    assert 0 < finished["rows"] < sum(mine for _, mine in before.values())  # only what was left
    assert files_mentioning(settings.lake_root, user) == []
    assert all(pq.read_metadata(p).num_rows == rows - mine for p, (rows, mine) in before.items())
    assert not [p for p in settings.lake_root.rglob("*") if ".erasure-" in p.name]  # no half-written file
    assert erasure.erase_lake(settings, request)["rows"] == 0


def test_landing_exports_lose_exactly_the_users_lines_in_every_format(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "events" / "dt=2026-11-05"
    folder.mkdir(parents=True)
    mine = '{"event_id":"E1","user_id":"U7","item_id":"P1"}'
    others = [
        '{"event_id":"E2","user_id":"U77","item_id":"P1"}',
        '{"event_id":"E3","user_id":"U8","session_id":"U7"}',
    ]
    broken = '{"event_id":"E4","user_id":"U7","item_id":'  # a truncated line of the user
    (folder / "a.jsonl").write_text("\n".join([mine, *others, broken]) + "\n")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join([others[0], mine]) + "\n").encode()))
    csv_text = 'event_id,user_id,item_id\r\nE5,U7,P1\r\nE6,"U8",U7\r\nE7,"U7",P2\r\n'
    (folder / "c.csv").write_text(csv_text, newline="")
    catalog = tmp_path / "landing" / "catalog" / "dt=2026-11-05"
    catalog.mkdir(parents=True)
    (catalog / "catalog.csv").write_text("item_id,title\nU7,a product whose id looks like the user\n")
    user = ErasedUser("U7", HASH("U7"))

    untouched = digests(tmp_path / "landing")
    dry = files.sweep_landing(tmp_path / "landing", user, apply=False)
    assert (dry.rows, dry.files_changed) == (5, 3)  # two in a.jsonl (one broken), one in b, two in c
    assert digests(tmp_path / "landing") == untouched  # a dry run changes nothing
    assert files.sweep_landing(tmp_path / "landing", user, apply=True).rows == 5
    assert (folder / "a.jsonl").read_text() == "\n".join(others) + "\n"
    assert gzip.decompress((folder / "b.jsonl.gz").read_bytes()).decode() == others[0] + "\n"
    assert (folder / "c.csv").read_bytes() == b'event_id,user_id,item_id\r\nE6,"U8",U7\r\n'
    assert "U7" in (catalog / "catalog.csv").read_text()  # no user_id column: nothing of a user
    assert files.sweep_landing(tmp_path / "landing", user, apply=True).rows == 0


def test_ingest_leaves_out_an_erased_users_events_from_before_the_erasure_only(tmp_path: Path) -> None:
    settings = load_settings(lake_root=tmp_path / "lake", landing_root=tmp_path / "landing")
    day = date(2026, 11, 5)
    lake.write_partition(settings.lake_root, "catalog", day, pa.table({"item_id": ["P1"]}))
    erased_at = datetime(2026, 11, 5, 12, tzinfo=UTC)
    add_erased_user(settings.lake_root, HASH("U7"), erased_at)

    def event(n: int, user: str, hour: int, kind: str = "view") -> str:
        fields = {"event_id": f"E{n}", "event_time": f"{day}T{hour:02d}:00:00Z", "user_id": user}
        rest = {"session_id": "S1", "item_id": "P1", "event_type": kind, "price": 10.0, "position": 0}
        return json.dumps(fields | rest | {"device": "app", "placement": "home"})

    lines = [event(1, "U7", 10), event(2, "U7", 14), event(3, "U8", 10), event(4, "U8", 11, "like"),
             event(5, "U7", 9, "like"), '{"event_id":"E6","user_id":"U7","event_time":']  # fmt: skip
    folder = settings.landing_root / "events" / f"dt={day}"
    folder.mkdir(parents=True)
    (folder / "events-00.jsonl").write_text("\n".join(lines) + "\n")

    report = ingest_events(RunContext(day, settings))
    events = lake.read_partition(settings.lake_root, "events", day).to_pandas()
    assert sorted(zip(events["user_id"], events["event_id"], strict=True)) == [("U7", "E2"), ("U8", "E3")]
    quarantine = lake.read_partition(settings.lake_root, "quarantine/events", day).to_pandas()
    assert quarantine["raw"].str.contains('"U8"').tolist() == [True]  # U7's bad lines are left out too
    assert (report["events"], report["quarantined"]) == (2, 1)


def test_the_dag_is_manual_and_its_user_id_param_follows_the_services_id_rule() -> None:
    from feature_store.service.errors import is_id

    dag = load_dag_module("recsys_maintenance").maintenance_dag
    assert type(dag.timetable).__name__ == "NullTimetable" and dag.max_active_runs == 1
    schema = dag.params.get_param("user_id").schema
    rule = re.compile(schema["pattern"])
    for candidate in ("U20261016-0005", "7", "a:b", "x" * 128, "x" * 129, "U1 U2", "U1\t", "", "U\x00"):
        assert (rule.match(candidate) is not None) == is_id(candidate), candidate
    assert not dag.params.get_param("user_id").has_value  # no default: the trigger must name the user
    assert dag.params["dry_run"] is False
