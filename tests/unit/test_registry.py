"""models.registry: signed (and optionally encrypted) versions refuse any change, promotions roll
back, the gate is fair."""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from models.registry import (
    CHAMPION,
    MANIFEST,
    SIGNATURE,
    Encryption,
    Manifest,
    ModelRegistry,
    ModelVersion,
    code_version,
    decide_promotion,
    file_digest,
    sign,
)
from recsys.errors import (
    NoChampionError,
    RecsysError,
    RegistryError,
    SettingsError,
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


# -- encryption at rest ------------------------------------------------------------------------

FERNET_KEY = Fernet.generate_key().decode()
OTHER_FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture
def encrypting(tmp_path: Path, private_tmp: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry", KEY, FERNET_KEY)


def _key_id(text: str) -> str:
    return hashlib.sha256(base64.urlsafe_b64decode(text)).hexdigest()[:8]


def _originals(artifacts: Path) -> dict[str, bytes]:
    return {
        p.relative_to(artifacts).as_posix(): p.read_bytes()
        for p in sorted(artifacts.rglob("*"))
        if p.is_file()
    }


def test_encrypted_round_trip_gives_the_original_bytes(
    encrypting: ModelRegistry, artifacts: Path, private_tmp: Path
) -> None:
    assert encrypting.encrypts
    registered = _register(encrypting, artifacts)
    assert registered.manifest.encryption == Encryption("fernet", _key_id(FERNET_KEY))
    with encrypting.open("deepfm", 1) as opened:
        assert opened.temporary and opened.path.parent == private_tmp
        assert opened.path != registered.path
        assert {rel: opened.file(rel).read_bytes() for rel in opened.manifest.files} == _originals(artifacts)
        assert opened.manifest == registered.manifest
    # The manifest says so, under the signature.
    document = json.loads((registered.path / MANIFEST).read_text())
    assert document["encryption"] == {"scheme": "fernet", "key_id": _key_id(FERNET_KEY)}


def test_encrypted_files_on_disk_are_not_the_plaintext(encrypting: ModelRegistry, artifacts: Path) -> None:
    registered = _register(encrypting, artifacts)
    for rel, original in _originals(artifacts).items():
        stored = (registered.path / rel).read_bytes()
        assert original not in stored and b"audio\nvideo" not in stored and b'"items"' not in stored
        assert registered.manifest.files[rel] == file_digest(registered.path / rel)  # of the ciphertext
        assert Fernet(FERNET_KEY.encode()).decrypt(stored) == original


def test_verifying_an_encrypted_version_needs_no_encryption_key(
    encrypting: ModelRegistry, artifacts: Path
) -> None:
    _register(encrypting, artifacts)
    clear = ModelRegistry(encrypting.root, KEY)
    assert clear.verify("deepfm", 1).encryption is not None  # e.g. `recsys registry verify`
    clear.promote("deepfm", 1, "the gate passed")


def test_a_wrong_encryption_key_names_both_key_ids(encrypting: ModelRegistry, artifacts: Path) -> None:
    _register(encrypting, artifacts)
    other = ModelRegistry(encrypting.root, KEY, OTHER_FERNET_KEY)
    wanted, have = _key_id(FERNET_KEY), _key_id(OTHER_FERNET_KEY)
    with pytest.raises(
        RegistryError,
        match=rf"version 1 of deepfm was encrypted with key id {wanted}; "
        rf"RECSYS_REGISTRY_ENCRYPTION_KEY has key id {have}",
    ):
        other.open("deepfm", 1)


def test_an_encrypted_version_without_a_key_names_the_variable(
    encrypting: ModelRegistry, artifacts: Path
) -> None:
    _register(encrypting, artifacts)
    with pytest.raises(
        RegistryError, match=r"deepfm v1 .* is encrypted .*RECSYS_REGISTRY_ENCRYPTION_KEY is not set"
    ):
        ModelRegistry(encrypting.root, KEY).open("deepfm", 1)


@pytest.mark.parametrize("text", ["", " , ", "not-a-key", "a" * 42 + "==", "é" * 44, FERNET_KEY[:-2]])
def test_an_invalid_encryption_key_names_the_variable_not_the_key(tmp_path: Path, text: str) -> None:
    with pytest.raises(SettingsError, match=r"RECSYS_REGISTRY_ENCRYPTION_KEY") as caught:
        ModelRegistry(tmp_path, KEY, text)
    if text.strip(" ,"):
        assert text not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__  # nor in a traceback
    with pytest.raises(SettingsError, match=r"key 2 of RECSYS_REGISTRY_ENCRYPTION_KEY is not a Fernet key"):
        ModelRegistry(tmp_path, KEY, f"{FERNET_KEY},{text or 'x'}")


def test_from_settings_encrypts_with_the_configured_key(
    tmp_path: Path, artifacts: Path, private_tmp: Path
) -> None:
    settings = load_settings(registry_root=tmp_path / "from-settings", registry_encryption_key=FERNET_KEY)
    registry = ModelRegistry.from_settings(settings)
    assert _register(registry, artifacts).manifest.encryption == Encryption("fernet", _key_id(FERNET_KEY))
    assert not ModelRegistry.from_settings(load_settings(registry_root=tmp_path)).encrypts


def test_tampered_ciphertext_is_refused_naming_the_file(encrypting: ModelRegistry, artifacts: Path) -> None:
    version = _register(encrypting, artifacts)
    target = version.path / "model.keras"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    for check in (encrypting.verify, encrypting.open):
        with pytest.raises(
            TamperedArtifactError, match=r"deepfm v1 .* differ from what was signed: model.keras"
        ):
            check("deepfm", 1)
    # Claiming the version is in the clear breaks the signature: the scheme is signed.
    document = json.loads((version.path / MANIFEST).read_text())
    del document["encryption"]
    (version.path / MANIFEST).write_text(json.dumps(document))
    with pytest.raises(TamperedArtifactError, match=r"does not match manifest.sig"):
        encrypting.open("deepfm", 1)


def test_a_token_that_does_not_decrypt_is_refused_and_leaves_no_plaintext(
    encrypting: ModelRegistry, artifacts: Path, private_tmp: Path
) -> None:
    # Someone with the signing key but not the encryption key re-signs a forged file.
    version = _register(encrypting, artifacts)
    forged = Fernet(OTHER_FERNET_KEY.encode()).encrypt(b"forged model")
    (version.path / "vocab.json").write_bytes(forged)
    document = json.loads((version.path / MANIFEST).read_text())
    document["files"]["vocab.json"] = hashlib.sha256(forged).hexdigest()
    (version.path / MANIFEST).write_text(json.dumps(document))
    (version.path / SIGNATURE).write_text(sign(document, KEY))
    with pytest.raises(TamperedArtifactError, match=r"deepfm v1 .*vocab.json does not decrypt"):
        encrypting.open("deepfm", 1)
    assert list(private_tmp.iterdir()) == []


def test_a_file_swapped_after_verification_is_refused(
    encrypting: ModelRegistry, artifacts: Path, monkeypatch: pytest.MonkeyPatch, private_tmp: Path
) -> None:
    first = _register(encrypting, artifacts)
    second = _register(encrypting, artifacts)
    verify = encrypting.verify

    def verify_then_swap(model_name: str, version: int) -> Manifest:
        manifest = verify(model_name, version)
        # A valid token under the same key, from another version: only the digest tells.
        (second.path / "vocab.json").write_bytes((first.path / "vocab.json").read_bytes())
        return manifest

    monkeypatch.setattr(encrypting, "verify", verify_then_swap)
    with pytest.raises(TamperedArtifactError, match=r"deepfm v2 .*vocab.json changed after it was verified"):
        encrypting.open("deepfm", 2)
    assert list(private_tmp.iterdir()) == []


def test_clear_versions_still_open_with_a_key_configured(
    registry: ModelRegistry, artifacts: Path, private_tmp: Path
) -> None:
    clear = _register(registry, artifacts)
    mixed = ModelRegistry(registry.root, KEY, FERNET_KEY)
    encrypted = _register(mixed, artifacts)
    assert clear.manifest.encryption is None and encrypted.manifest.encryption is not None
    assert "encryption" not in json.loads((clear.path / MANIFEST).read_text())  # the earlier layout
    with mixed.open("deepfm", 1) as opened:
        assert not opened.temporary and opened.path == clear.path  # read in place, nothing copied
        assert opened.file("model.keras").read_bytes() == (artifacts / "model.keras").read_bytes()
    assert list(private_tmp.iterdir()) == []
    with mixed.open("deepfm", 2) as opened:
        assert opened.file("model.keras").read_bytes() == (artifacts / "model.keras").read_bytes()
    assert clear.path.joinpath("model.keras").exists()  # closing a clear version removes nothing


def test_decrypted_plaintext_is_private_and_removed(
    encrypting: ModelRegistry, artifacts: Path, private_tmp: Path
) -> None:
    _register(encrypting, artifacts)
    with encrypting.open("deepfm", 1) as opened:
        plain = opened.path
        assert stat.S_IMODE(plain.stat().st_mode) == 0o700
        assert stat.S_IMODE(opened.file("model.keras").stat().st_mode) == 0o600
        assert stat.S_IMODE((plain / "assets").stat().st_mode) & 0o077 == 0
    assert not plain.exists() and opened.closed
    with pytest.raises(RegistryError, match=r"deepfm v1 was closed: .*open the version again"):
        opened.file("model.keras")
    opened.close()  # twice is fine

    # Without close(): removed when the version is garbage-collected (and at process exit).
    plain = encrypting.open("deepfm", 1).path
    gc.collect()
    assert not plain.exists()
    # An error inside the block removes it too.
    with pytest.raises(RuntimeError), encrypting.open("deepfm", 1) as opened:
        plain = opened.path
        raise RuntimeError("the loader failed")
    assert not plain.exists()
    assert list(private_tmp.iterdir()) == []


def test_plaintext_left_by_a_dead_process_is_removed(
    encrypting: ModelRegistry, artifacts: Path, private_tmp: Path
) -> None:
    _register(encrypting, artifacts)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(child.stdout)
    crashed = private_tmp / f"recsys-model-{dead}-deepfm-v1-abc"
    running = private_tmp / f"recsys-model-{os.getppid()}-deepfm-v1-def"  # a live process's
    recent = private_tmp / f"recsys-model-{dead}-deepfm-v1-ghi"  # maybe a process just started
    for leftover in (crashed, running, recent):
        leftover.mkdir()
        (leftover / "model.keras").write_bytes(b"plaintext")
    old = time.time() - 3600
    for leftover in (crashed, running):
        os.utime(leftover, (old, old))
    with encrypting.open("deepfm", 1):
        pass
    assert not crashed.exists()
    assert running.exists() and recent.exists()


def test_key_rotation_reads_old_versions_and_encrypts_with_the_first_key(
    tmp_path: Path, artifacts: Path, private_tmp: Path
) -> None:
    old = ModelRegistry(tmp_path / "registry", KEY, OTHER_FERNET_KEY)
    _register(old, artifacts)
    rotated = ModelRegistry(tmp_path / "registry", KEY, f"{FERNET_KEY}, {OTHER_FERNET_KEY}")
    assert _register(rotated, artifacts).manifest.encryption == Encryption("fernet", _key_id(FERNET_KEY))
    for version in (1, 2):
        with rotated.open("deepfm", version) as opened:
            assert opened.file("vocab.json").read_bytes() == (artifacts / "vocab.json").read_bytes()
    new_only = ModelRegistry(tmp_path / "registry", KEY, FERNET_KEY)
    with pytest.raises(RegistryError, match=rf"encrypted with key id {_key_id(OTHER_FERNET_KEY)}"):
        new_only.open("deepfm", 1)
    with new_only.open("deepfm", 2):
        pass
