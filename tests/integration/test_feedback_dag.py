"""recsys_feedback end to end: a real redis-server's feedback stream → the lake, the A/B report,
the bandit, and alerts that fail the run and can be listed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
import redis

from feature_store import lake
from feature_store.service.bandit import stats_key
from feature_store.service.feedback import STREAM, RequestToken, feedback_entry
from feature_store.service.rollup import bucket_field, rollup_key
from recsys import cli
from recsys.settings import load_settings
from tasks import feedback
from tasks.context import RunContext
from tests.support import load_dag_module

pytestmark = pytest.mark.integration

HOUR = feedback.Hour.parse("2026-11-20T10")
WEEK_BEFORE = feedback.Hour(HOUR.start - timedelta(days=7))
EXPERIMENT = "deepfm_tags"  # the default experiment: baseline (control) and tags


class Stream:
    """Writes entries the way the service does, at chosen times (stream ids are Redis's clock)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.seq = 0

    def add(
        self,
        hour: feedback.Hour,
        event: str,
        variant: str,
        source: str = "personal",
        context: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.seq += 1
        ts_ms = hour.ms()[0] + self.seq  # ids must grow: add the hours in order
        token = RequestToken(self.seq, 3, source, context)
        entry = feedback_entry(
            token,
            token.encode(),
            event,
            f"U{self.seq % 97}",
            None if event == "impression" else f"P{self.seq % 13}",
            {EXPERIMENT: variant},
            EXPERIMENT,
            variant,
            ts_ms,
        )
        values = dict(fields if fields is not None else entry.fields)
        self.client.xadd(STREAM, values, id=f"{ts_ms}-0")  # type: ignore[arg-type]
        return values

    def traffic(
        self, hour: feedback.Hour, variant: str, impressions: int, clicks: int, purchases: int
    ) -> None:
        for event, count in (("impression", impressions), ("click", clicks), ("purchase", purchases)):
            for _ in range(count):
                self.add(hour, event, variant)


@pytest.fixture
def feedback_env(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> RunContext:
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    monkeypatch.setenv("RECSYS_ALERT_MIN_IMPRESSIONS", "200")
    return RunContext(HOUR.start.date(), load_settings())


def _run(hour: feedback.Hour) -> tuple[str, dict[str, str]]:
    dag = load_dag_module("recsys_feedback").feedback_dag
    run = dag.test(logical_date=pendulum.instance(hour.end), run_conf={"hour": hour.label})
    return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_an_hour_of_feedback_is_reported_and_its_alerts_fail_the_run(
    airflow_db: Path, feedback_env: RunContext, capsys: pytest.CaptureFixture[str]
) -> None:
    client = redis.Redis.from_url(feedback_env.settings.redis_url)
    stream = Stream(client)
    # A week before: CTR 0.20 on both arms. Now: baseline 0.05, tags 0.10 (tags clearly better).
    stream.traffic(WEEK_BEFORE, "baseline", 300, 60, 6)
    stream.traffic(WEEK_BEFORE, "tags", 300, 60, 6)
    stream.traffic(HOUR, "baseline", 400, 20, 2)
    stream.traffic(HOUR, "tags", 400, 40, 8)
    for n in range(30):  # cold-start answers: trending earns clicks, global does not
        stream.add(
            HOUR, "impression", "tags", source="trending" if n % 2 else "global", context="category:phones"
        )
    for _ in range(5):
        stream.add(HOUR, "click", "tags", source="trending", context="category:phones")
    repeated = stream.add(HOUR, "click", "tags")
    stream.add(HOUR, "click", "tags", fields=repeated)  # at-least-once delivery: sent twice
    stream.add(HOUR, "click", "tags", fields={**repeated, "event_id": "e-bad", "event": "like"})
    stream.add(HOUR, "impression", "tags", fields={**repeated, "event_id": "e-nouser", "user_id": ""})
    stream.add(feedback.Hour(HOUR.end), "impression", "tags")  # the next hour: not this run's
    # Every worker's counts for the hour: 1,000 answers, p99 within 2 ms, 8 % fallbacks.
    client.hset(
        rollup_key(HOUR.label),
        mapping={"requests": 1000, bucket_field(1): 950, bucket_field(2): 50, "fallback": 80},
    )

    assert _run(WEEK_BEFORE)[0] == "success"  # no request counts, nothing a week before: rules skip
    state, tasks = _run(HOUR)
    assert state == "failed" and tasks["alerts"] == "failed"
    assert {tasks[t] for t in ("consume", "experiment_report", "bandit_statistics")} == {"success"}

    root = feedback_env.settings.lake_root
    meta = lake.read_meta(root, HOUR.dataset(feedback.EVENTS), HOUR.start.date())
    assert meta["events"] == 400 + 20 + 2 + 400 + 40 + 8 + 30 + 5 + 1
    assert (meta["duplicates_dropped"], meta["quarantined"], meta["stream_trimmed"]) == (1, 2, False)
    quarantined = lake.read_partition(root, HOUR.dataset(feedback.QUARANTINE), HOUR.start.date()).to_pandas()
    assert sorted(quarantined["reason"]) == ["missing_id", "unknown_event"]
    assert json.loads(quarantined["fields"].iloc[0])["request_id"]  # the whole entry is kept

    report = lake.read_partition(root, HOUR.dataset(feedback.REPORT), HOUR.start.date()).to_pandas()
    tags = report.set_index("variant").loc["tags"]
    assert tags["control"] == "baseline" and tags["ctr_lift"] > 0 and tags["ctr_p"] < 0.05
    # The report covers 7 days; the week-before hour lies 7 days and 1 hour back.
    assert report.set_index("variant").loc["baseline", "impressions"] == 400

    bandit = lake.read_partition(root, HOUR.dataset(feedback.BANDIT), HOUR.start.date()).to_pandas()
    arms = bandit[bandit["bucket"] == "all"].set_index("arm")
    assert arms.loc["trending", "mean_reward"] > arms.loc["global", "mean_reward"] == 0.0
    assert client.exists(stats_key("ctx:category:phones"))  # Redis had lost it: rebuilt from the lake

    alerts = feedback.list_alerts(feedback_env, HOUR.start, HOUR.end)
    assert sorted(alerts["rule"]) == ["ctr_week_on_week", "fallback_share"]
    every = feedback.list_alerts(feedback_env, HOUR.start, HOUR.end, everything=True).set_index("rule")
    assert every.loc["p99_latency", "status"] == "ok" and every.loc["p99_latency", "value"] == 2.0
    assert every.loc["feedback_lost", "status"] == "ok"
    assert "8.0% of 2026-11-20T10's 1000 answers were fallbacks" in every.loc["fallback_share", "message"]

    assert cli.main(["alerts", "--since", "2026-11-13T00", "--hours", "200"]) == 0
    out = capsys.readouterr().out
    assert "fallback_share" in out and "ctr_week_on_week" in out and "p99_latency" not in out
    assert cli.main(["ab-report", "--hour", HOUR.label]) == 0
    table = capsys.readouterr().out
    assert "deepfm_tags    tags" in table and "+114.0%" in table  # 46/430 clicks against 20/400
    assert cli.main(["ab-report", "--hour", "2026-11-20T09"]) == 1
    assert "no A/B report for 2026-11-20T09" in capsys.readouterr().err


def test_trimming_into_the_hour_is_lost_feedback_and_an_erasure_is_not(feedback_env: RunContext) -> None:
    """Redis 7.0 leaves max-deleted-entry-id alone when MAXLEN trims: the consumer tells
    trimming by the entries gone that no erasure deleted, and where the stream now starts."""
    from feature_store.erasure.redis_store import XDEL_KEEPING_TRIM_MARK_LUA
    from feature_store.service.feedback import ERASED_ENTRIES

    client = redis.Redis.from_url(feedback_env.settings.redis_url)
    stream = Stream(client)
    previous = feedback.Hour(HOUR.start - timedelta(hours=1))
    stream.traffic(previous, "tags", 5, 0, 0)
    stream.traffic(HOUR, "tags", 5, 0, 0)
    assert feedback.consume_feedback(feedback_env, HOUR.label)["stream_trimmed"] is False

    # An erasure deletes the first two entries of the hour before: no loss.
    first_two = [entry_id for entry_id, _ in client.xrange(STREAM, count=2)]
    erase = client.register_script(XDEL_KEEPING_TRIM_MARK_LUA)
    assert erase(keys=[STREAM, ERASED_ENTRIES], args=first_two) == 2
    assert feedback.consume_feedback(feedback_env, previous.label)["stream_trimmed"] is False

    # Trimming to 3 entries cuts into HOUR: its first two entries are lost.
    client.xtrim(STREAM, maxlen=3, approximate=False)
    assert client.xinfo_stream(STREAM)["max-deleted-entry-id"] in (b"0-1", "0-1")  # untouched by XTRIM
    assert feedback.consume_feedback(feedback_env, HOUR.label)["stream_trimmed"] is True
    assert feedback.consume_feedback(feedback_env, feedback.Hour(HOUR.end).label)["stream_trimmed"] is False


def test_feedback_a_worker_sent_late_for_an_erased_user_is_not_consumed(feedback_env: RunContext) -> None:
    from datetime import UTC, datetime

    from feature_store.erasure.erased_users import add_erased_user
    from feature_store.erasure.user import user_hasher

    client = redis.Redis.from_url(feedback_env.settings.redis_url)
    stream = Stream(client)
    sent = [stream.add(HOUR, "impression", "tags") for _ in range(4)]
    erased_user = sent[0]["user_id"]
    add_erased_user(
        feedback_env.settings.lake_root, user_hasher(feedback_env.settings)(erased_user), datetime.now(UTC)
    )
    meta = feedback.consume_feedback(feedback_env, HOUR.label)
    assert (meta["erased_users_dropped"], meta["events"]) == (1, 3)
    events = lake.read_partition(
        feedback_env.settings.lake_root, HOUR.dataset(feedback.EVENTS), HOUR.start.date()
    )
    assert erased_user not in events.column("user_id").to_pylist()
