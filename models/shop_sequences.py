"""The shop's user sequences for BERT4Rec, from the lake, and the next-day check of the gate.

A user's sequence is their engaged items (click, view, cart, purchase) in time order, a
repeat of the item just before dropped (a view after a click of the same item adds
nothing to learn). Training sees the days up to D-1 only; the gate then asks, for every
user with history who engaged with a known item on D: where does the first such item rank
among every item of the training window, the user's own history left out (full ranking)?
No TensorFlow here.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from models.recall_data import engaged_events
from models.sequences import HeldOut, SequenceData


def ordered_sequences(events: pd.DataFrame) -> pd.Series:
    """Each user's engaged item ids in time order, an immediate repeat dropped (user_id -> list)."""
    events = events.sort_values(["user_id", "event_time"], kind="stable")
    same_user = events["user_id"] == events["user_id"].shift()
    repeat = same_user & (events["item_id"] == events["item_id"].shift())
    kept = events[~repeat]
    sequences: pd.Series = kept.groupby("user_id", sort=True)["item_id"].agg(list)
    return sequences


def shop_sequences(lake_root: Path, last_day: date, days: int) -> SequenceData:
    """Every user's engaged items of the ``days`` days ending at ``last_day``, ids ``1..n``.

    Raises:
        PartitionMissingError: a day inside the range is missing from the lake.
    """
    sequences = ordered_sequences(engaged_events(lake_root, last_day - timedelta(days=days - 1), last_day))
    items = sorted({item for sequence in sequences for item in sequence})
    ids = {item: i + 1 for i, item in enumerate(items)}
    encoded = [np.asarray([ids[i] for i in sequence], dtype=np.int64) for sequence in sequences]
    return SequenceData(encoded, sequences.index.tolist(), items, "pairs", f"{lake_root} ..{last_day}")


def next_day_held_out(lake_root: Path, day: date, data: SequenceData) -> HeldOut:
    """The gate's cases of ``day``: each user's history through the day before, and as target
    the first item they engaged with on ``day`` that the training window knows.

    Users without history are left out (cold start is the recall model's job), and so are
    items first seen on ``day`` (no sequence model can name an item it never saw).
    """
    engaged = engaged_events(lake_root, day, day)
    known = {item: i + 1 for i, item in enumerate(data.items)}
    firsts = ordered_sequences(engaged[engaged["item_id"].isin(known)])
    position = {user: p for p, user in enumerate(data.users)}
    rows, histories, targets = [], [], []
    for user, items in firsts.items():
        if user in position:
            rows.append(position[user])
            histories.append(data.sequences[position[user]])
            targets.append(known[items[0]])
    return HeldOut(np.asarray(rows, dtype=np.int64), histories, np.asarray(targets, dtype=np.int64))
