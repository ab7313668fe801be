"""Point-in-time joins: labels of day D+1 with features as of D, never later."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from feature_store import lake


def features_as_of(lake_root: Path, entity: str, day: date) -> pd.DataFrame:
    """The ``entity`` features computed for ``day`` (they see events up to the end of ``day``)."""
    frame: pd.DataFrame = lake.read_partition(lake_root, f"features/{entity}", day).to_pandas()
    return frame


def labelled_impressions(lake_root: Path, label_day: date) -> pd.DataFrame:
    """Impressions of ``label_day``, each labelled 1 when the user clicked that item that day."""
    events = lake.read_partition(
        lake_root, "events", label_day, columns=["event_time", "user_id", "item_id", "event_type"]
    ).to_pandas()
    impressions = events[events["event_type"] == "impression"].drop(columns="event_type")
    clicked = events.loc[events["event_type"] == "click", ["user_id", "item_id"]].drop_duplicates()
    clicked["label"] = 1
    out = impressions.merge(clicked, on=["user_id", "item_id"], how="left")
    out["label"] = out["label"].fillna(0).astype("int8")
    labelled: pd.DataFrame = out.reset_index(drop=True)
    return labelled


def training_examples(lake_root: Path, label_day: date) -> pd.DataFrame:
    """Labelled impressions of ``label_day`` with user (``u_``) and item (``i_``) features as of
    the day before. Users or items unseen by then get no feature values (NaN): a cold start."""
    as_of = label_day - timedelta(days=1)
    examples = labelled_impressions(lake_root, label_day)
    users = features_as_of(lake_root, "user", as_of).add_prefix("u_").rename(columns={"u_user_id": "user_id"})
    items = features_as_of(lake_root, "item", as_of).add_prefix("i_").rename(columns={"i_item_id": "item_id"})
    out = examples.merge(users, on="user_id", how="left").merge(items, on="item_id", how="left")
    out.attrs["features_as_of"] = as_of.isoformat()
    return out
