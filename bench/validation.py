"""Validation cost: the gates of one simulated day against the whole recsys_ingest run of it.

    python -m bench.validation --scale medium

Runs the day's steps in DAG order in a fresh process per repeat, on the cached export of
``bench.ingest`` (``data/bench/landing/``, generated once) and a fresh temporary lake:
``land_shop_export`` (landing mode: the export is already there), ``ingest_catalog`` →
``validate_catalog``, ``ingest_events`` → ``validate_events``, ``tag_catalog`` →
``validate_item_tags`` and ``compute_features`` → ``validate_features`` (those two pairs
when their step exists and, for a gate, when a suite is registered). The feature history
starts on the day itself, so its window is that one day. ``publish_online_features``
writes to a private, throw-away ``redis-server`` (left out when none is installed). The
simulated shop's own export time is not counted: the export stands for a real shop's files.

``validation_s`` is the time of the gates with Great Expectations already imported; the
import itself (once per process, so once per gate task under Airflow) is reported apart
as ``gx_import_s``, and ``validation_share_with_import`` counts it in. Medians of
``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.ingest import DAY, ensure_export
from bench.report import finish, peak_rss_mb


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_day(landing: Path, redis_url: str | None) -> dict[str, Any]:
    """One day through the steps and gates, timed step by step (in this process)."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401  # timed on its own: a per-process cost

    gx_import_s = time.perf_counter() - started

    from expectations.datasets import DATASETS
    from recsys.settings import load_settings
    from tasks.context import RunContext
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events
    from tasks.shop_export import land_shop_export
    from tasks.validate import validate_partition

    lake = Path(tempfile.mkdtemp(prefix="bench-validation-lake-"))
    steps: list[tuple[str, Callable[[RunContext], object]]] = [
        ("land_shop_export", land_shop_export),
        ("ingest_catalog", ingest_catalog),
        ("validate_catalog", lambda c: validate_partition(c, "catalog")),
        ("ingest_events", ingest_events),
        ("validate_events", lambda c: validate_partition(c, "events")),
    ]
    if _has("tasks.tag"):
        from tasks.tag import tag_catalog

        steps += [
            ("tag_catalog", tag_catalog),
            ("validate_item_tags", lambda c: validate_partition(c, "item_tags")),
        ]
    if _has("tasks.tag") and _has("tasks.features"):  # features read the day's item tags
        from tasks.features import compute_features, publish_online_features

        steps.append(("compute_features", compute_features))
        if any(name == "features" or name.startswith("features/") for name in DATASETS):
            steps.append(("validate_features", lambda c: validate_partition(c, "features")))
        if redis_url:
            steps.append(("publish_online_features", publish_online_features))
    try:
        settings = load_settings(
            lake_root=lake,
            landing_root=landing,
            source="landing",
            history_start=DAY,
            **({"redis_url": redis_url} if redis_url else {}),
        )
        ctx = RunContext(DAY, settings)
        seconds: dict[str, float] = {}
        events = 0
        for name, step in steps:
            began = time.perf_counter()
            result = step(ctx)
            seconds[name] = time.perf_counter() - began
            if name == "ingest_events" and isinstance(result, dict):
                events = int(result["rows_read"])
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    return {"seconds": seconds, "gx_import_s": gx_import_s, "events": events, "rss": peak_rss_mb()}


@contextmanager
def private_redis() -> Iterator[str | None]:
    """A throw-away redis-server for the publication step (``None`` when none is installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    workdir = Path(tempfile.mkdtemp(prefix="bench-validation-redis-"))
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*args, "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def measure(landing: Path, redis_url: str | None) -> dict[str, Any]:
    airflow_home = tempfile.mkdtemp(prefix="bench-validation-airflow-")
    env = {**os.environ, "AIRFLOW_HOME": airflow_home}  # nothing written to ~/airflow
    if redis_url:
        env["AIRFLOW_CONN_REDIS_DEFAULT"] = redis_url
    command = [sys.executable, "-m", "bench.validation", "--worker", "--landing", str(landing)]
    try:
        out = subprocess.run(
            [*command, *(["--redis-url", redis_url] if redis_url else [])],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"bench.validation worker failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_day(args.landing, args.redis_url)))
        return

    landing = ensure_export(args.scale, args.seed)
    runs = []
    for i in range(args.repeats):
        with private_redis() as redis_url:
            runs.append(measure(landing, redis_url))
        took = runs[-1]["seconds"]
        gates = sum(v for k, v in took.items() if k.startswith("validate_"))
        print(f"run {i + 1}/{args.repeats}: gates {gates:.2f} s of {sum(took.values()):.2f} s", flush=True)
    names = list(runs[0]["seconds"])
    step_s = {name: statistics.median(r["seconds"][name] for r in runs) for name in names}
    gates = [n for n in names if n.startswith("validate_")]
    gates_s = [sum(r["seconds"][n] for n in gates) for r in runs]
    runs_s = [sum(r["seconds"].values()) for r in runs]
    imports_s = [r["gx_import_s"] for r in runs]
    validation_s = statistics.median(gates_s)
    ingest_dag_s = statistics.median(runs_s)
    gx_import_s = statistics.median(imports_s)
    # the share of each run, then the median: a busy moment slows a whole run, not one step
    share = statistics.median(v / t for v, t in zip(gates_s, runs_s, strict=True))
    share_with_import = statistics.median(
        (v + i) / (t + i) for v, t, i in zip(gates_s, runs_s, imports_s, strict=True)
    )
    figures = {
        "scale": args.scale,
        "events": runs[0]["events"],
        "steps": names,
        "step_s": {n: round(s, 3) for n, s in step_s.items()},
        "gx_import_s": round(gx_import_s, 3),
        "validation_share_with_import": round(share_with_import, 4),
        "peak_rss_mb": round(max(r["rss"] for r in runs), 1),
        "repeats": args.repeats,
        "validation_s": round(validation_s, 3),
        "ingest_dag_s": round(ingest_dag_s, 3),
        "validation_share": round(share, 4),
    }
    rows = [("day", f"{DAY} at {args.scale} scale (seed {args.seed}): {runs[0]['events']:,} events read")]
    rows += [(f"  {n}", f"{s:.2f} s") for n, s in step_s.items()]
    rows += [
        ("validation (all gates)", f"{validation_s:.2f} s (median of {args.repeats})"),
        ("recsys_ingest run of the day", f"{ingest_dag_s:.2f} s (the steps above)"),
        ("validation share", f"{share:.3f}  (median of the runs' shares; target <= 0.15)"),
        ("GX import, once per process", f"{gx_import_s:.2f} s; share counting it: {share_with_import:.3f}"),
        ("peak RSS", f"{figures['peak_rss_mb']:.0f} MB"),
    ]
    if "validate_features" not in names:
        rows.append(("note", "no features gate registered yet: validate_features not measured"))
    if "publish_online_features" not in names:
        rows.append(("note", "no redis-server installed: publish_online_features not measured"))
    finish("validation", figures, rows, "bench.validation: the validation gates against the day's run")


if __name__ == "__main__":
    main()
