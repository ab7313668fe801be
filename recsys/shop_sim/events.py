"""One simulated day: catalog, users, sessions and their events, sorted and given ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys.settings import Scale
from recsys.shop_sim.behaviour import SessionRunner
from recsys.shop_sim.catalog import Catalog, build_catalog, catalog_affinity, model_table
from recsys.shop_sim.choices import Shoppers
from recsys.shop_sim.days import compact
from recsys.shop_sim.personas import category_weights
from recsys.shop_sim.randomness import IntArray, Stream, day_rng
from recsys.shop_sim.scales import scale_spec
from recsys.shop_sim.sessions import plan_sessions
from recsys.shop_sim.slates import GroupSampler, Shelves, ShopIndex
from recsys.shop_sim.strings import fixed_width, iso_times, numbered
from recsys.shop_sim.users import UserBase, build_users
from recsys.shop_sim.vocabulary import CATEGORIES, DEVICES, EVENT_TYPES, PLACEMENTS, PRICE_RANGE, SHELVES

_TEXT_COLUMNS = ("event_id", "user_id", "session_id", "item_id", "event_type", "device", "placement")
EVENT_COLUMNS = (
    "event_id",
    "event_time",
    "user_id",
    "session_id",
    "item_id",
    "event_type",
    "price",
    "device",
    "placement",
    "position",
)


@dataclass(frozen=True)
class DayEvents:
    """A day's events as arrays, sorted by time (then session, then order of making)."""

    time_ms: IntArray  # milliseconds after midnight UTC
    session: IntArray  # session number, in order of session start
    user: IntArray  # index into the day's UserBase
    item: IntArray  # index into the day's Catalog
    kind: IntArray  # index into EVENT_TYPES
    placement: IntArray  # index into PLACEMENTS, -1 when none
    position: IntArray  # -1 when not a list event
    device: IntArray  # index into DEVICES

    def __len__(self) -> int:
        return len(self.time_ms)


@dataclass(frozen=True)
class SimulatedDay:
    """Everything generated for one day."""

    day: date
    catalog: Catalog
    users: UserBase
    events: DayEvents


def shop_index(catalog: Catalog) -> ShopIndex:
    """Samplers over the day's available items for composing slates."""
    series = model_table().series[catalog.model]
    weight = catalog.popularity * catalog.available
    return ShopIndex(
        popular=GroupSampler.build(np.zeros(len(catalog), dtype=np.int64), weight, 1),
        by_category=GroupSampler.build(catalog.category, weight, len(CATEGORIES)),
        by_series=GroupSampler.build(series, weight, int(model_table().series.max()) + 1),
        by_shelf=GroupSampler.build(catalog.shelf, weight, len(SHELVES)),
        shelves=Shelves.build(),
        log_popularity=np.log(catalog.popularity),
        category=catalog.category,
        series=series,
        shelf=catalog.shelf,
    )


def shoppers_of(catalog: Catalog, users: UserBase) -> Shoppers:
    """Scoring inputs that pair the day's users with the day's items."""
    reference = np.array([np.sqrt(PRICE_RANGE[c][0] * PRICE_RANGE[c][1]) for c in CATEGORIES])
    log_pop = np.log(catalog.popularity)
    return Shoppers(
        users=users,
        affinity=catalog_affinity(catalog),
        log_price_gap=np.log(catalog.price) - np.log(reference[catalog.category]),
        popularity_z=(log_pop - log_pop.mean()) / (log_pop.std() + 1e-9),
        category=catalog.category,
        affinity_by_category=category_weights(),
    )


def simulate_day(day: date, *, seed: int, scale: Scale) -> SimulatedDay:
    """Generate the catalog, the users and all events of ``day``."""
    catalog = build_catalog(day, seed=seed, scale=scale)
    users = build_users(day, seed=seed, scale=scale)
    plan = plan_sessions(users, day, seed, scale_spec(scale).visit_factor)
    runner = SessionRunner(
        shoppers_of(catalog, users),
        shop_index(catalog),
        plan.user,
        plan.slate_size,
        day_rng(seed, day, Stream.BEHAVIOUR),
    )
    raw, start = runner.run(plan.start_ms)
    rank = np.empty(len(plan), dtype=np.int64)
    rank[np.lexsort((np.arange(len(plan)), start))] = np.arange(len(plan))
    session = raw["session"]
    time_ms = start[session] + raw["offset_ms"]
    order = np.lexsort((np.arange(len(time_ms)), rank[session], time_ms))
    events = DayEvents(
        time_ms=time_ms[order],
        session=rank[session][order],
        user=plan.user[session][order],
        item=raw["item"][order],
        kind=raw["kind"][order],
        placement=raw["placement"][order],
        position=raw["position"][order],
        device=plan.device[session][order],
    )
    return SimulatedDay(day, catalog, users, events)


def event_columns(simulated: SimulatedDay, lo: int = 0, hi: int | None = None) -> dict[str, pa.Array]:
    """Events ``lo:hi`` (in time order) as Arrow columns; ids are numbered in time order."""
    ev, stamp = simulated.events, compact(simulated.day)
    part = slice(lo, len(ev) if hi is None else hi)
    session, item, user = ev.session[part], ev.item[part], ev.user[part]
    placement, position = ev.placement[part], ev.position[part]
    return {
        "event_id": numbered(f"E{stamp}-", np.arange(len(ev))[part], 8),
        "event_time": iso_times(simulated.day, ev.time_ms[part]),
        "user_id": fixed_width(simulated.users.user_id.astype("S")[user]),
        "session_id": numbered(f"S{stamp}-", session, 6),
        "item_id": fixed_width(simulated.catalog.item_id.astype("S")[item]),
        "event_type": pa.array(EVENT_TYPES).take(ev.kind[part]),
        "price": pa.array(simulated.catalog.price[item]),
        "device": pa.array(DEVICES).take(ev.device[part]),
        "placement": pa.array(PLACEMENTS).take(pa.array(np.maximum(placement, 0), mask=placement < 0)),
        "position": pa.array(position.astype(np.int32), mask=position < 0),
    }


def events_frame(simulated: SimulatedDay) -> pd.DataFrame:
    """The raw event columns of data-formats.md; ``event_time`` is tz-aware UTC."""
    cols = event_columns(simulated)
    midnight = np.datetime64(simulated.day.isoformat(), "ms")
    times = (midnight + simulated.events.time_ms.astype("timedelta64[ms]")).astype("datetime64[us]")
    position = simulated.events.position
    frame = {name: pd.Series(cols[name], dtype="str") for name in EVENT_COLUMNS if name in _TEXT_COLUMNS}
    frame["event_time"] = pd.Series(pd.DatetimeIndex(times).tz_localize("UTC"))
    frame["price"] = pd.Series(simulated.catalog.price[simulated.events.item])
    frame["position"] = pd.Series(
        pd.arrays.IntegerArray(np.maximum(position, 0).astype(np.int32), position < 0)
    )
    return pd.DataFrame(frame, columns=list(EVENT_COLUMNS))


def simulate_events(day: date, *, seed: int, scale: Scale) -> pd.DataFrame:
    """The shop's behaviour events of ``day`` (raw columns, sorted by time)."""
    return events_frame(simulate_day(day, seed=seed, scale=scale))
