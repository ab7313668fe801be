"""The hourly feedback cycle: the service's feedback stream into the lake, the A/B report, the
cold-start bandit's statistics, and the alert rules.

    consume_feedback(ctx, hour)   feedback:events entries of the hour → feedback/events/hour=HH/dt=D
                                  (malformed entries → quarantine/feedback/events/hour=HH/dt=D)
    experiment_report(ctx, hour)  CTR and CVR per variant over the last feedback_report_days,
                                  each against the control with a two-proportion z-test
    bandit_statistics(ctx, hour)  the bandit's buckets into the lake; a bucket Redis lost is
                                  rebuilt from the lake's feedback
    evaluate_alerts(ctx, hour)    p99 latency, fallback share, lost feedback, CTR week on week →
                                  feedback/alerts/hour=HH/dt=D; raises AlertsRaisedError if any fire

An hour is ``YYYY-MM-DDTHH`` (UTC) and covers the stream entries Redis added in it: stream ids
are Redis's millisecond clock, so re-running an hour reads the same entries (while the stream
still holds them: ``service_feedback_maxlen``), and events a worker queued during a Redis
outage count in the hour they arrived. Each step replaces its own partition, so a re-run or a
backfill over a range of hours is safe.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import redis

from feature_store import lake
from feature_store.erasure.erased_users import read_erased_users
from feature_store.erasure.user import user_hasher
from feature_store.service.bandit import (
    EVENT_UPDATES,
    KEY_PREFIX,
    STRATEGIES,
    context_bucket,
    parse_stats,
    stats_key,
)
from feature_store.service.experiments import parse_experiments
from feature_store.service.feedback import ERASED_ENTRIES, SOURCES, STREAM
from feature_store.service.rollup import p99_ms, rollup_key
from recsys.errors import RecsysError
from tasks.connections import redis_client
from tasks.context import RunContext

log = logging.getLogger(__name__)

EVENTS = "feedback/events"
QUARANTINE = "quarantine/feedback/events"
REPORT = "feedback/report"
BANDIT = "feedback/bandit"
ALERTS = "feedback/alerts"
FEEDBACK_EVENTS = ("impression", "click", "cart", "purchase")
EVENT_COLUMNS = [
    "stream_id",
    "event_id",
    "ts",
    "event",
    "request_id",
    "user_id",
    "item_id",
    "experiment",
    "variant",
    "experiments",
    "source",
    "context",
    "version",
]
# The fields the service writes per entry (feature_store/service/feedback.py, docs/service.md).
FIELDS = [c if c != "ts" else "ts_ms" for c in EVENT_COLUMNS[1:]]
PAGE = 5_000  # stream entries per XRANGE


class AlertsRaisedError(RecsysError):
    """At least one alert rule fired for the hour; the records are in feedback/alerts."""


@dataclass(frozen=True)
class Hour:
    """One UTC hour: the unit every feedback step works on."""

    start: datetime

    @classmethod
    def parse(cls, text: str) -> Hour:
        """``YYYY-MM-DDTHH`` (or any ISO time, floored to its hour; naive means UTC)."""
        try:
            moment = datetime.fromisoformat(text if len(text) != 13 else f"{text}:00")
        except ValueError:
            raise ValueError(f"hour {text!r} is not YYYY-MM-DDTHH (UTC), e.g. 2026-12-04T05") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return cls(moment.replace(minute=0, second=0, microsecond=0))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m-%dT%H")

    def dataset(self, base: str) -> str:
        return f"{base}/hour={self.start.hour:02d}"

    def ms(self) -> tuple[int, int]:
        """The hour as stream-id milliseconds, [start, end)."""
        return int(self.start.timestamp() * 1000), int(self.end.timestamp() * 1000)


def _write(ctx: RunContext, hour: Hour, base: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    lake.write_partition(ctx.settings.lake_root, hour.dataset(base), hour.start.date(), table, meta)


def read_hours(ctx: RunContext, base: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Every partition of ``base`` for the hours in [start, end), concatenated (missing hours skipped)."""
    root, frames = ctx.settings.lake_root, []
    moment = Hour.parse(start.isoformat()).start
    while moment < end:
        dataset = Hour(moment).dataset(base)
        if lake.has_partition(root, dataset, moment.date()):
            frames.append(lake.read_partition(root, dataset, moment.date()).to_pandas())
        moment += timedelta(hours=1)
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EVENT_COLUMNS)


# -- consume ---------------------------------------------------------------------------


def _entries(client: Any, stream: str, start_ms: int, end_ms: int) -> Iterator[tuple[str, dict[str, str]]]:
    """Stream entries with ids in [start_ms, end_ms), paged."""
    low, high = f"{start_ms}-0", f"{end_ms - 1}-{2**64 - 1}"
    while True:
        page = client.xrange(stream, min=low, max=high, count=PAGE)
        for entry_id, fields in page:
            yield _text(entry_id), {_text(k): _text(v) for k, v in fields.items()}
        if len(page) < PAGE:
            return
        ms, seq = _text(page[-1][0]).split("-")
        low = f"{ms}-{int(seq) + 1}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _problem(fields: Mapping[str, str]) -> str | None:
    """Why an entry cannot be kept, or None."""
    missing = [c for c in FIELDS if c not in fields]
    if missing:
        return "missing_fields"
    if fields["event"] not in FEEDBACK_EVENTS:
        return "unknown_event"
    if fields["source"] not in SOURCES:
        return "unknown_source"
    if not fields["ts_ms"].isdigit() or not fields["version"].isdigit():
        return "not_a_number"
    if not fields["user_id"] or (fields["event"] != "impression" and not fields["item_id"]):
        return "missing_id"
    try:
        if not isinstance(json.loads(fields["experiments"]), dict):
            return "bad_experiments"
    except ValueError:
        return "bad_experiments"
    return None


def consume_feedback(ctx: RunContext, hour: str) -> dict[str, Any]:
    """The hour's ``feedback:events`` entries into the lake: kept, de-duplicated, or quarantined."""
    window = Hour.parse(hour)
    client = redis_client(ctx.settings)
    start_ms, end_ms = window.ms()
    kept, rejected = [], []
    erased = _erased_before(ctx)
    dropped = 0
    for entry_id, fields in _entries(client, STREAM, start_ms, end_ms):
        if erased is not None and erased(fields):  # held by a worker while Redis was away
            dropped += 1
            continue
        reason = _problem(fields)
        if reason is None:
            kept.append({"stream_id": entry_id, **{c: fields[c] for c in FIELDS}})
        else:
            rejected.append(
                {"stream_id": entry_id, "reason": reason, "fields": json.dumps(fields, sort_keys=True)}
            )
    events = _event_frame(kept)
    duplicates = int(events["event_id"].duplicated().sum())
    events = events.drop_duplicates("event_id", keep="first").reset_index(drop=True)  # at-least-once delivery
    trimmed = _trimmed_since(client, STREAM, start_ms)
    by_event = events["event"].value_counts().reindex(list(FEEDBACK_EVENTS), fill_value=0)
    meta = {
        "hour": window.label,
        "events": len(events),
        "by_event": {str(k): int(v) for k, v in by_event.items()},
        "duplicates_dropped": duplicates,
        "quarantined": len(rejected),
        "erased_users_dropped": dropped,
        "stream_trimmed": trimmed,
    }
    _write(ctx, window, EVENTS, events, meta)
    quarantine = pd.DataFrame(rejected, columns=["stream_id", "reason", "fields"])
    _write(ctx, window, QUARANTINE, quarantine, {"hour": window.label, "rows": len(quarantine)})
    if rejected:
        reasons = quarantine["reason"].value_counts().to_dict()
        log.warning("feedback %s: %d entries quarantined: %s", window.label, len(rejected), reasons)
    if trimmed:
        log.error(
            "feedback %s: the stream was trimmed past the hour's start (RECSYS_SERVICE_FEEDBACK_MAXLEN): "
            "entries of this hour may be lost",
            window.label,
        )
    log.info("feedback %s: %s", window.label, meta)
    return meta


def _erased_before(ctx: RunContext) -> Callable[[Mapping[str, str]], bool] | None:
    """Whether an entry is of a user erased after it was sent (recsys_maintenance); None when
    no user was ever erased."""
    listed = read_erased_users(ctx.settings.lake_root)
    if not listed:
        return None
    hasher = user_hasher(ctx.settings)

    def erased(fields: Mapping[str, str]) -> bool:
        before = listed.get(hasher(fields.get("user_id", "")))
        if before is None:
            return False
        sent = fields.get("ts_ms", "")
        return not sent.isdigit() or int(sent) < before.timestamp() * 1000

    return erased


def _event_frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["stream_id", *FIELDS])
    frame["ts"] = pd.to_datetime(frame["ts_ms"].astype("int64"), unit="ms", utc=True)
    frame["version"] = frame["version"].astype("int64")
    for column in ("item_id", "context"):
        frame[column] = frame[column].replace("", None)
    return frame[EVENT_COLUMNS]


def _trimmed_since(client: Any, stream: str, start_ms: int) -> bool:
    """Whether entries at or after ``start_ms`` were deleted from the stream.

    Redis 7.0 moves ``max-deleted-entry-id`` on XDEL only, not when MAXLEN trims, so trimming
    shows as a stream that holds fewer entries than were added, not counting those erasures
    deleted (``ERASED_ENTRIES``, feature_store/erasure/redis_store.py), and that now starts
    after ``start_ms`` (``recorded-first-entry-id``).
    """
    try:
        info = client.xinfo_stream(stream)
    except redis.ResponseError:  # no stream yet: nothing was trimmed
        return False
    deleted = _text(info.get("max-deleted-entry-id") or "0-0")
    first = _text(info.get("recorded-first-entry-id") or "0-0")
    erased = int(client.get(ERASED_ENTRIES) or 0)
    trimmed = int(info.get("entries-added", 0)) - int(info.get("length", 0)) - erased
    return int(deleted.split("-")[0]) >= start_ms or (trimmed > 0 and int(first.split("-")[0]) > start_ms)


# -- the A/B report ----------------------------------------------------------------------


def two_proportion_z(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """z and two-sided p of H0: p1 == p2, pooled; (0, 1) when either side has no trials."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def variant_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Impressions, clicks, carts and purchases per (experiment, variant), from every event's
    assignments (``experiments``), so side-by-side experiments are each counted."""
    if not len(events):
        return pd.DataFrame(columns=["experiment", "variant", *(f"{e}s" for e in FEEDBACK_EVENTS)])
    combos = {text: json.loads(text) for text in events["experiments"].unique()}
    per_combo = events.groupby(["experiments", "event"]).size().unstack(fill_value=0)
    rows = []
    for text, counts in per_combo.iterrows():
        for experiment, variant in combos[str(text)].items():
            rows.append({"experiment": experiment, "variant": variant, **counts.to_dict()})
    frame = pd.DataFrame(rows).groupby(["experiment", "variant"], as_index=False).sum(numeric_only=True)
    for event in FEEDBACK_EVENTS:
        frame[f"{event}s"] = frame[event].astype("int64") if event in frame else 0
    return frame[["experiment", "variant", *(f"{e}s" for e in FEEDBACK_EVENTS)]]


def compare_variants(counts: pd.DataFrame, controls: Mapping[str, str]) -> pd.DataFrame:
    """CTR (clicks / impressions) and CVR (purchases / clicks) per variant, with each variant's
    lift and two-proportion z-test against its experiment's control (``controls``)."""
    rows = counts.to_dict("records")
    for row in rows:
        row["ctr"] = row["clicks"] / row["impressions"] if row["impressions"] else 0.0
        row["cvr"] = row["purchases"] / row["clicks"] if row["clicks"] else 0.0
    by_key = {(r["experiment"], r["variant"]): r for r in rows}
    for row in rows:
        control = controls.get(str(row["experiment"]))
        base = by_key.get((row["experiment"], control))
        compared: dict[str, Any] = dict.fromkeys(
            ("control", "ctr_lift", "ctr_z", "ctr_p", "cvr_lift", "cvr_z", "cvr_p")
        )
        if base is not None and base is not row:
            ctr_z, ctr_p = two_proportion_z(
                base["clicks"], base["impressions"], row["clicks"], row["impressions"]
            )
            cvr_z, cvr_p = two_proportion_z(
                base["purchases"], base["clicks"], row["purchases"], row["clicks"]
            )
            compared = {
                "control": control,
                "ctr_lift": row["ctr"] / base["ctr"] - 1 if base["ctr"] else None,
                "ctr_z": ctr_z,
                "ctr_p": ctr_p,
                "cvr_lift": row["cvr"] / base["cvr"] - 1 if base["cvr"] else None,
                "cvr_z": cvr_z,
                "cvr_p": cvr_p,
            }
        row.update(compared)
    columns = [
        *counts.columns,
        "ctr",
        "cvr",
        "control",
        "ctr_lift",
        "ctr_z",
        "ctr_p",
        "cvr_lift",
        "cvr_z",
        "cvr_p",
    ]
    return pd.DataFrame(rows, columns=columns)


def _report_line(row: Mapping[Any, Any]) -> str:
    line = f"{row['experiment']}/{row['variant']}: {row['impressions']} impressions, CTR {row['ctr']:.4f}, "
    line += f"CVR {row['cvr']:.4f}"
    if row["ctr_p"] is not None:
        lift = "n/a" if row["ctr_lift"] is None else f"{row['ctr_lift']:+.1%}"
        line += f"; CTR against {row['control']}: lift {lift}, p={row['ctr_p']:.3g}"
    return line


def experiment_report(ctx: RunContext, hour: str) -> dict[str, Any]:
    """CTR and CVR per variant over the ``feedback_report_days`` ending with the hour, each
    against its experiment's first variant (the control), → feedback/report/hour=HH/dt=D."""
    window = Hour.parse(hour)
    since = window.end - timedelta(days=ctx.settings.feedback_report_days)
    events = read_hours(ctx, EVENTS, since, window.end)
    experiments = parse_experiments(ctx.settings.service_experiments)
    controls = {e.name: e.variants[0].name for e in experiments.experiments}
    report = compare_variants(variant_counts(events), controls)
    meta = {"hour": window.label, "since": since.isoformat(), "events": len(events), "controls": controls}
    _write(ctx, window, REPORT, report, meta)
    records = report.astype(object).where(report.notna(), None).to_dict("records")
    lines = "\n".join(_report_line(r) for r in records) or "no feedback"
    log.info("A/B report %s (since %s):\n%s", window.label, since.isoformat(), lines)
    return {**meta, "variants": records}


# -- the bandit --------------------------------------------------------------------------

# KEYS[1] a bucket's hash; ARGV: field, value, field, value, ... Written only if the bucket is
# absent: a worker that recreated it meanwhile holds newer statistics than the lake.
RESTORE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def bandit_from_feedback(
    events: pd.DataFrame, now_s: float, half_life_s: float
) -> dict[str, dict[str, float]]:
    """The bandit's buckets as the service would hold them at ``now_s``, rebuilt from feedback
    on cold-start answers: decayed pulls (impressions) and rewards per arm, both buckets."""
    cold = events[events["source"].isin(STRATEGIES)]
    buckets: dict[str, dict[str, float]] = {}
    if not len(cold):
        return buckets
    age_s = now_s - cold["ts"].dt.as_unit("ms").astype("int64").to_numpy() / 1e3
    weight = 0.5 ** (np.maximum(age_s, 0.0) / half_life_s)
    pulls = cold["event"].map(lambda e: EVENT_UPDATES[e][0]).to_numpy() * weight
    rewards = cold["event"].map(lambda e: EVENT_UPDATES[e][1]).to_numpy() * weight
    contexts = [c if isinstance(c, str) and c else None for c in cold["context"]]
    for bucket_of in (lambda c: "all", context_bucket):
        names = [bucket_of(c) for c in contexts]
        frame = pd.DataFrame({"bucket": names, "arm": cold["source"].to_numpy(), "n": pulls, "r": rewards})
        sums = frame.groupby(["bucket", "arm"], as_index=False)[["n", "r"]].sum()
        for bucket, arm, n, r in sums.itertuples(index=False, name=None):
            fields = buckets.setdefault(str(bucket), {"_t": now_s})
            fields[f"{arm}:n"], fields[f"{arm}:r"] = float(n), float(r)
    return buckets


def bandit_statistics(ctx: RunContext, hour: str) -> dict[str, Any]:
    """Every bandit bucket, decayed to the hour's end, into feedback/bandit; buckets Redis lost
    (a restart without persistence) are rebuilt from the lake's feedback first."""
    window, settings = Hour.parse(hour), ctx.settings
    client = redis_client(settings)
    now_s, half_life_s = window.end.timestamp(), settings.service_bandit_half_life_hours * 3600.0
    since = window.end - timedelta(days=settings.feedback_report_days)
    rebuilt = bandit_from_feedback(read_hours(ctx, EVENTS, since, window.end), now_s, half_life_s)
    restore = client.register_script(RESTORE_LUA)
    restored = []
    for bucket, fields in rebuilt.items():
        flat = [x for name, value in fields.items() for x in (name, repr(value))]
        if restore(keys=[stats_key(bucket)], args=flat):
            restored.append(bucket)
    if restored:
        log.warning(
            "bandit: rebuilt %d bucket(s) Redis did not hold from the lake: %s", len(restored), restored
        )
    rows = []
    for key in sorted(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000)):
        bucket = _text(key).removeprefix(KEY_PREFIX)
        raw = {_text(k).encode(): _text(v).encode() for k, v in client.hgetall(key).items()}
        stats = parse_stats(raw, now_s, half_life_s)
        total = sum(s.pulls for s in stats.values()) or 1.0
        for arm, s in sorted(stats.items()):
            rows.append(
                {
                    "bucket": bucket,
                    "arm": arm,
                    "pulls": s.pulls,
                    "reward": s.reward,
                    "mean_reward": s.mean,
                    "pull_share": s.pulls / total,
                }
            )
    frame = pd.DataFrame(rows, columns=["bucket", "arm", "pulls", "reward", "mean_reward", "pull_share"])
    meta = {"hour": window.label, "buckets": int(frame["bucket"].nunique()), "restored": restored}
    _write(ctx, window, BANDIT, frame, meta)
    return {**meta, "arms": frame[frame["bucket"] == "all"].to_dict("records")}


# -- alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    rule: str
    status: str  # "ok", "alert" or "skipped"
    value: float | None
    threshold: float
    message: str


def _hour_checks(ctx: RunContext, window: Hour, counts: Mapping[str, float]) -> list[Check]:
    settings = ctx.settings
    requests = float(counts.get("requests", 0))
    if requests < settings.alert_min_requests:
        why = f"{requests:.0f} requests in {window.label}, fewer than RECSYS_ALERT_MIN_REQUESTS"
        return [
            Check("p99_latency", "skipped", None, settings.alert_p99_ms, why),
            Check("fallback_share", "skipped", None, settings.alert_fallback_share, why),
        ]
    p99 = p99_ms(counts)
    assert p99 is not None
    share = float(counts.get("fallback", 0)) / requests
    return [
        Check(
            "p99_latency",
            "alert" if p99 > settings.alert_p99_ms else "ok",
            p99,
            settings.alert_p99_ms,
            f"p99 latency of {window.label} was at most {p99:g} ms over {requests:.0f} requests "
            f"(threshold {settings.alert_p99_ms:g} ms)",
        ),
        Check(
            "fallback_share",
            "alert" if share > settings.alert_fallback_share else "ok",
            share,
            settings.alert_fallback_share,
            f"{share:.1%} of {window.label}'s {requests:.0f} answers were fallbacks (Redis away, or bad "
            f"values; threshold {settings.alert_fallback_share:.0%})",
        ),
    ]


def _ctr_check(ctx: RunContext, window: Hour) -> Check:
    """CTR of the 24 hours ending with the hour against the same 24 hours a week before."""
    settings = ctx.settings
    now = read_hours(ctx, EVENTS, window.end - timedelta(days=1), window.end)
    before = read_hours(ctx, EVENTS, window.end - timedelta(days=8), window.end - timedelta(days=7))
    sums = [
        (int((f["event"] == "click").sum()), int((f["event"] == "impression").sum())) for f in (before, now)
    ]
    (c0, n0), (c1, n1) = sums
    if min(n0, n1) < settings.alert_min_impressions:
        return Check(
            "ctr_week_on_week",
            "skipped",
            None,
            settings.alert_ctr_drop,
            f"{n1} impressions in the last 24 h and {n0} a week before: fewer than "
            "RECSYS_ALERT_MIN_IMPRESSIONS",
        )
    ctr0, ctr1 = c0 / n0, c1 / n1
    drop = 1 - ctr1 / ctr0 if ctr0 > 0 else 0.0
    _, p = two_proportion_z(c0, n0, c1, n1)
    fired = drop >= settings.alert_ctr_drop and p < 0.05  # a real drop, not noise
    return Check(
        "ctr_week_on_week",
        "alert" if fired else "ok",
        drop,
        settings.alert_ctr_drop,
        f"CTR of the 24 h to {window.end:%Y-%m-%dT%H}:00 was {ctr1:.4f} against {ctr0:.4f} a week "
        f"before: {'a drop' if drop > 0 else 'a change'} of {abs(drop):.1%} (p={p:.3g}; threshold "
        f"{settings.alert_ctr_drop:.0%} at p<0.05)",
    )


def evaluate_alerts(ctx: RunContext, hour: str) -> dict[str, Any]:
    """Run every alert rule for the hour, record each outcome in feedback/alerts, and fail
    (AlertsRaisedError, naming each) when any fired: a red task in the Airflow UI."""
    window = Hour.parse(hour)
    client = redis_client(ctx.settings)
    counts = {_text(k): float(v) for k, v in client.hgetall(rollup_key(window.label)).items()}
    checks = _hour_checks(ctx, window, counts)
    consumed = lake.read_meta(ctx.settings.lake_root, window.dataset(EVENTS), window.start.date())
    lost = bool(consumed.get("stream_trimmed"))
    checks.append(
        Check(
            "feedback_lost",
            "alert" if lost else "ok",
            float(lost),
            0.0,
            f"the feedback stream was trimmed past {window.label}'s start: raise "
            "RECSYS_SERVICE_FEEDBACK_MAXLEN or run recsys_feedback more often"
            if lost
            else "no feedback entry of the hour was trimmed",
        )
    )
    checks.append(_ctr_check(ctx, window))
    frame = pd.DataFrame([c.__dict__ for c in checks])
    frame.insert(0, "hour", window.label)
    fired = frame[frame["status"] == "alert"]
    _write(ctx, window, ALERTS, frame, {"hour": window.label, "alerts": len(fired)})
    for check in checks:
        (log.error if check.status == "alert" else log.info)(
            "alert rule %s: %s: %s", check.rule, check.status, check.message
        )
    if len(fired):
        raise AlertsRaisedError(
            f"{len(fired)} alert(s) for {window.label}: "
            + "; ".join(f"{r.rule}: {r.message}" for r in fired.itertuples())
            + " (recsys alerts lists them)"
        )
    return {"hour": window.label, "checks": frame.replace({np.nan: None}).to_dict("records")}


def list_alerts(ctx: RunContext, since: datetime, until: datetime, everything: bool = False) -> pd.DataFrame:
    """The alert records of the hours in [since, until): fired ones, or every check."""
    frame = read_hours(ctx, ALERTS, since, until)
    if not len(frame):
        return pd.DataFrame(columns=["hour", "rule", "status", "value", "threshold", "message"])
    return frame if everything else frame[frame["status"] == "alert"].reset_index(drop=True)
