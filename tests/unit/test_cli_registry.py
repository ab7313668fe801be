"""``recsys registry``: list, show, rollback and verify on a registry under RECSYS_REGISTRY_ROOT."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from models.registry import ModelRegistry
from recsys.cli import main
from recsys.settings import DEVELOPMENT_REGISTRY_KEY


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    """Two versions of deepfm, both promoted, in the registry the CLI reads."""
    monkeypatch.setenv("RECSYS_REGISTRY_ROOT", str(tmp_path / "registry"))
    artifacts = tmp_path / "out"
    artifacts.mkdir()
    (artifacts / "model.keras").write_bytes(b"weights")
    registry = ModelRegistry(tmp_path / "registry", DEVELOPMENT_REGISTRY_KEY)
    for auc in (0.71, 0.74):
        version = registry.register(
            "deepfm",
            artifacts,
            metrics={"auc": auc},
            data_range=(date(2026, 11, 1), date(2026, 11, 7)),
            params={},
        )
        registry.promote("deepfm", version.version, f"auc {auc}")
    return registry


def test_list_marks_the_champion_and_refused_versions(
    registry: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    (registry.version_dir("deepfm", 1) / "model.keras").write_bytes(b"changed")
    assert main(["registry", "list", "--model", "deepfm"]) == 0
    out = capsys.readouterr().out
    assert "champion: v2" in out
    assert "* v2" in out and "auc=0.74" in out and "data 2026-11-01..2026-11-07" in out
    assert "  v1" in out and "REFUSED" in out and "model.keras" in out


def test_show_prints_the_champion_manifest_or_a_named_version(
    registry: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "show", "--model", "deepfm"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["champion"], shown["metrics"]) == (2, 2, {"auc": 0.74})
    assert [p["version"] for p in shown["promotions"]] == [1, 2]
    assert main(["registry", "show", "--model", "deepfm", "--version", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1


def test_rollback_then_verify(registry: ModelRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "rollback", "--model", "deepfm"]) == 0
    assert "champion is now v1 (was v2)" in capsys.readouterr().out
    assert registry.champion("deepfm") == 1
    assert main(["registry", "rollback", "--model", "deepfm"]) == 1
    assert "no earlier one to roll back to" in capsys.readouterr().err
    assert main(["registry", "verify", "--model", "deepfm"]) == 0
    assert capsys.readouterr().out.count(": ok (1 files") == 2


def test_verify_fails_on_a_tampered_version(
    registry: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    (registry.version_dir("deepfm", 2) / "manifest.sig").unlink()
    assert main(["registry", "verify", "--model", "deepfm"]) == 1
    out = capsys.readouterr().out
    assert "deepfm v1: ok" in out and "deepfm v2: REFUSED" in out and "unsigned" in out
    assert main(["registry", "verify", "--model", "deepfm", "--version", "1"]) == 0
    capsys.readouterr()
    assert main(["registry", "show", "--model", "deepfm", "--version", "2"]) == 1
    assert "unsigned" in capsys.readouterr().err
    assert main(["registry", "verify", "--model", "nothing"]) == 1
    assert "no versions" in capsys.readouterr().out
