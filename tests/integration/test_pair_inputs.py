"""Encoding pairs once per user and once per item gives the inputs of encoding every joined pair."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expectations.datasets import taxonomy_codes
from models.ranking_data import PairInputs, RankingEncoder, RankingFeatures, examples_for_day

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 7)


@pytest.mark.parametrize("variant", ["baseline", "tags"])
def test_pair_inputs_equal_the_joined_and_encoded_pairs(tiny_shop_lake: Path, variant: str) -> None:
    root = tiny_shop_lake / "lake"
    encoder = RankingEncoder.fit(examples_for_day(root, DAY), taxonomy_codes()[0])
    features = RankingFeatures.load(root, content_day=DAY, as_of=DAY)
    users = pd.Index(features.users["user_id"].unique()[:40]).append(pd.Index(["never-seen-user"]))
    items = pd.Index(features.content["item_id"].unique()[:60])
    rng = np.random.default_rng(3)
    user_rows, item_rows = rng.integers(0, len(users), 2000), rng.integers(0, len(items), 2000)
    context = {"device": "mobile", "placement": "home", "position": 0}

    fast = PairInputs.build(encoder, variant, features, users, items, context).arrays(user_rows, item_rows)
    pairs = pd.DataFrame({"user_id": users[user_rows], "item_id": items[item_rows]}).assign(**context)
    slow = encoder.encode(features.join(pairs), variant)
    assert sorted(fast) == sorted(slow)
    for name, expected in slow.items():
        np.testing.assert_array_equal(fast[name], expected, err_msg=name)
    assert (fast["uc_pref_share"] > 0).any()  # the user x category share is really looked up
