"""models.registry: signed versions refuse any change, promotions roll back, the gate is fair."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from models.registry import (
    CHAMPION,
    MANIFEST,
    SIGNATURE,
    ModelRegistry,
    ModelVersion,
    code_version,
    decide_promotion,
    file_digest,
)
from recsys.errors import (
    NoChampionError,
    RecsysError,
    RegistryError,
    TamperedArtifactError,
    UnsignedArtifactError,
)
from recsys.settings import DEVELOPMENT_REGISTRY_KEY, load_settings

KEY = b"test-registry-key"
DAYS = (date(2026, 11, 1), date(2026, 11, 7))


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """A small training output: a model file, a vocabulary, and a nested file."""
    folder = tmp_path / "train-output"
    (folder / "assets").mkdir(parents=True)
    (folder / "model.keras").write_bytes(bytes(range(256)) * 4)
    (folder / "vocab.json").write_text(json.dumps({"items": ["i1", "i2", "i3"]}))
    (folder / "assets" / "tags.txt").write_text("audio\nvideo\n")
    return folder


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry", KEY)


def _register(registry: ModelRegistry, artifacts: Path, auc: float = 0.75) -> ModelVersion:
    return registry.register(
        "deepfm", artifacts, metrics={"auc": auc, "logloss": 0.41}, data_range=DAYS, params={"dim": 16}
    )


def test_register_then_open_round_trip(registry: ModelRegistry, artifacts: Path) -> None:
    registered = _register(registry, artifacts)
    assert registered.version == 1
    assert registered.path == registry.root / "deepfm" / "v1"
    opened = registry.open("deepfm", 1)
    assert opened.manifest == registered.manifest
    assert opened.file("model.keras").read_bytes() == (artifacts / "model.keras").read_bytes()
    assert opened.file("assets/tags.txt").read_text() == "audio\nvideo\n"
    manifest = opened.manifest
    assert manifest.model_name == "deepfm"
    assert manifest.files["vocab.json"] == file_digest(artifacts / "vocab.json")
    assert sorted(manifest.files) == ["assets/tags.txt", "model.keras", "vocab.json"]
    assert manifest.metrics == {"auc": 0.75, "logloss": 0.41}
    assert manifest.data_range == DAYS
    assert manifest.params == {"dim": 16}
    assert manifest.created_at.endswith("+00:00")
    assert manifest.code_version == code_version() != ""
    on_disk = json.loads((opened.path / MANIFEST).read_text())
    assert on_disk["data_range"] == {"first": "2026-11-01", "last": "2026-11-07"}
    with pytest.raises(RegistryError, match=r"has no file 'missing.bin'"):
        opened.file("missing.bin")


def test_versions_count_up_and_ignore_other_entries(registry: ModelRegistry, artifacts: Path) -> None:
    assert registry.versions("deepfm") == []
    _register(registry, artifacts)
    assert _register(registry, artifacts).version == 2
    assert registry.versions("deepfm") == [1, 2]
    assert registry.manifest("deepfm", 2).version == 2
    with pytest.raises(RegistryError, match=r"no version 7 .*versions: \[1, 2\]"):
        registry.open("deepfm", 7)


def test_code_version_is_this_checkout_commit() -> None:
    version = code_version()
    # In a git checkout it is the 40-hex commit; installed elsewhere the package version.
    assert len(version) == 40 or version in ("0.1.0", "unknown")


def test_a_flipped_byte_is_refused_naming_the_file(registry: ModelRegistry, artifacts: Path) -> None:
    version = _register(registry, artifacts)
    target = version.path / "model.keras"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(TamperedArtifactError, match=r"differ from what was signed: model.keras") as caught:
        registry.open("deepfm", 1)
    assert str(version.path) in str(caught.value)


def test_a_missing_or_extra_file_is_refused(registry: ModelRegistry, artifacts: Path) -> None:
    version = _register(registry, artifacts)
    (version.path / "assets" / "tags.txt").unlink()
    with pytest.raises(TamperedArtifactError, match=r"missing: assets/tags.txt"):
        registry.verify("deepfm", 1)
    (version.path / "assets" / "tags.txt").write_text("audio\nvideo\n")
    registry.verify("deepfm", 1)
    (version.path / "assets" / "backdoor.py").write_text("print('hi')")
    with pytest.raises(TamperedArtifactError, match=r"not in the signed manifest: assets/backdoor.py"):
        registry.verify("deepfm", 1)


def test_an_edited_manifest_is_refused(registry: ModelRegistry, artifacts: Path) -> None:
    version = _register(registry, artifacts, auc=0.70)
    path = version.path / MANIFEST
    document = json.loads(path.read_text())
    document["metrics"]["auc"] = 0.99
    path.write_text(json.dumps(document, indent=2, sort_keys=True))
    with pytest.raises(TamperedArtifactError, match=r"does not match manifest.sig"):
        registry.manifest("deepfm", 1)
    path.write_text("{not json")
    with pytest.raises(TamperedArtifactError, match=r"not a valid manifest"):
        registry.verify("deepfm", 1)


def test_reformatting_the_manifest_keeps_it_valid(registry: ModelRegistry, artifacts: Path) -> None:
    # The signature covers the canonical bytes, not the file's layout.
    version = _register(registry, artifacts)
    path = version.path / MANIFEST
    path.write_text(json.dumps(json.loads(path.read_text())))
    assert registry.verify("deepfm", 1).version == 1


def test_a_signed_manifest_moved_to_another_version_is_refused(
    registry: ModelRegistry, artifacts: Path
) -> None:
    first = _register(registry, artifacts, auc=0.9)
    second = _register(registry, artifacts, auc=0.6)
    for name in (MANIFEST, SIGNATURE):
        (second.path / name).write_bytes((first.path / name).read_bytes())
    with pytest.raises(TamperedArtifactError, match=r"signed manifest of deepfm v1"):
        registry.verify("deepfm", 2)


def test_a_deleted_or_empty_signature_is_unsigned(registry: ModelRegistry, artifacts: Path) -> None:
    version = _register(registry, artifacts)
    (version.path / SIGNATURE).write_text("  \n")
    with pytest.raises(UnsignedArtifactError, match=r"unsigned: manifest.sig is missing or empty"):
        registry.verify("deepfm", 1)
    (version.path / SIGNATURE).unlink()
    with pytest.raises(UnsignedArtifactError, match=str(version.path)):
        registry.open("deepfm", 1)


def test_another_key_is_refused(registry: ModelRegistry, artifacts: Path) -> None:
    _register(registry, artifacts)
    other = ModelRegistry(registry.root, b"another-key")
    with pytest.raises(TamperedArtifactError, match=r"signed with another key"):
        other.open("deepfm", 1)
    with pytest.raises(RegistryError, match=r"key .* is empty"):
        ModelRegistry(registry.root, b"")


def test_from_settings_uses_the_configured_root_and_key(tmp_path: Path, artifacts: Path) -> None:
    settings = load_settings(registry_root=tmp_path / "from-settings")
    registry = ModelRegistry.from_settings(settings)
    assert registry.root == tmp_path / "from-settings"
    _register(registry, artifacts)
    ModelRegistry(tmp_path / "from-settings", DEVELOPMENT_REGISTRY_KEY).verify("deepfm", 1)


def test_promote_rollback_and_history(registry: ModelRegistry, artifacts: Path) -> None:
    for _ in range(3):
        _register(registry, artifacts)
    assert registry.champion("deepfm") is None
    with pytest.raises(NoChampionError, match=r"deepfm has no champion"):
        registry.open("deepfm")
    with pytest.raises(NoChampionError):
        registry.rollback("deepfm")
    registry.promote("deepfm", 1, "first model")
    with pytest.raises(RegistryError, match=r"v1 is the first champion"):
        registry.rollback("deepfm")
    registry.promote("deepfm", 2, "gate passed")
    registry.promote("deepfm", 2, "retried task")  # no second entry
    registry.promote("deepfm", 3, "gate passed")
    assert registry.open("deepfm").version == 3
    assert registry.rollback("deepfm") == 2
    assert registry.open("deepfm").version == 2
    assert registry.rollback("deepfm") == 1
    assert registry.champion("deepfm") == 1
    history = registry.promotions("deepfm")
    assert [(h["action"], h["version"], h["replaced"]) for h in history] == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("promote", 3, 2),
        ("rollback", 2, 3),
        ("rollback", 1, 2),
    ]
    assert history[1]["reason"] == "gate passed"
    record = json.loads((registry.root / "deepfm" / CHAMPION).read_text())
    assert record["champion"] == 1


def test_a_tampered_version_is_never_promoted_or_rolled_back_to(
    registry: ModelRegistry, artifacts: Path
) -> None:
    first = _register(registry, artifacts)
    _register(registry, artifacts)
    registry.promote("deepfm", 1, "first")
    registry.promote("deepfm", 2, "second")
    (first.path / "vocab.json").write_text("{}")
    with pytest.raises(TamperedArtifactError, match=r"vocab.json"):
        registry.rollback("deepfm")
    assert registry.champion("deepfm") == 2
    with pytest.raises(TamperedArtifactError):
        registry.promote("deepfm", 1, "again")
    with pytest.raises(RegistryError, match=r"no version 9"):
        registry.promote("deepfm", 9, "missing")
    with pytest.raises(RegistryError, match=r"needs a reason"):
        registry.promote("deepfm", 2, " ")


def test_crash_debris_does_not_break_the_next_register(registry: ModelRegistry, artifacts: Path) -> None:
    model_dir = registry.root / "deepfm"
    fresh = model_dir / ".tmp-crashed-now"
    stale = model_dir / ".tmp-crashed-yesterday"
    for debris in (fresh, stale):
        debris.mkdir(parents=True)
        (debris / "model.keras").write_bytes(b"half a file")
        (debris / MANIFEST).write_text('{"version": 1')
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    version = _register(registry, artifacts)
    assert version.version == 1
    assert registry.versions("deepfm") == [1]
    registry.verify("deepfm", 1)
    # Stale debris is removed; recent temporaries may be a registration still running.
    assert not stale.exists()
    assert fresh.exists()


def test_register_refuses_bad_input(registry: ModelRegistry, tmp_path: Path, artifacts: Path) -> None:
    with pytest.raises(RegistryError, match=r"does not exist"):
        registry.register("deepfm", tmp_path / "nowhere", metrics={}, data_range=DAYS, params={})
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match=r"holds no files"):
        registry.register("deepfm", tmp_path / "empty", metrics={}, data_range=DAYS, params={})
    with pytest.raises(RegistryError, match=r"reversed"):
        registry.register("deepfm", artifacts, metrics={}, data_range=(DAYS[1], DAYS[0]), params={})
    with pytest.raises(RegistryError, match=r"not finite: auc"):
        registry.register("deepfm", artifacts, metrics={"auc": float("nan")}, data_range=DAYS, params={})
    with pytest.raises(RegistryError, match=r"not plain JSON"):
        registry.register("deepfm", artifacts, metrics={}, data_range=DAYS, params={"p": object()})
    with pytest.raises(RegistryError, match=r"invalid model name '../up'"):
        registry.register("../up", artifacts, metrics={}, data_range=DAYS, params={})
    (artifacts / MANIFEST).write_text("{}")
    with pytest.raises(RegistryError, match=r"reserves"):
        registry.register("deepfm", artifacts, metrics={}, data_range=DAYS, params={})
    # Input is checked before anything is written, and every refusal is a platform error.
    assert not (registry.root / "deepfm").exists()
    assert issubclass(RegistryError, RecsysError)


def test_gate_keeps_a_worse_candidate_out() -> None:
    decision = decide_promotion({"auc": 0.740}, {"auc": 0.750}, metric="auc", tolerance=0.002)
    assert not decision.promote
    assert "0.74" in decision.reason and "0.75" in decision.reason
    assert "keep the champion" in decision.reason


def test_gate_lets_an_equal_within_tolerance_candidate_in() -> None:
    assert decide_promotion({"auc": 0.750}, {"auc": 0.750}, metric="auc", tolerance=0.002).promote
    within = decide_promotion({"auc": 0.749}, {"auc": 0.750}, metric="auc", tolerance=0.002)
    assert within.promote and "within the tolerance" in within.reason
    # Exactly the tolerance away is within it, despite 0.750 - 0.002 not being exact in floats.
    assert decide_promotion({"auc": 0.748}, {"auc": 0.750}, metric="auc", tolerance=0.002).promote
    assert decide_promotion({"auc": 0.80}, {"auc": 0.75}, metric="auc", tolerance=0.0).promote


def test_gate_for_a_lower_is_better_metric() -> None:
    kept = decide_promotion(
        {"logloss": 0.45}, {"logloss": 0.40}, metric="logloss", tolerance=0.002, higher_is_better=False
    )
    assert not kept.promote and "lower is better" in kept.reason
    assert decide_promotion(
        {"logloss": 0.401}, {"logloss": 0.40}, metric="logloss", tolerance=0.002, higher_is_better=False
    ).promote


def test_gate_without_champion_and_with_missing_metrics() -> None:
    first = decide_promotion({"auc": 0.6}, None, metric="auc", tolerance=0.002)
    assert first.promote and "no champion" in first.reason and "0.6" in first.reason
    with pytest.raises(RegistryError, match=r"candidate's metrics have no 'gauc' .*auc"):
        decide_promotion({"auc": 0.6}, {"gauc": 0.6}, metric="gauc", tolerance=0.002)
    with pytest.raises(RegistryError, match=r"champion's metrics have no 'gauc'"):
        decide_promotion({"gauc": 0.6}, {"auc": 0.6}, metric="gauc", tolerance=0.002)
    with pytest.raises(RegistryError, match=r"not a finite number"):
        decide_promotion({"auc": float("nan")}, {"auc": 0.6}, metric="auc", tolerance=0.002)
    with pytest.raises(ValueError, match=r"tolerance"):
        decide_promotion({"auc": 0.6}, {"auc": 0.6}, metric="auc", tolerance=-1.0)
