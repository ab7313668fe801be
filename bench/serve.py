"""The lookup service under load, against a Starlette app that only GETs the same Redis key.

    python -m bench.serve

A private redis-server holds a published version of synthetic lists (``--users`` users x 100
items, plus the segment lists cold start reads). wrk (Debian package ``wrk``) on loopback
drives ``/v1/users/{id}/recommendations`` over random users, and in the same run the baseline
(bench/serve_baseline.py) on ``/u/{id}``, both under uvicorn with the same worker count,
alternating, best round of each side counted. A third side is the service with batched reads
off (``RECSYS_SERVICE_READ_BATCH=1``): each request's own GET, as the baseline does, so the
run also shows what batching (feature_store/service/batching.py) is worth. Then a paced run at
1,000 requests/s gives the p99 a shop would see at that rate: wrk has no rate option (wrk2
does, and is not packaged), so each of ``--paced-connections`` connections waits a ``delay``
after every answer, calibrated from short runs so that connections / (delay + service time)
is the rate; ``paced_rps`` is the rate the measured run reached.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.redis_server import BenchRedis, free_port
from bench.report import finish

LUA = """
math.randomseed(42)
local users = tonumber(os.getenv("BENCH_USERS"))
local prefix = os.getenv("BENCH_PREFIX")
local suffix = os.getenv("BENCH_SUFFIX")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
request = function()
  return wrk.format("GET", prefix .. string.format("U%06d", math.random(0, users - 1)) .. suffix)
end
if pause > 0 then
  -- wrk takes whole milliseconds: carry the fraction, so that the delays average to ``pause``
  local owed = 0
  delay = function()
    owed = owed + pause
    local whole = math.floor(owed)
    owed = owed - whole
    return whole
  end
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


# What recsys_publish writes for the default experiment (baseline reads "baseline", tags reads
# "tags") once the champion ranker is a tags one: champion's lists and baseline's, and the alias
# tags -> champion. So half the users are one GET, half one MGET of their list and champion's.
LISTS = ("champion", "baseline")
ALIASES = {"tags": "champion"}


def publish_synthetic(url: str, users: int, items: int = 20_000, per_user: int = 100, seed: int = 42) -> None:
    """One complete version: every user's lists (``LISTS``), the global, trending and new-arrival lists."""
    import redis

    from feature_store.recommendations import publish_recommendations

    rng = np.random.default_rng(seed)
    catalog = np.asarray([f"P{i:06d}" for i in range(items)], dtype=object)

    def lists_of(variant: str) -> pd.DataFrame:
        rows = rng.integers(0, items, size=(users, per_user * 2))  # 200 draws of 20,000: 100 distinct
        lists = [pd.unique(r)[:per_user] for r in rows]
        return pd.DataFrame(
            {
                "variant": variant,
                "user_id": np.repeat([f"U{u:06d}" for u in range(users)], per_user),
                "rank": np.tile(np.arange(1, per_user + 1), users),
                "item_id": pd.Categorical(catalog[np.concatenate(lists)], categories=catalog),
                "score": np.tile(np.linspace(5.0, 0.0, per_user), users),
                "channel": "faiss",
                "stage": "fine",
            }
        )

    frame = pd.concat([lists_of(v) for v in LISTS], ignore_index=True)
    segments = pd.concat(
        [
            pd.DataFrame(
                {
                    "kind": "segment",
                    "key": key,
                    "rank": np.arange(1, 101),
                    "item_id": catalog[start : start + 100],
                    "score": np.linspace(100.0, 1.0, 100),
                }
            )
            for key, start in (("global", 0), ("trending", 100), ("new_arrivals", 200))
        ],
        ignore_index=True,
    )
    client = redis.Redis.from_url(url)
    publish_recommendations(
        client,
        "2026-11-15",
        frame,
        segments,
        None,
        keep=2,
        batch_size=2000,
        verify_sample=100,
        aliases=ALIASES,
    )


def _wait(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s} s")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wrk(
    base: str,
    prefix: str,
    suffix: str,
    users: int,
    *,
    seconds: int,
    connections: int,
    threads: int,
    delay_ms: float = 0,
) -> dict[str, float]:
    """wrk against ``base`` on ``prefix + U<random user> + suffix``: requests/s, p50, p99 (ms), errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    env = {
        **os.environ,
        "BENCH_USERS": str(users),
        "BENCH_PREFIX": prefix,
        "BENCH_SUFFIX": suffix,
        "BENCH_DELAY_MS": str(delay_ms),
    }
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        script.name,
        base,
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)

    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {percent}% latency in wrk's output:\n{out}")
        return float(found.group(1)) * _UNITS[found.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }


def paced(
    base: str, prefix: str, suffix: str, users: int, *, rate: float, connections: int, seconds: int
) -> dict[str, float]:
    """wrk at ``rate`` requests/s: each connection waits ``delay`` after every answer.

    A connection then makes one request per ``delay + service time``, so ``connections`` of
    them make ``rate`` when ``delay = connections / rate - service time``. The service time
    (latency, and wrk's own turn-around) is measured by short runs, up to four, until one
    lands within 2 % of the rate; then the measured run. Its ``rps`` is the rate reached.
    """
    period_ms = 1000.0 * connections / rate
    delay = max(period_ms - 1.0, 0.0)  # a first guess: 1 ms of service time
    for _ in range(4):
        probe = wrk(
            base, prefix, suffix, users, seconds=3, connections=connections, threads=2, delay_ms=delay
        )
        if abs(probe["rps"] - rate) <= 0.02 * rate:
            break
        service_ms = max(period_ms * rate / probe["rps"] - delay, 0.0)
        delay = max(period_ms - service_ms, 0.0)
    run = wrk(
        base, prefix, suffix, users, seconds=seconds, connections=connections, threads=2, delay_ms=delay
    )
    return {**run, "delay_ms": delay}


def service_figures(metrics_url: str) -> dict[str, float]:
    """Totals from the service's /metrics: recommendation answers, those from the snapshot,
    batched Redis reads and the requests they held."""
    with urllib.request.urlopen(metrics_url, timeout=5) as answer:
        text = answer.read().decode()

    def total(name: str) -> float:
        return sum(
            float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([\d.e+]+)$", text, re.MULTILINE)
        )

    return {
        "answers": total("recsys_service_recommendations_total"),
        "fallbacks": total("recsys_service_fallbacks_total"),
        "batches": total("recsys_service_read_batch_requests_count"),
        "batched_requests": total("recsys_service_read_batch_requests_sum"),
    }


def _per(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of each side")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--paced-rps", type=float, default=1000.0, help="rate of the paced run")
    parser.add_argument("--paced-connections", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench.serve needs wrk: apt-get install wrk (Debian)")

    logs = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    with BenchRedis() as server:
        publish_synthetic(server.url, args.users)
        service_port, unbatched_port, baseline_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "RECSYS_REDIS_URL": server.url,
            "RECSYS_SERVICE_HOST": "127.0.0.1",
            "RECSYS_SERVICE_WORKERS": str(args.workers),
            "BASELINE_REDIS_URL": server.url,
            "BASELINE_VERSION": "1",
        }
        service = _start(
            [sys.executable, "-m", "feature_store.service"],
            {**env, "RECSYS_SERVICE_PORT": str(service_port)},
            logs / "service.log",
        )
        unbatched = _start(
            [sys.executable, "-m", "feature_store.service"],
            {**env, "RECSYS_SERVICE_PORT": str(unbatched_port), "RECSYS_SERVICE_READ_BATCH": "1"},
            logs / "unbatched.log",
        )
        baseline = _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.serve_baseline:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(baseline_port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env,
            logs / "baseline.log",
        )
        try:
            _wait(f"http://127.0.0.1:{service_port}/readyz")
            _wait(f"http://127.0.0.1:{unbatched_port}/readyz")
            _wait(f"http://127.0.0.1:{baseline_port}/u/U000000")
            path = ("/v1/users/", f"/recommendations?k={args.k}")
            sides = {
                "baseline": (f"http://127.0.0.1:{baseline_port}", "/u/", ""),
                "ours": (f"http://127.0.0.1:{service_port}", *path),
                "unbatched": (f"http://127.0.0.1:{unbatched_port}", *path),
            }
            load = {"seconds": args.seconds, "connections": args.connections, "threads": args.threads}
            for side in sides.values():  # warm-up: connections, caches
                wrk(*side, args.users, **{**load, "seconds": 3})
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, side in sides.items():
                    runs[name].append(wrk(*side, args.users, **load))
            loaded = service_figures(f"http://127.0.0.1:{service_port}/metrics")
            pace = {"rate": args.paced_rps, "connections": args.paced_connections, "seconds": 15}
            paced_run = paced(*sides["ours"], args.users, **pace)
            done = service_figures(f"http://127.0.0.1:{service_port}/metrics")
        finally:
            for process in (service, unbatched, baseline):
                process.terminate()
                process.wait(timeout=30)

    share = _per(done["fallbacks"], done["answers"])
    paced_reads = _per(*(done[k] - loaded[k] for k in ("batched_requests", "batches")))
    best, top, alone = (max(runs[name], key=lambda r: r["rps"]) for name in ("ours", "baseline", "unbatched"))
    every_run = [*runs["ours"], *runs["baseline"], *runs["unbatched"], paced_run]
    figures: dict[str, Any] = {
        "rps": round(best["rps"], 1),
        "baseline_rps": round(top["rps"], 1),
        "ratio_to_baseline": round(best["rps"] / top["rps"], 3),
        "p50_ms": round(best["p50_ms"], 3),
        "p99_ms": round(best["p99_ms"], 3),
        "p99_ms_at_1000rps": round(paced_run["p99_ms"], 3),
        "paced_rps": round(paced_run["rps"], 1),
        "fallback_share": round(share, 4),
        "non_2xx": int(sum(r["non_2xx"] for r in every_run)),
        "socket_errors": int(sum(r["socket_errors"] for r in every_run)),
        "requests_per_read": round(_per(loaded["batched_requests"], loaded["batches"]), 2),
        "paced_requests_per_read": round(paced_reads, 2),
        "unbatched_rps": round(alone["rps"], 1),
        "unbatched_ratio_to_baseline": round(alone["rps"] / top["rps"], 3),
        "unbatched_p99_ms": round(alone["p99_ms"], 3),
        "paced_p50_ms": round(paced_run["p50_ms"], 3),
        "paced_connections": args.paced_connections,
        "paced_delay_ms": round(paced_run["delay_ms"], 2),
        "baseline_p50_ms": round(top["p50_ms"], 3),
        "baseline_p99_ms": round(top["p99_ms"], 3),
        "rounds": {f"{name}_rps": [r["rps"] for r in side_runs] for name, side_runs in runs.items()},
        "workers": args.workers,
        "users": args.users,
        "k": args.k,
        "connections": args.connections,
    }
    rows = [
        (
            "setup",
            f"{args.users:,} users x 100 items, k={args.k}, {args.workers} uvicorn workers per side, "
            f"wrk -t{args.threads} -c{args.connections} {args.seconds} s x {args.rounds} rounds",
        ),
        (
            "lookup service",
            f"{best['rps']:>10,.0f} req/s   p50 {best['p50_ms']:.2f} ms   p99 {best['p99_ms']:.2f} ms",
        ),
        (
            "baseline (GET only)",
            f"{top['rps']:>10,.0f} req/s   p50 {top['p50_ms']:.2f} ms   p99 {top['p99_ms']:.2f} ms",
        ),
        ("ratio to baseline", f"{figures['ratio_to_baseline']:.3f}   (target >= 0.8)"),
        (
            "requests per read",
            f"{figures['requests_per_read']:.2f} under wrk, {figures['paced_requests_per_read']:.2f} "
            "in the paced run   (requests sharing one MGET, batching.py)",
        ),
        (
            "unbatched service",
            f"{alone['rps']:>10,.0f} req/s   p50 {alone['p50_ms']:.2f} ms   p99 {alone['p99_ms']:.2f} ms   "
            f"ratio {figures['unbatched_ratio_to_baseline']:.3f}   (RECSYS_SERVICE_READ_BATCH=1)",
        ),
        (
            "paced run",
            f"{paced_run['rps']:,.0f} req/s ({args.paced_connections} connections, "
            f"{paced_run['delay_ms']:.2f} ms delay): p99 {paced_run['p99_ms']:.2f} ms   "
            "(target <= 10 ms at 1,000 req/s)",
        ),
        ("fallback share", f"{share:.4f}"),
        ("non-2xx answers", f"{figures['non_2xx']}   socket errors {figures['socket_errors']}"),
    ]
    finish("serve", figures, rows, "bench.serve: the lookup service against a GET-only baseline")


if __name__ == "__main__":
    main()
