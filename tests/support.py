"""Test helpers: a private redis-server, the repository paths, loading DAG files."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from bench.redis_server import BenchRedis, free_port

__all__ = ["DAGS_FOLDER", "ROOT", "SHARED_DATASETS", "RedisServer", "free_port", "load_dag_module"]

ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = ROOT / "dags"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


class RedisServer(BenchRedis):
    """A real redis-server on a free port, in its own directory, persisting nothing (for tests)."""


def load_dag_module(name: str) -> ModuleType:
    """Import ``dags/<name>.py`` the way the DAG processor does: as a file, not a package."""
    path = DAGS_FOLDER / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dagfile_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
