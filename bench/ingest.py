"""Ingestion speed: one simulated day through ``ingest_events``, against pyarrow's own reader.

    python -m bench.ingest --scale medium

Each measurement runs in a fresh process (so peak memory is its own), alternating ours and
the baseline ``--repeats`` times; the median of each is reported. The baseline reads the
same files with ``pyarrow.json.read_json`` and nothing else: no schema, no checks, no write.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.report import finish, peak_rss_mb

DAY = date(2026, 11, 2)
CACHE = Path(__file__).resolve().parents[1] / "data" / "bench" / "landing"


def ensure_export(scale: str, seed: int) -> Path:
    """The simulated day's export, generated once per (scale, seed) and kept in data/bench/."""
    landing = CACHE / f"{scale}-seed{seed}"
    marker = landing / "events" / f"dt={DAY.isoformat()}" / "_COMPLETE"
    if not marker.exists():
        from recsys.shop_sim import write_export

        print(f"generating the simulated {scale} day {DAY} into {landing} (once) ...", flush=True)
        started = time.perf_counter()
        write_export(DAY, seed=seed, scale=scale, landing_root=landing, progress=lambda s: print("  " + s))  # type: ignore[arg-type]
        marker.write_text("")
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return landing


def run_ours(landing: Path) -> dict[str, Any]:
    from recsys.settings import load_settings
    from tasks.context import RunContext
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events

    lake = Path(tempfile.mkdtemp(prefix="bench-ingest-lake-"))
    try:
        settings = load_settings(lake_root=lake, landing_root=landing)
        ingest_catalog(RunContext(DAY, settings))  # events are checked against it; not timed
        started = time.perf_counter()
        report = ingest_events(RunContext(DAY, settings))
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    return {"seconds": seconds, "rows": report["rows_read"], "events": report["events"], "rss": peak_rss_mb()}


def run_baseline(landing: Path) -> dict[str, Any]:
    import pyarrow.json as pjson

    files = sorted((landing / "events" / f"dt={DAY.isoformat()}").glob("*.jsonl"))
    started = time.perf_counter()
    rows = sum(pjson.read_json(path).num_rows for path in files)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "events": rows, "rss": peak_rss_mb()}


def measure(kind: str, landing: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--worker", kind, "--landing", str(landing)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"bench.ingest --worker {kind} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        runner = run_ours if args.worker == "ours" else run_baseline
        print(json.dumps(runner(args.landing)))
        return

    landing = ensure_export(args.scale, args.seed)
    ours, baseline = [], []
    for i in range(args.repeats):
        baseline.append(measure("baseline", landing))
        ours.append(measure("ours", landing))
        print(f"run {i + 1}/{args.repeats}: ours {ours[-1]['seconds']:.2f} s, "
              f"pyarrow {baseline[-1]['seconds']:.2f} s", flush=True)  # fmt: skip
    ours_s = statistics.median(r["seconds"] for r in ours)
    base_s = statistics.median(r["seconds"] for r in baseline)
    rows = ours[0]["rows"]
    events_per_s = rows / ours_s
    baseline_per_s = baseline[0]["rows"] / base_s
    figures = {
        "scale": args.scale,
        "events": rows,
        "events_kept": ours[0]["events"],
        "seconds": round(ours_s, 3),
        "baseline_seconds": round(base_s, 3),
        "events_per_s": round(events_per_s),
        "baseline_events_per_s": round(baseline_per_s),
        "ratio_to_baseline": round(baseline_per_s / events_per_s, 3),
        "peak_rss_mb": round(max(r["rss"] for r in ours), 1),
        "baseline_peak_rss_mb": round(max(r["rss"] for r in baseline), 1),
        "repeats": args.repeats,
    }
    finish(
        "ingest",
        figures,
        [
            ("events in the day", f"{rows:,} ({args.scale}, seed {args.seed}, {DAY})"),
            (
                "ours: ingest_events",
                f"{ours_s:.2f} s = {events_per_s:,.0f} events/s (median of {args.repeats})",
            ),
            ("baseline: pyarrow read_json", f"{base_s:.2f} s = {baseline_per_s:,.0f} events/s"),
            ("ratio (baseline rate / ours)", f"{figures['ratio_to_baseline']:.2f}  (target <= 3)"),
            (
                "peak RSS ours / baseline",
                f"{figures['peak_rss_mb']:.0f} MB / {figures['baseline_peak_rss_mb']:.0f} MB",
            ),
        ],
        "bench.ingest: events ingestion against pyarrow's reader",
    )


if __name__ == "__main__":
    main()
