#!/usr/bin/env python3
"""Liveness probe of one Airflow component of the platform image: ``airflow-healthcheck [COMPONENT]``.

One image runs every component, so the image's HEALTHCHECK calls this without an argument
and it reads the component from the container's command line (PID 1 is ``airflow
<component>``, or docker-init in front of it); docker-compose.yml names it explicitly.

* ``api-server``: ``GET /api/v2/monitor/health`` answers (port ``AIRFLOW__API__PORT``, 8080).
* ``scheduler``: its health server (``AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK``, port 8974)
  says the scheduler's heartbeat is recent.
* ``dag-processor``, ``triggerer``: ``airflow jobs check --local`` finds this host's job alive.
* ``worker``: the Celery worker of this host answers a ping through the broker.

Any other command (``airflow version``, the one-shot init) has nothing to probe: exit 0.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")
JOB_TYPES = {"dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"


def component_from_cmdline(argv: Sequence[str]) -> str | None:
    """The component a command line runs: ``airflow scheduler``, ``airflow celery worker``, ...

    Also after a process retitled itself (setproctitle rewrites /proc/<pid>/cmdline): the
    api-server shows ``airflow api_server -- host:... port:...``, a Celery worker
    ``[celeryd: celery@<host>:MainProcess] ...``.
    """
    words = " ".join(argv).split()
    for index, word in enumerate(words):
        if Path(word).name == "airflow":
            rest = words[index + 1 :]
            if rest[:1] == ["celery"]:
                rest = rest[1:]
            name = rest[0].replace("_", "-") if rest else ""
            return name if name in COMPONENTS else None
        if word.startswith("[celeryd"):
            return "worker"
    return None


def probe(component: str) -> list[str] | str:
    """A URL to GET, or the command whose exit status is the answer."""
    if component == "api-server":
        return f"http://127.0.0.1:{os.environ.get('AIRFLOW__API__PORT', '8080')}/api/v2/monitor/health"
    if component == "scheduler":
        port = os.environ.get("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", "8974")
        return f"http://127.0.0.1:{port}/health"
    if component in JOB_TYPES:
        return ["airflow", "jobs", "check", "--job-type", JOB_TYPES[component], "--local"]
    if component == "worker":
        destination = f"celery@{socket.gethostname()}"
        return ["celery", "--app", CELERY_APP, "inspect", "ping", "--destination", destination]
    raise ValueError(f"no probe for {component!r} (known: {', '.join(COMPONENTS)})")


def main(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        component = argv[1]
    else:
        try:
            cmdline = Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            cmdline = []
        found = component_from_cmdline(cmdline)
        if found is None:
            print(f"airflow-healthcheck: nothing to probe in {' '.join(cmdline).strip()!r}")
            return 0
        component = found
    try:
        check = probe(component)
    except ValueError as exc:
        print(f"airflow-healthcheck: {exc}", file=sys.stderr)
        return 2
    if isinstance(check, list):
        sys.stdout.flush()
        os.execvp(check[0], check)
    try:
        with urllib.request.urlopen(check, timeout=10) as response:
            print(f"airflow-healthcheck: {component}: {response.status} from {check}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"airflow-healthcheck: {component}: {check}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
