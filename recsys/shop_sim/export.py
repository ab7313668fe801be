"""Write one simulated day into the landing zone, in the shape of docs/data-formats.md.

``catalog/dt=YYYY-MM-DD/catalog.csv`` and ``events/dt=YYYY-MM-DD/events-HH.jsonl`` (one
file per UTC hour, all 24 even when an hour is empty). Each day folder is built under a
hidden temporary name and renamed into place, replacing an earlier export of the day, so a
reader never sees a half-written export; inside it each file is also written to a
temporary name first.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.settings import Scale
from recsys.shop_sim.catalog import EXPORT_COLUMNS, catalog_frame
from recsys.shop_sim.events import SimulatedDay, event_columns, simulate_day
from recsys.shop_sim.vocabulary import EVENT_TYPES

HOUR_MS = 3_600_000
CATALOG_FILE = "catalog.csv"


@dataclass(frozen=True)
class ExportSummary:
    """What ``write_export`` wrote for a day."""

    day: date
    catalog_path: Path
    event_paths: list[Path]
    items: int
    users_active: int
    events: int
    events_by_type: dict[str, int]


def write_export(
    day: date,
    *,
    seed: int,
    scale: Scale,
    landing_root: Path,
    progress: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Simulate ``day`` and write its catalog and events into ``landing_root``, replacing any
    earlier export of the day. The files are identical byte for byte on every run.
    """
    say = progress or (lambda _line: None)
    simulated = simulate_day(day, seed=seed, scale=scale)
    events = simulated.events
    users_active = len(np.unique(events.user))
    say(f"simulated {len(events):,} events, {users_active:,} active users, {len(simulated.catalog):,} items")
    root = Path(landing_root)
    day_dir = f"dt={day.isoformat()}"
    catalog_dir, events_dir = root / "catalog" / day_dir, root / "events" / day_dir
    # Both folders are staged before either is swapped in: a failure leaves the old export whole.
    catalog_tmp = _stage(catalog_dir, lambda tmp: _write_catalog(simulated, tmp))
    try:
        say(f"catalog: {len(simulated.catalog):,} items")
        events_tmp = _stage(events_dir, lambda tmp: _write_events(simulated, tmp, say))
    except BaseException:
        shutil.rmtree(catalog_tmp, ignore_errors=True)
        raise
    _swap(catalog_tmp, catalog_dir)
    _swap(events_tmp, events_dir)
    counts = np.bincount(events.kind, minlength=len(EVENT_TYPES))
    return ExportSummary(
        day=day,
        catalog_path=catalog_dir / CATALOG_FILE,
        event_paths=[events_dir / f"events-{hour:02d}.jsonl" for hour in range(24)],
        items=len(simulated.catalog),
        users_active=users_active,
        events=len(events),
        events_by_type={name: int(n) for name, n in zip(EVENT_TYPES, counts, strict=True)},
    )


def _write_catalog(simulated: SimulatedDay, folder: Path) -> None:
    frame = catalog_frame(simulated.catalog).loc[:, list(EXPORT_COLUMNS)]
    frame["available"] = np.where(frame["available"].to_numpy(dtype=bool), "true", "false")
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.2f")
    _write_file(folder / CATALOG_FILE, [text.encode("utf-8")])


def _write_events(simulated: SimulatedDay, folder: Path, say: Callable[[str], None]) -> None:
    bounds = np.searchsorted(simulated.events.time_ms, np.arange(25) * HOUR_MS)
    prices = pa.array([f"{p:.2f}" for p in simulated.catalog.price.tolist()], type=pa.string())
    for hour in range(24):
        lo, hi = int(bounds[hour]), int(bounds[hour + 1])
        _write_file(folder / f"events-{hour:02d}.jsonl", [json_lines(simulated, lo, hi, prices)])
        say(f"events: hour {hour + 1}/24 ({hi - lo:,} events)")


def json_lines(simulated: SimulatedDay, lo: int, hi: int, prices: pa.StringArray) -> memoryview:
    """Events ``lo:hi`` as JSON Lines (UTF-8, one object a line, ``null`` for missing context).

    Every value is an id, a timestamp, a number or a fixed word without quotes or
    backslashes, so the lines are assembled by concatenation rather than a JSON encoder.
    """
    if hi <= lo:
        return memoryview(b"")
    cols = event_columns(simulated, lo, hi)
    price = prices.take(pa.array(simulated.events.item[lo:hi]))
    placement = pc.fill_null(pc.binary_join_element_wise('"', cols["placement"], '"', ""), "null")
    position = pc.fill_null(pc.cast(cols["position"], pa.string()), "null")
    line = pc.binary_join_element_wise(
        '{"event_id":"', cols["event_id"],
        '","event_time":"', cols["event_time"],
        '","user_id":"', cols["user_id"],
        '","session_id":"', cols["session_id"],
        '","item_id":"', cols["item_id"],
        '","event_type":"', cols["event_type"],
        '","price":', price,
        ',"device":"', cols["device"],
        '","placement":', placement,
        ',"position":', position,
        "}\n",
        "",
    )  # fmt: skip
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1, offset=4 * line.offset)
    data = memoryview(line.buffers()[2])
    return data[int(offsets[0]) : int(offsets[-1])]


def _write_file(path: Path, chunks: list[bytes] | list[memoryview]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _stage(final: Path, write: Callable[[Path], None]) -> Path:
    """Build the content of ``final`` with ``write`` in a hidden sibling folder and return it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for debris in final.parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(debris, ignore_errors=True)
    for old in sorted(final.parent.glob(f".old-{final.name}-*")):
        # A crash between the two renames of _swap left the previous export aside: restore it.
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, final)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:12]}"  # names a folder, not data
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _swap(tmp: Path, final: Path) -> None:
    """Rename the staged folder into place; an existing one is moved aside, then removed."""
    if final.exists():
        old = final.parent / f".old-{tmp.name.removeprefix('.tmp-')}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
