"""Lists computed once per publish day, not per user: segments, similar items, target users.

    segment lists   global, trending, new_arrivals, category:<c>, tag:<code>, persona:<code>
    similar items   per active item: co-visitation neighbours interleaved with content
                    neighbours (the recall model's item vectors), the item itself left out
    target users    per new item: the active users whose recall vectors score it highest,
                    so a new item has an audience on its first day (new-item cold start)

They feed the cold-start bandit, the "similar items" endpoint and the service's fallback
snapshot. Popularity is distinct engaged users over 7 days (``users_7d``), which a bot
cannot inflate by repeating itself. No TensorFlow here: vectors are passed in.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from models.channels import CoVisitation

LIST_COLUMNS = ["kind", "key", "rank", "item_id", "score"]
PERSONA_DIMENSION = "target_audience"
NEW_ARRIVAL_DAYS = 7  # listed within this many days (D included): a "new arrival"
SIMILAR_K = 20
SEGMENT_K = 100
TARGET_USERS_K = 100


def _rank_list(frame: pd.DataFrame, key: str, kind: str, group: str, score: str, k: int) -> pd.DataFrame:
    frame = frame.sort_values([group, score, "item_id"], ascending=[True, False, True], kind="stable")
    frame = frame.groupby(group, sort=False).head(k)
    return pd.DataFrame(
        {
            "kind": kind,
            "key": key + frame[group].astype(str).to_numpy(dtype=object),
            "rank": frame.groupby(group, sort=False).cumcount().to_numpy() + 1,
            "item_id": frame["item_id"].to_numpy(),
            "score": frame[score].to_numpy(dtype=np.float64),
        }
    )


def popularity(active: pd.DataFrame, item_features: pd.DataFrame) -> pd.DataFrame:
    """Active items with ``popularity`` (users_7d), ``trending`` and their content columns."""
    stats = item_features[["item_id", "users_7d", "views_1d", "trend_1d_7d"]]
    out = active.merge(stats, on="item_id", how="left")
    out[["users_7d", "views_1d"]] = out[["users_7d", "views_1d"]].fillna(0.0)
    out["popularity"] = out["users_7d"].astype("float64")
    # A rising item needs some volume: a trend of 3x on one view is noise.
    out["trending"] = out["trend_1d_7d"].fillna(1.0).astype("float64") * np.log1p(out["views_1d"])
    return out


def segment_lists(
    items: pd.DataFrame, item_tags: pd.DataFrame, personas: pd.DataFrame, engaged: pd.DataFrame, day: date
) -> pd.DataFrame:
    """Every segment list of ``day``.

    ``items``: from :func:`popularity` (with ``category`` and ``listed_date``); ``item_tags``:
    item_id, tag; ``personas``: user_id, persona; ``engaged``: the 7 days' engaged events.
    """
    parts = [
        _rank_list(items.assign(g=""), "global", "segment", "g", "popularity", SEGMENT_K),
        _rank_list(
            items[items["trending"] > 0].assign(g=""), "trending", "segment", "g", "trending", SEGMENT_K
        ),
        _rank_list(items, "category:", "segment", "category", "popularity", SEGMENT_K),
    ]
    first = pd.Timestamp(day - timedelta(days=NEW_ARRIVAL_DAYS - 1))
    new = items[pd.to_datetime(items["listed_date"]) >= first]
    # Newest first, early traction breaking ties within a day.
    new = new.assign(
        g="", fresh=pd.to_datetime(new["listed_date"]).astype("int64") / 86400e9 + new["popularity"] * 1e-6
    )
    parts.append(_rank_list(new, "new_arrivals", "segment", "g", "fresh", SEGMENT_K))
    tagged = item_tags.merge(items[["item_id", "popularity"]], on="item_id")
    parts.append(_rank_list(tagged, "tag:", "segment", "tag", "popularity", SEGMENT_K))
    if not personas.empty and not engaged.empty:
        by_persona = engaged[["user_id", "item_id"]].drop_duplicates().merge(personas, on="user_id")
        counts = by_persona.groupby(["persona", "item_id"]).size().rename("buyers").reset_index()
        counts = counts[counts["item_id"].isin(items["item_id"])]
        parts.append(_rank_list(counts, "persona:", "segment", "persona", "buyers", SEGMENT_K))
    out = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    out["key"] = out["key"].str.replace(r"\s+", "_", regex=True)  # keys hold no whitespace
    return out[LIST_COLUMNS]


def personas(user_tags: pd.DataFrame, persona_codes: list[str]) -> pd.DataFrame:
    """Each user's persona: their strongest tag of the target-audience dimension (user_id, persona)."""
    prefs = user_tags[user_tags["tag"].isin(persona_codes) & (user_tags["pref_share"] > 0)]
    top = prefs.sort_values(["user_id", "pref_share", "tag"], ascending=[True, False, True]).drop_duplicates(
        "user_id"
    )
    return top[["user_id", "tag"]].rename(columns={"tag": "persona"}).reset_index(drop=True)


def similar_items(
    catalog_ids: np.ndarray,
    content_rows: np.ndarray,
    content_scores: np.ndarray,
    covisit: CoVisitation,
    k: int = SIMILAR_K,
) -> pd.DataFrame:
    """Per item: co-visitation and content neighbours, interleaved half and half, itself left out;
    scores fall along each list (1 / place).

    ``content_rows`` / ``content_scores`` ``(items, k+1)``: each catalog row's nearest rows by
    the recall model's item vectors (-1 = none), e.g. from the FAISS index.
    """
    n, width = content_rows.shape
    rows = content_rows.reshape(-1)
    owner = np.repeat(np.arange(n), width)
    keep = (rows >= 0) & (rows != owner)
    content = pd.DataFrame(
        {
            "item_id": catalog_ids[owner[keep]],
            "neighbour_id": catalog_ids[rows[keep]],
            "score": content_scores.reshape(-1)[keep].astype(np.float64),
        }
    )
    content["place"] = content.groupby("item_id", sort=False).cumcount() + 1.0
    co = covisit.neighbours[covisit.neighbours["item_id"].isin(catalog_ids)]
    co = co[co["item_id"] != co["neighbour_id"]].rename(columns={"weight": "score"})
    co = co.assign(place=co.groupby("item_id", sort=False).cumcount() + 0.5)  # co-visits first at a tie
    both = pd.concat([co, content], ignore_index=True).sort_values(["item_id", "place"], kind="stable")
    both = both.drop_duplicates(["item_id", "neighbour_id"]).groupby("item_id", sort=False).head(k)
    # Co-visit weights and cosines are on different scales: the published score is the
    # interleaved place's reciprocal, so it falls along the list whatever the source.
    both["score"] = 1.0 / both["place"]
    return pd.DataFrame(
        {
            "kind": "similar",
            "key": both["item_id"].to_numpy(),
            "rank": both.groupby("item_id", sort=False).cumcount().to_numpy() + 1,
            "item_id": both["neighbour_id"].to_numpy(),
            "score": both["score"].to_numpy(dtype=np.float64),
        }
    )


def target_users(
    new_item_ids: np.ndarray,
    new_item_vectors: np.ndarray,
    user_ids: np.ndarray,
    user_vectors: np.ndarray,
    k: int = TARGET_USERS_K,
    block: int = 512,
) -> pd.DataFrame:
    """Per new item, the ``k`` users whose vectors score it highest (item_id, rank, user_id, score)."""
    if len(new_item_ids) == 0 or len(user_ids) == 0:
        return pd.DataFrame({"item_id": [], "rank": [], "user_id": [], "score": []})
    k = min(k, len(user_ids))
    parts = []
    for start in range(0, len(new_item_ids), block):
        scores = new_item_vectors[start : start + block] @ user_vectors.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(scores, best, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        best, top = np.take_along_axis(best, order, axis=1), np.take_along_axis(top, order, axis=1)
        parts.append(
            pd.DataFrame(
                {
                    "item_id": np.repeat(new_item_ids[start : start + block], k),
                    "rank": np.tile(np.arange(1, k + 1), len(best)),
                    "user_id": user_ids[best.reshape(-1)],
                    "score": top.reshape(-1).astype(np.float64),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def target_precision(targets: pd.DataFrame, next_day_engaged: pd.DataFrame, k: int) -> dict[str, float]:
    """Precision@k of target users: the share of each new item's top-k users who engaged with it
    the next day, pooled over the items anyone engaged with (items nobody touched say nothing
    about whom to target)."""
    touched = next_day_engaged[["user_id", "item_id"]].drop_duplicates()
    wanted = touched[touched["item_id"].isin(targets["item_id"])]
    items = wanted["item_id"].unique()
    top = targets[(targets["rank"] <= k) & targets["item_id"].isin(items)]
    hits = top.merge(wanted.assign(hit=1), on=["item_id", "user_id"], how="left")["hit"].fillna(0)
    return {
        f"precision@{k}": float(hits.mean()) if len(hits) else float("nan"),
        "items_evaluated": float(len(items)),
        "engaged_pairs": float(len(wanted)),
    }
