"""Parse one DAG file the way the DAG processor would, and report what parsing did.

Run as a separate process by the integrity tests, so imports and timings are clean:
the database points at a path that cannot exist, sockets refuse to connect, and
connection or variable look-ups raise, so any I/O at parse time shows up as an error.
Prints one JSON object.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = ("tensorflow", "keras", "pandas", "faiss", "pyarrow", "great_expectations", "redis", "numpy")
touched: list[str] = []


def _asset_uris(condition: object) -> list[str]:
    """The URIs of every asset in an asset condition (nested all/any included)."""
    if condition is None:
        return []
    if hasattr(condition, "uri"):
        return [str(condition.uri)]
    return [uri for part in getattr(condition, "objects", []) for uri in _asset_uris(part)]


def _refuse(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> Any:
        touched.append(what)
        raise RuntimeError(f"{what} while parsing a DAG file")

    return refuse


def main(path: str) -> None:
    socket.socket.connect = _refuse("socket connect")  # type: ignore[method-assign]
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    BaseHook.get_connection = _refuse("connection look-up")  # type: ignore[method-assign]
    Variable.get = _refuse("Variable.get")  # type: ignore[method-assign]
    import sqlalchemy.engine

    sqlalchemy.engine.Engine.connect = _refuse("database query")  # type: ignore[method-assign]
    before = set(sys.modules)
    started = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=False)
    seconds = time.perf_counter() - started
    imported = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY))
    dags = {
        dag_id: {
            "owner": [t.owner for t in dag.tasks],
            "retries": [t.retries for t in dag.tasks],
            "tags": sorted(dag.tags),
            "doc_md": bool(dag.doc_md and dag.doc_md.strip()),
            "tasks": sorted(t.task_id for t in dag.tasks),
            "timetable": type(dag.timetable).__name__,
            "params": {k: (v.description or "") for k, v in dag.params.items()},
            "listens_to": sorted(_asset_uris(getattr(dag.timetable, "asset_condition", None))),
            "outlets": {t.task_id: sorted(o.uri for o in t.outlets) for t in dag.tasks if t.outlets},
        }
        for dag_id, dag in bag.dags.items()
    }
    errors = {Path(k).name: v for k, v in bag.import_errors.items()}
    print(
        json.dumps(
            {"errors": errors, "dags": dags, "seconds": seconds, "heavy": imported, "touched": touched}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
