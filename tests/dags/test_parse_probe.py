"""The integrity probe itself catches what it is meant to catch (so its silence means something)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dags.test_dag_integrity import parse

HEADER = """
import pendulum
from airflow.sdk import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), tags=["recsys"], doc_md="x")
def probe_dag():
    @task
    def noop():
        pass
    noop()

probe_dag()
"""


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ("import pandas\n", "heavy", ["pandas"]),
        ("from airflow.sdk import Variable\ntry:\n    Variable.get('x')\nexcept Exception:\n    pass\n",
         "touched", ["Variable.get"]),
        ("import socket\ntry:\n    socket.create_connection(('::1', 1))\nexcept Exception:\n    pass\n",
         "touched", ["socket connect"]),
    ],
)  # fmt: skip
def test_probe_reports_parse_time_sins(tmp_path: Path, body: str, key: str, expected: list[str]) -> None:
    path = tmp_path / "sinful.py"
    path.write_text(body + HEADER)
    assert set(expected) <= set(parse(path)[key])


def test_probe_reports_import_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(HEADER + "\nraise ValueError('boom at parse time')\n")
    assert "boom at parse time" in parse(path)["errors"]["broken.py"]
