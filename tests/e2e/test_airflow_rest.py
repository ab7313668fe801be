"""End to end through a real Airflow: ``scripts/airflow.sh`` (what ``make airflow`` runs) starts an
api-server, a scheduler (LocalExecutor) and a dag-processor in a private AIRFLOW_HOME (SQLite) on
a free port, over a tiny simulated shop and a private redis-server. Everything then goes through
the REST API v2 with a real JWT from ``POST /auth/token``: unpause ``recsys_ingest``, trigger it for
2026-11-01, backfill 2026-11-02..2026-11-04, and check the lake holds each day's features.

Days and dates: the daily DAG's data interval is [logical date, +1 day) and a run's partition is
its start (tasks/context.py). A *manual* run's interval is inferred as the day *before* its logical
date, so the trigger names its interval (2026-11-01) and passes ``partition_date`` as well; had it
used logical date 2026-11-02, the backfill would find that date taken and skip it
(``reprocess_behavior: none``). A backfill's from/to dates are logical dates, so 11-02..11-04
ingests exactly those days (its run ids are named after the interval *end*: ``backfill__…11-03``
holds 11-02). Features need the day before, and a failed task retries only after 10 minutes, so
the backfill runs one day at a time (``max_active_runs: 1``).

The scheduler creates no scheduled runs (``[scheduler] use_job_schedule = False``): unpausing the
DAG would otherwise start the run for yesterday at once (``catchup=False``), which fails for lack
of history and only costs this small machine time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from feature_store import lake
from tests.support import DAGS_FOLDER, ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "recsys_ingest"
OUR_DAGS = {"recsys_ingest", "recsys_retrain", "recsys_publish", "recsys_feedback"}
TRIGGER_DAY = date(2026, 11, 1)
BACKFILL_DAYS = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
COMPONENTS = "api-server scheduler dag-processor"  # no deferrable task here: no triggerer
FINISHED = {"success", "failed"}
BAD_TASK_STATES = {"failed", "upstream_failed", "up_for_retry"}  # a retry would wait 10 minutes
POLL_S = 1.0


@dataclass
class Airflow:
    """A running Airflow: where it answers, its home, the lake its tasks write, its output."""

    url: str
    home: Path
    lake_root: Path
    output: Path
    process: subprocess.Popen[bytes]

    def component_log(self, name: str, lines: int = 25) -> str:
        path = self.home / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {name}.log\n" + "\n".join(line[:400] for line in text.splitlines()[-lines:])

    def task_log(self, run_id: str, task_id: str, lines: int = 30) -> str:
        folder = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
        attempts = sorted(folder.glob("attempt=*.log"))
        if not attempts:
            return f"--- {task_id}: no log in {folder}"
        rendered = [_render_log_line(line) for line in attempts[-1].read_text(errors="replace").splitlines()]
        return f"--- {task_id} ({attempts[-1].name})\n" + "\n".join(rendered[-lines:])


def _render_log_line(line: str) -> str:
    """Task logs are JSON lines; show level, event and any error, cut to a readable width."""
    try:
        record = json.loads(line)
    except ValueError:
        return line[:400]
    if not isinstance(record, dict):
        return line[:400]
    text = f"{record.get('level', '?')}: {record.get('event', '')}"
    for error in record.get("error_detail") or []:
        frames = error.get("frames") or [{}]
        where = f"{frames[-1].get('filename', '?')}:{frames[-1].get('lineno', '?')}"
        text += f"\n    {error.get('exc_type')}: {error.get('exc_value')} (at {where})"
    return text[:3000]


def _child_env(home: Path, port: int, shop: Path, redis_url: str) -> dict[str, str]:
    """The calling environment without any AIRFLOW_*/RECSYS_* (conftest sets its own), plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECSYS_"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW_COMPONENTS": COMPONENTS,
            "RECSYS_SIM_SCALE": "tiny",
            "RECSYS_SIM_SEED": "7",
            "RECSYS_LAKE_ROOT": str(shop / "lake"),
            "RECSYS_LANDING_ROOT": str(shop / "landing"),
            "RECSYS_REGISTRY_ROOT": str(shop / "registry"),
            "RECSYS_REDIS_URL": redis_url,
        }
    )
    return env


def _wait_for(what: str, check: Callable[[], bool], timeout_s: float, diagnose: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s\n{diagnose()}")
        time.sleep(POLL_S)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop(airflow: Airflow, component_pids: list[int]) -> None:
    """SIGTERM to the script (its trap stops every component); then make sure nothing is left."""
    process = airflow.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # The script started each component in its own process group; none may outlive it.
    for pid in set(component_pids + _pid_files(airflow.home)):
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _pid_files(home: Path) -> list[int]:
    """The component pids scripts/airflow.sh wrote (it removes them once all are stopped)."""
    texts = [path.read_text().strip() for path in home.glob("airflow-*.pid")]
    return [int(text) for text in texts if text.isdigit()]


@pytest.fixture
def airflow(tmp_path: Path, redis_url: str) -> Iterator[Airflow]:
    """A real Airflow, started by scripts/airflow.sh, stopped afterwards whatever happened."""
    home, port = tmp_path / "airflow", free_port()
    output = tmp_path / "airflow.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "airflow.sh")],
            cwd=ROOT,
            env=_child_env(home, port, tmp_path / "shop", redis_url),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Airflow(f"http://127.0.0.1:{port}", home, tmp_path / "shop" / "lake", output, process)
    component_pids: list[int] = []
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                pytest.fail(f"scripts/airflow.sh exited with {process.returncode}:\n{_diagnose(started)}")
            try:
                return httpx.get(f"{started.url}/api/v2/monitor/health", timeout=3).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for("the api-server answering", healthy, 240, lambda: _diagnose(started))
        component_pids = _pid_files(home)
        yield started
    finally:
        _stop(started, component_pids)


def _diagnose(airflow: Airflow) -> str:
    script = airflow.output.read_text(errors="replace") if airflow.output.exists() else ""
    logs = [airflow.component_log(name) for name in COMPONENTS.split()]
    return "--- scripts/airflow.sh\n" + script[-3000:] + "\n" + "\n".join(logs)


def _token(airflow: Airflow) -> str:
    """A JWT from the simple auth manager, for the generated password of user admin."""
    passwords = json.loads((airflow.home / "simple_auth_manager_passwords.json.generated").read_text())
    answer = httpx.post(
        f"{airflow.url}/auth/token",
        json={"username": "admin", "password": passwords["admin"]},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["access_token"]
    return token


def _json(response: httpx.Response, *expected: int) -> dict[str, Any]:
    assert response.status_code in (expected or (200,)), f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _task_states(api: httpx.Client, run_id: str) -> dict[str, str]:
    body = _json(api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100}))
    return {ti["task_id"]: str(ti["state"]) for ti in body["task_instances"]}


def _run_failure(airflow: Airflow, api: httpx.Client, run: dict[str, Any]) -> str:
    states = _task_states(api, run["dag_run_id"])
    bad = [task for task, state in states.items() if state in BAD_TASK_STATES - {"upstream_failed"}]
    logs = [airflow.task_log(run["dag_run_id"], task) for task in bad]
    return (
        f"run {run['dag_run_id']} (logical date {run['logical_date']}): {run['state']}\n"
        f"task states: {json.dumps(states, indent=1, sort_keys=True)}\n"
        + "\n".join(logs)
        + "\n"
        + airflow.component_log("scheduler", 8)
    )


def _wait_for_runs(
    airflow: Airflow,
    api: httpx.Client,
    list_runs: Callable[[], list[dict[str, Any]]],
    count: int,
    timeout_s: float,
) -> list[dict[str, Any]]:
    """Poll until ``count`` runs exist and all succeeded; fail at once when a run or task fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = list_runs()
        for run in runs:
            if run["state"] == "failed":
                pytest.fail(_run_failure(airflow, api, run))
            if run["state"] == "running":
                states = _task_states(api, run["dag_run_id"])
                if BAD_TASK_STATES & set(states.values()):
                    pytest.fail(_run_failure(airflow, api, run))
        if len(runs) == count and all(run["state"] == "success" for run in runs):
            return runs
        if time.monotonic() > deadline:
            summary = ", ".join(f"{r['dag_run_id']}={r['state']}" for r in runs) or "no runs"
            running = [r for r in runs if r["state"] not in FINISHED]
            detail = _run_failure(airflow, api, running[0]) if running else _diagnose(airflow)
            pytest.fail(f"runs not all successful within {timeout_s:.0f} s: {summary}\n{detail}")
        time.sleep(POLL_S * 2)


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def test_trigger_and_backfill_recsys_ingest_through_the_rest_api(airflow: Airflow) -> None:
    # Authentication is real: nothing without a token, everything with one.
    assert httpx.get(f"{airflow.url}/api/v2/dags", timeout=30).status_code == 401
    api = httpx.Client(
        base_url=airflow.url, headers={"Authorization": f"Bearer {_token(airflow)}"}, timeout=60
    )
    with api:
        # The dag-processor has parsed every DAG file, without import errors.
        def parsed() -> bool:
            body = _json(api.get("/api/v2/dags", params={"dag_id_pattern": "recsys_", "limit": 100}))
            return {dag["dag_id"] for dag in body["dags"]} >= OUR_DAGS

        _wait_for("the DAGs parsed", parsed, 180, lambda: airflow.component_log("dag-processor"))
        errors = _json(api.get("/api/v2/importErrors"))
        assert errors["total_entries"] == 0, errors

        dag = _json(api.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}))
        assert dag["is_paused"] is False

        # A manual run for 2026-11-01: its interval named explicitly, its day as the param too.
        run = _json(
            api.post(
                f"/api/v2/dags/{DAG_ID}/dagRuns",
                json={
                    "logical_date": _midnight(TRIGGER_DAY),
                    "data_interval_start": _midnight(TRIGGER_DAY),
                    "data_interval_end": _midnight(BACKFILL_DAYS[0]),
                    "conf": {"partition_date": TRIGGER_DAY.isoformat()},
                },
            ),
            200,
        )
        run_id = run["dag_run_id"]
        assert run["run_type"] == "manual" and run["conf"] == {"partition_date": "2026-11-01"}

        def the_manual_run() -> list[dict[str, Any]]:
            return [_json(api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"))]

        _wait_for_runs(airflow, api, the_manual_run, 1, timeout_s=240)
        states = _task_states(api, run_id)
        assert set(states.values()) == {"success"}, states
        assert lake.has_partition(airflow.lake_root, "features/user", TRIGGER_DAY)

        # A backfill of three days, one run at a time (each day's features need the day before).
        body = {
            "dag_id": DAG_ID,
            "from_date": _midnight(BACKFILL_DAYS[0]),
            "to_date": _midnight(BACKFILL_DAYS[-1]),
            "max_active_runs": 1,
            "reprocess_behavior": "none",
        }
        planned = _json(api.post("/api/v2/backfills/dry_run", json=body))
        assert [b["logical_date"] for b in planned["backfills"]] == [_midnight(d) for d in BACKFILL_DAYS]
        backfill = _json(api.post("/api/v2/backfills", json=body))
        assert backfill["dag_id"] == DAG_ID and backfill["completed_at"] is None

        def backfill_runs() -> list[dict[str, Any]]:
            params: dict[str, str | int] = {"run_type": "backfill", "order_by": "logical_date", "limit": 100}
            return list(_json(api.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params=params))["dag_runs"])

        runs = _wait_for_runs(airflow, api, backfill_runs, len(BACKFILL_DAYS), timeout_s=360)
        assert [r["logical_date"] for r in runs] == [_midnight(d) for d in BACKFILL_DAYS]
        assert [r["data_interval_start"] for r in runs] == [_midnight(d) for d in BACKFILL_DAYS]

    for day in [TRIGGER_DAY, *BACKFILL_DAYS]:
        assert lake.has_partition(airflow.lake_root, "features/user", day), day
        assert lake.has_partition(airflow.lake_root, "features/item", day), day
