"""The list of erased users, which ingest drops: keyed hashes and a time, never a raw id.

    maintenance/erased_users/dt=D   user_hash (the lookup service's keyed hash), erased_before

An erasure removes everything the platform holds of a user *up to then*; the shop's exports in
the landing zone may be re-read later (a re-run, a backfill, a re-delivered file, the simulator
writing a day again), and ingest must not bring those events back. So ingest drops the events
of a listed user that happened before ``erased_before`` (tasks/ingest/erased.py). A user who
comes back to the shop afterwards is a new beginning: those later events are ingested.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from feature_store import lake

ERASED_USERS = "maintenance/erased_users"
SCHEMA = pa.schema([("user_hash", pa.string()), ("erased_before", pa.timestamp("us", tz="UTC"))])


def read_erased_users(root: Path) -> dict[str, datetime]:
    """Every listed user's hash → the latest time an erasure of theirs ran."""
    latest: dict[str, datetime] = {}
    for day in lake.list_partitions(root, ERASED_USERS):
        table = lake.read_partition(root, ERASED_USERS, day)
        for user_hash, before in zip(
            table.column("user_hash").to_pylist(), table.column("erased_before").to_pylist(), strict=True
        ):
            if user_hash not in latest or before > latest[user_hash]:
                latest[user_hash] = before
    return latest


def add_erased_user(root: Path, user_hash: str, erased_before: datetime) -> None:
    """List ``user_hash`` with ``erased_before`` in the partition of that day (replaced whole)."""
    day = erased_before.date()
    rows = pa.table({"user_hash": [user_hash], "erased_before": [erased_before]}, schema=SCHEMA)
    if lake.has_partition(root, ERASED_USERS, day):
        existing = lake.read_partition(root, ERASED_USERS, day).cast(SCHEMA)
        others = existing.filter(pc.not_equal(existing.column("user_hash"), user_hash))
        rows = pa.concat_tables([others, rows])
    lake.write_partition(root, ERASED_USERS, day, rows, {"users": rows.num_rows})
