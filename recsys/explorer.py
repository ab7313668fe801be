"""``recsys inspect``: the platform's Redis explorer for the ``rec`` and ``feat`` keyspaces.

The summary shows every version of each keyspace: its recorded state, its status, its day,
its key counts per kind and its memory. How each figure is obtained (no value is ever GET):

* **versions and counts per kind**: one SCAN per keyspace (MATCH ``<ns>:v*``, COUNT 10,000;
  MATCH ``<ns>:v<N>:*`` with ``--version``). Every key found is counted under its version and
  its kind, the key part after the version: ``u:<variant>``, ``sim``, ``seg``, ``target``,
  ``items`` and ``meta`` in rec; the entity (``user``, ``item``) and ``meta`` in feat. Keys go
  through a set first: SCAN may return a key twice while the server rehashes. The counts are
  therefore exact, also per variant, which the meta hash does not record.
* **recorded facts**: each version's meta hash (HGETALL): state, dt, keys and, for rec, the
  per-kind counts, bytes written and aliases that publish recorded. The counts of a
  ``complete`` version are cross-checked against them; a difference is listed as a problem.
* **memory**: ``MEMORY USAGE <key> SAMPLES 0`` (every field of a hash counts). A kind with at
  most ``sample`` keys is measured key by key: exact. A larger kind gets ``sample`` of its
  scanned keys drawn at random; their mean times the kind's count is an *estimate*, and the
  output says so and from how many keys.
* **status**: ``serving`` for the version ``<ns>:current`` names; a version left ``writing`` is
  ``abandoned`` unless it is the last one begun (``<ns>:seq``) and, for rec, a publish holds
  ``rec:lock``; otherwise the recorded state (``complete``, ``deleting``). Keys of a version
  without a meta hash show as ``no meta``.

``--user`` and ``--item`` print one list of a version (the current one by default), read by
``RecommendationReader`` pinned to that version: one GET of the list, one of the dictionary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis

from feature_store import online
from feature_store import recommendations as rec
from feature_store.versioned import VersionedKeyspace, current_key, meta_key, seq_key, version_prefix
from recsys.errors import RecsysError
from recsys.settings import load_settings
from tasks.connections import redis_client

KEYSPACES = (rec.NAMESPACE, online.NAMESPACE)
SCAN_COUNT = 10_000  # keys the server looks at per SCAN call: a few milliseconds each
DEFAULT_SAMPLE = 1000  # keys per kind measured with MEMORY USAGE before estimating
MEMORY_BATCH = 1000  # MEMORY USAGE commands per pipeline
DESCRIPTIONS = {
    "u": "user lists",
    "sim": "similar-item lists",
    "seg": "segment lists",
    "target": "target users of new items",
    "items": "item dictionary",
    "meta": "version meta hash",
}

Buckets = dict[int, dict[bytes, list[bytes]]]  # version -> kind -> its keys


class InspectError(RecsysError):
    """What ``recsys inspect`` was asked for is not in Redis, or Redis cannot be reached."""


# -- connecting ---------------------------------------------------------------------------


def redis_location(client: redis.Redis) -> str:
    """The client's server as a URL without its password (safe to print)."""
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    secure = issubclass(client.connection_pool.connection_class, redis.SSLConnection)
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    return f"{'rediss' if secure else 'redis'}://{user}{kwargs.get('host')}:{kwargs.get('port')}/{db}"


def connect() -> redis.Redis:
    """The platform's Redis client (Airflow's ``redis_default``, else ``RECSYS_REDIS_URL``)."""
    with contextlib.redirect_stdout(sys.stderr):  # Airflow's log lines must not spoil --json
        return redis_client(load_settings())


# -- small helpers ------------------------------------------------------------------------


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _meta(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _int(meta: Mapping[str, str], field: str) -> int | None:
    try:
        return int(meta[field])
    except (KeyError, ValueError):
        return None


def human_bytes(size: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _keys(count: int) -> str:
    return f"{count:,} key" if count == 1 else f"{count:,} keys"


def _present(client: redis.Redis, ns: str) -> str:
    versions = VersionedKeyspace(client, ns).versions()
    return ", ".join(f"v{v}" for v in versions) if versions else "none"


def unknown_version(client: redis.Redis, ns: str, version: int) -> InspectError:
    """The error for a version that has no keys, naming the versions that exist."""
    return InspectError(f"{ns} v{version} does not exist (versions present: {_present(client, ns)})")


# -- the summary --------------------------------------------------------------------------


@dataclass(frozen=True)
class KindSummary:
    """The keys of one kind in one version, and their memory."""

    kind: str  # the key part after the version: u:<variant>, sim, seg, ...; user, item in feat
    keys: int
    memory_bytes: int
    measured: int  # keys whose MEMORY USAGE was read; all of them when exact

    @property
    def exact(self) -> bool:
        return self.measured >= self.keys

    def describe(self, ns: str) -> str:
        part, _, variant = self.kind.partition(":")
        if ns == online.NAMESPACE and part in online.ENTITIES:
            return f"{part} features"
        text = DESCRIPTIONS.get(part, "unknown kind")
        return f"{text}, variant {variant}" if variant else text

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "memory_bytes": self.memory_bytes,
            "measured_keys": self.measured,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class VersionSummary:
    """One version of a keyspace: recorded facts, counted keys, memory and problems found."""

    ns: str
    version: int
    state: str  # as the meta hash records it; "" without one
    status: str  # serving, complete, writing, abandoned, deleting, no meta
    dt: str
    current: bool
    kinds: tuple[KindSummary, ...]
    recorded: dict[str, int]  # the meta hash's numbers: keys, per-kind counts, bytes
    aliases: dict[str, str]
    created_by: str
    problems: tuple[str, ...]

    @property
    def keys(self) -> int:
        """Keys of the version, its meta key excluded (as ``VersionedKeyspace`` counts them)."""
        return sum(k.keys for k in self.kinds if k.kind != "meta")

    @property
    def memory_bytes(self) -> int:
        return sum(k.memory_bytes for k in self.kinds)

    @property
    def measured(self) -> int:
        return sum(min(k.measured, k.keys) for k in self.kinds)

    @property
    def exact(self) -> bool:
        return all(k.exact for k in self.kinds)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "current": self.current,
            "state": self.state,
            "status": self.status,
            "dt": self.dt,
            "keys": self.keys,
            "kinds": {k.kind: k.to_json() for k in self.kinds},
            "memory": {
                "bytes": self.memory_bytes,
                "exact": self.exact,
                "measured_keys": self.measured,
                "keys": sum(k.keys for k in self.kinds),
            },
            "recorded": self.recorded,
            "aliases": self.aliases,
            "created_by": self.created_by,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class KeyspaceSummary:
    ns: str
    current: int | None
    lock: str | None  # the rec publish lock's holder, if a publish runs
    versions: tuple[VersionSummary, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "lock": self.lock,
            "versions": [v.to_json() for v in self.versions],
        }


def scan_versions(client: redis.Redis, ns: str, version: int | None = None) -> Buckets:
    """Every key of the keyspace's versions (or of one), by version and kind: one SCAN."""
    pattern = f"{ns}:v*" if version is None else f"{version_prefix(ns, version)}*"
    skip, split_users = len(ns) + 2, ns == rec.NAMESPACE  # skip "<ns>:v"
    found: Buckets = {}
    for key in set(client.scan_iter(match=pattern, count=SCAN_COUNT)):
        number, _, rest = key[skip:].partition(b":")
        if not number.isdigit() or not rest:
            continue  # not a versioned key, e.g. "rec:vx"
        kind, _, tail = rest.partition(b":")
        if split_users and kind == b"u":
            kind = b"u:" + tail.partition(b":")[0]
        found.setdefault(int(number), {}).setdefault(kind, []).append(key)
    return found


def memory_usage(client: redis.Redis, keys: Sequence[bytes]) -> list[int]:
    """``MEMORY USAGE key SAMPLES 0`` of each key, pipelined (0 for a key gone meanwhile)."""
    sizes: list[int] = []
    for start in range(0, len(keys), MEMORY_BATCH):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + MEMORY_BATCH]:
            pipe.memory_usage(key, samples=0)
        sizes.extend(int(size or 0) for size in pipe.execute())
    return sizes


def measure_kinds(
    client: redis.Redis, kinds: Mapping[bytes, list[bytes]], sample: int, rng: random.Random
) -> tuple[KindSummary, ...]:
    """Count and memory per kind: exact up to ``sample`` keys, else extrapolated from ``sample``."""
    order = sorted(kinds)
    chosen = [
        kinds[kind] if len(kinds[kind]) <= sample else rng.sample(kinds[kind], sample) for kind in order
    ]
    sizes = iter(memory_usage(client, [key for keys in chosen for key in keys]))
    summaries = []
    for kind, picked in zip(order, chosen, strict=True):
        measured, count = sum(next(sizes) for _ in picked), len(kinds[kind])
        total = measured if len(picked) == count else round(measured / len(picked) * count)
        summaries.append(KindSummary(_text(kind), count, total, len(picked)))
    return tuple(summaries)


class Pointers(NamedTuple):
    """What tells a serving, a running and an abandoned version apart."""

    current: int | None  # <ns>:current
    seq: int | None  # <ns>:seq: the last version begun
    lock: str | None  # the holder of rec:lock while a publish runs (feat has no lock)


def version_status(ns: str, version: int, state: str, pointers: Pointers) -> str:
    """serving, writing (maybe still running), abandoned, or the recorded state."""
    if not state:
        return "no meta"
    if version == pointers.current:
        return "serving"
    if state == "writing":
        running = version == pointers.seq and (ns != rec.NAMESPACE or pointers.lock is not None)
        return "writing" if running else "abandoned"
    return state


def count_problems(ns: str, state: str, kinds: Sequence[KindSummary], meta: Mapping[str, str]) -> list[str]:
    """Where the counted keys differ from what the meta hash records, and keys of no known kind."""
    known = set(rec.KEY_KINDS) if ns == rec.NAMESPACE else set(online.ENTITIES)
    problems = [
        f"{_keys(k.keys)} of unknown kind {k.kind!r}"
        for k in kinds
        if k.kind.partition(":")[0] not in known | {"meta"}
    ]
    if not state:
        problems.append(
            "keys without a meta hash (left by an interrupted delete, or not written by a publish)"
        )
    if state != "complete":
        return problems  # a version being written (or deleted) records no final counts
    counted = {"keys": sum(k.keys for k in kinds if k.kind != "meta")}
    if ns == rec.NAMESPACE:
        by_name = Counter(dict.fromkeys(rec.KEY_KINDS.values(), 0))
        for k in kinds:
            by_name[rec.KEY_KINDS.get(k.kind.partition(":")[0], "other")] += k.keys
        counted.update({name: by_name[name] for name in rec.KEY_KINDS.values()})
    for name, found in counted.items():
        wrote = _int(meta, name)
        if wrote is not None and wrote != found:
            what = "keys" if name == "keys" else f"{name} keys"
            problems.append(f"{found:,} {what} counted, the meta hash records {wrote:,}")
    return problems


def _aliases(meta: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    try:
        return rec.decode_aliases(meta.get(rec.ALIASES_FIELD))
    except rec.RecommendationFormatError as exc:
        problems.append(str(exc))
        return {}


def summarize_version(
    client: redis.Redis,
    ns: str,
    version: int,
    kinds: Mapping[bytes, list[bytes]],
    pointers: Pointers,
    sample: int,
    rng: random.Random,
) -> VersionSummary:
    """One version's summary from its scanned keys and its meta hash."""
    meta = _meta(client.hgetall(meta_key(ns, version)))
    measured = measure_kinds(client, kinds, sample, rng)
    state = meta.get("state", "")
    problems = count_problems(ns, state, measured, meta)
    aliases = _aliases(meta, problems) if ns == rec.NAMESPACE else {}
    numbers = {f: n for f in meta if f not in ("state", "dt") and (n := _int(meta, f)) is not None}
    return VersionSummary(
        ns=ns,
        version=version,
        state=state,
        status=version_status(ns, version, state, pointers),
        dt=meta.get("dt", ""),
        current=version == pointers.current,
        kinds=measured,
        recorded=numbers,
        aliases=aliases,
        created_by=meta.get("created_by", ""),
        problems=tuple(problems),
    )


def summarize_keyspace(
    client: redis.Redis, ns: str, version: int | None = None, sample: int = DEFAULT_SAMPLE, seed: int = 0
) -> KeyspaceSummary:
    """Every version of keyspace ``ns`` (or only ``version``).

    Raises:
        InspectError: ``version`` has no keys in ``ns``.
    """
    buckets = scan_versions(client, ns, version)
    if version is not None and version not in buckets:
        raise unknown_version(client, ns, version)
    lock = client.get(rec.lock_key()) if ns == rec.NAMESPACE else None
    seq = client.get(seq_key(ns))
    current = VersionedKeyspace(client, ns).current()
    pointers = Pointers(current, int(seq) if seq else None, None if lock is None else _text(lock))
    rng = random.Random(seed)
    versions = tuple(
        summarize_version(client, ns, v, buckets[v], pointers, sample, rng)
        for v in sorted(buckets, reverse=True)
    )
    return KeyspaceSummary(ns, current, pointers.lock, versions)


def _memory_text(summary: VersionSummary) -> str:
    if summary.exact:
        size = human_bytes(summary.memory_bytes)
        return f"memory {size} (exact: MEMORY USAGE of all {_keys(summary.measured)})"
    total = sum(k.keys for k in summary.kinds)
    return (
        f"memory ~{human_bytes(summary.memory_bytes)} (ESTIMATE from MEMORY USAGE of {summary.measured:,} "
        f"of {_keys(total)}, sampled per kind)"
    )


def _kind_line(kind: KindSummary, ns: str) -> str:
    memory = human_bytes(kind.memory_bytes)
    memory = memory if kind.exact else f"~{memory} (est. from {kind.measured:,})"
    return f"      {kind.kind:<20} {kind.keys:>10,}  {memory:<24} {kind.describe(ns)}"


def render_version(summary: VersionSummary) -> list[str]:
    """The lines of one version: its facts, then a line per kind, then the count check."""
    mark = "*" if summary.current else " "
    state = (
        "" if summary.state in ("complete", "") or summary.status == summary.state else f" ({summary.state})"
    )
    lines = [
        f"  {mark} v{summary.version:<4} {summary.status}{state}  dt {summary.dt or '?'}  "
        f"{_keys(summary.keys)}  {_memory_text(summary)}"
    ]
    if summary.aliases:
        lines.append("      aliases: " + ", ".join(f"{k} -> {v}" for k, v in sorted(summary.aliases.items())))
    lines.append(f"      {'kind':<20} {'keys':>10}  {'memory':<24} what")
    lines += [_kind_line(kind, summary.ns) for kind in summary.kinds]
    if summary.problems:
        lines += [f"      PROBLEM: {problem}" for problem in summary.problems]
    elif summary.state == "complete":
        lines.append("      counts match the meta hash")
    return lines


def render_keyspace(summary: KeyspaceSummary) -> list[str]:
    """A keyspace's header line, then its versions, newest first."""
    current = "nothing published" if summary.current is None else f"v{summary.current}"
    head = f"{summary.ns}: {current_key(summary.ns)} -> {current}"
    if summary.ns == rec.NAMESPACE:
        head += f"; publish lock {'held by ' + summary.lock if summary.lock else 'free'}"
    if not summary.versions:
        return [head, "    no versions"]
    return [head] + [line for version in summary.versions for line in render_version(version)]


def summary_document(client: redis.Redis, keyspaces: Sequence[KeyspaceSummary]) -> dict[str, Any]:
    return {
        "redis": redis_location(client),
        "used_memory_bytes": int(client.info("memory")["used_memory"]),
        "keyspaces": {k.ns: k.to_json() for k in keyspaces},
    }


def render_summary(document: Mapping[str, Any], keyspaces: Sequence[KeyspaceSummary]) -> str:
    used = human_bytes(document["used_memory_bytes"])
    lines = [f"Redis {document['redis']} (used_memory {used})"]
    for keyspace in keyspaces:
        lines += ["", *render_keyspace(keyspace)]
    return "\n".join(lines)


# -- one list -----------------------------------------------------------------------------


class _VersionReader(rec.RecommendationReader):
    """A ``RecommendationReader`` of one given version instead of the serving one."""

    def __init__(self, client: redis.Redis, version: int) -> None:
        super().__init__(client, pointer_ttl_s=0.0)
        self.version = version

    def current_version(self) -> int | None:
        return self.version


@dataclass(frozen=True)
class ListEntry:
    rank: int
    item: str
    score: float
    channel: str | None  # user lists only: item lists store neither channel nor stage
    stage: str | None


@dataclass(frozen=True)
class ListView:
    """One list read from a rec version."""

    version: int
    current: bool
    dt: str
    subject: str  # "user" or "item"
    id: str
    key: str
    variant: str | None  # asked for (user lists)
    list_name: str | None  # the published list read for it, through the aliases
    aliases: dict[str, str]
    entries: tuple[ListEntry, ...]

    def to_json(self) -> dict[str, Any]:
        document = {
            "keyspace": rec.NAMESPACE,
            "version": self.version,
            "current": self.current,
            "dt": self.dt,
            self.subject: self.id,
            "key": self.key,
            "aliases": self.aliases,
            "entries": [dataclasses.asdict(e) for e in self.entries],
        }
        if self.subject == "user":
            document.update(variant=self.variant, list=self.list_name)
        return document


def rec_version(client: redis.Redis, version: int | None) -> tuple[int, bool, dict[str, str]]:
    """The version to read (default: current), whether it is current, and its meta hash.

    Raises:
        InspectError: nothing is published, or ``version`` does not exist.
    """
    current = VersionedKeyspace(client, rec.NAMESPACE).current()
    if version is None:
        if current is None:
            raise InspectError("nothing is published in rec (rec:current is not set): run recsys_publish")
        version = current
    meta = _meta(client.hgetall(meta_key(rec.NAMESPACE, version)))
    if not meta:
        raise unknown_version(client, rec.NAMESPACE, version)
    return version, version == current, meta


def user_view(client: redis.Redis, user: str, variant: str, version: int | None, k: int | None) -> ListView:
    """A user's list in ``version``: the list ``variant`` reads, through the version's aliases.

    Raises:
        InspectError: no such version, or the user has no list of that variant in it.
    """
    version, current, meta = rec_version(client, version)
    aliases = rec.decode_aliases(meta.get(rec.ALIASES_FIELD))
    name = aliases.get(variant, variant)
    key = rec.user_key(version, name, user)
    found = _VersionReader(client, version).user(name, user)
    if found is None:
        via = (
            f" (variant {variant!r} reads list {name!r} by the aliases of v{version})"
            if name != variant
            else ""
        )
        raise InspectError(f"rec v{version} has no {name!r} list for user {user!r}{via}: no key {key}")
    entries = tuple(ListEntry(n, r.item_id, r.score, r.channel, r.stage) for n, r in enumerate(found[:k], 1))
    return ListView(version, current, meta.get("dt", ""), "user", user, key, variant, name, aliases, entries)


def item_view(client: redis.Redis, item: str, version: int | None, k: int | None) -> ListView:
    """The items similar to ``item`` in ``version``.

    Raises:
        InspectError: no such version, or the item has no similar-items list in it.
    """
    version, current, meta = rec_version(client, version)
    key = rec.similar_key(version, item)
    pairs = _VersionReader(client, version).similar(item, k)
    if not pairs:
        raise InspectError(f"rec v{version} has no similar-items list for item {item!r}: no key {key}")
    entries = tuple(ListEntry(n, i, s, None, None) for n, (i, s) in enumerate(pairs, 1))
    aliases = rec.decode_aliases(meta.get(rec.ALIASES_FIELD))
    return ListView(version, current, meta.get("dt", ""), "item", item, key, None, None, aliases, entries)


def render_list(view: ListView) -> str:
    """A header naming version, list and aliases, then one line per entry in rank order."""
    where = f"rec v{view.version} ({'current' if view.current else 'not current'}, dt {view.dt or '?'})"
    if view.subject == "user":
        read = f"list {view.list_name!r}"
        read += f" (variant {view.variant!r} via alias)" if view.list_name != view.variant else ""
        head = f"{where}: user {view.id}, {read}, key {view.key}"
    else:
        head = f"{where}: items similar to {view.id}, key {view.key} (item lists store no channel or stage)"
    aliases = ", ".join(f"{k} -> {v}" for k, v in sorted(view.aliases.items())) or "none"
    lines = [head, f"aliases of v{view.version}: {aliases}"]
    lines.append(f"{'rank':>5}  {'item':<20} {'score':>10}  {'channel':<12} stage")
    lines += [
        f"{e.rank:>5}  {e.item:<20} {e.score:>10.4f}  {e.channel or '-':<12} {e.stage or '-'}"
        for e in view.entries
    ]
    return "\n".join(lines)


# -- the command --------------------------------------------------------------------------


def _check_options(
    user: str | None, item: str | None, version: int | None, keyspace: str | None, sample: int, k: int | None
) -> None:
    if sample < 1:
        raise InspectError(f"--sample must be at least 1 key per kind, got {sample}")
    if k is not None and k < 1:
        raise InspectError(f"--k must be at least 1, got {k}")
    if (user is not None or item is not None) and keyspace == online.NAMESPACE:
        raise InspectError("--user and --item show rec lists: drop --keyspace feat")
    if user is None and item is None and version is not None and keyspace is None:
        raise InspectError("--version of the summary needs --keyspace rec or feat (each numbers its own)")


def _run(
    client: redis.Redis,
    user: str | None,
    item: str | None,
    variant: str,
    version: int | None,
    keyspace: str | None,
    sample: int,
    k: int | None,
    as_json: bool,
) -> str:
    if user is not None or item is not None:
        if user is not None:
            view = user_view(client, user, variant, version, k)
        else:
            view = item_view(client, str(item), version, k)
        return json.dumps(view.to_json(), indent=2) if as_json else render_list(view)
    names = KEYSPACES if keyspace is None else (keyspace,)
    summaries = [summarize_keyspace(client, ns, version, sample) for ns in names]
    document = summary_document(client, summaries)
    return json.dumps(document, indent=2) if as_json else render_summary(document, summaries)


def inspect_command(
    *,
    user: str | None = None,
    item: str | None = None,
    variant: str = "champion",
    version: int | None = None,
    keyspace: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    k: int | None = None,
    as_json: bool = False,
) -> str:
    """The text (or JSON) ``recsys inspect`` prints: the summary, or one user's or item's list.

    Raises:
        InspectError: bad options, an unknown version, no such list, or Redis unreachable
            (the message names the server without its password).
    """
    _check_options(user, item, version, keyspace, sample, k)
    client = connect()
    where = redis_location(client)
    try:
        return _run(client, user, item, variant, version, keyspace, sample, k, as_json)
    except redis.AuthenticationError as exc:
        raise InspectError(f"Redis at {where} refused the credentials: {exc}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise InspectError(f"Redis at {where} is unreachable: {exc}") from None
    except redis.RedisError as exc:
        raise InspectError(f"Redis at {where} failed: {exc}") from None
