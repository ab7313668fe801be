"""Precomputed recommendations in Redis: publish a complete version, verify it, switch, read.

Key layout (a versioned keyspace, see ``feature_store.versioned``)::

    rec:current                        "v<N>", the version readers use
    rec:lock                           the publish lock: SET NX PX, token host:pid:uuid
    rec:v<N>:meta                      hash: state, dt, keys, created_by, per-kind counts
    rec:v<N>:items                     the item dictionary: list values hold indexes into it
    rec:v<N>:u:<variant>:<user_id>     a user's list, rank order
    rec:v<N>:sim:<item_id>             items similar to an item
    rec:v<N>:seg:<segment>             a segment's list (global, trending, category:phones, ...)
    rec:v<N>:target:<item_id>          the users most likely to want a new item

Only the variant may not contain ``:``; the last part of a key is taken whole, so user ids,
item ids and segment names may. Values are binary, little-endian, and start with one format
byte, so a reader refuses what it cannot decode instead of misreading it::

    0x01 user list     n uint32 item indexes, n float32 scores, n uint8 (channel << 4 | stage)
                       1 + 9n bytes
    0x02 item list     n uint32 item indexes, n float32 scores                 1 + 8n bytes
    0x03 target users  uint32 n, n float32 scores, the n user ids (UTF-8, NUL-separated)
    0x04 dictionary    the item ids (UTF-8, NUL-separated); index i is the i-th

Columns follow each other (all indexes, then all scores, ...) so that a frame's columns are
sliced into values without interleaving them. A user list of 100 items is **901 bytes**
(1 + 100 × 9); with its ~27-byte key and Redis's own overhead it takes about 1.1 KB of Redis
memory (docs/benchmarks.md). Rank is the position in the list, so it is not stored. Scores
stay float32: float16 would save 200 bytes per user but overflows above 65,504 (popularity
counts) and merges close ranker scores.

Publishing (``publish_recommendations``) takes the lock, deletes the debris of a killed
publish, begins a version and writes every key with plain SETs (no transactions, no
multi-key commands: every key may live in its own Redis Cluster slot). The SET commands of a
frame are built as one RESP buffer by Arrow, while the previous piece is sent in batches on
one connection and every reply is checked (``_SetWriter``). Then the key counts per kind are
checked with SCAN and a random sample of keys is decoded and compared with the source rows.
Only then does one SET switch ``rec:current``; versions beyond ``keep`` are pruned. Readers
(``RecommendationReader``) GET the pointer (cached briefly) and then one key per request.

The writer talks to one server (a single node, or a proxy in front of a cluster); the key
layout is cluster-ready, slot routing of the bulk writer is not.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import redis
from redis.exceptions import LockError
from redis.lock import Lock

from feature_store.versioned import VersionedKeyspace, current_key, meta_key, parse_version, version_prefix
from recsys.errors import RecsysError

log = logging.getLogger(__name__)

NAMESPACE = "rec"
CHANNELS = ("faiss", "covisit", "tag_popular", "trending", "fallback")
STAGES = ("recall", "coarse", "fine", "rules")
ITEM_LIST_KINDS = {"similar": "sim", "segment": "seg"}  # item lists' kind -> key part

USER_LIST, ITEM_LIST, TARGET_USERS, DICTIONARY = 0x01, 0x02, 0x03, 0x04
FORMAT_NAMES = {
    USER_LIST: "user list",
    ITEM_LIST: "item list",
    TARGET_USERS: "target users",
    DICTIONARY: "dictionary",
}
# Columns of a list value after its format byte: all item indexes, then all scores, (then tags).
USER_COLUMNS_DTYPES = (np.dtype("<u4"), np.dtype("<f4"), np.dtype("u1"))  # 9 bytes per item
ITEM_COLUMNS_DTYPES = (np.dtype("<u4"), np.dtype("<f4"))  # 8 bytes per item
SEPARATOR = b"\0"

USER_COLUMNS = ("variant", "user_id", "rank", "item_id", "score", "channel", "stage")
ITEM_LIST_COLUMNS = ("kind", "key", "rank", "item_id", "score")
TARGET_COLUMNS = ("item_id", "rank", "user_id", "score")

U32 = npt.NDArray[np.uint32]
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_NO_U32: U32 = np.zeros(0, dtype=np.uint32)
_NO_BOOL: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)

assert len(CHANNELS) <= 16 and len(STAGES) <= 16, "channel and stage share one byte, a nibble each"


class RecommendationFormatError(RecsysError, ValueError):
    """A stored value is not what its key should hold (wrong format byte, truncated, bad index)."""


class PublishError(RecsysError):
    """A publish of recommendations failed; the previous version keeps serving."""


class PublishLockedError(PublishError):
    """Another publish holds (or took over) the lock ``rec:lock``: wait for it, then retry."""


class VerificationError(PublishError):
    """The written version differs from the source; it is left unswitched (state writing)."""


class VersionUnavailableError(RecsysError):
    """The version ``rec:current`` names has no item dictionary (pruned, or never completed)."""


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    channel: str
    stage: str


# -- keys ---------------------------------------------------------------------------------


def lock_key() -> str:
    return f"{NAMESPACE}:lock"


def items_key(version: int) -> str:
    """``rec:v<N>:items``: the version's item dictionary."""
    return f"{version_prefix(NAMESPACE, version)}items"


def user_key(version: int, variant: str, user_id: str) -> str:
    """``rec:v<N>:u:<variant>:<user_id>``."""
    return f"{version_prefix(NAMESPACE, version)}u:{variant}:{user_id}"


def similar_key(version: int, item_id: str) -> str:
    """``rec:v<N>:sim:<item_id>``."""
    return f"{version_prefix(NAMESPACE, version)}sim:{item_id}"


def segment_key(version: int, name: str) -> str:
    """``rec:v<N>:seg:<segment>``."""
    return f"{version_prefix(NAMESPACE, version)}seg:{name}"


ALIASES_FIELD = "aliases"  # field of the version's meta hash: read name -> published list


def encode_aliases(aliases: Mapping[str, str]) -> str:
    """The ``aliases`` meta field: which published list a variant's ``reads`` name resolves to."""
    return json.dumps(dict(sorted(aliases.items())), separators=(",", ":"))


def decode_aliases(raw: bytes | str | None) -> dict[str, str]:
    """The aliases of a version (none for a version published before aliases existed).

    Raises:
        RecommendationFormatError: the field is not a JSON object of strings.
    """
    if raw is None:
        return {}
    try:
        found = json.loads(raw)
    except ValueError as exc:
        raise RecommendationFormatError(f"rec meta field {ALIASES_FIELD!r} is not JSON: {exc}") from None
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        raise RecommendationFormatError(
            f"rec meta field {ALIASES_FIELD!r} is not an object of strings: {raw!r}"
        )
    return found


def target_key(version: int, item_id: str) -> str:
    """``rec:v<N>:target:<item_id>``."""
    return f"{version_prefix(NAMESPACE, version)}target:{item_id}"


# -- values -------------------------------------------------------------------------------


class UserList(NamedTuple):
    """A decoded user list: item indexes, scores, channel and stage codes, in rank order."""

    items: U32
    scores: F32
    channels: U8
    stages: U8


def _body(value: bytes, expected: int) -> memoryview:
    """The value after its format byte, which must be ``expected``."""
    if not value:
        raise RecommendationFormatError(f"empty value, expected a {FORMAT_NAMES[expected]} (no format byte)")
    if value[0] != expected:
        found = FORMAT_NAMES.get(value[0], "an unknown format")
        raise RecommendationFormatError(
            f"format byte 0x{value[0]:02x} ({found}), expected 0x{expected:02x} ({FORMAT_NAMES[expected]}); "
            "written by another version of the publisher?"
        )
    return memoryview(value)[1:]


def _columns(value: bytes, expected: int, dtypes: tuple[np.dtype[Any], ...]) -> list[npt.NDArray[Any]]:
    """The columns of a list value, as views of it (no copy)."""
    body = _body(value, expected)
    width = sum(d.itemsize for d in dtypes)
    if len(body) % width:
        raise RecommendationFormatError(
            f"{FORMAT_NAMES[expected]} of {len(body)} bytes after the format byte is not a whole number "
            f"of {width}-byte items (truncated?)"
        )
    n, offset, columns = len(body) // width, 0, []
    for dtype in dtypes:
        columns.append(np.frombuffer(body, dtype=dtype, count=n, offset=offset))
        offset += n * dtype.itemsize
    return columns


def _tags(channels: npt.ArrayLike, stages: npt.ArrayLike) -> U8:
    channel = np.asarray(channels, dtype=np.int64)
    stage = np.asarray(stages, dtype=np.int64)
    if channel.size and not (channel.min() >= 0 and channel.max() < len(CHANNELS)):
        raise ValueError(
            f"channel codes must lie in 0..{len(CHANNELS) - 1}, got {channel.min()}..{channel.max()}"
        )
    if stage.size and not (stage.min() >= 0 and stage.max() < len(STAGES)):
        raise ValueError(f"stage codes must lie in 0..{len(STAGES) - 1}, got {stage.min()}..{stage.max()}")
    return (channel << 4 | stage).astype(np.uint8)


def encode_user_list(
    items: npt.ArrayLike, scores: npt.ArrayLike, channels: npt.ArrayLike, stages: npt.ArrayLike
) -> bytes:
    """One user list: item indexes, scores, and channel and stage codes (indexes into CHANNELS, STAGES)."""
    parts = [
        np.asarray(items, dtype="<u4").tobytes(),
        np.asarray(scores, dtype="<f4").tobytes(),
        _tags(channels, stages).tobytes(),
    ]
    if len({len(parts[0]) // 4, len(parts[1]) // 4, len(parts[2])}) != 1:
        raise ValueError("items, scores, channels and stages must have one entry per recommendation")
    return bytes([USER_LIST]) + b"".join(parts)


def decode_user_list(value: bytes) -> UserList:
    items, scores, tags = _columns(value, USER_LIST, USER_COLUMNS_DTYPES)
    channels, stages = (tags >> 4).astype(np.uint8), (tags & 0x0F).astype(np.uint8)
    if tags.size and (channels.max() >= len(CHANNELS) or stages.max() >= len(STAGES)):
        raise RecommendationFormatError("user list holds a channel or stage code outside CHANNELS / STAGES")
    return UserList(items, scores, channels, stages)


def encode_item_list(items: npt.ArrayLike, scores: npt.ArrayLike) -> bytes:
    """One similar-items or segment list: item indexes and scores."""
    item, score = np.asarray(items, dtype="<u4"), np.asarray(scores, dtype="<f4")
    if item.size != score.size:
        raise ValueError(f"{item.size} items but {score.size} scores")
    return bytes([ITEM_LIST]) + item.tobytes() + score.tobytes()


def decode_item_list(value: bytes) -> tuple[U32, F32]:
    items, scores = _columns(value, ITEM_LIST, ITEM_COLUMNS_DTYPES)
    return items, scores


def _joined(texts: Sequence[str], what: str) -> bytes:
    encoded = [t.encode() for t in texts]
    if any(SEPARATOR in t for t in encoded):
        bad = next(t for t in texts if "\0" in t)
        raise ValueError(f"{what} {bad!r} contains a NUL character, which separates ids in a stored value")
    return SEPARATOR.join(encoded)


def _split(body: memoryview | bytes, count: int | None) -> list[str]:
    if count == 0 or (count is None and not body):
        return []
    texts = bytes(body).decode().split("\0")
    if count is not None and len(texts) != count:
        raise RecommendationFormatError(f"holds {len(texts)} ids, its header says {count}")
    return texts


def encode_targets(user_ids: Sequence[str], scores: npt.ArrayLike) -> bytes:
    """The target users of one item, best first."""
    score = np.asarray(scores, dtype="<f4")
    if score.size != len(user_ids):
        raise ValueError(f"{len(user_ids)} user ids but {score.size} scores")
    head = bytes([TARGET_USERS]) + struct.pack("<I", len(user_ids))
    return head + score.tobytes() + _joined(user_ids, "user id")


def decode_targets(value: bytes) -> list[tuple[str, float]]:
    body = _body(value, TARGET_USERS)
    if len(body) < 4:
        raise RecommendationFormatError("target users value is shorter than its 4-byte count")
    (count,) = struct.unpack_from("<I", body)
    if len(body) < 4 + 4 * count:
        raise RecommendationFormatError(f"target users value too short for its {count} scores (truncated?)")
    scores = np.frombuffer(body[4 : 4 + 4 * count], dtype="<f4")
    users = _split(body[4 + 4 * count :], count)
    return list(zip(users, scores.tolist(), strict=True))


def encode_dictionary(item_ids: Sequence[str]) -> bytes:
    return bytes([DICTIONARY]) + _joined(item_ids, "item id")


def decode_dictionary(value: bytes) -> list[str]:
    return _split(_body(value, DICTIONARY), None)


# -- frames -> values, vectorised ---------------------------------------------------------


def _factorize(values: pd.Series, column: str, where: str) -> tuple[npt.NDArray[np.integer], list[str], U8]:
    """Codes into a list of distinct values, and which of those occur (hashing each row once).

    Categorical columns give their codes for free; Arrow-backed strings (pandas ``str``, read
    from Parquet) are dictionary-encoded by Arrow; anything else goes through pd.factorize.
    """
    codes: npt.NDArray[np.integer]
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories.tolist()]
        missing = codes.size > 0 and int(codes.min()) < 0
    elif hasattr(values.array, "__arrow_array__"):
        array = pa.array(values.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()  # one dictionary for the whole column
        missing = array.null_count > 0
        if not missing:
            encoded = pc.dictionary_encode(array)
            codes, uniques = encoded.indices.to_numpy(), [str(u) for u in encoded.dictionary.to_pylist()]
    else:
        codes, index = pd.factorize(values)
        uniques = [str(u) for u in index]
        missing = codes.size > 0 and int(codes.min()) < 0
    if missing:
        row = int(np.argmax(values.isna().to_numpy()))
        raise ValueError(f"{where}: {column} is missing in row {row}")
    present = np.zeros(len(uniques), dtype=np.uint8)
    present[codes] = 1
    return codes, uniques, present


class ItemDictionary:
    """Item id -> index, growing as frames arrive; written as the version's last key."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.ids: list[str] = []
        # Shards usually share one categories index: its mapping is kept, not rebuilt per frame.
        self._categories: tuple[pd.Index | None, U32, npt.NDArray[np.bool_]] = (None, _NO_U32, _NO_BOOL)
        self._known = pa.array([], pa.large_string())  # self.ids as Arrow, for vectorised look-ups

    def __len__(self) -> int:
        return len(self.ids)

    def _add(self, item_id: str) -> int:
        index = self._index.get(item_id)
        if index is None:
            if not item_id or "\0" in item_id:
                raise ValueError(f"item id {item_id!r} is empty or holds a NUL (the dictionary's separator)")
            index = self._index[item_id] = len(self.ids)
            self.ids.append(item_id)
        return index

    def indexes(self, values: pd.Series, where: str) -> U32:
        """The index of each value; new ids are added. Python touches each new id once."""
        if isinstance(values.dtype, pd.CategoricalDtype):
            return self._category_indexes(values, where)
        if hasattr(values.array, "__arrow_array__"):
            return self._arrow_indexes(values, where)
        codes, uniques, present = _factorize(values, "item_id", where)
        used = np.flatnonzero(present)
        lut = np.zeros(len(uniques), dtype=np.uint32)
        lut[used] = [self._add(uniques[n]) for n in used.tolist()]
        out: U32 = lut[codes]
        return out

    def _arrow_indexes(self, values: pd.Series, where: str) -> U32:
        """Arrow strings: dictionary-encode the rows, then look the distinct ids up in Arrow too."""
        array = pa.array(values.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.null_count:
            raise ValueError(f"{where}: item_id is missing in row {int(np.argmax(values.isna().to_numpy()))}")
        encoded = pc.dictionary_encode(array.cast(pa.large_string()))
        uniques = encoded.dictionary
        if len(self._known) != len(self.ids):
            self._known = pa.array(self.ids, pa.large_string())
        found = pc.index_in(uniques, value_set=self._known)
        if found.null_count:  # ids not seen before: give them the next indexes
            for item_id in uniques.filter(found.is_null()).to_pylist():
                self._add(item_id)
            self._known = pa.array(self.ids, pa.large_string())
            found = pc.index_in(uniques, value_set=self._known)
        lut = found.to_numpy().astype(np.uint32)
        out: U32 = lut[encoded.indices.to_numpy()]
        return out

    def _category_indexes(self, values: pd.Series, where: str) -> U32:
        categories = values.cat.categories
        known, lut, mapped = self._categories
        if known is not categories and not (known is not None and known.equals(categories)):
            lut, mapped = np.zeros(len(categories), dtype=np.uint32), np.zeros(len(categories), dtype=bool)
            self._categories = (categories, lut, mapped)
        codes = values.cat.codes.to_numpy()
        if codes.size and int(codes.min()) < 0:
            raise ValueError(f"{where}: item_id is missing in row {int(np.argmax(codes < 0))}")
        if not mapped.all():  # once every category has an index, no row needs looking at
            present = np.zeros(len(categories), dtype=bool)
            present[codes] = True
            new = np.flatnonzero(present & ~mapped)
            if new.size:
                lut[new] = [self._add(str(item)) for item in categories[new].tolist()]
                mapped[new] = True
        out: U32 = lut[codes]
        return out

    def encode(self) -> bytes:
        return encode_dictionary(self.ids)


def _codes(values: pd.Series, names: tuple[str, ...], column: str, where: str) -> npt.NDArray[np.uint8]:
    """Each value's index in ``names``; an unknown or missing value is an error naming it."""
    if isinstance(values.dtype, pd.CategoricalDtype) and set(values.cat.categories.tolist()) <= set(names):
        codes = values.cat.codes.to_numpy()  # the usual case: no row needs looking at
        if codes.size and int(codes.min()) < 0:
            raise ValueError(f"{where}: {column} is missing in row {int(np.argmax(codes < 0))}")
        known: U8 = np.asarray([names.index(c) for c in values.cat.categories.tolist()], dtype=np.uint8)
        if (known == np.arange(known.size)).all():
            return codes.astype(np.uint8)  # categories in the order of names: the codes are ours
        return known[codes]  # type: ignore[no-any-return]
    codes, uniques, present = _factorize(values, column, where)
    lut = np.zeros(len(uniques), dtype=np.uint8)
    for n in np.flatnonzero(present).tolist():
        if uniques[n] not in names:
            raise ValueError(f"{where}: unknown {column} {uniques[n]!r}; expected one of {', '.join(names)}")
        lut[n] = names.index(uniques[n])
    out: U8 = lut[codes]
    return out


def _changed(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Row i+1 differs from row i (vectorised for categorical, Arrow-backed and object columns)."""
    if len(values) < 2:
        return np.zeros(0, dtype=bool)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return np.asarray(codes[1:] != codes[:-1])
    if hasattr(values.array, "__arrow_array__"):
        column = pa.array(values.array)  # no copy; a ChunkedArray after pd.concat
        differs = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        return np.asarray(differs.to_numpy(zero_copy_only=False), dtype=bool)
    array = values.to_numpy()
    return np.asarray(array[1:] != array[:-1], dtype=bool)


def _values_at(values: pd.Series, rows: I64) -> pa.LargeBinaryArray:
    """The values of some rows, as UTF-8 bytes in an Arrow array (no Python object per row)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        taken = values.cat.categories.take(values.cat.codes.to_numpy()[rows])  # only these rows' values
        array = (
            pa.array(taken.array) if hasattr(taken.array, "__arrow_array__") else pa.array(map(str, taken))
        )
    elif hasattr(values.array, "__arrow_array__"):
        array = pa.array(values.array).take(pa.array(rows))
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
    else:
        array = pa.array([str(v) for v in values.to_numpy()[rows].tolist()])
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())  # ids given as numbers: keys hold their text
    return array.cast(pa.large_binary())


def _runs(
    frame: pd.DataFrame, by: Sequence[str]
) -> tuple[I64, list[pa.LargeBinaryArray], npt.NDArray[np.bool_]]:
    """Where each run of equal ``by`` values starts (plus the end), each run's ``by`` values,
    and whether row i + 1 starts a run."""
    rows = len(frame)
    change = np.zeros(max(rows - 1, 0), dtype=bool)
    for column in by:
        change |= _changed(frame[column])
    starts = np.zeros(1, np.int64)
    if rows:
        starts = np.concatenate([[0], np.flatnonzero(change) + 1, [rows]]).astype(np.int64)
    return starts, [_values_at(frame[column], starts[:-1]) for column in by], change


def _join(parts: Sequence[pa.Array | pa.Scalar], separator: bytes) -> pa.LargeBinaryArray:
    """Element-wise concatenation in Arrow (no Python per row)."""
    return pc.binary_join_element_wise(*parts, pa.scalar(separator, pa.large_binary()))


def _ordered(
    frame: pd.DataFrame, by: Sequence[str], where: str
) -> tuple[pd.DataFrame, I64, list[pa.LargeBinaryArray]]:
    """The frame with each list's rows together in rank order, where each list starts, and
    each list's ``by`` values.

    Candidate generation already writes lists this way, so the usual frame is only checked
    (vectorised); anything else is sorted once and checked again.
    """
    for column in by:
        if frame[column].isna().any():
            raise ValueError(
                f"{where}: {column} is missing in row {int(np.argmax(frame[column].isna().to_numpy()))}"
            )
    for attempt in range(2):
        starts, parts, change = _runs(frame, by)
        rank = frame["rank"].to_numpy()
        # Ranks run 1, 2, 3, ... within each list: each list starts at 1, and every other row
        # is one more than the row before it.
        bad = np.flatnonzero(np.diff(rank) != 1) + 1
        bad = np.union1d(bad[~change[bad - 1]], starts[:-1][rank[starts[:-1]] != 1]) if rank.size else bad
        # Each list in one run: no two runs share their key. One variant per frame is usual,
        # and then the users alone tell.
        varying = [part for part in parts if pc.count_distinct(part).as_py() > 1] or parts[-1:]
        names = varying[0] if len(varying) == 1 else _join(varying, b"\x1f")
        together = pc.count_distinct(names).as_py() == len(names)
        if together and bad.size == 0:
            return frame, starts, parts
        if attempt == 0:
            frame = frame.sort_values([*by, "rank"], kind="stable", ignore_index=True)
    n = int(np.searchsorted(starts, bad[0], side="right")) - 1
    ranks = rank[starts[n] : starts[n + 1]].tolist()
    shown = ", ".join(map(str, ranks[:12])) + (", ..." if len(ranks) > 12 else "")
    name = ", ".join(part[n].as_py().decode() for part in parts)
    raise ValueError(f"{where}: the list of {name} has ranks [{shown}]; expected 1..{len(ranks)}, each once")


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}"
        )


_SET = pa.scalar(b"*3\r\n$3\r\nSET\r\n$", pa.large_binary())
_CRLF = pa.scalar(b"\r\n", pa.large_binary())
_CRLF_BULK = pa.scalar(b"\r\n$", pa.large_binary())


def _decimal(lengths: pa.Array) -> pa.LargeBinaryArray:
    return lengths.cast(pa.int64()).cast(pa.large_string()).cast(pa.large_binary())


def _binary(data: U8 | bytes, offsets: I64) -> pa.LargeBinaryArray:
    """Values back to back in ``data`` as an Arrow array, without copying them."""
    buffer = pa.py_buffer(data)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        offsets.size - 1,
        [None, pa.py_buffer(np.ascontiguousarray(offsets, np.int64)), buffer],
    )


class EncodedLists:
    """Lists of one kind ready to SET: keys, values, the SET commands, and their source rows.

    The RESP stream of every SET (``*3 $3 SET $<n> key $<n> <format byte><value>``) is built
    by Arrow in one pass over the frame, so no Python runs per key; a batch is then one slice
    of that buffer. Value i is ``header`` followed by ``part[i]`` of each value part (for
    lists: the item-index column, the score column, ...).
    """

    def __init__(
        self,
        kind: str,
        keys: pa.LargeBinaryArray,
        parts: Sequence[pa.LargeBinaryArray],
        header: bytes,
        source: pd.DataFrame,
        starts: I64,
    ) -> None:
        self.kind = kind  # "user", "similar", "segment", "target" or "items"
        self.key_array = keys
        self.parts = list(parts)
        self.header = header
        self.source = source  # rows in list order
        self.starts = starts  # list i is source rows starts[i]:starts[i + 1]
        head = pa.scalar(header + b"", pa.large_binary())
        value_lengths = pc.add(pc.binary_length(parts[0]), len(header))
        for part in parts[1:]:
            value_lengths = pc.add(value_lengths, pc.binary_length(part))
        key_part = [_SET, _decimal(pc.binary_length(keys)), _CRLF, keys, _CRLF_BULK]
        commands = _join([*key_part, _decimal(value_lengths), _CRLF, head, *parts, _CRLF], b"")
        _, offsets, data = commands.buffers()
        self.command_offsets: I64 = np.frombuffer(offsets, dtype=np.int64)[
            commands.offset : commands.offset + len(commands) + 1
        ]
        self.commands = memoryview(data) if data is not None else memoryview(b"")
        self.key_bytes = int(pc.sum(pc.binary_length(keys)).as_py() or 0)
        self.value_bytes = int(pc.sum(value_lengths).as_py() or 0)

    def __len__(self) -> int:
        return len(self.key_array)

    def key(self, i: int) -> bytes:
        return bytes(self.key_array[i].as_py())

    @property
    def keys(self) -> list[bytes]:
        return [bytes(k) for k in self.key_array.to_pylist()]

    def value(self, i: int) -> bytes:
        return self.header + b"".join(bytes(part[i].as_py()) for part in self.parts)


def _column_lists(
    kind: str,
    keys: pa.LargeBinaryArray,
    header: int,
    columns: Sequence[npt.NDArray[Any]],
    source: pd.DataFrame,
    starts: I64,
) -> EncodedLists:
    """Lists whose values are slices of per-row columns: list g is rows starts[g]:starts[g+1]
    of each column, one column after the other (views of the arrays, no copy until the RESP)."""
    parts = [_binary(np.ascontiguousarray(c).view(np.uint8), starts * c.dtype.itemsize) for c in columns]
    return EncodedLists(kind, keys, parts, bytes([header]), source, starts)


def _from_values(
    kind: str, keys: pa.LargeBinaryArray, values: list[bytes], source: pd.DataFrame, starts: I64
) -> EncodedLists:
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    return EncodedLists(kind, keys, [_binary(b"".join(values), offsets)], b"", source, starts)


def _keys(prefix: str, parts: Sequence[pa.LargeBinaryArray]) -> pa.LargeBinaryArray:
    """``<prefix>:<part>:<part>...`` for every list."""
    return _join([pa.scalar(prefix.encode(), pa.large_binary()), *parts], b":")


def encode_user_frame(
    frame: pd.DataFrame, version: int, dictionary: ItemDictionary, where: str = "user lists"
) -> EncodedLists:
    """Every user list of a frame (columns USER_COLUMNS), encoded with numpy and Arrow."""
    return next(encode_user_pieces(frame, version, dictionary, where, piece_lists=max(len(frame), 1)))


PIECE_LISTS = 25_000  # lists encoded and sent as one piece: ~23 MB of commands for 100-item lists


def encode_user_pieces(
    frame: pd.DataFrame,
    version: int,
    dictionary: ItemDictionary,
    where: str = "user lists",
    piece_lists: int = PIECE_LISTS,
) -> Iterator[EncodedLists]:
    """The user lists of a frame in pieces of ``piece_lists`` lists.

    The frame is checked (and if need be sorted) whole; the rest runs per piece, so a shard
    of 250,000 users starts going out after its first 25,000, and its temporaries stay small.
    """
    _check_columns(frame, USER_COLUMNS, where)
    frame, starts, (variants, users) = _ordered(frame, ("variant", "user_id"), where)
    for variant in pc.unique(variants).to_pylist():
        if not variant or b":" in variant:
            raise ValueError(
                f"{where}: variant {variant.decode()!r} must be non-empty and free of ':' (it is a key part)"
            )
    keys = _keys(f"{version_prefix(NAMESPACE, version)}u", [variants, users])
    for first in range(0, max(len(starts) - 1, 1), piece_lists):
        last = min(first + piece_lists, len(starts) - 1)
        rows = frame.iloc[int(starts[first]) : int(starts[last])]
        items = dictionary.indexes(rows["item_id"], where)
        scores = rows["score"].to_numpy(dtype="<f4")
        channels = _codes(rows["channel"], CHANNELS, "channel", where)
        tags = channels << 4 | _codes(rows["stage"], STAGES, "stage", where)
        piece_starts = starts[first : last + 1] - starts[first]
        piece_keys = keys.slice(first, last - first)
        yield _column_lists("user", piece_keys, USER_LIST, [items, scores, tags], rows, piece_starts)


def encode_item_lists(frame: pd.DataFrame, version: int, dictionary: ItemDictionary) -> list[EncodedLists]:
    """Similar-item and segment lists (columns ITEM_LIST_COLUMNS), one EncodedLists per kind."""
    where = "item lists"
    _check_columns(frame, ITEM_LIST_COLUMNS, where)
    unknown = set(frame["kind"].unique()) - set(ITEM_LIST_KINDS)
    if unknown:
        raise ValueError(f"{where}: unknown kind(s) {sorted(map(str, unknown))}; expected similar or segment")
    out = []
    for kind, part in ITEM_LIST_KINDS.items():
        rows = frame[frame["kind"] == kind]
        if rows.empty:
            continue
        rows, starts, names = _ordered(rows.reset_index(drop=True), ("key",), f"{where} ({kind})")
        columns = [dictionary.indexes(rows["item_id"], where), rows["score"].to_numpy(dtype="<f4")]
        keys = _keys(f"{version_prefix(NAMESPACE, version)}{part}", names)
        out.append(_column_lists(kind, keys, ITEM_LIST, columns, rows, starts))
    return out


def encode_target_frame(frame: pd.DataFrame, version: int) -> EncodedLists:
    """The target users of each new item (columns TARGET_COLUMNS)."""
    where = "target users"
    _check_columns(frame, TARGET_COLUMNS, where)
    frame, starts, names = _ordered(frame, ("item_id",), where)
    if frame["user_id"].isna().any():
        raise ValueError(
            f"{where}: user_id is missing in row {int(np.argmax(frame['user_id'].isna().to_numpy()))}"
        )
    users = [str(u) for u in frame["user_id"].tolist()]
    scores = frame["score"].to_numpy(dtype=np.float32)
    bounds = starts.tolist()
    values = [encode_targets(users[a:b], scores[a:b]) for a, b in itertools.pairwise(bounds)]
    keys = _keys(f"{version_prefix(NAMESPACE, version)}target", names)
    return _from_values("target", keys, values, frame, starts)


def _single(kind: str, key: str, value: bytes) -> EncodedLists:
    keys = pa.array([key.encode()], pa.large_binary())
    return _from_values(kind, keys, [value], pd.DataFrame(), np.zeros(1, dtype=np.int64))


# -- writing --------------------------------------------------------------------------------


OK_REPLY = b"+OK\r\n"


def _pack(*parts: bytes) -> bytes:
    """One RESP command."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


class _RawConnection:
    """A plain socket to the client's server whose replies are checked as bytes, not parsed.

    redis-py parses each reply in Python (~2 µs); the bulk of a publish is SETs answered
    ``+OK``, so a batch's replies are compared with ``+OK`` × n in one step. Opened from the
    client's own settings (host or unix path, db, username, password); ``None`` where those
    need redis-py (TLS, credential providers, RESP3 or a custom connection class).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    @classmethod
    def open(cls, client: redis.Redis) -> _RawConnection | None:
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        plain = pool.connection_class in (redis.Connection, redis.UnixDomainSocketConnection)
        if not plain or kwargs.get("credential_provider") or kwargs.get("protocol") not in (None, 2, "2"):
            return None
        timeout = kwargs.get("socket_timeout") or 60.0
        if kwargs.get("path"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(kwargs.get("socket_connect_timeout") or timeout)
            sock.connect(kwargs["path"])
        else:
            address = (kwargs.get("host", "localhost"), int(kwargs.get("port", 6379)))
            sock = socket.create_connection(address, timeout=kwargs.get("socket_connect_timeout") or timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        conn = cls(sock)
        try:
            handshake = []
            if kwargs.get("password"):
                user = [str(kwargs["username"]).encode()] if kwargs.get("username") else []
                handshake.append((b"AUTH", _pack(b"AUTH", *user, str(kwargs["password"]).encode())))
            if int(kwargs.get("db") or 0):
                handshake.append((b"SELECT", _pack(b"SELECT", str(int(kwargs["db"])).encode())))
            handshake.append((b"CLIENT SETNAME", _pack(b"CLIENT", b"SETNAME", b"rec-publisher")))
            conn.send(b"".join(command for _, command in handshake))
            for name, _ in handshake:
                failed = conn.first_failure(1)
                if failed is not None:
                    raise redis.ConnectionError(f"{name.decode()} refused by the server: {failed[1]!r}")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, packed: bytes | memoryview) -> None:
        self.sock.sendall(packed)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise redis.ConnectionError("the server closed the connection during a publish")
        self._buffer += chunk

    def first_failure(self, count: int) -> tuple[int, bytes] | None:
        """Consume ``count`` single-line replies: ``None`` if all are +OK, else (index, reply)."""
        want = len(OK_REPLY) * count
        while len(self._buffer) < want:
            self._fill()
        if self._buffer[:want] == OK_REPLY * count:
            del self._buffer[:want]  # later bytes are the next batch's replies: keep them
            return None
        position = 0  # an error among them: find it line by line (errors are single lines)
        for index in range(count):
            end = self._buffer.find(b"\r\n", position)
            while end < 0:
                self._fill()
                end = self._buffer.find(b"\r\n", position)
            line = bytes(self._buffer[position:end])
            if line != OK_REPLY[:-2]:
                return index, line
            position = end + 2
        raise AssertionError("unreachable: the replies were not all +OK")

    def close(self) -> None:
        self.sock.close()


# Batches sent before the oldest one's replies are read. One would keep Redis busy only while
# this thread runs on time; with the next few already queued, a descheduled thread (2 shared
# cores) or a GIL hand-over to the encoding thread no longer leaves the server idle.
IN_FLIGHT_BATCHES = 4


class _SetWriter:
    """The SET commands of EncodedLists sent in batches on one connection, every reply checked.

    redis-py's pipeline builds Python objects per command and reaches well under half of what
    the server takes (docs/benchmarks.md); here a batch is one slice of a buffer Arrow built.
    Up to IN_FLIGHT_BATCHES batches are sent before the oldest one's replies are read, so the
    server always has work queued.
    """

    def __init__(self, client: redis.Redis, batch_size: int, between_batches: Callable[[], None]) -> None:
        self._raw = _RawConnection.open(client)
        self._pool = client.connection_pool
        self._conn = self._pool.get_connection() if self._raw is None else None  # redis-py's, if needed
        self._batch = batch_size
        self._between = between_batches
        self._in_flight: list[tuple[EncodedLists, int, int]] = []
        self.keys = 0
        self.bytes = 0
        self.seconds = 0.0  # sending and reading replies (the rest of a write is encoding)

    def write(self, lists: EncodedLists) -> None:
        """SET every key of ``lists`` to its value."""
        started = time.perf_counter()
        offsets = lists.command_offsets
        for start in range(0, len(lists), self._batch):
            stop = min(start + self._batch, len(lists))
            packed = lists.commands[int(offsets[start]) : int(offsets[stop])]
            if self._raw is not None:
                self._raw.send(packed)
            else:
                self._conn.send_packed_command([packed], check_health=False)  # type: ignore[union-attr]
            self._in_flight.append((lists, start, stop))
            if len(self._in_flight) > IN_FLIGHT_BATCHES:
                self._read(*self._in_flight.pop(0))
                self._between()
        self.keys += len(lists)
        self.bytes += lists.key_bytes + lists.value_bytes
        self.seconds += time.perf_counter() - started

    def _read(self, lists: EncodedLists, start: int, stop: int) -> None:
        if self._raw is not None:
            failed = self._raw.first_failure(stop - start)
            if failed is not None:
                index, reply = failed
                raise PublishError(
                    f"SET {lists.key(start + index).decode(errors='replace')} failed: {reply!r}"
                )
            return
        assert self._conn is not None
        for index in range(start, stop):
            try:
                reply = self._conn.read_response()
            except redis.ResponseError as exc:
                raise PublishError(f"SET {lists.key(index).decode(errors='replace')} failed: {exc}") from exc
            if reply not in (b"OK", "OK"):
                key = lists.key(index).decode(errors="replace")
                raise PublishError(f"SET {key} answered {reply!r}, expected OK")

    def close(self) -> None:
        """Read every outstanding reply and close (or give back) the connection."""
        started = time.perf_counter()
        try:
            while self._in_flight:
                self._read(*self._in_flight.pop(0))
        except BaseException:
            self.abort()
            raise
        if self._raw is not None:
            self._raw.close()
        elif self._conn is not None:
            self._pool.release(self._conn)
        self._raw = self._conn = None
        self.seconds += time.perf_counter() - started

    def abort(self) -> None:
        """Drop the connection: replies may still be on its socket."""
        if self._raw is not None:
            self._raw.close()
        elif self._conn is not None:
            self._conn.disconnect()  # type: ignore[no-untyped-call]
            self._pool.release(self._conn)
        self._raw = self._conn = None


class _PublishLock:
    """``rec:lock``: SET NX PX with a token naming the holder, renewed while the publish runs."""

    def __init__(self, client: redis.Redis, ttl_s: float, wait_s: float) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = Lock(client, lock_key(), timeout=ttl_s, sleep=min(0.1, ttl_s / 4), thread_local=False)
        self._renewed = 0.0

    def acquire(self) -> None:
        if not self._lock.acquire(blocking=self.wait_s > 0, blocking_timeout=self.wait_s, token=self.token):
            holder = self.client.get(lock_key())
            left = self.client.pttl(lock_key())
            raise PublishLockedError(
                f"another publish holds {lock_key()} (token {holder!r}, expires in {left} ms); "
                f"waited {self.wait_s:.1f} s. Retry once it finishes (a killed publish's lock expires after "
                f"{self.ttl_s:.0f} s)."
            )
        self._renewed = time.monotonic()

    def renew(self, force: bool = False) -> None:
        """Push the expiry back (every third of the TTL); raise if the lock was lost meanwhile."""
        if not force and time.monotonic() - self._renewed < self.ttl_s / 3:
            return
        try:
            self._lock.reacquire()
        except LockError as exc:
            raise PublishLockedError(
                f"lost {lock_key()} (expired after {self.ttl_s:.0f} s without renewal, or taken over): "
                "stopping this publish; the version it was writing is left for the next publish to delete"
            ) from exc
        self._renewed = time.monotonic()

    def release(self) -> None:
        try:
            self._lock.release()
        except LockError:
            log.warning("rec: the publish lock had already expired or been taken over at release")


T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


def _ahead(items: Iterator[T], waiting: Callable[[], None] = lambda: None) -> Iterator[T]:
    """``items``, produced one ahead in a thread: the next piece is encoded (numpy and Arrow,
    which release the GIL) while this one is sent. An error in the thread re-raises here.
    ``waiting`` runs about every second while the next item is not ready (the lock's renewal:
    sorting a large unsorted shard can take a while)."""
    queue: Queue[object] = Queue(maxsize=1)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():  # the consumer may have given up: never block on a full queue
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="rec-encode", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1.0)
            except Empty:
                waiting()
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


# -- verification -------------------------------------------------------------------------

KEY_KINDS = {"u": "user", "sim": "similar", "seg": "segment", "target": "target", "items": "items"}


@dataclass(frozen=True)
class _Sampled:
    """One sampled list: its priority, key, and its source rows ``rows[start:stop]``."""

    priority: float
    kind: str
    key: bytes
    rows: pd.DataFrame  # shared by the lists sampled from one frame
    start: int
    stop: int

    def source(self) -> pd.DataFrame:
        return self.rows.iloc[self.start : self.stop]


class _Sample:
    """A uniform random sample of written lists, kept with their source rows, across frames."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.entries: dict[str, list[_Sampled]] = {}

    def offer(self, lists: EncodedLists) -> None:
        n = len(lists)
        if self.size == 0 or n == 0:
            return
        priority = self.rng.random(n)
        kept = self.entries.setdefault(lists.kind, [])
        # Only lists that can still enter the sample are copied out of the frame, in one take.
        threshold = kept[-1].priority if len(kept) >= self.size else 1.0
        take = np.flatnonzero(priority < threshold)
        if take.size > self.size:
            take = take[np.argpartition(priority[take], self.size - 1)[: self.size]]
        if take.size == 0:
            return
        starts, stops = lists.starts[take], lists.starts[take + 1]
        sizes = stops - starts
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        rows = np.repeat(starts - bounds[:-1], sizes) + np.arange(int(bounds[-1]))
        block = lists.source.take(rows)
        for j, i in enumerate(take.tolist()):
            entry = _Sampled(
                float(priority[i]), lists.kind, lists.key(i), block, int(bounds[j]), int(bounds[j + 1])
            )
            kept.append(entry)
        kept.sort(key=lambda entry: entry.priority)
        del kept[self.size :]

    def chosen(self) -> list[_Sampled]:
        """``size`` entries of the smallest priorities overall, but at least one of each kind."""
        ranked = sorted((e for kept in self.entries.values() for e in kept), key=lambda e: e.priority)
        chosen = ranked[: self.size]
        for kind, kept in self.entries.items():
            if kept and not any(e.kind == kind for e in chosen):
                chosen[-1] = kept[0]
                chosen.sort(key=lambda e: e.priority)
        return chosen


def _first_difference(expected: pd.DataFrame, found: dict[str, list[str] | F32]) -> str | None:
    """What differs between the source rows and the decoded list, or None."""
    size = len(next(iter(found.values())))
    if size != len(expected):
        return f"holds {size} entries, the source has {len(expected)}"
    for column, values in found.items():
        if column == "score":
            want = expected["score"].to_numpy(dtype=np.float32)
            same = np.equal(want, values) | (np.isnan(want) & np.isnan(values))
        else:
            want = np.asarray([str(v) for v in expected[column].tolist()], dtype=object)
            same = want == np.asarray(values, dtype=object)
        if not same.all():
            at = int(np.argmax(~same))
            return f"at rank {at + 1}: {column} is {values[at]!r}, the source has {want[at]!r}"
    return None


def _decoded(kind: str, value: bytes, items: list[str]) -> dict[str, list[str] | F32]:
    def names(indexes: U32) -> list[str]:
        if indexes.size and int(indexes.max()) >= len(items):
            raise RecommendationFormatError(
                f"item index {int(indexes.max())} beyond the dictionary's {len(items)}"
            )
        return [items[i] for i in indexes.tolist()]

    if kind == "user":
        lst = decode_user_list(value)
        return {
            "item_id": names(lst.items),
            "score": lst.scores,
            "channel": [CHANNELS[c] for c in lst.channels.tolist()],
            "stage": [STAGES[s] for s in lst.stages.tolist()],
        }
    if kind == "target":
        pairs = decode_targets(value)
        return {
            "user_id": [u for u, _ in pairs],
            "score": np.asarray([s for _, s in pairs], dtype=np.float32),
        }
    indexes, scores = decode_item_list(value)
    return {"item_id": names(indexes), "score": scores}


def _count_keys(client: redis.Redis, version: int) -> dict[str, int]:
    """Keys of a version per kind, with one SCAN (deduplicated: SCAN may repeat keys while rehashing).

    COUNT 10,000 keeps each SCAN call to a few milliseconds of the server, so readers barely
    notice it."""
    prefix = version_prefix(NAMESPACE, version).encode()
    seen = set(client.scan_iter(match=prefix + b"*", count=10_000))
    parts = Counter(bytes(key)[len(prefix) :].partition(b":")[0] for key in seen)
    counts = dict.fromkeys([*KEY_KINDS.values(), "meta", "other"], 0)
    for part, n in parts.items():
        counts[KEY_KINDS.get(part.decode(errors="replace"), "meta" if part == b"meta" else "other")] += n
    return counts


# -- publishing ---------------------------------------------------------------------------


def _require_binary(client: redis.Redis, who: str) -> None:
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ValueError(f"{who} needs a Redis client with decode_responses=False: the values are binary")


@dataclass(frozen=True)
class PublishReport:
    version: int
    dt: str
    keys: int  # every key of the version but its meta
    users: int  # user lists (all variants)
    similar: int
    segments: int
    targets: int
    items: int  # entries of the item dictionary
    bytes_written: int  # keys + values
    bytes_per_user_list: float  # mean value size of a user list
    write_s: float  # encoding and writing every key
    send_s: float  # of which packing, sending and reading replies
    verify_s: float
    swap_ms: float  # the pointer SET
    prune_s: float
    seconds: float  # lock to unlock
    pruned: tuple[int, ...] = ()
    abandoned: tuple[int, ...] = ()  # killed publishes' versions deleted first

    @property
    def keys_per_s(self) -> float:
        return self.keys / self.write_s if self.write_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes_written / 1e6 / self.write_s if self.write_s > 0 else 0.0


def publish_recommendations(
    client: redis.Redis,
    dt: str,
    user_frames: Iterable[pd.DataFrame] | pd.DataFrame,
    item_lists: pd.DataFrame | None,
    target_users: pd.DataFrame | None,
    *,
    keep: int,
    batch_size: int,
    verify_sample: int,
    seed: int = 0,
    lock_ttl_s: float = 60.0,
    lock_wait_s: float = 0.0,
    after_write: Callable[[int], None] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> PublishReport:
    """Publish partition ``dt``'s recommendations as a new version and switch readers to it.

    ``user_frames`` may be a generator of shards (each user's list within one frame).
    ``after_write(version)`` runs once every key is written, before verification (tests
    tamper there). ``aliases`` maps a variant's ``reads`` name onto the published list that
    serves it (``{"tags": "champion"}`` when the champion ranker is the tags variant), kept in
    the version's meta hash. Settings: ``publish_keep_versions``, ``publish_batch_size``,
    ``publish_verify_sample``.

    Raises:
        PublishLockedError: another publish holds ``rec:lock`` (or took it over).
        VerificationError: the written keys differ from the source; nothing is switched.
        ValueError: an input frame breaks the contract (the message names frame and column).
    """
    _require_binary(client, "publish_recommendations")
    if isinstance(user_frames, pd.DataFrame):
        user_frames = [user_frames]  # iterating a frame would yield its column names
    started = time.perf_counter()
    versions = VersionedKeyspace(client, NAMESPACE, keep=keep)
    lock = _PublishLock(client, lock_ttl_s, lock_wait_s)
    lock.acquire()
    try:
        abandoned = versions.clear_abandoned()
        version = versions.begin(dt)
        client.hset(meta_key(NAMESPACE, version), "created_by", lock.token)
        log.info("rec: writing v%d for %s (lock %s)", version, dt, lock.token)

        write_started = time.perf_counter()
        dictionary = ItemDictionary()
        sample = _Sample(verify_sample, seed)
        counts = dict.fromkeys(KEY_KINDS.values(), 0)
        user_bytes = 0
        writer = _SetWriter(client, batch_size, lock.renew)
        try:

            def write(lists: EncodedLists) -> None:
                writer.write(lists)
                sample.offer(lists)
                counts[lists.kind] += len(lists)
                lock.renew()

            variants: set[str] = set()

            def pieces(n: int, frame: pd.DataFrame) -> Iterator[EncodedLists]:
                yield from encode_user_pieces(frame, version, dictionary, where=f"user lists, frame {n}")
                variants.update(frame["variant"].unique().tolist())  # the column is checked by now

            encoded = (
                piece for n, frame in enumerate(user_frames) if len(frame) for piece in pieces(n, frame)
            )
            for lists in _ahead(encoded, waiting=lock.renew):
                user_bytes += lists.value_bytes
                write(lists)
            if item_lists is not None and len(item_lists):
                for lists in encode_item_lists(item_lists, version, dictionary):
                    write(lists)
            if target_users is not None and len(target_users):
                write(encode_target_frame(target_users, version))
            unknown = {k: v for k, v in (aliases or {}).items() if v not in variants}
            if unknown:
                raise ValueError(
                    f"aliases {unknown} name lists this publication does not hold "
                    f"(its variants: {sorted(variants)})"
                )
            blob = dictionary.encode()  # last: the lists above add to it
            writer.write(_single("items", items_key(version), blob))
            counts["items"] = 1
            writer.close()
        except BaseException:
            writer.abort()
            raise
        write_s = time.perf_counter() - write_started
        keys = sum(counts.values())
        client.hset(
            meta_key(NAMESPACE, version),
            mapping={  # type: ignore[arg-type]
                **counts,  # type: ignore[dict-item]
                "bytes": writer.bytes,
                ALIASES_FIELD: encode_aliases(aliases or {}),
            },
        )
        log.info("rec: v%d written: %d keys, %.1f MB in %.1f s", version, keys, writer.bytes / 1e6, write_s)
        if after_write is not None:
            after_write(version)

        verify_started = time.perf_counter()
        found = _verify(client, version, counts, dictionary, sample)
        verify_s = time.perf_counter() - verify_started

        lock.renew(force=True)  # still ours: nobody deleted this version as debris
        swap_s = versions.switch(version, keys, counted=found)
        prune_started = time.perf_counter()
        pruned = versions.prune()
        prune_s = time.perf_counter() - prune_started
    finally:
        lock.release()
    report = PublishReport(
        version=version,
        dt=dt,
        keys=keys,
        users=counts["user"],
        similar=counts["similar"],
        segments=counts["segment"],
        targets=counts["target"],
        items=len(dictionary),
        bytes_written=writer.bytes,
        bytes_per_user_list=user_bytes / counts["user"] if counts["user"] else 0.0,
        write_s=write_s,
        send_s=writer.seconds,
        verify_s=verify_s,
        swap_ms=swap_s * 1000.0,
        prune_s=prune_s,
        seconds=time.perf_counter() - started,
        pruned=tuple(pruned),
        abandoned=tuple(abandoned),
    )
    log.info(
        "rec: v%d serving (%d keys, %.0f keys/s, %.1f MB/s, swap %.2f ms); pruned %s",
        version,
        keys,
        report.keys_per_s,
        report.mb_per_s,
        report.swap_ms,
        list(pruned),
    )
    return report


def _verify(
    client: redis.Redis, version: int, counts: dict[str, int], dictionary: ItemDictionary, sample: _Sample
) -> int:
    """Key counts per kind and a decoded sample against the source; the version's key count."""
    serving = parse_version(client.get(current_key(NAMESPACE)))
    keep_serving = f"v{version} is not switched (left in state writing); v{serving} keeps serving"
    found = _count_keys(client, version)
    for kind, wrote in counts.items():
        if found[kind] != wrote:
            raise VerificationError(
                f"rec v{version} holds {found[kind]} {kind} keys, {wrote} were written (a list split across "
                f"input frames, or keys lost or added meanwhile): {keep_serving}"
            )
    if found["other"]:
        raise VerificationError(
            f"rec v{version} holds {found['other']} keys of no known kind: {keep_serving}"
        )
    raw = client.get(items_key(version))
    stored = decode_dictionary(raw) if isinstance(raw, bytes) else None
    if stored is None or stored != dictionary.ids:
        size = "missing" if stored is None else f"{len(stored)} ids"
        raise VerificationError(
            f"{items_key(version)} differs from the dictionary written ({size}, wrote {len(dictionary)}): "
            f"{keep_serving}"
        )
    chosen = sample.chosen()
    pipe = client.pipeline(transaction=False)
    for entry in chosen:
        pipe.get(entry.key)
    for entry, value in zip(chosen, pipe.execute(), strict=True):
        name = entry.key.decode(errors="replace")
        if value is None:
            raise VerificationError(f"{name} is missing: {keep_serving}")
        try:
            problem = _first_difference(entry.source(), _decoded(entry.kind, value, stored))
        except RecommendationFormatError as exc:
            problem = f"does not decode: {exc}"
        if problem is not None:
            raise VerificationError(f"{name} {problem}: {keep_serving}")
    log.info("rec: v%d verified: counts per kind, %d sampled keys", version, len(chosen))
    return sum(found[kind] for kind in counts)


def rollback(client: redis.Redis) -> int:
    """Point readers at the previous complete version (one SET); returns it."""
    version = VersionedKeyspace(client, NAMESPACE).rollback()
    log.info("rec: rolled back to v%d", version)
    return version


# -- reading ------------------------------------------------------------------------------


class RecommendationReader:
    """Reads the serving version: the pointer is cached ``pointer_ttl_s``, the dictionary per version.

    Each look-up is one GET of its key (plus, once per version, the dictionary). A reader
    whose cached pointer is up to ``pointer_ttl_s`` old still reads a whole version, since
    publishing keeps the previous versions; with ``publish_keep_versions`` = 1 it would find
    no lists for up to ``pointer_ttl_s`` after a switch.
    """

    def __init__(self, client: redis.Redis, pointer_ttl_s: float = 1.0) -> None:
        _require_binary(client, "RecommendationReader")
        self.client = client
        self.pointer_ttl_s = pointer_ttl_s
        self._pointer: tuple[float, int | None] = (-np.inf, None)
        self._items: dict[int, list[str]] = {}

    def current_version(self) -> int | None:
        """The serving version, cached for ``pointer_ttl_s`` seconds."""
        fetched_at, version = self._pointer
        if time.monotonic() - fetched_at >= self.pointer_ttl_s:
            version = parse_version(self.client.get(current_key(NAMESPACE)))
            self._pointer = (time.monotonic(), version)
        return version

    def _dictionary(self, version: int) -> list[str]:
        items = self._items.get(version)
        if items is None:
            raw = self.client.get(items_key(version))
            if not isinstance(raw, bytes):
                raise VersionUnavailableError(
                    f"{items_key(version)} is missing: v{version} was pruned or never completed"
                )
            items = decode_dictionary(raw)
            self._items = {v: d for v, d in self._items.items() if v > version - 2} | {version: items}
        return items

    def _get(self, key: Callable[[int], str]) -> tuple[int, bytes] | None:
        version = self.current_version()
        if version is None:
            return None
        value = self.client.get(key(version))
        return (version, value) if isinstance(value, bytes) else None

    def _names(self, version: int, indexes: U32, key: str) -> list[str]:
        items = self._dictionary(version)
        if indexes.size and int(indexes.max()) >= len(items):
            raise RecommendationFormatError(
                f"{key}: item index {int(indexes.max())} beyond the dictionary's {len(items)}"
            )
        return [items[i] for i in indexes.tolist()]

    def _again(self, look: Callable[[], R]) -> R:
        """``look()``; if the cached pointer named a version pruned meanwhile, once more with a
        fresh pointer."""
        try:
            return look()
        except VersionUnavailableError:
            self._pointer = (-np.inf, None)
            return look()

    def user(self, variant: str, user_id: str) -> list[Recommendation] | None:
        """A user's list in rank order, or None when the user has none (serve a segment instead)."""
        return self._again(lambda: self._user(variant, user_id))

    def _user(self, variant: str, user_id: str) -> list[Recommendation] | None:
        found = self._get(lambda v: user_key(v, variant, user_id))
        if found is None:
            return None
        version, value = found
        try:
            lst = decode_user_list(value)
        except RecommendationFormatError as exc:
            raise RecommendationFormatError(f"{user_key(version, variant, user_id)}: {exc}") from exc
        names = self._names(version, lst.items, user_key(version, variant, user_id))
        return [
            Recommendation(item, score, CHANNELS[c], STAGES[s])
            for item, score, c, s in zip(
                names, lst.scores.tolist(), lst.channels.tolist(), lst.stages.tolist(), strict=True
            )
        ]

    def _item_list(self, key: Callable[[int], str], k: int | None) -> list[tuple[str, float]]:
        found = self._get(key)
        if found is None:
            return []
        version, value = found
        try:
            indexes, scores = decode_item_list(value)
        except RecommendationFormatError as exc:
            raise RecommendationFormatError(f"{key(version)}: {exc}") from exc
        indexes, scores = indexes[:k], scores[:k]
        return list(zip(self._names(version, indexes, key(version)), scores.tolist(), strict=True))

    def similar(self, item_id: str, k: int | None = None) -> list[tuple[str, float]]:
        """Up to ``k`` (item_id, score) similar to ``item_id``, best first; [] if none."""
        return self._again(lambda: self._item_list(lambda v: similar_key(v, item_id), k))

    def segment(self, name: str, k: int | None = None) -> list[tuple[str, float]]:
        """Up to ``k`` (item_id, score) of a segment (``global``, ``category:phones``, ...)."""
        return self._again(lambda: self._item_list(lambda v: segment_key(v, name), k))

    def target_users(self, item_id: str, k: int | None = None) -> list[tuple[str, float]]:
        """Up to ``k`` (user_id, score) most likely to want the new item ``item_id``."""
        found = self._get(lambda v: target_key(v, item_id))
        if found is None:
            return []
        version, value = found
        try:
            return decode_targets(value)[:k]
        except RecommendationFormatError as exc:
            raise RecommendationFormatError(f"{target_key(version, item_id)}: {exc}") from exc
