"""The publish path loads models only through the registry, verified at every load.

A champion changed after registration (one byte) is refused by the loader recsys_publish
uses, naming the model, version and file; an encrypted champion loads and leaves no
plaintext behind; the day's FAISS index, kept in the lake, is signed with the registry key.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet

from models.index import build_index, load_retriever, save_index
from models.registry import ModelRegistry, file_digest
from recsys.errors import IndexFormatError, RegistryError, TamperedArtifactError
from recsys.settings import Settings, load_settings
from tasks import publish
from tasks.retrain import FINE_RANKER, RANKER

DAYS = (date(2026, 11, 1), date(2026, 11, 7))
ITEMS = ["i1", "i2", "i3", "i4", "i5", "i6"]


def _champion(settings: Settings, name: str, files: dict[str, bytes], staging: Path) -> Path:
    """Register ``files`` as version 1 of ``name``, promote it and return its registry directory."""
    staging.mkdir(parents=True)
    for rel, data in files.items():
        (staging / rel).write_bytes(data)
    registry = ModelRegistry.from_settings(settings)
    version = registry.register(name, staging, metrics={"auc": 0.7}, data_range=DAYS, params={})
    registry.promote(name, version.version, "test champion")
    return version.path


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _tiny_bert4rec(staging: Path) -> dict[str, bytes]:
    from models.bert4rec import build_bert4rec

    model = build_bert4rec(len(ITEMS), seed=3, max_len=8, hidden=8, layers=1, heads=1)
    staging.mkdir(parents=True)
    model.save(staging / "model.keras")
    return {
        "model.keras": (staging / "model.keras").read_bytes(),
        "items.json": json.dumps(ITEMS).encode(),
    }


def test_the_publish_loader_refuses_a_tampered_champion(tmp_path: Path) -> None:
    settings = load_settings(registry_root=tmp_path / "registry")
    files = {"model.keras": b"k" * 4096, "encoder.json": b"{}", "ranker.json": b"{}"}
    stored = _champion(settings, RANKER, files, tmp_path / "staging")
    _flip_a_byte(stored / "model.keras")
    with pytest.raises(
        TamperedArtifactError, match=rf"{RANKER} v1 .*differ from what was signed: model.keras"
    ):
        publish.load_champions(settings)


def test_an_encrypted_champion_loads_and_leaves_no_plaintext(tmp_path: Path, private_tmp: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = load_settings(registry_root=tmp_path / "registry", registry_encryption_key=key)
    files = _tiny_bert4rec(tmp_path / "keras")
    stored = _champion(settings, FINE_RANKER, files, tmp_path / "staging")
    assert files["model.keras"] not in (stored / "model.keras").read_bytes()

    found = publish.load_champions(settings)
    assert found.fine is not None and found.fine_version == 1
    assert found.fine.vocabulary == {item: i + 1 for i, item in enumerate(ITEMS)}
    scores = found.fine.score_candidates([np.array([1, 2], dtype=np.int64)], np.array([[3, 4, 5]]))
    assert scores.shape == (1, 3) and np.isfinite(scores).all()
    assert list(private_tmp.glob("recsys-model-*")) == []  # the decrypted copy went once Keras read it

    # Without the key the champion cannot be read at all, and the message says which variable.
    with pytest.raises(RegistryError, match=r"RECSYS_REGISTRY_ENCRYPTION_KEY is not set"):
        publish.load_champions(load_settings(registry_root=tmp_path / "registry"))
    _flip_a_byte(stored / "model.keras")
    with pytest.raises(
        TamperedArtifactError, match=rf"{FINE_RANKER} v1 .*differ from what was signed: model.keras"
    ):
        publish.load_champions(settings)
    assert list(private_tmp.glob("recsys-model-*")) == []


def test_the_serving_index_is_signed_with_the_registry_key(tmp_path: Path) -> None:
    settings = load_settings()
    key = settings.registry_key()
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    built = build_index(np.arange(200), vectors, settings=settings, model_version="recall-v1")
    path = save_index(built, tmp_path / "signed", key=key)
    assert load_retriever(path, model_version="recall-v1", key=key).size == 200

    # Rewriting a file together with its checksum passes the checksums, not the signature.
    np.save(path / "ids.npy", np.arange(1000, 1200, dtype=np.int64))
    header = json.loads((path / "header.json").read_text())
    header["sha256"]["ids.npy"] = file_digest(path / "ids.npy")
    (path / "header.json").write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")
    assert load_retriever(path).size == 200  # what an unkeyed load would accept
    with pytest.raises(IndexFormatError, match=r"header.json does not match header.sig"):
        load_retriever(path, key=key)
    with pytest.raises(IndexFormatError, match=r"header.json does not match header.sig"):
        load_retriever(save_index(built, tmp_path / "other", key=key), key=b"another key")
    with pytest.raises(IndexFormatError, match=r"is unsigned: header.sig is missing"):
        load_retriever(save_index(built, tmp_path / "unsigned"), key=key)
