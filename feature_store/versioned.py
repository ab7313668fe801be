"""Versioned keyspaces in Redis: write a complete new version, then switch one pointer.

Layout for a keyspace ``<ns>`` (e.g. ``feat`` for online features, ``rec`` for
recommendations):

    <ns>:current          string  "v<N>": the version readers use
    <ns>:seq              string  INCR counter that hands out version numbers
    <ns>:v<N>:meta        hash    state (writing|complete), dt, keys, created_by
    <ns>:v<N>:<...>       the version's own keys

A reader GETs ``<ns>:current`` (and may cache it briefly), then reads only keys of that
version, so a half-written version is never visible. Every key function is pure and tested;
nothing here issues a multi-key command, so it works the same on Redis Cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)


def current_key(ns: str) -> str:
    return f"{ns}:current"


def seq_key(ns: str) -> str:
    return f"{ns}:seq"


def version_prefix(ns: str, version: int) -> str:
    return f"{ns}:v{version}:"


def meta_key(ns: str, version: int) -> str:
    return f"{ns}:v{version}:meta"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_version(pointer: bytes | str | None) -> int | None:
    """``b"v12"`` -> 12; ``None`` when nothing is published."""
    if pointer is None:
        return None
    text = _text(pointer)
    if not text.startswith("v") or not text[1:].isdigit():
        raise ValueError(f"malformed version pointer {text!r}")
    return int(text[1:])


@dataclass(frozen=True)
class VersionInfo:
    version: int
    state: str
    dt: str
    keys: int


class VersionedKeyspace:
    """Begin, fill, verify, switch to and prune the versions of one keyspace."""

    def __init__(self, client: redis.Redis, ns: str, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError("keep at least the current version")
        self.client = client
        self.ns = ns
        self.keep = keep

    def current(self) -> int | None:
        """The version readers use now, or ``None``."""
        return parse_version(self.client.get(current_key(self.ns)))

    def info(self, version: int) -> VersionInfo | None:
        raw = self.client.hgetall(meta_key(self.ns, version))
        if not raw:
            return None
        meta = {_text(k): _text(v) for k, v in raw.items()}
        return VersionInfo(version, meta.get("state", "?"), meta.get("dt", ""), int(meta.get("keys", 0)))

    def begin(self, dt: str) -> int:
        """A fresh version number, marked as being written."""
        version = int(self.client.incr(seq_key(self.ns)))
        self.client.hset(meta_key(self.ns, version), mapping={"state": "writing", "dt": dt, "keys": 0})
        return version

    def serving(self) -> VersionInfo | None:
        """The version readers use now, with its facts, or ``None``."""
        current = self.current()
        return None if current is None else self.info(current)

    def serves_later_than(self, dt: str) -> str | None:
        """Why publishing partition ``dt`` would move readers back in time, or ``None``.

        A backfill of an older day must never replace a newer day's version.
        """
        info = self.serving()
        if info is not None and info.dt > dt:
            return f"{self.ns} v{info.version} already serves {info.dt}, later than {dt}"
        return None

    def count_keys(self, version: int) -> int:
        """Distinct keys of a version (its meta key excluded), counted with SCAN.

        SCAN may return a key twice while the server rehashes, so the keys go through a set.
        """
        pattern = version_prefix(self.ns, version) + "*"
        meta = meta_key(self.ns, version).encode()
        return len(set(self.client.scan_iter(match=pattern, count=5000)) - {meta})

    def switch(self, version: int, expected_keys: int, *, counted: int | None = None) -> float:
        """Make ``version`` current in one SET, after checking it holds every key.

        ``counted``: the keys the caller has just counted itself (skips a second SCAN of a
        large version). Returns the seconds the pointer SET took.

        Raises:
            RuntimeError: the version holds fewer or more keys than were written.
        """
        found = self.count_keys(version) if counted is None else counted
        if found != expected_keys:
            raise RuntimeError(
                f"{self.ns} v{version} holds {found} keys, expected {expected_keys}: not switching; "
                f"v{self.current()} keeps serving"
            )
        self.client.hset(meta_key(self.ns, version), mapping={"state": "complete", "keys": found})
        started = time.perf_counter()
        self.client.set(current_key(self.ns), f"v{version}")
        swap_s = time.perf_counter() - started
        log.info("%s: switched to v%d (%d keys)", self.ns, version, found)
        return swap_s

    def rollback(self) -> int:
        """Switch back to the newest complete version older than the current one."""
        current = self.current()
        older = [v for v in self.versions() if current is None or v < current]
        for version in sorted(older, reverse=True):
            info = self.info(version)
            if info and info.state == "complete":
                self.client.set(current_key(self.ns), f"v{version}")
                return version
        raise RuntimeError(f"{self.ns}: no complete version older than v{current} to roll back to")

    def versions(self) -> list[int]:
        """Every version that has a meta key, oldest first."""
        found = set()
        for key in self.client.scan_iter(match=f"{self.ns}:v*:meta", count=1000):
            found.add(parse_version(key.decode().split(":")[1]))
        return sorted(v for v in found if v is not None)

    def prune(self) -> list[int]:
        """Delete versions beyond the newest ``keep`` complete ones, and abandoned writes."""
        current = self.current()
        complete = [v for v in self.versions() if (i := self.info(v)) and i.state == "complete"]
        keep = set(sorted(complete)[-self.keep :])
        if current is not None:
            keep.add(current)
        doomed = [v for v in self.versions() if v not in keep and (current is None or v < current)]
        for version in doomed:
            self._delete(version)
        if doomed:
            log.info("%s: pruned versions %s", self.ns, doomed)
        return doomed

    def clear_abandoned(self) -> list[int]:
        """Delete every version left ``writing`` (or half ``deleting``) that is not current.

        That is the debris of a killed publish. Only safe while no other writer of this keyspace
        runs: call it under the publish lock.
        """
        current = self.current()
        unfinished = ("writing", "deleting")
        doomed = [
            v for v in self.versions() if v != current and (i := self.info(v)) and i.state in unfinished
        ]
        for version in doomed:
            self._delete(version)
        if doomed:
            log.info("%s: deleted abandoned versions %s", self.ns, doomed)
        return doomed

    def _delete(self, version: int) -> None:
        # One UNLINK per key (pipelined): keys of a version span cluster slots. UNLINK frees
        # the memory off the main thread. The meta key goes last, so a crash mid-way leaves
        # a version that prune() still finds and finishes; it is marked "deleting" first so
        # that rollback() never picks a half-deleted version.
        self.client.hset(meta_key(self.ns, version), "state", "deleting")
        pipe = self.client.pipeline(transaction=False)
        meta = meta_key(self.ns, version).encode()
        for n, key in enumerate(
            self.client.scan_iter(match=version_prefix(self.ns, version) + "*", count=5000)
        ):
            if key != meta:
                pipe.unlink(key)
            if n % 1000 == 999:
                pipe.execute()
        pipe.unlink(meta)
        pipe.execute()


def write_batches(
    client: redis.Redis, commands: Iterable[tuple[str, dict[str, str]]], batch: int = 1000
) -> int:
    """HSET each (key, mapping) through pipelines of ``batch`` commands; returns keys written."""
    written = 0
    pipe = client.pipeline(transaction=False)
    for key, mapping in commands:
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        written += 1
        if written % batch == 0:
            pipe.execute()
    pipe.execute()
    return written
