"""Recommendation keys and values: pure key functions, the binary formats, frame encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feature_store.recommendations import (
    CHANNELS,
    STAGES,
    ItemDictionary,
    Recommendation,
    RecommendationFormatError,
    decode_dictionary,
    decode_item_list,
    decode_targets,
    decode_user_list,
    encode_dictionary,
    encode_item_list,
    encode_item_lists,
    encode_target_frame,
    encode_targets,
    encode_user_frame,
    encode_user_list,
    encode_user_pieces,
    items_key,
    lock_key,
    segment_key,
    similar_key,
    target_key,
    user_key,
)


def user_frame(
    users: int, per_user: int, seed: int = 0, variants: tuple[str, ...] = ("champion",)
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for variant in variants:
        for u in range(users):
            for rank in range(1, per_user + 1):
                rows.append(
                    (
                        variant,
                        f"U{u}",
                        rank,
                        f"P{rng.integers(0, 40)}",
                        float(rng.normal()),
                        CHANNELS[rng.integers(0, len(CHANNELS))],
                        STAGES[rng.integers(0, len(STAGES))],
                    )
                )
    return pd.DataFrame(rows, columns=["variant", "user_id", "rank", "item_id", "score", "channel", "stage"])


def test_keys_are_pure_and_documented() -> None:
    assert user_key(3, "champion", "U1") == "rec:v3:u:champion:U1"
    assert user_key(3, "champion", "u:with:colons") == "rec:v3:u:champion:u:with:colons"
    assert similar_key(3, "P9") == "rec:v3:sim:P9"
    assert segment_key(3, "category:phones") == "rec:v3:seg:category:phones"
    assert target_key(3, "P9") == "rec:v3:target:P9"
    assert items_key(3) == "rec:v3:items" and lock_key() == "rec:lock"


def test_user_list_round_trip_and_size() -> None:
    rng = np.random.default_rng(1)
    items = rng.integers(0, 2**32 - 1, size=100, dtype=np.uint32)
    scores = rng.normal(size=100).astype(np.float32)
    scores[:3] = [np.inf, -np.inf, 1e30]  # float32 keeps what float16 would overflow
    channels = rng.integers(0, len(CHANNELS), size=100)
    stages = rng.integers(0, len(STAGES), size=100)
    value = encode_user_list(items, scores, channels, stages)
    assert len(value) == 901 and value[0] == 0x01  # 1 format byte + 100 × 9
    decoded = decode_user_list(value)
    np.testing.assert_array_equal(decoded.items, items)
    np.testing.assert_array_equal(decoded.scores, scores)
    np.testing.assert_array_equal(decoded.channels, channels)
    np.testing.assert_array_equal(decoded.stages, stages)


def test_empty_values_round_trip() -> None:
    assert encode_user_list([], [], [], []) == b"\x01"
    assert decode_user_list(b"\x01").items.size == 0
    assert decode_item_list(encode_item_list([], []))[0].size == 0
    assert decode_targets(encode_targets([], [])) == []
    assert decode_dictionary(encode_dictionary([])) == []


def test_item_list_targets_and_dictionary_round_trip() -> None:
    items, scores = decode_item_list(encode_item_list([5, 0, 7], [3.5, 2.0, -1.0]))
    assert items.tolist() == [5, 0, 7] and scores.tolist() == [3.5, 2.0, -1.0]
    assert len(encode_item_list([1, 2], [0.0, 0.0])) == 1 + 2 * 8
    assert decode_targets(encode_targets(["U:1", "Ü2"], [0.5, 0.25])) == [("U:1", 0.5), ("Ü2", 0.25)]
    assert decode_dictionary(encode_dictionary(["P1", "", "Pé"])) == ["P1", "", "Pé"]


def test_bad_values_are_refused_with_what_is_wrong() -> None:
    with pytest.raises(RecommendationFormatError, match=r"format byte 0x02 \(item list\), expected 0x01"):
        decode_user_list(encode_item_list([1], [1.0]))
    with pytest.raises(RecommendationFormatError, match=r"0x7f .*unknown format"):
        decode_item_list(b"\x7f" + bytes(8))
    with pytest.raises(RecommendationFormatError, match="empty value"):
        decode_user_list(b"")
    with pytest.raises(RecommendationFormatError, match="not a whole number of 9-byte items"):
        decode_user_list(encode_user_list([1, 2], [0.1, 0.2], [0, 1], [0, 1])[:-1])
    with pytest.raises(RecommendationFormatError, match="channel or stage code outside"):
        decode_user_list(b"\x01" + bytes(8) + bytes([0xF0]))
    with pytest.raises(RecommendationFormatError, match="too short for its 3 scores"):
        decode_targets(b"\x03" + (3).to_bytes(4, "little") + bytes(4))
    with pytest.raises(ValueError, match=r"channel codes must lie in 0\.\.4"):
        encode_user_list([1], [1.0], [5], [0])
    with pytest.raises(ValueError, match="NUL"):
        encode_targets(["U\0"], [1.0])


@pytest.mark.parametrize("dtype", ["object", "str", "category"])
def test_a_frame_encodes_to_the_per_list_encoding_whatever_its_string_dtype(dtype: str) -> None:
    frame = user_frame(users=30, per_user=7, variants=("champion", "challenger"))
    typed = frame.astype(dict.fromkeys(("variant", "user_id", "item_id", "channel", "stage"), dtype))
    dictionary = ItemDictionary()
    lists = encode_user_frame(typed, 4, dictionary)
    assert len(lists) == 60 and lists.value_bytes == 60 * (1 + 7 * 9)
    for i, key in enumerate(lists.keys):
        variant, user = key.decode().split(":", 4)[3:]
        rows = frame[(frame["variant"] == variant) & (frame["user_id"] == user)]
        expected = encode_user_list(
            [dictionary.ids.index(item) for item in rows["item_id"]],
            rows["score"],
            [CHANNELS.index(c) for c in rows["channel"]],
            [STAGES.index(s) for s in rows["stage"]],
        )
        assert lists.value(i) == expected, key
    assert sorted(dictionary.ids) == sorted(frame["item_id"].unique())


def test_unsorted_frames_are_put_in_rank_order() -> None:
    frame = user_frame(users=20, per_user=5, seed=3)
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    ordered = encode_user_frame(frame, 1, ItemDictionary())
    dictionary = ItemDictionary()
    mixed = encode_user_frame(shuffled, 1, dictionary)
    by_key = {key: mixed.value(i) for i, key in enumerate(mixed.keys)}
    first = ItemDictionary()
    encode_user_frame(frame, 1, first)
    for i, key in enumerate(ordered.keys):
        decoded = decode_user_list(by_key[key])
        names = [dictionary.ids[j] for j in decoded.items]
        want = decode_user_list(ordered.value(i))
        assert names == [first.ids[j] for j in want.items]
        np.testing.assert_array_equal(decoded.scores, want.scores)


def test_pieces_of_a_frame_hold_the_same_lists_as_the_whole() -> None:
    frame = user_frame(users=23, per_user=3, seed=5, variants=("a", "b"))
    whole = encode_user_frame(frame, 2, ItemDictionary())
    pieces = list(encode_user_pieces(frame, 2, ItemDictionary(), piece_lists=7))
    assert [len(p) for p in pieces] == [7] * 6 + [4]
    assert [k for p in pieces for k in p.keys] == whole.keys
    assert [p.value(i) for p in pieces for i in range(len(p))] == [whole.value(i) for i in range(46)]
    assert sum(p.value_bytes for p in pieces) == whole.value_bytes == 46 * (1 + 3 * 9)


def test_category_dictionary_is_shared_across_shards_and_skips_unused_items() -> None:
    categories = pd.CategoricalDtype(["P0", "P1", "P2", "P3"])
    dictionary = ItemDictionary()
    first = pd.Series(pd.Categorical(["P2", "P0", "P2"], dtype=categories))
    second = pd.Series(pd.Categorical(["P3", "P2"], dtype=categories))
    assert dictionary.indexes(first, "x").tolist() == [1, 0, 1]
    assert dictionary.indexes(second, "x").tolist() == [2, 1]
    assert dictionary.ids == ["P0", "P2", "P3"]  # P1 never occurs, so it takes no room
    assert dictionary.indexes(pd.Series(["P0", "P9"]), "x").tolist() == [0, 3]


def test_contract_breaches_name_the_list_and_the_column() -> None:
    frame = user_frame(users=3, per_user=4)
    gap = frame.copy()
    gap.loc[(gap["user_id"] == "U1") & (gap["rank"] == 3), "rank"] = 9
    with pytest.raises(ValueError, match=r"the list of champion, U1 has ranks \[1, 2, 4, 9\]; expected 1..4"):
        encode_user_frame(gap, 1, ItemDictionary())
    duplicate = frame.copy()
    duplicate.loc[0, "rank"] = 2
    with pytest.raises(ValueError, match=r"champion, U0 has ranks \[2, 2, 3, 4\]"):
        encode_user_frame(duplicate, 1, ItemDictionary())
    with pytest.raises(ValueError, match="frame 3: unknown channel 'email'"):
        encode_user_frame(frame.assign(channel="email"), 1, ItemDictionary(), where="frame 3")
    with pytest.raises(ValueError, match="unknown stage 'final'"):
        encode_user_frame(frame.assign(stage="final"), 1, ItemDictionary())
    with pytest.raises(ValueError, match="variant 'a:b' must be non-empty and free of ':'"):
        encode_user_frame(frame.assign(variant="a:b"), 1, ItemDictionary())
    with pytest.raises(ValueError, match="missing column"):
        encode_user_frame(frame.drop(columns="stage"), 1, ItemDictionary())
    missing = frame.astype({"user_id": object})
    missing.loc[5, "user_id"] = None
    with pytest.raises(ValueError, match="user_id is missing in row 5"):
        encode_user_frame(missing, 1, ItemDictionary())
    no_item = frame.astype({"item_id": object})
    no_item.loc[2, "item_id"] = None
    with pytest.raises(ValueError, match="item_id is missing in row 2"):
        encode_user_frame(no_item, 1, ItemDictionary())


def test_item_lists_split_by_kind_and_targets_encode() -> None:
    items = pd.DataFrame(
        {
            "kind": ["segment", "similar", "similar", "segment", "segment"],
            "key": ["category:phones", "P1", "P1", "category:phones", "global"],
            "rank": [2, 1, 2, 1, 1],
            "item_id": ["P4", "P2", "P3", "P5", "P1"],
            "score": [1.0, 0.9, 0.8, 2.0, 7.0],
        }
    )
    dictionary = ItemDictionary()
    encoded = {lists.kind: lists for lists in encode_item_lists(items, 2, dictionary)}
    assert encoded["similar"].keys == [b"rec:v2:sim:P1"]
    assert sorted(encoded["segment"].keys) == [b"rec:v2:seg:category:phones", b"rec:v2:seg:global"]
    phones = encoded["segment"].keys.index(b"rec:v2:seg:category:phones")
    indexes, scores = decode_item_list(encoded["segment"].value(phones))
    assert [dictionary.ids[i] for i in indexes] == ["P5", "P4"] and scores.tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match=r"unknown kind\(s\) \['bundle'\]"):
        encode_item_lists(items.assign(kind="bundle"), 2, ItemDictionary())

    targets = pd.DataFrame({"item_id": ["P9", "P9", "P8"], "rank": [2, 1, 1], "user_id": ["U2", "U1", "U3"]})
    lists = encode_target_frame(targets.assign(score=[0.2, 0.4, 0.1]), 2)
    assert lists.keys == [b"rec:v2:target:P8", b"rec:v2:target:P9"]
    assert decode_targets(lists.value(1)) == [("U1", pytest.approx(0.4)), ("U2", pytest.approx(0.2))]


def test_recommendation_is_a_frozen_value() -> None:
    rec = Recommendation("P1", 0.5, "faiss", "fine")
    assert rec == Recommendation("P1", 0.5, "faiss", "fine")
    with pytest.raises(AttributeError):
        rec.score = 1.0  # type: ignore[misc]
