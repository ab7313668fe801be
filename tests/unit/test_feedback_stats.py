"""The hourly feedback cycle's arithmetic: hours, the z-test, variant counts, latency roll-ups."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from feature_store.service.rollup import BOUNDS_MS, HourlyRollup, bucket_field, hour_label, p99_ms, rollup_key
from tasks.feedback import Hour, bandit_from_feedback, compare_variants, two_proportion_z, variant_counts


def test_an_hour_parses_from_its_label_or_any_iso_time_and_names_its_partition() -> None:
    hour = Hour.parse("2026-12-04T05")
    assert hour.start == datetime(2026, 12, 4, 5, tzinfo=UTC)
    assert Hour.parse("2026-12-04T05:42:10+00:00") == hour == Hour.parse("2026-12-04T06:42:10+01:00")
    assert (hour.label, hour.dataset("feedback/events")) == ("2026-12-04T05", "feedback/events/hour=05")
    assert hour.ms() == (1796360400000, 1796364000000)
    with pytest.raises(ValueError, match=r"hour '2026-12-04 5h' is not YYYY-MM-DDTHH \(UTC\)"):
        Hour.parse("2026-12-04 5h")


def test_two_proportion_z_matches_the_textbook_value() -> None:
    # 100/1000 against 130/1000: pooled 0.115, se 0.014267, z 2.1027, two-sided p 0.0355.
    z, p = two_proportion_z(100, 1000, 130, 1000)
    assert z == pytest.approx(2.1027, abs=1e-4) and p == pytest.approx(0.0355, abs=1e-4)
    assert two_proportion_z(130, 1000, 100, 1000)[0] == pytest.approx(-z)
    assert two_proportion_z(5, 0, 1, 10) == (0.0, 1.0)  # no trials on one side: no evidence
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)


def _events(rows: list[tuple[str, str, dict[str, str]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"event": e, "source": s, "experiments": json.dumps(x, sort_keys=True)} for e, s, x in rows]
    )


def test_variant_counts_count_every_experiment_an_event_belongs_to() -> None:
    a = {"ranker": "baseline", "ui": "grid"}
    b = {"ranker": "tags", "ui": "grid"}
    events = _events(
        [("impression", "personal", a)] * 10
        + [("click", "personal", a)] * 2
        + [("impression", "personal", b)] * 10
        + [("click", "personal", b)] * 4
        + [("purchase", "personal", b)]
    )
    counts = variant_counts(events).set_index(["experiment", "variant"])
    assert counts.loc[("ranker", "baseline"), ["impressions", "clicks", "purchases"]].tolist() == [10, 2, 0]
    assert counts.loc[("ranker", "tags"), ["impressions", "clicks", "purchases"]].tolist() == [10, 4, 1]
    assert counts.loc[("ui", "grid"), ["impressions", "clicks", "carts"]].tolist() == [20, 6, 0]


def test_compare_variants_reports_lift_and_p_against_the_control_only() -> None:
    counts = pd.DataFrame(
        {
            "experiment": ["ranker", "ranker"],
            "variant": ["baseline", "tags"],
            "impressions": [1000, 1000],
            "clicks": [100, 130],
            "carts": [0, 0],
            "purchases": [10, 26],
        }
    )
    report = compare_variants(counts, {"ranker": "baseline"}).set_index("variant")
    assert report.loc["tags", "ctr"] == pytest.approx(0.13) and report.loc["tags", "cvr"] == pytest.approx(
        0.2
    )
    assert report.loc["tags", "ctr_lift"] == pytest.approx(0.3)
    assert report.loc["tags", "ctr_p"] == pytest.approx(0.0355, abs=1e-4)
    assert report.loc["tags", "control"] == "baseline"
    assert pd.isna(report.loc["baseline", "control"]) and pd.isna(report.loc["baseline", "ctr_p"])


def test_the_bandit_rebuilt_from_feedback_decays_each_event_by_its_age() -> None:
    now = datetime(2026, 12, 4, 6, tzinfo=UTC).timestamp()
    day = 86400.0
    events = pd.DataFrame(
        {
            "event": ["impression", "click", "impression", "impression"],
            "source": ["trending", "trending", "global", "personal"],  # personal: not a bandit pull
            "context": [None, None, "category:phones", None],
            "ts": pd.to_datetime([now, now, now - day, now], unit="s", utc=True),
        }
    )
    buckets = bandit_from_feedback(events, now, half_life_s=day)
    assert buckets["all"]["trending:n"] == pytest.approx(1.0)
    assert buckets["all"]["trending:r"] == pytest.approx(0.2)
    assert buckets["all"]["global:n"] == pytest.approx(0.5)  # a day old, half-life one day
    assert buckets["ctx:category:phones"]["global:n"] == pytest.approx(0.5)
    assert buckets["ctx:none"]["trending:n"] == pytest.approx(1.0)
    assert "personal:n" not in buckets["all"]


def test_the_rollup_counts_per_hour_and_gives_back_what_a_failed_flush_took() -> None:
    rollup = HourlyRollup()
    t = datetime(2026, 12, 4, 5, 59, 59, tzinfo=UTC).timestamp()
    rollup.record(t, 0.0008, "personal")
    rollup.record(t, 0.004, "fallback")
    rollup.record(t + 2, 0.2, "cold_start")  # the next hour

    class Pipe:
        def __init__(self) -> None:
            self.commands: list[tuple[str, ...]] = []

        def hincrby(self, key: str, name: str, n: int) -> None:
            self.commands.append(("hincrby", key, name, str(n)))

        def expire(self, key: str, seconds: int) -> None:
            self.commands.append(("expire", key, str(seconds)))

    pipe = Pipe()
    taken = rollup.queue(pipe)
    assert ("hincrby", rollup_key("2026-12-04T05"), "requests", "2") in pipe.commands
    assert ("hincrby", rollup_key("2026-12-04T05"), "le:1", "1") in pipe.commands
    assert ("hincrby", rollup_key("2026-12-04T05"), "le:5", "1") in pipe.commands
    assert ("hincrby", rollup_key("2026-12-04T05"), "fallback", "1") in pipe.commands
    assert ("hincrby", rollup_key("2026-12-04T06"), "cold_start", "1") in pipe.commands
    assert rollup.queue(Pipe()) == {}  # handed over
    rollup.restore(taken)
    assert rollup.queue(Pipe()) == taken
    assert hour_label(t) == "2026-12-04T05"


def test_p99_is_the_upper_bound_of_the_bucket_holding_the_99th_percentile() -> None:
    assert p99_ms({}) is None
    counts = {bucket_field(1): 990, bucket_field(6): 10}  # 990 at <= 1 ms, 10 at <= 10 ms
    assert p99_ms(counts) == 1.0
    counts[bucket_field(6)] = 11
    assert p99_ms(counts) == BOUNDS_MS[6] == 10.0
    assert p99_ms({bucket_field(len(BOUNDS_MS)): 5}) == math.inf
