"""`recsys inspect` against a real private redis-server: summary, one list, and the errors."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis

from feature_store.online import OnlineFeatureStore
from feature_store.recommendations import CHANNELS, STAGES, PublishReport, publish_recommendations
from recsys.cli import main
from tests.support import free_port

pytestmark = pytest.mark.integration

USERS = 4


def user_frame(tag: int, users: int = USERS, variants: tuple[str, ...] = ("champion",)) -> pd.DataFrame:
    """Three items per user and variant, named ``<tag>-<variant>-U<u>-<rank>``, scores falling with rank."""
    rows = [
        (variant, f"U{u}", rank, f"{tag}-{variant}-U{u}-{rank}", 4.0 - rank + u / 100, rank, rank)
        for variant in variants
        for u in range(users)
        for rank in (1, 2, 3)
    ]
    frame = pd.DataFrame(rows, columns=["variant", "user_id", "rank", "item_id", "score", "c", "s"])
    frame["channel"] = [CHANNELS[c] for c in frame.pop("c")]
    frame["stage"] = [STAGES[s] for s in frame.pop("s")]
    return frame


def item_frame(tag: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["similar", "similar", "similar", "similar", "segment", "segment", "segment"],
            "key": ["P1", "P1", "P1", "P2", "global", "global", "trending"],
            "rank": [1, 2, 3, 1, 1, 2, 1],
            "item_id": [f"{tag}-S1", f"{tag}-S2", f"{tag}-S3", f"{tag}-S4", "G1", "G2", "T1"],
            "score": [0.9, 0.5, 0.25, 0.8, 5.0, 4.0, 3.0],
        }
    )


def target_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": ["N1", "N1"], "rank": [1, 2], "user_id": ["U1", "U0"], "score": [0.7, 0.6]}
    )


def publish(client: redis.Redis, tag: int, users: pd.DataFrame, **options: Any) -> PublishReport:
    return publish_recommendations(
        client,
        f"2026-11-0{tag}",
        users,
        item_frame(tag),
        target_frame(),
        keep=3,
        batch_size=50,
        verify_sample=5,
        **options,
    )


@pytest.fixture
def published(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[redis.Redis, list[PublishReport]]:
    """rec v1 (champion lists), rec v2 (champion and baseline lists, alias tags -> champion), feat v1."""
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    first = publish(client, 1, user_frame(1))
    second = publish(
        client, 2, user_frame(2, variants=("champion", "baseline")), aliases={"tags": "champion"}
    )
    users = pd.DataFrame({"user_id": ["U0", "U1", "U2"], "clicks_7d": [1, 2, 3]})
    items = pd.DataFrame({"item_id": [f"P{i}" for i in range(5)], "ctr_1d": [0.1] * 5})
    OnlineFeatureStore(client).publish("2026-11-02", {"user": users, "item": items})
    return client, [first, second]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def counts(version: dict[str, Any]) -> dict[str, int]:
    return {kind: facts["keys"] for kind, facts in version["kinds"].items()}


# -- the summary --------------------------------------------------------------------------


def test_summary_json_has_every_version_its_counts_per_kind_and_exact_memory(
    published: tuple[redis.Redis, list[PublishReport]], redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, (first, second) = published
    document = run_json(capsys)
    assert document["redis"] == redis_url and document["used_memory_bytes"] > 0

    rec = document["keyspaces"]["rec"]
    assert rec["current"] == 2 and rec["lock"] is None
    v2, v1 = rec["versions"]
    assert (v2["version"], v2["current"], v2["status"], v2["state"], v2["dt"]) == (
        2,
        True,
        "serving",
        "complete",
        "2026-11-02",
    )
    assert (v1["version"], v1["current"], v1["status"], v1["dt"]) == (1, False, "complete", "2026-11-01")
    base = {"sim": 2, "seg": 2, "target": 1, "items": 1, "meta": 1}
    assert counts(v2) == {"u:champion": USERS, "u:baseline": USERS, **base}
    assert counts(v1) == {"u:champion": USERS, **base}
    for version, report in ((v1, first), (v2, second)):  # what publish reported, kind by kind
        users = sum(n for kind, n in counts(version).items() if kind.startswith("u:"))
        assert (users, version["kinds"]["sim"]["keys"]) == (report.users, report.similar)
        assert (version["kinds"]["seg"]["keys"], version["kinds"]["target"]["keys"]) == (
            report.segments,
            report.targets,
        )
        assert version["keys"] == report.keys and version["recorded"]["keys"] == report.keys
        assert version["problems"] == []
        memory = version["memory"]
        assert memory["exact"] and memory["measured_keys"] == memory["keys"] == report.keys + 1
        assert memory["bytes"] == sum(k["memory_bytes"] for k in version["kinds"].values())
        assert all(k["memory_bytes"] > 0 and k["exact"] for k in version["kinds"].values())
        assert memory["bytes"] > version["recorded"]["bytes"]  # Redis's overhead on top of keys + values
    assert v2["aliases"] == {"tags": "champion"} and v1["aliases"] == {}

    feat = document["keyspaces"]["feat"]
    assert feat["current"] == 1 and [v["version"] for v in feat["versions"]] == [1]
    (f1,) = feat["versions"]
    assert f1["status"] == "serving" and counts(f1) == {"user": 3, "item": 5, "meta": 1}
    assert f1["keys"] == 8 and f1["memory"]["bytes"] > 0 and f1["memory"]["exact"]


def test_summary_text_is_a_readable_table(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    lines = out.splitlines()
    assert "rec: rec:current -> v2; publish lock free" in lines
    assert "feat: feat:current -> v1" in lines
    v2 = next(line for line in lines if line.startswith("  * v2"))
    assert "serving" in v2 and "dt 2026-11-02" in v2 and "14 keys" in v2 and "exact" in v2
    v1 = next(line for line in lines if line.startswith("    v1"))
    assert "complete" in v1 and "dt 2026-11-01" in v1
    assert any("u:baseline" in line and "user lists, variant baseline" in line for line in lines)
    assert "      aliases: tags -> champion" in lines
    assert out.count("counts match the meta hash") == 3  # rec v1, v2 and feat v1
    assert "ESTIMATE" not in out


def test_memory_beyond_the_sample_size_is_an_estimate_that_says_from_how_many_keys(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    exact = run_json(capsys, "--keyspace", "rec", "--version", "2")["keyspaces"]["rec"]["versions"][0]
    estimated = run_json(capsys, "--keyspace", "rec", "--version", "2", "--sample", "2")
    (v2,) = estimated["keyspaces"]["rec"]["versions"]
    assert "feat" not in estimated["keyspaces"]
    users = v2["kinds"]["u:champion"]
    assert (users["keys"], users["measured_keys"], users["exact"]) == (USERS, 2, False)
    assert v2["kinds"]["items"]["exact"]  # a kind with at most --sample keys is still measured whole
    assert not v2["memory"]["exact"] and v2["memory"]["measured_keys"] == 2 + 2 + 2 + 2 + 1 + 1 + 1
    assert v2["memory"]["bytes"] == pytest.approx(exact["memory"]["bytes"], rel=0.2)

    code, out, _ = run(capsys, "--keyspace", "rec", "--version", "2", "--sample", "2")
    assert code == 0
    assert "ESTIMATE from MEMORY USAGE of 11 of 15 keys, sampled per kind" in out
    assert "(est. from 2)" in out


def test_counts_differing_from_the_meta_hash_and_unknown_keys_are_problems(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = published
    client.set("rec:v2:sim:intruder", b"\x02")
    client.set("rec:v2:junk:1", b"")
    (v2,) = run_json(capsys, "--keyspace", "rec", "--version", "2")["keyspaces"]["rec"]["versions"]
    assert set(v2["problems"]) == {
        "1 key of unknown kind 'junk'",
        "16 keys counted, the meta hash records 14",
        "3 similar keys counted, the meta hash records 2",
    }
    code, out, _ = run(capsys, "--keyspace", "rec", "--version", "2")
    assert code == 0 and "PROBLEM: 3 similar keys counted, the meta hash records 2" in out


def test_a_killed_publish_is_abandoned_and_a_running_one_is_writing(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = published

    def killed(version: int) -> None:
        raise KeyboardInterrupt(f"killed while v{version} was written")

    with pytest.raises(KeyboardInterrupt):
        publish(client, 3, user_frame(3), after_write=killed)
    v3 = run_json(capsys, "--keyspace", "rec")["keyspaces"]["rec"]["versions"][0]
    assert (v3["version"], v3["state"], v3["status"], v3["current"]) == (3, "writing", "abandoned", False)
    assert v3["problems"] == []  # a version that is not complete records no final counts to check
    _, out, _ = run(capsys, "--keyspace", "rec")
    assert "    v3    abandoned (writing)  dt 2026-11-03" in out

    client.set("rec:lock", "host:42:token")  # a publish is running: v3 may be its version
    v3 = run_json(capsys, "--keyspace", "rec")["keyspaces"]["rec"]
    assert v3["lock"] == "host:42:token" and v3["versions"][0]["status"] == "writing"


@pytest.mark.slow
def test_the_summary_of_100k_user_lists_takes_seconds_and_gets_no_value(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    users = 100_000
    frame = pd.DataFrame(
        {
            "variant": "champion",
            "user_id": np.repeat([f"U{u}" for u in range(users)], 2),
            "rank": np.tile([1, 2], users),
            "item_id": np.tile(["P1", "P2"], users),
            "score": 1.0,
            "channel": "faiss",
            "stage": "fine",
        }
    )
    publish_recommendations(
        client, "2026-11-01", frame, None, None, keep=2, batch_size=5000, verify_sample=10
    )
    before = client.info("commandstats")
    started = time.perf_counter()
    document = run_json(capsys, "--keyspace", "rec", "--sample", "500")
    seconds = time.perf_counter() - started
    after = client.info("commandstats")

    (v1,) = document["keyspaces"]["rec"]["versions"]
    assert v1["kinds"]["u:champion"]["keys"] == users and v1["problems"] == []
    assert not v1["memory"]["exact"] and v1["memory"]["measured_keys"] == 500 + 2
    assert v1["memory"]["bytes"] > users * 19  # each list value alone is 1 + 2 x 9 bytes

    def calls(command: str) -> int:
        return int(after.get(f"cmdstat_{command}", {}).get("calls", 0)) - int(
            before.get(f"cmdstat_{command}", {}).get("calls", 0)
        )

    assert calls("get") == 3  # rec:current, rec:seq and rec:lock: never a list
    assert calls("memory|usage") == 502 and calls("scan") >= 1
    assert seconds < 10, f"the summary of 100k user lists took {seconds:.1f} s"


# -- one list -----------------------------------------------------------------------------


def test_a_users_list_in_rank_order_with_the_variant_read_and_the_aliases(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    view = run_json(capsys, "--user", "U1", "--variant", "tags")
    assert (view["version"], view["current"], view["user"], view["variant"], view["list"]) == (
        2,
        True,
        "U1",
        "tags",
        "champion",
    )
    assert view["key"] == "rec:v2:u:champion:U1" and view["aliases"] == {"tags": "champion"}
    assert [(e["rank"], e["item"]) for e in view["entries"]] == [
        (1, "2-champion-U1-1"),
        (2, "2-champion-U1-2"),
        (3, "2-champion-U1-3"),
    ]
    first = view["entries"][0]
    assert first["score"] == pytest.approx(3.01) and (first["channel"], first["stage"]) == (
        CHANNELS[1],
        STAGES[1],
    )

    baseline = run_json(capsys, "--user", "U1", "--variant", "baseline", "--k", "2")
    assert [e["item"] for e in baseline["entries"]] == ["2-baseline-U1-1", "2-baseline-U1-2"]
    older = run_json(capsys, "--user", "U1", "--version", "1")
    assert older["current"] is False and older["aliases"] == {}
    assert [e["item"] for e in older["entries"]] == ["1-champion-U1-1", "1-champion-U1-2", "1-champion-U1-3"]

    code, out, _ = run(capsys, "--user", "U1", "--variant", "tags")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "rec v2 (current, dt 2026-11-02): user U1, list 'champion' (variant 'tags' via"
    )
    assert lines[1] == "aliases of v2: tags -> champion"
    assert lines[3].split() == ["1", "2-champion-U1-1", "3.0100", CHANNELS[1], STAGES[1]]
    assert [line.split()[1] for line in lines[3:]] == [
        "2-champion-U1-1",
        "2-champion-U1-2",
        "2-champion-U1-3",
    ]


def test_an_items_similar_items_in_rank_order(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    view = run_json(capsys, "--item", "P1")
    assert (view["version"], view["item"], view["key"]) == (2, "P1", "rec:v2:sim:P1")
    assert [(e["rank"], e["item"], e["score"]) for e in view["entries"]] == [
        (1, "2-S1", pytest.approx(0.9)),
        (2, "2-S2", pytest.approx(0.5)),
        (3, "2-S3", pytest.approx(0.25)),
    ]
    assert view["entries"][0]["channel"] is None  # item lists store neither channel nor stage
    older = run_json(capsys, "--item", "P1", "--version", "1", "--k", "1")
    assert [e["item"] for e in older["entries"]] == ["1-S1"]
    code, out, _ = run(capsys, "--item", "P2")
    assert code == 0 and "items similar to P2" in out and out.splitlines()[3].split()[:2] == ["1", "2-S4"]


# -- errors -------------------------------------------------------------------------------


def test_errors_name_what_was_wrong(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        ("--user", "U1", "--version", "9"): "rec v9 does not exist (versions present: v1, v2)",
        ("--keyspace", "feat", "--version", "4"): "feat v4 does not exist (versions present: v1)",
        (
            "--user",
            "stranger",
        ): "rec v2 has no 'champion' list for user 'stranger': no key rec:v2:u:champion:stranger",
        (
            "--user",
            "U1",
            "--variant",
            "baseline",
            "--version",
            "1",
        ): "rec v1 has no 'baseline' list for user 'U1'",
        ("--item", "P9"): "rec v2 has no similar-items list for item 'P9': no key rec:v2:sim:P9",
        ("--version", "1"): "--version of the summary needs --keyspace rec or feat",
        ("--sample", "0"): "--sample must be at least 1",
        ("--user", "U1", "--keyspace", "feat"): "--user and --item show rec lists",
    }
    for argv, message in cases.items():
        code, out, err = run(capsys, *argv)
        assert (code, out) == (1, ""), argv
        assert message in err, (argv, err)


def test_an_alias_is_named_when_its_list_is_missing(
    published: tuple[redis.Redis, list[PublishReport]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--user", "stranger", "--variant", "tags")
    assert code == 1 and "variant 'tags' reads list 'champion' by the aliases of v2" in err


def test_nothing_published_and_redis_unreachable_are_clear_errors(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    code, _, err = run(capsys, "--user", "U1")
    assert code == 1 and "nothing is published in rec (rec:current is not set)" in err
    code, out, _ = run(capsys)
    assert code == 0 and "rec: rec:current -> nothing published" in out and "    no versions" in out

    port = free_port()
    monkeypatch.setenv("RECSYS_REDIS_URL", f"redis://127.0.0.1:{port}/3")
    monkeypatch.setenv("RECSYS_REDIS_USERNAME", "admin")
    monkeypatch.setenv("RECSYS_REDIS_PASSWORD", "s3cret")
    for argv in ((), ("--user", "U1"), ("--json",)):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (1, "")
        assert f"Redis at redis://admin@127.0.0.1:{port}/3 is unreachable" in err
        assert "s3cret" not in err

    # A password inside the URL is refused before anything connects, and never echoed.
    monkeypatch.setenv("RECSYS_REDIS_URL", f"redis://admin:s3cret@127.0.0.1:{port}/3")
    code, out, err = run(capsys)
    assert (code, out) == (1, "") and "RECSYS_REDIS_URL carries credentials" in err
    assert "s3cret" not in err
