"""bench.seqrec end to end on a small planted file: the table, the last-line JSON and the result file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bench.report
from bench import seqrec

ISSUE_KEYS = ("protocol", "hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr", "train_s", "epochs")


@pytest.fixture
def planted_file(tmp_path: Path) -> Path:
    """S3-Rec's layout (one user a line): every user walks a ring of 120 items from a random start.

    120 items leave every user more than the 99 negatives uniform99 draws.
    """
    rng = np.random.default_rng(0)
    lines = []
    for user in range(300):
        start, length = rng.integers(0, 120), rng.integers(6, 12)
        lines.append(" ".join([f"u{user}", *(str((start + i) % 120 + 1) for i in range(length))]))
    path = tmp_path / "ring.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("protocol", ["full", "uniform99"])
def test_a_refit_run_prints_and_writes_every_figure(
    planted_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    protocol: str,
) -> None:
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path / "results")
    argv = ["--data", str(planted_file), "--protocol", protocol, "--epochs", "3", "--refit"]
    argv += [
        "--init-cooccurrence",
        "0.1",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--heads",
        "1",
        "--max-len",
        "10",
    ]
    argv += ["--batch-size", "32", "--max-minutes", "0", "--name", "ring"]
    assert seqrec.main(argv) == 0

    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert json.loads((tmp_path / "results" / "ring.json").read_text()) == figures
    assert all(key in figures for key in ISSUE_KEYS) and figures["protocol"] == protocol
    assert figures["refit"] is True and set(figures["before_refit"]) == set(seqrec.METRICS)
    assert list(figures["baselines"]) == ["popularity", "co-occurrence (window 5, last 5 items)"]
    # On a ring the latest item's unseen neighbour is the target: counting finds it first.
    assert figures["baselines"]["co-occurrence (window 5, last 5 items)"]["hr@1"] > 0.9
    assert figures["test_users"] == 300 and figures["epochs"] == 3
    table = "\n".join(out[:-1])
    assert "BERT4Rec, this run, before refit" in table and "tested after a refit of" in table
