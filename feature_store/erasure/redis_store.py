"""Finding and erasing one user in Redis: online features, published recommendations, feedback.

What is the user's, in every version kept (not only the serving one, since rollback reads them):

    feat:v<N>:user:<id>             the user's online features             deleted
    rec:v<N>:u:<variant>:<id>       the user's published list per variant  deleted
    rec:v<N>:target:<item_id>       target users of a new item              the user taken out
    feedback:events                 stream entries with user_id = <id>      deleted (XDEL)

A deleted key is also taken off its version's counts in ``<ns>:v<N>:meta`` (``keys``, and
``user`` for recommendations), so ``recsys recommendations status`` stays true. What is not the
user's: the bandit's hashes (``bandit:cold_start:*``, pulls and rewards per arm of a context
bucket) and ``service:hourly:*`` (request counts per hour) hold sums over everyone, no id.

XDEL raises the stream's ``max-deleted-entry-id`` and leaves fewer entries than were added,
which ``recsys_feedback`` reads as "entries were lost before they were consumed" (the
``feedback_lost`` alert). A deliberate erasure is no loss, so the deletion runs in one script
that puts the previous mark back (XSETID MAXDELETEDID) and adds the entries it deleted to
``feedback:events:erased``, atomically: only trimming is reported.

Every key function is single-key (works on a cluster node by node); the scans talk to one
server, like the rest of the platform.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from feature_store import online, recommendations
from feature_store.erasure.user import ErasedUser
from feature_store.recommendations import decode_targets, encode_targets
from feature_store.service.feedback import ERASED_ENTRIES, STREAM
from feature_store.versioned import meta_key

log = logging.getLogger(__name__)

SCAN_COUNT = 10_000  # keys per SCAN call: a few milliseconds of the server each
STREAM_PAGE = 500  # entries the server compares per call: about 2 ms of its time
XDEL_BATCH = 500
# Families holding no user id: sums over everyone (bandit, hourly counts) or items and lists.
AGGREGATE_PREFIXES = ("bandit:cold_start:", "service:hourly:")

_FEATURE_KEY = re.compile(rb"^feat:v(\d+):user:(.*)$", re.DOTALL)
_LIST_KEY = re.compile(rb"^rec:v(\d+):u:([^:]*):(.*)$", re.DOTALL)
_TARGET_KEY = re.compile(rb"^rec:v(\d+):target:", re.DOTALL)
_OWN_FAMILIES = re.compile(rb"^(feat|rec):(current|seq|lock|v\d+:.*)$", re.DOTALL)

# KEYS[1] a hash; ARGV: field, increment. Adds only to a field that exists, so a version whose
# meta was pruned meanwhile is never recreated as a stray hash.
DECREMENT_LUA = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
end
return false
"""

# KEYS[1] the stream; ARGV: first id ("-" or "(<id>" exclusive), page size, user id.
# Returns {entries read, the last one's id, ids of the entries whose user_id is the user}.
STREAM_PAGE_LUA = """
local page = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local found = {}
for _, entry in ipairs(page) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'user_id' then
      if fields[i + 1] == ARGV[3] then table.insert(found, entry[1]) end
      break
    end
  end
end
local last = false
if #page > 0 then last = page[#page][1] end
return {#page, last, found}
"""

# KEYS[1] the stream, KEYS[2] its count of erased entries; ARGV: entry ids. Deletes them, keeps
# max-deleted-entry-id as it was and counts them, so recsys_feedback tells them from trimming.
XDEL_KEEPING_TRIM_MARK_LUA = """
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, deleted_mark
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
  if info[i] == 'max-deleted-entry-id' then deleted_mark = info[i + 1] end
end
local deleted = redis.call('XDEL', KEYS[1], unpack(ARGV))
-- XSETID ignores MAXDELETEDID 0-0; 0-1 reads the same to the consumer (no hour starts at 0 ms).
if deleted_mark == '0-0' then deleted_mark = '0-1' end
redis.call('XSETID', KEYS[1], last, 'MAXDELETEDID', deleted_mark)
redis.call('INCRBY', KEYS[2], deleted)
return deleted
"""


@dataclass
class RedisSweep:
    """What a sweep found (and, unless a dry run, removed)."""

    keys: int = 0  # whole keys of the user (features, lists)
    lists_edited: int = 0  # target-user lists the user was taken out of
    entries: int = 0  # stream entries
    versions: list[int] = field(default_factory=list)  # versions that held something of the user

    def summary(self) -> dict[str, object]:
        return {
            "keys": self.keys,
            "lists_edited": self.lists_edited,
            "entries": self.entries,
            "versions": sorted(set(self.versions)),
        }


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a SCAN MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _require_binary(client: redis.Redis) -> None:
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ValueError("erasure needs a Redis client with decode_responses=False: list values are binary")


def _scan(client: redis.Redis, match: str | None = None) -> Iterator[bytes]:
    _require_binary(client)
    seen: set[bytes] = set()  # SCAN may return a key twice while the server rehashes
    for key in client.scan_iter(match=match, count=SCAN_COUNT):
        if bytes(key) not in seen:
            seen.add(bytes(key))
            yield bytes(key)


def _decrement(client: redis.Redis, meta: str, *fields: str) -> None:
    script = client.register_script(DECREMENT_LUA)
    for name in fields:
        script(keys=[meta], args=[name, -1])


def sweep_online_features(client: redis.Redis, user: ErasedUser, *, apply: bool) -> RedisSweep:
    """The user's feature hash in every version of ``feat``."""
    sweep = RedisSweep()
    for key in _scan(client, f"feat:v*:user:{glob_escape(user.user_id)}"):
        found = _FEATURE_KEY.match(key)
        if found is None or found[2] != user.raw:
            continue
        version = int(found[1])
        if apply:
            if not client.delete(key):
                continue
            _decrement(client, meta_key(online.NAMESPACE, version), "keys")
        sweep.keys += 1
        sweep.versions.append(version)
    return sweep


def sweep_recommendations(client: redis.Redis, user: ErasedUser, *, apply: bool) -> RedisSweep:
    """The user's lists (every variant) and their place in target-user lists, in every version."""
    sweep = RedisSweep()
    for key in _scan(client, f"rec:v*:u:*:{glob_escape(user.user_id)}"):
        found = _LIST_KEY.match(key)
        if found is None or found[3] != user.raw:
            continue
        version = int(found[1])
        if apply:
            if not client.delete(key):
                continue
            _decrement(client, meta_key(recommendations.NAMESPACE, version), "user", "keys")
        sweep.keys += 1
        sweep.versions.append(version)
    targets = [key for key in _scan(client, "rec:v*:target:*") if _TARGET_KEY.match(key)]
    for key, value in zip(targets, _values(client, targets), strict=True):
        if value is None or user.raw not in value:
            continue
        scored = decode_targets(value)
        kept = [(u, s) for u, s in scored if u != user.user_id]
        if len(kept) == len(scored):
            continue
        if apply:  # versions are never written again once published: a plain SET is safe
            client.set(key, encode_targets([u for u, _ in kept], [s for _, s in kept]))
        sweep.lists_edited += 1
        match = _TARGET_KEY.match(key)
        assert match is not None
        sweep.versions.append(int(match[1]))
    return sweep


def _values(client: redis.Redis, keys: list[bytes]) -> list[bytes | None]:
    values: list[bytes | None] = []
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.get(key)
        values.extend(pipe.execute())
    return values


def stream_entries_of(client: redis.Redis, user: ErasedUser, stream: str = STREAM) -> list[bytes]:
    """Ids of the stream entries whose ``user_id`` is the user, oldest first.

    The server compares each page (``STREAM_PAGE`` entries, about a millisecond of its time),
    so only the matching ids travel, not the whole stream.
    """
    _require_binary(client)
    page_of = client.register_script(STREAM_PAGE_LUA)
    found: list[bytes] = []
    start = "-"
    while True:
        reply: Any = page_of(keys=[stream], args=[start, STREAM_PAGE, user.raw])
        count, last, ids = int(reply[0]), reply[1], reply[2]
        found.extend(bytes(i) for i in ids)
        if count < STREAM_PAGE or not last:
            return found
        start = "(" + bytes(last).decode()  # exclusive: the next page starts after it


def sweep_feedback_stream(
    client: redis.Redis, user: ErasedUser, *, apply: bool, stream: str = STREAM
) -> RedisSweep:
    """The user's entries in the feedback stream, deleted without raising its trim mark."""
    sweep = RedisSweep()
    entries = stream_entries_of(client, user, stream)
    if not apply:
        sweep.entries = len(entries)
        return sweep
    delete = client.register_script(XDEL_KEEPING_TRIM_MARK_LUA)
    for start in range(0, len(entries), XDEL_BATCH):
        sweep.entries += int(delete(keys=[stream, ERASED_ENTRIES], args=entries[start : start + XDEL_BATCH]))
    return sweep


def _mentions(value: bytes, user: ErasedUser) -> bool:
    """Whether ``value`` holds the id as a whole token (not inside a longer id)."""
    pattern = rb"(?<![A-Za-z0-9_.\-])" + re.escape(user.raw) + rb"(?![A-Za-z0-9_.\-])"
    return re.search(pattern, value) is not None


def unknown_keys_mentioning(client: redis.Redis, user: ErasedUser) -> list[bytes]:
    """Keys outside the families above whose name or value mentions the id: a store this
    module does not know yet (so verify fails instead of missing it)."""
    found = []
    for key in _scan(client):
        if (
            _OWN_FAMILIES.match(key)
            or key == STREAM.encode()
            or key.startswith(tuple(p.encode() for p in AGGREGATE_PREFIXES))
        ):
            continue
        if _mentions(key, user) or any(_mentions(v, user) for v in _contents(client, key)):
            found.append(key)
    return found


def _contents(client: redis.Redis, key: bytes) -> list[bytes]:
    """Every stored byte string of a key, whatever its type (numbers are left out: no id)."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    raw: Any = client  # a binary client: every reply below is bytes
    values: list[bytes] = []
    if kind == "string":
        values = [raw.get(key) or b""]
    elif kind == "hash":
        values = [x for pair in raw.hgetall(key).items() for x in pair]
    elif kind == "list":
        values = list(raw.lrange(key, 0, -1))
    elif kind == "set":
        values = list(raw.smembers(key))
    elif kind == "zset":
        values = [member for member, _ in raw.zrange(key, 0, -1, withscores=True)]
    elif kind == "stream":
        values = [x for _, fields in raw.xrange(key) for pair in fields.items() for x in pair]
    return [v for v in values if not _is_number(v)]


def _is_number(value: bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def compact_persistence(client: redis.Redis) -> str:
    """Start an AOF rewrite, so the append-only file stops holding the deleted commands' data.

    Returns what happened: ``rewriting``, ``off`` (no AOF), or ``unavailable: …`` (managed Redis
    often disables CONFIG; its operator's backups and AOF are then theirs to expire).
    """
    try:
        enabled = client.config_get("appendonly").get("appendonly")
        if enabled != "yes":
            return "off"
        client.bgrewriteaof()
    except redis.ResponseError as exc:
        return f"unavailable: {exc}"
    return "rewriting"
