"""Tagging benchmarks: coverage on real catalogs, and speed against the per-row baseline.

    python -m bench.tagging --catalog ../shared/datasets/catalogs/retail-electronics-643.csv
    python -m bench.tagging --all-real                 # the three real catalogs
    python -m bench.tagging --synthetic 1000000        # speed: engine vs per-row loop

Each run prints a readable table and, as its very last line, one JSON object with the
figures; the same JSON goes to ``bench/results/tagging.json`` (real catalogs) or
``bench/results/tagging_speed.json`` (synthetic). Real-catalog runs exit with 1 when a
coverage target is missed. Wall times are ``time.perf_counter`` on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.adapters import load_catalog
from bench.tagging_rowwise import RowwiseTagger
from bench.tagging_synthetic import synthetic_catalog
from tagging.analytics import TagSummary, render_report, summarize
from tagging.engine import TagEngine
from tagging.taxonomy import Taxonomy, load_taxonomy

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
REAL_DIR = REPO.parent / "shared" / "datasets" / "catalogs"
REAL_FILES = ("retail-electronics-643.csv", "bestbuy-408.json", "sony-lenses-46.json")
TARGETS = {"coverage_any": 0.95, "coverage_price_position": 0.90, "coverage_basic_tier": 0.90}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    taxonomy = load_taxonomy(args.definitions)
    if args.synthetic:
        result = run_speed(taxonomy, args.synthetic, args.baseline_items, args.repeat, args.workers)
        _emit(result, RESULTS / "tagging_speed.json")
        return 0
    paths = [Path(p) for p in args.catalog or []]
    if args.all_real:
        paths += [Path(args.datasets) / name for name in REAL_FILES]
    if not paths:
        _parser().error("give --catalog PATH (repeatable), --all-real or --synthetic N")
    result = run_real(taxonomy, paths, args.report_dir, args.sample, args.seed)
    _emit(result, RESULTS / "tagging.json")
    return 0 if result["targets_met"] else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.tagging", description=__doc__.split("\n")[0])
    p.add_argument("--catalog", action="append", help="a catalog file (raw CSV/JSONL or a known export)")
    p.add_argument("--all-real", action="store_true", help=f"the real catalogs: {', '.join(REAL_FILES)}")
    p.add_argument("--datasets", default=str(REAL_DIR), help="folder of the real catalogs")
    p.add_argument("--synthetic", type=int, metavar="N", help="speed run on N synthetic items")
    p.add_argument(
        "--baseline-items", type=int, default=20_000, help="items the per-row baseline tags (0: all)"
    )
    p.add_argument("--repeat", type=int, default=3, help="timed engine runs (median reported)")
    p.add_argument("--workers", type=int, default=None, help="engine threads (default: cores, at most 4)")
    p.add_argument("--definitions", default=None, help="tag definitions file (default: the packaged one)")
    p.add_argument("--report-dir", default=None, help="write one HTML report per catalog here")
    p.add_argument(
        "--sample", type=int, default=0, help="print a random sample of N assignments to check by hand"
    )
    p.add_argument("--seed", type=int, default=20261203, help="seed of --sample")
    return p


# ---- real catalogs


def run_real(
    taxonomy: Taxonomy, paths: list[Path], report_dir: str | None, sample: int, seed: int
) -> dict[str, Any]:
    engine = TagEngine(taxonomy)
    per: dict[str, dict[str, Any]] = {}
    all_tags, all_ids = [], []
    for path in paths:
        catalog = load_catalog(path)
        start = time.perf_counter()
        tags = engine.tag(catalog)
        seconds = time.perf_counter() - start
        summary = summarize(tags, catalog["item_id"], taxonomy)
        per[path.name] = _catalog_result(summary, catalog, tags, seconds)
        if report_dir:
            out = Path(report_dir) / f"{path.stem}.html"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_report(summary, f"Tagging report: {path.name}"), encoding="utf-8")
        _print_catalog(path.name, summary, per[path.name])
        keyed = catalog[["item_id", "title"]].assign(item_id=path.name + ":" + catalog["item_id"].astype(str))
        all_tags.append(
            tags.assign(item_id=path.name + ":" + tags["item_id"].astype(str)).merge(keyed, on="item_id")
        )
        all_ids += list(keyed["item_id"])
    combined = pd.concat(all_tags, ignore_index=True)
    total = summarize(combined, all_ids, taxonomy)
    if sample:
        _print_sample(combined, sample, seed)
    return {
        "items": total.items,
        "rows": total.rows,
        "coverage_any": total.coverage_any,
        "coverage_price_position": total.coverage_price_position,
        "coverage_basic_tier": total.coverage_basic_tier,
        "coverage_by_dimension": total.coverage_by_dimension,
        "untagged": total.untagged,
        "targets_met": all(c["targets_met"] for c in per.values()),
        "catalogs": per,
    }


def _catalog_result(
    summary: TagSummary, catalog: pd.DataFrame, tags: pd.DataFrame, seconds: float
) -> dict[str, Any]:
    series = sony_series_check(catalog, tags)
    met = all(getattr(summary, k) >= v for k, v in TARGETS.items()) and not series["missing"]
    return {
        "items": summary.items,
        "rows": summary.rows,
        "coverage_any": summary.coverage_any,
        "coverage_price_position": summary.coverage_price_position,
        "coverage_basic_tier": summary.coverage_basic_tier,
        "coverage_by_dimension": summary.coverage_by_dimension,
        "untagged": summary.untagged,
        "sony_series": series,
        "targets_met": met,
        "seconds": round(seconds, 4),
    }


def expected_series(title: str, brand: str, category: str) -> set[str]:
    """Series tags a product must carry, judged from its title, brand and category alone.

    Deliberately simpler than the taxonomy's rules: it names the products a merchandiser
    would call Sony series products, so the check does not grade the rules by themselves.
    """
    t = title.lower()
    sony = brand.lower() == "sony" or t.startswith("sony")
    found = set()
    if "1000xm" in t.replace("-", ""):
        found.add("BR003")
    if re.search(r"playstation|\bps[345]\b|dualshock|dualsense", t):
        found.add("BR004")
    if sony and category == "tvs":
        found.add("BR005")
    if sony and category == "lenses":
        found.add("BR001")
    if sony and category == "cameras" and re.search(r"alpha|α|ilce-", t):
        found.add("BR001")
    if sony and re.search(r"\bfx(?:3|30|6|9)\b", t):
        found.add("BR002")
    return found


def sony_series_check(catalog: pd.DataFrame, tags: pd.DataFrame) -> dict[str, Any]:
    """Which series products got their series tag, and which did not."""
    have = set(zip(tags["item_id"].astype(str), tags["tag"].astype(str), strict=True))
    expected = 0
    missing = []
    for row in catalog.itertuples():
        for code in sorted(expected_series(str(row.title), str(row.brand or ""), str(row.category or ""))):
            expected += 1
            if (str(row.item_id), code) not in have:
                missing.append(f"{row.item_id}:{code}")
    return {"expected": expected, "tagged": expected - len(missing), "missing": missing}


def _print_catalog(name: str, summary: TagSummary, result: dict[str, Any]) -> None:
    print(f"\n== {name}: {summary.items} items, {summary.rows} tags, {result['seconds']:.3f} s")
    print(f"{'dimension':<22}{'coverage':>10}")
    for dim, share in summary.coverage_by_dimension.items():
        print(f"{dim:<22}{share:>10.1%}")
    print(f"{'any tag':<22}{summary.coverage_any:>10.1%}   (target {TARGETS['coverage_any']:.0%})")
    price, tier = TARGETS["coverage_price_position"], TARGETS["coverage_basic_tier"]
    print(f"{'price position':<22}{summary.coverage_price_position:>10.1%}   (target {price:.0%})")
    print(f"{'basic tier':<22}{summary.coverage_basic_tier:>10.1%}   (target {tier:.0%})")
    s = result["sony_series"]
    print(
        f"Sony series products tagged: {s['tagged']}/{s['expected']}"
        + (f"  missing: {s['missing']}" if s["missing"] else "")
    )
    shown = ", ".join(summary.untagged[:20]) or "none"
    print(f"untagged items ({len(summary.untagged)}): {shown}")


def _print_sample(combined: pd.DataFrame, n: int, seed: int) -> None:
    """A reproducible random sample of assignments as a Markdown table, for the hand check."""
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(len(combined)), min(n, len(combined))))
    print(f"\nrandom sample of {len(picks)} assignments (seed {seed}):")
    print("| # | item | title | tag | rule | evidence |")
    print("|---|---|---|---|---|---|")
    for i, k in enumerate(picks, 1):
        r = combined.iloc[k]
        title = str(r["title"]).replace("|", "/")[:70]
        evidence = str(r["evidence"]).replace("|", "/")
        print(f"| {i} | {r['item_id']} | {title} | {r['tag']} | {r['rule_id']} | {evidence} |")


# ---- speed


def run_speed(
    taxonomy: Taxonomy, n_items: int, baseline_items: int, repeat: int, workers: int | None
) -> dict[str, Any]:
    start = time.perf_counter()
    frame = synthetic_catalog(n_items)
    # the engine reads what the DAG step reads: an Arrow table in the lake's catalog schema
    table = pa.Table.from_pandas(frame, preserve_index=False)
    generate_s = time.perf_counter() - start
    engine = TagEngine(taxonomy, workers=workers)
    engine.tag(table.slice(0, min(20_000, n_items)))  # warm-up: thread pool, allocator
    runs, rows = [], 0
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        out = engine.tag(table)
        runs.append(time.perf_counter() - start)
        rows = len(out)
        del out
    phases = dict(engine.last_timings)
    m = n_items if baseline_items <= 0 else min(baseline_items, n_items)
    subset = frame.iloc[:m]
    start = time.perf_counter()
    expected = RowwiseTagger(taxonomy).tag(subset)
    baseline_s = time.perf_counter() - start
    got = engine.tag(pa.Table.from_pandas(subset, preserve_index=False))
    median = statistics.median(runs)
    result = {
        "items": n_items,
        "rows": rows,
        "items_per_s": round(n_items / median, 1),
        "baseline_items_per_s": round(m / baseline_s, 1),
        "speedup_vs_rowwise": round((n_items / median) / (m / baseline_s), 1),
        "baseline_items": m,
        "baseline_seconds": round(baseline_s, 3),
        "engine_seconds": [round(s, 3) for s in runs],
        "engine_best_items_per_s": round(n_items / min(runs), 1),
        "phases_seconds": {k: round(v, 3) for k, v in phases.items()},
        "same_tags_as_baseline": _same(got, expected),
        "workers": engine.workers,
        "cpu_count": os.cpu_count(),
        "generate_seconds": round(generate_s, 2),
    }
    print(f"\n== synthetic catalog: {n_items} items, {rows} tags (generated in {generate_s:.1f} s)")
    print(f"{'':<34}{'items/s':>12}{'seconds':>10}")
    print(f"{'engine (median of ' + str(len(runs)) + ')':<34}{n_items / median:>12,.0f}{median:>10.2f}")
    print(f"{'engine (best)':<34}{n_items / min(runs):>12,.0f}{min(runs):>10.2f}")
    print(f"{'per-row baseline (' + str(m) + ' items)':<34}{m / baseline_s:>12,.0f}{baseline_s:>10.2f}")
    same = result["same_tags_as_baseline"]
    print(f"speedup vs per-row: {result['speedup_vs_rowwise']}x; same tags on the baseline's items: {same}")
    print("engine phases of the last run: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()))
    return result


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two tag outputs agree row for row (confidence to 1e-6)."""
    if len(a) != len(b):
        return False
    cols = ["item_id", "tag", "dimension", "rule_id", "evidence"]
    if not a[cols].astype(str).reset_index(drop=True).equals(b[cols].astype(str).reset_index(drop=True)):
        return False
    return bool(
        np.allclose(a["confidence"].to_numpy(dtype=float), b["confidence"].to_numpy(dtype=float), atol=1e-6)
    )


def _emit(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, sort_keys=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\n(figures written to {path})")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
