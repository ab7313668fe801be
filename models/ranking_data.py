"""The coarse ranker's examples from the lake, point-in-time, and their encoding for DeepFM.

An example is one impression of a label day L: label 1 when the user clicked that item on
L (``purchased`` says whether they also bought it). Behaviour features come from
``features/*/dt=L-1`` only, so nothing of L leaks in; item content (category, brand,
price, tags) comes from L's catalog, which is what serving has for the items it ranks.

No TensorFlow here: the set is built, stored and validated by tasks that never load it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from feature_store import lake

if TYPE_CHECKING:  # (the models' Keras code is imported only by what trains or scores)
    from models.deepfm import FeatureSpec, Variant

Split = Literal["train", "valid", "eval"]
COUNTERS = ("impressions", "clicks", "views", "carts", "purchases")
USER_NUMERIC = (
    *(f"u_{c}_{w}" for c in COUNTERS for w in ("1d", "7d", "30d")),
    "u_ctr_7d", "u_ctr_30d", "u_cvr_30d", "u_spend_30d", "u_distinct_items_30d", "u_sessions_30d",
    "u_recency_click_s", "u_recency_purchase_s",
)  # fmt: skip
ITEM_NUMERIC = (
    *(f"i_{c}_{w}" for c in COUNTERS for w in ("1d", "7d", "30d")),
    "i_ctr_1d", "i_ctr_7d", "i_ctr_30d", "i_cvr_30d", "i_users_7d", "i_users_30d",
    "i_trend_1d_7d", "i_trend_3d_30d",
)  # fmt: skip
NUMERIC = (*USER_NUMERIC, *ITEM_NUMERIC, "uc_pref_share")
CATEGORICAL = ("user_id", "item_id", "category", "brand", "device", "placement")
NO_RECENCY_S = 31 * 86400.0  # "no such event in the 30-day window" reads as just beyond it
MAX_ITEM_TAGS = 12
PRICE_BUCKETS = 16
MAX_POSITION = 30


def label_days(last: date, days: int) -> list[date]:
    """The ``days`` label days ending at ``last``, oldest first."""
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


def examples_for_day(
    lake_root: Path, label_day: date, *, negative_share: float = 1.0, rng: np.random.Generator | None = None
) -> pd.DataFrame:
    """Labelled impressions of ``label_day`` with features as of the day before.

    With ``negative_share`` < 1, only that share of the unclicked impressions is kept (drawn
    with ``rng``), before the features are joined: the join is most of the cost.

    Raises:
        PartitionMissingError: an events, catalog, item_tags or features partition is missing.
    """
    as_of = label_day - timedelta(days=1)
    events = lake.read_partition(
        lake_root, "events", label_day,
        columns=["user_id", "item_id", "event_type", "position", "device", "placement"],
    ).to_pandas()  # fmt: skip
    out = events[events["event_type"] == "impression"].drop(columns="event_type").reset_index(drop=True)
    for label, event_type in (("label", "click"), ("purchased", "purchase")):
        done = events.loc[events["event_type"] == event_type, ["user_id", "item_id"]].drop_duplicates()
        out = out.merge(done.assign(**{label: 1}), on=["user_id", "item_id"], how="left")
        out[label] = out[label].fillna(0).astype("int8")
    if negative_share < 1:
        draw = (rng or np.random.default_rng(0)).random(len(out))
        out = out[(out["label"] == 1) | (draw < negative_share)].reset_index(drop=True)

    out = RankingFeatures.load(lake_root, content_day=label_day, as_of=as_of).join(out)
    out["label_day"] = label_day
    out["features_as_of"] = as_of
    examples: pd.DataFrame = out.reset_index(drop=True)
    return examples


@dataclass(frozen=True)
class RankingFeatures:
    """The tables a ranking row joins: item content of one day, features as of another.

    Loaded once and joined to many (user, item) frames: training examples of a label day,
    or the candidates of a publish (content of D, features as of D).
    """

    content: pd.DataFrame  # item_id, category, brand, price, item_tags
    users: pd.DataFrame  # user_id, u_*
    items: pd.DataFrame  # item_id, i_*
    user_category: pd.DataFrame  # user_id, category, uc_pref_share
    user_tags: pd.DataFrame  # user_id, user_tags, user_tag_weights

    @classmethod
    def load(cls, lake_root: Path, content_day: date, as_of: date) -> RankingFeatures:
        """Raises PartitionMissingError when a catalog, item_tags or features partition is missing."""
        catalog = lake.read_partition(
            lake_root, "catalog", content_day, columns=["item_id", "category", "brand", "price"]
        ).to_pandas()
        tags = lake.read_partition(
            lake_root, "item_tags", content_day, columns=["item_id", "tag"]
        ).to_pandas()
        bags = (
            tags.groupby("item_id")["tag"].agg(lambda s: sorted(set(s))[:MAX_ITEM_TAGS]).rename("item_tags")
        )
        content = catalog.drop_duplicates("item_id").merge(
            bags, left_on="item_id", right_index=True, how="left"
        )
        user_category = lake.read_partition(
            lake_root, "features/user_category", as_of, columns=["user_id", "category", "pref_share"]
        ).to_pandas()
        return cls(
            content=content,
            users=_features(lake_root, "user", as_of, USER_NUMERIC, "u_"),
            items=_features(lake_root, "item", as_of, ITEM_NUMERIC, "i_"),
            user_category=user_category.rename(columns={"pref_share": "uc_pref_share"}),
            user_tags=_user_tag_profiles(lake_root, as_of),
        )

    def join(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """``pairs`` (user_id, item_id and any context columns) with every ranking column filled."""
        out = pairs.merge(self.content, on="item_id", how="left")
        out = out.merge(self.users, on="user_id", how="left").merge(self.items, on="item_id", how="left")
        out = out.merge(self.user_category, on=["user_id", "category"], how="left")
        out = out.merge(self.user_tags, on="user_id", how="left")
        for column in NUMERIC:
            fill = NO_RECENCY_S if column.endswith("_s") else 0.0
            out[column] = out[column].astype("float64").fillna(fill)
        for column in ("item_tags", "user_tags", "user_tag_weights"):
            out[column] = out[column].apply(lambda v: list(v) if isinstance(v, list | np.ndarray) else [])
        return out


def _features(lake_root: Path, entity: str, as_of: date, names: tuple[str, ...], prefix: str) -> pd.DataFrame:
    key = f"{entity}_id"
    columns = [key, *(n.removeprefix(prefix) for n in names)]
    frame: pd.DataFrame = lake.read_partition(
        lake_root, f"features/{entity}", as_of, columns=columns
    ).to_pandas()
    return frame.rename(columns={c: prefix + c for c in columns if c != key})


def _user_tag_profiles(lake_root: Path, as_of: date) -> pd.DataFrame:
    """Each user's tag preference shares as two parallel lists (a sparse vector)."""
    prefs = lake.read_partition(
        lake_root, "features/user_tag", as_of, columns=["user_id", "tag", "pref_share"]
    ).to_pandas()
    prefs = prefs[prefs["pref_share"] > 0]
    grouped = prefs.groupby("user_id")
    return pd.DataFrame(
        {"user_tags": grouped["tag"].agg(list), "user_tag_weights": grouped["pref_share"].agg(list)}
    ).reset_index()


def build_training_set(
    lake_root: Path,
    eval_day: date,
    history_days: int,
    *,
    negative_share: float = 1.0,
    held_out_user_share: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Examples of ``history_days`` label days ending at ``eval_day``, with a ``split`` column.

    The last day is ``eval`` (the promotion gate scores champion and candidates on it), the
    one before ``valid`` (early stopping), the rest ``train``. With ``negative_share`` < 1,
    that share of the train days' unclicked impressions is kept (seeded). With
    ``held_out_user_share`` < 1, valid and eval keep the impressions of that share of users
    only (chosen by a hash of the id, so the same users every night): whole users, so group
    AUC stays meaningful, and calibration stays unbiased.

    Raises:
        ValueError: fewer than three label days, or a share outside (0, 1].
    """
    if history_days < 3:
        raise ValueError(f"history_days must be at least 3 (train, valid, eval days), got {history_days}")
    for name, value in (("negative_share", negative_share), ("held_out_user_share", held_out_user_share)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    days = label_days(eval_day, history_days)
    rng = np.random.default_rng(seed)
    frames = []
    for day in days:
        split: Split = "eval" if day == days[-1] else "valid" if day == days[-2] else "train"
        share = negative_share if split == "train" else 1.0
        frame = examples_for_day(lake_root, day, negative_share=share, rng=rng)
        if split != "train" and held_out_user_share < 1:
            frame = frame[_user_hash_share(frame["user_id"]) < held_out_user_share].reset_index(drop=True)
        frames.append(frame.assign(split=split))
    return pd.concat(frames, ignore_index=True)


def _user_hash_share(user_ids: pd.Series) -> np.ndarray:
    """A stable number in [0, 1) per user id (its CRC-32), the same in every process."""
    import zlib

    codes, uniques = pd.factorize(user_ids)
    per_user = np.fromiter(
        (zlib.crc32(str(u).encode()) for u in uniques), dtype=np.float64, count=len(uniques)
    )
    shares: np.ndarray = per_user[codes] / 2**32
    return shares


@dataclass(frozen=True)
class RankingEncoder:
    """Vocabularies and bucket edges fitted on the train split; encodes frames for DeepFM.

    Id 0 is "unknown" in every vocabulary, so users and items first seen after training
    still get a score from their content and counters.
    """

    vocabularies: dict[str, list[str]]
    price_edges: list[float]
    tags: list[str]

    @classmethod
    def fit(cls, train: pd.DataFrame, tags: list[str]) -> RankingEncoder:
        vocabularies = {c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in CATEGORICAL}
        prices = np.log1p(train["price"].dropna().to_numpy(dtype=np.float64))
        if len(prices):
            quantiles = np.quantile(prices, np.linspace(0, 1, PRICE_BUCKETS + 1)[1:-1])
            edges = sorted(set(quantiles.round(6).tolist()))
        else:
            edges = []
        return cls(vocabularies, edges, list(tags))

    def spec(self) -> FeatureSpec:
        from models.deepfm import FeatureSpec, TagFields

        categorical = {c: len(v) + 1 for c, v in self.vocabularies.items()}
        categorical["price_bucket"] = len(self.price_edges) + 2
        categorical["position"] = MAX_POSITION + 2
        tags = TagFields(
            vocab_size=len(self.tags) + 1, max_tags=MAX_ITEM_TAGS, profile_top_k=4, pair_buckets=512
        )
        return FeatureSpec(categorical=categorical, numeric=NUMERIC, tags=tags)

    def encode(self, frame: pd.DataFrame, variant: Variant) -> dict[str, np.ndarray]:
        """Model inputs for every row of ``frame`` (built by :func:`examples_for_day`)."""
        arrays: dict[str, np.ndarray] = {}
        for column, vocabulary in self.vocabularies.items():
            index = pd.Index(vocabulary)
            codes = index.get_indexer(pd.Index(frame[column].astype(str)))
            arrays[column] = (codes + 1).astype(np.int32)  # -1 (unknown) becomes 0
        prices = np.log1p(frame["price"].to_numpy(dtype=np.float64))
        bucket = np.searchsorted(np.asarray(self.price_edges), prices) + 1
        arrays["price_bucket"] = np.where(np.isnan(prices), 0, bucket).astype(np.int32)
        position = frame["position"].fillna(-1).to_numpy(dtype=np.int64)
        arrays["position"] = (np.clip(position, -1, MAX_POSITION) + 1).astype(np.int32)
        arrays.update(self._numeric(frame))
        if variant == "tags":
            arrays.update(self._tags(frame))
        return arrays

    def _numeric(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        out = {}
        for column in NUMERIC:
            values = frame[column].to_numpy(dtype=np.float64)
            if "_ctr_" in column or "_cvr_" in column or column == "uc_pref_share" or "_trend_" in column:
                scaled = values  # rates and shares are already of order one
            else:
                scaled = np.log1p(np.maximum(values, 0.0))  # counts, money and seconds span decades
            out[column] = scaled.astype(np.float32)
        return out

    def _tags(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        ids = {tag: i + 1 for i, tag in enumerate(self.tags)}
        rows = len(frame)
        bag = np.zeros((rows, MAX_ITEM_TAGS), dtype=np.int32)
        for r, tags in enumerate(frame["item_tags"]):
            known = [ids[t] for t in tags if t in ids][:MAX_ITEM_TAGS]
            bag[r, : len(known)] = known
        profile = np.zeros((rows, len(self.tags) + 1), dtype=np.float32)
        for r, (tags, weights) in enumerate(zip(frame["user_tags"], frame["user_tag_weights"], strict=True)):
            for tag, weight in zip(tags, weights, strict=True):
                if tag in ids:
                    profile[r, ids[tag]] = weight
        return {"item_tags": bag, "user_tag_profile": profile}

    def to_json(self) -> str:
        return json.dumps(
            {"vocabularies": self.vocabularies, "price_edges": self.price_edges, "tags": self.tags},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RankingEncoder:
        data: dict[str, Any] = json.loads(text)
        return cls(data["vocabularies"], data["price_edges"], data["tags"])


USER_SIDE = ("user_id", "device", "placement", "position", *USER_NUMERIC, "user_tag_profile")
ITEM_SIDE = ("item_id", "category", "brand", "price_bucket", *ITEM_NUMERIC, "item_tags")


@dataclass(frozen=True)
class PairInputs:
    """Model inputs of many (user, item) pairs, encoded once per user and once per item.

    Scoring a publish's candidates joins and encodes each user's row and each item's row a
    single time and gathers them per pair (``arrays``), instead of joining and encoding every
    pair: the same inputs as ``encoder.encode(features.join(pairs))``, at a fraction of the cost.
    """

    users: pd.Index
    items: pd.Index
    user_arrays: dict[str, np.ndarray]
    item_arrays: dict[str, np.ndarray]
    user_category: np.ndarray  # (user row, category column) -> pref_share, dense
    item_category: np.ndarray  # each item row's category column

    @classmethod
    def build(
        cls,
        encoder: RankingEncoder,
        variant: Variant,
        features: RankingFeatures,
        user_ids: pd.Index,
        item_ids: pd.Index,
        context: dict[str, Any],
    ) -> PairInputs:
        """``context``: the columns a serving request would carry (device, placement, position)."""
        one_item = str(item_ids[0]) if len(item_ids) else ""
        users = features.join(pd.DataFrame({"user_id": user_ids, "item_id": one_item}).assign(**context))
        one_user = str(user_ids[0]) if len(user_ids) else ""
        items = features.join(pd.DataFrame({"user_id": one_user, "item_id": item_ids}).assign(**context))
        user_arrays = {k: v for k, v in encoder.encode(users, variant).items() if k in USER_SIDE}
        item_arrays = {k: v for k, v in encoder.encode(items, variant).items() if k in ITEM_SIDE}
        # A dense (users x categories) table of shares, one gather per pair instead of a lookup
        # by (user, category) keys; the last column is for items without a category.
        categories = pd.Index(sorted(items["category"].dropna().astype(str).unique()))
        item_category = categories.get_indexer(pd.Index(items["category"].astype(str)))
        item_category[item_category < 0] = len(categories)
        prefs = features.user_category
        prefs = prefs[prefs["user_id"].isin(user_ids) & prefs["category"].isin(categories)]
        table = np.zeros((len(user_ids), len(categories) + 1), dtype=np.float32)
        rows = user_ids.get_indexer(pd.Index(prefs["user_id"]))
        codes = categories.get_indexer(pd.Index(prefs["category"].astype(str)))
        table[rows, codes] = prefs["uc_pref_share"].fillna(0.0).to_numpy(dtype=np.float32)
        return cls(user_ids, item_ids, user_arrays, item_arrays, table, item_category)

    def arrays(self, user_rows: np.ndarray, item_rows: np.ndarray) -> dict[str, np.ndarray]:
        """The model inputs of the pairs ``(users[user_rows[i]], items[item_rows[i]])``."""
        out = {k: v[user_rows] for k, v in self.user_arrays.items()}
        out |= {k: v[item_rows] for k, v in self.item_arrays.items()}
        out["uc_pref_share"] = self.user_category[user_rows, self.item_category[item_rows]]
        return out
