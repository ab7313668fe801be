"""Rolling window state: a multi-day window of day D is the window of D-1, plus D, minus D-w.

Every piece of a window is additive once it carries a count of the days it appeared on:
counters sum, the distinct (user, item) and (user, session) sets keep a ``days`` count per
pair (a pair leaves the set when its count drops to 0), the 30-day last-event times are a
running maximum that expires at the window start, and the decayed preferences follow
``pref(D) = pref(D-1)·γ + today - day(D-30)·γ^30`` (γ = one day's decay). So a day's cost
is one day's partial, the expiring day's partial and the previous state, whatever the
window length.

The state of each window is stored per day (``feature_state/<window>/<table>/dt=D``); when
the previous day's state is missing (a backfill out of order) or was built with another
history start, the window is rebuilt from the daily partials instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from feature_store import lake
from feature_store.features.aggregate import Aggregates
from feature_store.features.definitions import COUNTS, ENTITIES, PREFERENCE_WEIGHTS, decay

ROOT = "feature_state"
PAIRS = {"user_items": ["user_id", "item_id"], "user_sessions": ["user_id", "session_id"]}
PREFERENCES = {"user_category": "category", "user_tag": "tag"}
LAST_TIMES_KEYS = ["user_id"]


@dataclass
class WindowState:
    """The additive form of one multi-day window ending at ``day``."""

    day: date
    days: int
    tables: dict[str, pd.DataFrame]  # entity -> keys + counters (rows with no event dropped)
    pairs: dict[str, pd.DataFrame]  # user_items / user_sessions -> keys + days
    last_times: pd.DataFrame | None = None  # only the longest window: user_id + last_<type>_time
    preferences: dict[str, pd.DataFrame] = field(default_factory=dict)  # user x key: pref, days


def _entity_keys(name: str) -> list[str]:
    return next(list(e.keys) for e in ENTITIES if e.name == name)


def _add(frames: list[pd.DataFrame], keys: list[str], presence: list[str]) -> pd.DataFrame:
    """Sum ``frames`` by ``keys`` and drop rows whose ``presence`` counts are all zero."""
    kept = [f for f in frames if not f.empty] or frames[:1]
    combined = pd.concat(kept, ignore_index=True)
    summed = combined.groupby(keys, sort=False, observed=True).sum().reset_index()
    alive = (summed[presence].to_numpy() != 0).any(axis=1)
    out: pd.DataFrame = summed[alive].reset_index(drop=True)
    return out


def _without_residue(table: pd.DataFrame) -> pd.DataFrame:
    """Money with no purchase left in the window is exactly 0, never a rounding residue.

    Subtracting an expired day's spend from a float sum can leave ±1e-13 where the true value
    is 0 (and the gate refuses a negative spend); money is tied to purchases, so it is reset
    where the window holds none.
    """
    if "purchases" not in table:
        return table
    for column in ("spend", "revenue"):
        if column in table:
            table.loc[table["purchases"] == 0, column] = 0.0
            table[column] = table[column].clip(lower=0.0)
    return table


def _negated(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    values = [c for c in out.columns if c not in keys]
    out[values] = -out[values]
    return out


def _counts(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """The integer counter columns (a row is present while one of them is not zero)."""
    return [c for c in frame.columns if c not in keys and pd.api.types.is_integer_dtype(frame[c])]


def _pairs_of(day: Aggregates) -> dict[str, pd.DataFrame]:
    return {
        "user_items": day.user_items.assign(days=np.int64(1)),
        "user_sessions": day.user_sessions.assign(days=np.int64(1)),
    }


def _preference_scores(day: Aggregates) -> dict[str, pd.DataFrame]:
    """A day's undecayed engagement score per user x category and user x tag."""
    out = {}
    for name, key in PREFERENCES.items():
        table = day.tables[name]
        score = sum(w * table[COUNTS[t]] for t, w in PREFERENCE_WEIGHTS.items() if COUNTS[t] in table)
        out[name] = pd.DataFrame(
            {"user_id": table["user_id"], key: table[key], "pref": np.asarray(score, dtype=np.float64) + 0.0,
             "days": np.int64(1)}
        )  # fmt: skip
    return out


def window_start(day: date, days: int, history_start: date) -> datetime:
    first = max(day - timedelta(days=days - 1), history_start)
    return datetime.combine(first, time(0), tzinfo=UTC)


def from_days(
    day: date, days: int, history: list[Aggregates], history_start: date, longest: bool
) -> WindowState:
    """The window from its daily partials, newest first (``history[age]`` is day - age)."""
    chunk = history[:days]
    return _combine(day, days, [(a, 1, age) for age, a in enumerate(chunk)], None, history_start, longest)


def roll(
    previous: WindowState, today: Aggregates, expired: Aggregates | None, history_start: date, longest: bool
) -> WindowState:
    """The window one day later: ``previous`` plus ``today`` minus the day that left it."""
    parts: list[tuple[Aggregates, int, int]] = [(today, 1, 0)]
    if expired is not None:
        parts.append((expired, -1, previous.days))
    return _combine(previous.day + timedelta(days=1), previous.days, parts, previous, history_start, longest)


def _combine(
    day: date,
    days: int,
    parts: list[tuple[Aggregates, int, int]],
    previous: WindowState | None,
    history_start: date,
    longest: bool,
) -> WindowState:
    """Sum signed daily parts (``(partial, +1/-1, age in days at ``day``)``) onto ``previous``."""
    tables = {}
    for entity in ENTITIES:
        keys = list(entity.keys)
        frames = [previous.tables[entity.name]] if previous is not None else []
        frames += [
            p.tables[entity.name] if s > 0 else _negated(p.tables[entity.name], keys) for p, s, _ in parts
        ]
        tables[entity.name] = _without_residue(_add(frames, keys, _counts(frames[0], keys)))
    pairs = {}
    for name, keys in PAIRS.items():
        frames = [previous.pairs[name]] if previous is not None else []
        frames += [_pairs_of(p)[name] if s > 0 else _negated(_pairs_of(p)[name], keys) for p, s, _ in parts]
        pairs[name] = _add(frames, keys, ["days"])
    state = WindowState(day, days, tables, pairs)
    if longest:
        state.last_times = _last_times(day, days, parts, previous, history_start)
        state.preferences = _preferences(parts, previous)
    return state


def _last_times(
    day: date,
    days: int,
    parts: list[tuple[Aggregates, int, int]],
    previous: WindowState | None,
    history_start: date,
) -> pd.DataFrame:
    """Running maximum of each user's last event per type, forgotten once before the window."""
    frames = [p.last_times for p, s, _ in parts if s > 0]
    if previous is not None and previous.last_times is not None:
        frames.insert(0, previous.last_times)
    kept = [f for f in frames if not f.empty] or frames[:1]
    last = pd.concat(kept, ignore_index=True).groupby("user_id", sort=False).max().reset_index()
    start = pd.Timestamp(window_start(day, days, history_start))
    columns = [c for c in last.columns if c != "user_id"]
    values = last[columns].where(last[columns] >= start)
    last[columns] = values
    out: pd.DataFrame = last[values.notna().any(axis=1).to_numpy()].reset_index(drop=True)
    return out


def _preferences(
    parts: list[tuple[Aggregates, int, int]], previous: WindowState | None
) -> dict[str, pd.DataFrame]:
    out = {}
    for name, key in PREFERENCES.items():
        keys = ["user_id", key]
        frames = []
        if previous is not None:
            carried = previous.preferences[name].copy()
            carried["pref"] = carried["pref"] * decay(1)  # one day older
            frames.append(carried)
        for part, sign, age in parts:
            scores = _preference_scores(part)[name]
            scores["pref"] = scores["pref"] * (sign * decay(age))
            scores["days"] = scores["days"] * sign
            frames.append(scores)
        summed = _add(frames, keys, ["days"])
        # Scores are sums of non-negative terms; the smallest real one is a view 29 days ago
        # (0.5 x 0.057), so anything below 1e-9 is what subtracting an expired day left over.
        summed.loc[summed["pref"] < 1e-9, "pref"] = 0.0
        out[name] = summed
    return out


# ----------------------------------------------------------------------------- storage


def _tables_of(state: WindowState) -> dict[str, pd.DataFrame]:
    tables = {**state.tables, **state.pairs}
    if state.last_times is not None:
        tables["last_times"] = state.last_times
    tables.update({f"pref_{n}": f for n, f in state.preferences.items()})
    return tables


def save(lake_root: Path, window: str, state: WindowState, history_start: date) -> None:
    """Store the state; each table's meta carries one run id, so a torn write is detected."""
    run = uuid.uuid4().hex
    tables = _tables_of(state)
    meta = {
        "history_start": history_start.isoformat(),
        "run": run,
        "tables": sorted(tables),
        "days": state.days,
    }
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        lake.write_partition(lake_root, f"{ROOT}/{window}/{name}", state.day, table, meta)


def load(
    lake_root: Path, window: str, day: date, days: int, history_start: date, longest: bool
) -> WindowState | None:
    """The stored state of ``window`` at ``day``, or None when it is missing, torn or from another history."""
    first = f"{ROOT}/{window}/user"
    if not lake.has_partition(lake_root, first, day):
        return None
    meta = lake.read_meta(lake_root, first, day)
    if meta.get("history_start") != history_start.isoformat() or meta.get("days") != days:
        return None
    frames = {}
    for name in meta["tables"]:
        dataset = f"{ROOT}/{window}/{name}"
        if (
            not lake.has_partition(lake_root, dataset, day)
            or lake.read_meta(lake_root, dataset, day)["run"] != meta["run"]
        ):
            return None
        frames[name] = lake.read_partition(lake_root, dataset, day).to_pandas()
    state = WindowState(
        day,
        days,
        {e.name: frames[e.name] for e in ENTITIES},
        {n: frames[n] for n in PAIRS},
        frames.get("last_times") if longest else None,
        {n: frames[f"pref_{n}"] for n in PREFERENCES} if longest else {},
    )
    return state
