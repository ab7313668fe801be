"""How every benchmark ends: a readable table, then one JSON line also saved to bench/results/."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def table(rows: list[tuple[str, str]], title: str) -> str:
    """A two-column text table."""
    width = max(len(k) for k, _ in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{key:<{width}}  {value}" for key, value in rows]
    return "\n".join(lines)


def finish(name: str, figures: dict[str, Any], rows: list[tuple[str, str]], title: str) -> None:
    """Print the table and the JSON line, and write ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    line = json.dumps(figures, sort_keys=False)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(table(rows, title))
    print(line)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
