"""Signed model registry on the local filesystem, and the promotion gate.

Layout::

    <root>/<model_name>/v<N>/           the artifact files, manifest.json, manifest.sig
    <root>/<model_name>/champion.json   the current champion and every promotion and rollback
    <root>/<model_name>/.tmp-*          a registration in progress, or a crash's debris

``manifest.json`` lists every artifact file with its SHA-256, the evaluation metrics, the
data range, the training parameters and the code version. ``manifest.sig`` is the
HMAC-SHA256 of the manifest's canonical bytes (``json.dumps(sort_keys=True,
separators=(",", ":"))``). Every way of opening a version verifies the signature and every
file first, so a model that was edited, truncated or signed with another key is never loaded.

Encryption at rest (optional, ``RECSYS_REGISTRY_ENCRYPTION_KEY``): with a key, ``register``
stores each file as a Fernet token (AES-128-CBC + HMAC-SHA256) and the manifest records
``encryption: {scheme, key_id}`` under the signature. The digests cover the stored bytes
(the ciphertext), so verifying needs no decryption and no encryption key. ``open`` decrypts
an encrypted version into a private temporary directory (mode 0700) that is removed when the
:class:`ModelVersion` is closed, garbage-collected or the process exits. Versions stored in the
clear stay readable, with or without a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import importlib.metadata
import json
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from recsys.errors import (
    NoChampionError,
    RegistryError,
    SettingsError,
    TamperedArtifactError,
    UnsignedArtifactError,
)
from recsys.files import fsync_dir

if TYPE_CHECKING:
    from recsys.settings import Settings

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CHAMPION = "champion.json"
DISTRIBUTION = "electroshop-recsys"
_TEMP_PREFIX = ".tmp-"
_LOCK = ".lock"
# A registration copies files for seconds to minutes; debris older than this is a crash's.
_STALE_TEMP_SECONDS = 3600.0
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION_DIR = re.compile(r"v([1-9][0-9]*)")
_GIT_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
ENCRYPTION_KEY_VARIABLE = "RECSYS_REGISTRY_ENCRYPTION_KEY"
FERNET = "fernet"
# Decrypted versions live in <tempdir>/recsys-model-<pid>-<random>; the pid tells whose they are.
_PLAINTEXT_PREFIX = "recsys-model-"
_PLAINTEXT_DIR = re.compile(r"recsys-model-([0-9]+)-.+")
# A load takes seconds; a plaintext directory this old whose process is gone is a crash's.
_STALE_PLAINTEXT_SECONDS = 600.0


@dataclass(frozen=True)
class Encryption:
    """How a version's files are stored: the scheme and the id of the key that encrypted them."""

    scheme: str
    key_id: str


@dataclass(frozen=True)
class Manifest:
    """What was signed for one model version."""

    model_name: str
    version: int
    created_at: str
    files: Mapping[str, str]
    metrics: Mapping[str, float]
    data_range: tuple[date, date]
    params: Mapping[str, Any]
    code_version: str
    encryption: Encryption | None = None  # None: the files are stored in the clear

    def to_document(self) -> dict[str, Any]:
        """The JSON document of ``manifest.json``."""
        first, last = self.data_range
        document: dict[str, Any] = {
            "model_name": self.model_name,
            "version": self.version,
            "created_at": self.created_at,
            "files": dict(self.files),
            "metrics": dict(self.metrics),
            "data_range": {"first": first.isoformat(), "last": last.isoformat()},
            "params": dict(self.params),
            "code_version": self.code_version,
        }
        # Clear versions keep the earlier layout, so code without encryption still reads them.
        if self.encryption is not None:
            document["encryption"] = {"scheme": self.encryption.scheme, "key_id": self.encryption.key_id}
        return document

    @classmethod
    def from_document(cls, document: object, where: str) -> Manifest:
        """Read a (signature-checked) manifest document; ``where`` names it in errors."""
        try:
            if not isinstance(document, dict):
                raise TypeError("not a JSON object")
            data_range = document["data_range"]
            encryption = document.get("encryption")
            return cls(
                model_name=str(document["model_name"]),
                version=int(document["version"]),
                created_at=str(document["created_at"]),
                files={str(k): str(v) for k, v in dict(document["files"]).items()},
                metrics={str(k): float(v) for k, v in dict(document["metrics"]).items()},
                data_range=(date.fromisoformat(data_range["first"]), date.fromisoformat(data_range["last"])),
                params=dict(document["params"]),
                code_version=str(document["code_version"]),
                encryption=None
                if encryption is None
                else Encryption(str(encryption["scheme"]), str(encryption["key_id"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{where}: the manifest does not have the expected fields ({exc!r})") from exc


@dataclass(frozen=True)
class ModelVersion:
    """A verified model version: the directory its files are read from, and its manifest.

    ``path`` is the version's registry directory for a version stored in the clear (and for
    what :meth:`ModelRegistry.register` returns). For an encrypted version opened with
    :meth:`ModelRegistry.open` it is a private temporary directory of the decrypted files,
    removed by :meth:`close` (use ``with registry.open(...) as opened:``), when this object is
    garbage-collected, or at process exit: hold the object, not only ``path``, while loading.
    """

    model_name: str
    version: int
    path: Path
    manifest: Manifest
    temporary: bool = False  # path is a decrypted copy that close() removes
    _cleanup: weakref.finalize[[Path], None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.temporary:
            # A finalizer rather than __del__: it also runs at interpreter exit, exactly once.
            object.__setattr__(self, "_cleanup", weakref.finalize(self, _remove_plaintext, self.path))

    @property
    def closed(self) -> bool:
        """True once a decrypted copy was removed (a version in the clear is never closed)."""
        return self._cleanup is not None and not self._cleanup.alive

    def close(self) -> None:
        """Remove the decrypted copy now; a version in the clear has nothing to remove."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> ModelVersion:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def file(self, relative: str) -> Path:
        """Path of one artifact file, e.g. ``model.keras``; refuses a file the manifest does not list."""
        if self.closed:
            raise RegistryError(
                f"{self.model_name} v{self.version} was closed: its decrypted files at {self.path} "
                "are gone; open the version again"
            )
        if relative not in self.manifest.files:
            listed = ", ".join(sorted(self.manifest.files))
            raise RegistryError(
                f"{self.model_name} v{self.version} ({self.path}) has no file {relative!r}; it has {listed}"
            )
        return self.path / relative


@dataclass(frozen=True)
class PromotionDecision:
    """The promotion gate's verdict; ``reason`` holds both numbers."""

    promote: bool
    reason: str


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a manifest signature covers."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sign(document: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 hex of a manifest document's canonical bytes."""
    return hmac.new(key, canonical_bytes(document), hashlib.sha256).hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 hex of a file, read in chunks (model files can be large)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Keyring:
    """The artifact encryption keys: the first encrypts new versions, any of them decrypts."""

    keys: Mapping[str, Fernet]  # key id -> key, in the configured order

    @property
    def encrypting_id(self) -> str:
        return next(iter(self.keys))

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Keys from ``RECSYS_REGISTRY_ENCRYPTION_KEY``: one Fernet key, or several separated by
        commas (new first, then the old ones still needed to read older versions).

        Raises:
            SettingsError: the text is empty or an item is not a Fernet key; the message names
                the variable and the item's position, never the key.
        """
        items = [item.strip() for item in text.split(",")]
        if not any(items):
            raise SettingsError(
                f"invalid settings: {ENCRYPTION_KEY_VARIABLE} is empty; unset it or give a key"
            )
        keys: dict[str, Fernet] = {}
        for position, item in enumerate(items, start=1):
            which = (
                f"{ENCRYPTION_KEY_VARIABLE}"
                if len(items) == 1
                else f"key {position} of {ENCRYPTION_KEY_VARIABLE}"
            )
            try:
                raw = base64.urlsafe_b64decode(item.encode("ascii"))
                fernet = Fernet(item.encode("ascii"))
            except (ValueError, binascii.Error):  # UnicodeEncodeError is a ValueError
                # "from None": the cause (e.g. a UnicodeEncodeError) would carry the key text.
                raise SettingsError(
                    f"invalid settings: {which} is not a Fernet key (url-safe base64 of 32 bytes, "
                    "as Fernet.generate_key() makes)"
                ) from None
            keys.setdefault(key_id(raw), fernet)
        return cls(keys)


def key_id(raw_key: bytes) -> str:
    """A key's public name: the first 8 hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(raw_key).hexdigest()[:8]


def code_version() -> str:
    """The git commit of this checkout, else the installed package version, else ``unknown``."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        commit = result.stdout.strip()
        if result.returncode == 0 and _GIT_COMMIT.fullmatch(commit):
            return commit
    except (OSError, subprocess.SubprocessError):
        pass  # no git, or not a checkout: fall back to the package version
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def decide_promotion(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    metric: str,
    tolerance: float,
    higher_is_better: bool = True,
) -> PromotionDecision:
    """The promotion gate: promote when the candidate is no worse than the champion minus ``tolerance``.

    Both metric mappings must come from the SAME evaluation set: the caller scores the
    champion and the candidate on one day's held-out data. Metrics recorded at training
    time on different days differ by more than any sensible tolerance through the data
    alone, so comparing them would promote or block on noise. A difference of exactly the
    tolerance is within it. Without a champion the candidate is promoted.

    Raises:
        RegistryError: ``metric`` is missing from a mapping, or is not a finite number.
        ValueError: ``tolerance`` is negative or not finite.
    """
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    new = _metric_value(candidate, metric, "candidate")
    if champion is None:
        return PromotionDecision(True, f"no champion yet: promote the candidate ({metric}={new:.6g})")
    old = _metric_value(champion, metric, "champion")
    shortfall = (old - new) if higher_is_better else (new - old)
    # Absolute slack for float noise, so an exact tolerance-sized gap is "within".
    promote = shortfall <= tolerance + 1e-12
    if shortfall <= 0:
        verdict = "no worse than the champion: promote"
    elif promote:
        verdict = f"worse by {shortfall:.6g}, within the tolerance: promote"
    else:
        verdict = f"worse by {shortfall:.6g}, more than the tolerance: keep the champion"
    direction = "higher" if higher_is_better else "lower"
    reason = (
        f"candidate {metric}={new:.6g}, champion {metric}={old:.6g} "
        f"({direction} is better, tolerance {tolerance:g}): {verdict}"
    )
    return PromotionDecision(promote, reason)


def _metric_value(metrics: Mapping[str, float], metric: str, who: str) -> float:
    if metric not in metrics:
        have = ", ".join(sorted(metrics)) or "none"
        raise RegistryError(f"the {who}'s metrics have no {metric!r} to compare (it has: {have})")
    value = float(metrics[metric])
    if not math.isfinite(value):
        raise RegistryError(f"the {who}'s {metric!r} is {value}, not a finite number")
    return value


class ModelRegistry:
    """Signed versions of each model, and which one is champion."""

    def __init__(self, root: Path, key: bytes, encryption_key: str | None = None) -> None:
        """``encryption_key``: the text of ``RECSYS_REGISTRY_ENCRYPTION_KEY`` (None: store new
        versions in the clear; encrypted versions then cannot be opened).

        Raises:
            RegistryError: the signing key is empty.
            SettingsError: ``encryption_key`` is not a Fernet key (or list of them).
        """
        if not key:
            raise RegistryError(f"the registry key for {root} is empty: set RECSYS_REGISTRY_HMAC_KEY")
        self.root = Path(root)
        self._key = bytes(key)
        self._keyring = None if encryption_key is None else Keyring.parse(encryption_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """The registry at ``settings.registry_root`` signed with ``settings.registry_key()``,
        encrypting with ``settings.registry_encryption_key`` when it is set."""
        secret = settings.registry_encryption_key
        return cls(
            settings.registry_root,
            settings.registry_key(),
            None if secret is None else secret.get_secret_value(),
        )

    @property
    def encrypts(self) -> bool:
        """Whether new versions are stored encrypted."""
        return self._keyring is not None

    def model_dir(self, model_name: str) -> Path:
        """``<root>/<model_name>``; refuses names that are not one plain path component."""
        if not _MODEL_NAME.fullmatch(model_name):
            raise RegistryError(
                f"invalid model name {model_name!r}: use letters, digits, '_', '.', '-' (not first), "
                "at most 128 characters"
            )
        return self.root / model_name

    def version_dir(self, model_name: str, version: int) -> Path:
        """``<root>/<model_name>/v<version>`` (whether or not it exists)."""
        return self.model_dir(model_name) / f"v{version}"

    def versions(self, model_name: str) -> list[int]:
        """Registered versions, oldest first; temporary directories are not versions."""
        model_dir = self.model_dir(model_name)
        if not model_dir.is_dir():
            return []
        found = (_VERSION_DIR.fullmatch(p.name) for p in model_dir.iterdir() if p.is_dir())
        return sorted(int(m.group(1)) for m in found if m)

    def register(
        self,
        model_name: str,
        artifact_dir: Path,
        *,
        metrics: Mapping[str, float],
        data_range: tuple[date, date],
        params: Mapping[str, Any],
    ) -> ModelVersion:
        """Copy ``artifact_dir`` in as the next version, signed; the version appears whole or not at all.

        With an encryption key each file is stored encrypted; the returned version's ``path``
        is then the registry directory of ciphertext: :meth:`open` it to read the files.

        Raises:
            RegistryError: the artifact directory is missing or empty, holds a file named
                like the manifest or signature, a metric is not finite, the data range is
                reversed, or the params are not JSON.
        """
        model_dir = self.model_dir(model_name)
        source = Path(artifact_dir)
        relative_files = _artifact_files(source)
        first, last = data_range
        if first > last:
            raise RegistryError(f"data range of {model_name} is reversed: first {first} is after last {last}")
        metric_values = {str(name): float(value) for name, value in metrics.items()}
        bad = [name for name, value in metric_values.items() if not math.isfinite(value)]
        if bad:
            raise RegistryError(f"metrics of {model_name} are not finite: {', '.join(sorted(bad))}")
        try:
            canonical_bytes(dict(params))
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"params of {model_name} are not plain JSON: {exc}") from exc

        model_dir.mkdir(parents=True, exist_ok=True)
        _clear_stale_temps(model_dir)
        temp = model_dir / f"{_TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
        temp.mkdir()
        keyring = self._keyring
        encryption = None if keyring is None else Encryption(FERNET, keyring.encrypting_id)
        try:
            if keyring is None:
                digests = {rel: _copy_file(source / rel, temp / rel) for rel in relative_files}
            else:
                fernet = keyring.keys[keyring.encrypting_id]
                digests = {rel: _encrypt_file(source / rel, temp / rel, fernet) for rel in relative_files}
            created_at = datetime.now(UTC).isoformat(timespec="seconds")
            commit = code_version()
            for _attempt in range(100):
                version = max(self.versions(model_name), default=0) + 1
                manifest = Manifest(
                    model_name,
                    version,
                    created_at,
                    digests,
                    metric_values,
                    (first, last),
                    dict(params),
                    commit,
                    encryption,
                )
                self._write_signed_manifest(temp, manifest)
                final = model_dir / f"v{version}"
                try:
                    os.rename(temp, final)  # atomic; refuses a non-empty v<N> made meanwhile
                except OSError:
                    if not final.exists():
                        raise
                    continue  # a concurrent registration took v<N>: sign again for the next number
                fsync_dir(model_dir)
                return ModelVersion(model_name, version, final, manifest)
            raise RegistryError(f"could not claim a version number for {model_name} in {model_dir}")
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def verify(self, model_name: str, version: int) -> Manifest:
        """Check the signature and every file of a version and return its manifest.

        The digests are of the stored bytes (the ciphertext of an encrypted version), so this
        needs no encryption key and decrypts nothing.

        Raises:
            RegistryError: the version does not exist.
            UnsignedArtifactError: ``manifest.sig`` is missing or empty.
            TamperedArtifactError: the manifest does not match its signature (edited, or
                another key), or a file is missing, extra or has another digest.
        """
        path = self._existing_version_dir(model_name, version)
        where = f"{model_name} v{version} ({path})"
        signature_path = path / SIGNATURE
        signature = ""
        if signature_path.is_file():
            signature = signature_path.read_bytes().decode("ascii", errors="replace").strip()
        if not signature:
            raise UnsignedArtifactError(
                f"{where} is unsigned: {SIGNATURE} is missing or empty; refusing to trust it"
            )
        manifest_path = path / MANIFEST
        try:
            document = json.loads(manifest_path.read_bytes())
            expected = sign(document, self._key)
        except FileNotFoundError as exc:
            raise TamperedArtifactError(f"{where}: {MANIFEST} is missing") from exc
        except (TypeError, ValueError) as exc:
            raise TamperedArtifactError(f"{where}: {MANIFEST} is not a valid manifest ({exc})") from exc
        if not hmac.compare_digest(expected, signature):
            raise TamperedArtifactError(
                f"{where}: {MANIFEST} does not match {SIGNATURE}: the manifest was edited, "
                "or it was signed with another key (check RECSYS_REGISTRY_HMAC_KEY)"
            )
        manifest = Manifest.from_document(document, where)
        if (manifest.model_name, manifest.version) != (model_name, version):
            raise TamperedArtifactError(
                f"{where}: holds the signed manifest of {manifest.model_name} v{manifest.version}"
            )
        _check_files(path, manifest, where)
        return manifest

    def manifest(self, model_name: str, version: int) -> Manifest:
        """The verified manifest of a version (see :meth:`verify`)."""
        return self.verify(model_name, version)

    def open(self, model_name: str, version: int | None = None) -> ModelVersion:
        """A verified version to load from; ``None`` opens the champion.

        Verifies the signature and every file's digest at each call (nothing is cached). An
        encrypted version is decrypted into a private temporary directory; use the result as a
        context manager so the plaintext is removed as soon as the loader has read it.

        Raises:
            NoChampionError: no version given and none has been promoted.
            RegistryError: the version is encrypted and no configured key has its key id.
            TamperedArtifactError: see :meth:`verify`; or a file changed after verification,
                or does not decrypt.
        """
        if version is None:
            version = self.champion(model_name)
            if version is None:
                raise NoChampionError(
                    f"{model_name} has no champion in {self.model_dir(model_name)}: promote one of "
                    f"versions {self.versions(model_name)} or name a version"
                )
        manifest = self.verify(model_name, version)
        stored = self.version_dir(model_name, version)
        if manifest.encryption is None:
            return ModelVersion(model_name, version, stored, manifest)
        return self._decrypt(manifest, stored)

    def _decrypt(self, manifest: Manifest, stored: Path) -> ModelVersion:
        """The decrypted files of a verified encrypted version, in a private temporary directory."""
        name, version = manifest.model_name, manifest.version
        where = f"{name} v{version} ({stored})"
        assert manifest.encryption is not None
        scheme, wanted = manifest.encryption.scheme, manifest.encryption.key_id
        if scheme != FERNET:
            raise RegistryError(f"{where} is encrypted with {scheme!r}; this code reads {FERNET!r} only")
        if self._keyring is None:
            raise RegistryError(
                f"{where} is encrypted (key id {wanted}) and {ENCRYPTION_KEY_VARIABLE} is not set: "
                "set it to the key this version was encrypted with"
            )
        fernet = self._keyring.keys.get(wanted)
        if fernet is None:
            have = ", ".join(self._keyring.keys)
            ids = "key ids" if len(self._keyring.keys) > 1 else "key id"
            raise RegistryError(
                f"version {version} of {name} was encrypted with key id {wanted}; "
                f"{ENCRYPTION_KEY_VARIABLE} has {ids} {have} ({stored})"
            )
        _clear_stale_plaintext()
        # mkdtemp makes the directory mode 0700: only this user can read the plaintext.
        plain = Path(tempfile.mkdtemp(prefix=f"{_PLAINTEXT_PREFIX}{os.getpid()}-{name}-v{version}-"))
        opened = ModelVersion(name, version, plain, manifest, temporary=True)
        try:
            for rel, digest in sorted(manifest.files.items()):
                token = (stored / rel).read_bytes()
                # Hash the very bytes decrypted: a file swapped since verify() is caught here.
                if hashlib.sha256(token).hexdigest() != digest:
                    raise TamperedArtifactError(f"{where}: {rel} changed after it was verified")
                try:
                    data = fernet.decrypt(token)
                except InvalidToken as exc:
                    raise TamperedArtifactError(
                        f"{where}: {rel} does not decrypt with key id {wanted} (not a valid token)"
                    ) from exc
                _write_private(plain / rel, data)
        except BaseException:
            opened.close()
            raise
        return opened

    def champion(self, model_name: str) -> int | None:
        """The champion version, or ``None`` when nothing has been promoted."""
        lineage: list[int] = self._read_champion(model_name)["lineage"]
        return lineage[-1] if lineage else None

    def promotions(self, model_name: str) -> list[dict[str, Any]]:
        """Every promotion and rollback, oldest first."""
        history: list[dict[str, Any]] = self._read_champion(model_name)["history"]
        return history

    def promote(self, model_name: str, version: int, reason: str) -> None:
        """Make a verified version champion; promoting the current champion again changes nothing."""
        if not reason.strip():
            raise RegistryError(f"promoting {model_name} v{version} needs a reason")
        with self._lock(model_name):
            self.verify(model_name, version)
            record = self._read_champion(model_name)
            lineage: list[int] = record["lineage"]
            if lineage and lineage[-1] == version:
                return  # a retried promotion step: the history already says so
            self._switch(model_name, record, "promote", version, reason)

    def rollback(self, model_name: str, reason: str = "rollback") -> int:
        """Make the previous champion champion again and return its version.

        Raises:
            NoChampionError: nothing was ever promoted.
            RegistryError: the champion is the first one, there is nothing to go back to.
            TamperedArtifactError: the previous champion no longer verifies (nothing changes).
        """
        with self._lock(model_name):
            record = self._read_champion(model_name)
            lineage: list[int] = record["lineage"]
            if not lineage:
                raise NoChampionError(
                    f"{model_name} has no champion to roll back from in {self.model_dir(model_name)}"
                )
            if len(lineage) < 2:
                raise RegistryError(
                    f"{model_name} v{lineage[-1]} is the first champion; there is no earlier one "
                    "to roll back to"
                )
            previous = lineage[-2]
            self.verify(model_name, previous)
            self._switch(model_name, record, "rollback", previous, reason)
            return previous

    def _switch(
        self, model_name: str, record: dict[str, Any], action: str, version: int, reason: str
    ) -> None:
        lineage: list[int] = record["lineage"]
        replaced = lineage[-1] if lineage else None
        if action == "rollback":
            lineage.pop()
        else:
            lineage.append(version)
        record["champion"] = version
        record["history"].append(
            {
                "action": action,
                "version": version,
                "replaced": replaced,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "reason": reason,
            }
        )
        _write_json_atomically(self.model_dir(model_name) / CHAMPION, record)

    def _read_champion(self, model_name: str) -> dict[str, Any]:
        path = self.model_dir(model_name) / CHAMPION
        if not path.exists():
            return {"model_name": model_name, "champion": None, "lineage": [], "history": []}
        try:
            record = json.loads(path.read_text())
            if not (isinstance(record, dict) and isinstance(record["lineage"], list)):
                raise TypeError("not a champion record")
            record["history"] = list(record["history"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{path} is not a valid champion record ({exc!r})") from exc
        return record

    def _existing_version_dir(self, model_name: str, version: int) -> Path:
        path = self.version_dir(model_name, version)
        if not path.is_dir():
            raise RegistryError(
                f"{model_name} has no version {version} in {self.model_dir(model_name)} "
                f"(versions: {self.versions(model_name)})"
            )
        return path

    def _write_signed_manifest(self, directory: Path, manifest: Manifest) -> None:
        document = manifest.to_document()
        # Pretty for people; the signature covers the canonical bytes, not this layout.
        _write_durably(directory / MANIFEST, json.dumps(document, indent=2, sort_keys=True).encode() + b"\n")
        _write_durably(directory / SIGNATURE, sign(document, self._key).encode() + b"\n")
        fsync_dir(directory)

    @contextlib.contextmanager
    def _lock(self, model_name: str) -> Iterator[None]:
        """Serialise champion changes of one model (read-modify-write of champion.json)."""
        model_dir = self.model_dir(model_name)
        model_dir.mkdir(parents=True, exist_ok=True)
        with open(model_dir / _LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _artifact_files(source: Path) -> list[str]:
    """Relative POSIX paths of every file under ``source``, sorted."""
    if not source.is_dir():
        raise RegistryError(f"artifact directory {source} does not exist or is not a directory")
    found: list[str] = []
    for directory, subdirs, names in os.walk(source):
        subdirs.sort()
        for name in sorted(names):
            found.append((Path(directory) / name).relative_to(source).as_posix())
    if not found:
        raise RegistryError(f"artifact directory {source} holds no files")
    reserved = sorted({MANIFEST, SIGNATURE} & set(found))
    if reserved:
        raise RegistryError(
            f"artifact directory {source} holds {', '.join(reserved)}, a name the registry reserves"
        )
    return found


def _copy_file(source: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    # Hash the copy, so the signature covers exactly the bytes the registry keeps.
    return file_digest(target)


def _encrypt_file(source: Path, target: Path, fernet: Fernet) -> str:
    """Store ``source`` as a Fernet token at ``target``; the digest is of the stored token.

    Whole files in memory: the largest artifacts (DeepFM .keras) are tens of MB.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_durably(target, fernet.encrypt(source.read_bytes()))
    return file_digest(target)


def _write_private(path: Path, data: bytes) -> None:
    """Write a plaintext file readable by this user only (inside the 0700 directory; 0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "wb") as handle:
        handle.write(data)


def _remove_plaintext(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _clear_stale_plaintext() -> None:
    """Remove decrypted copies left by processes that died without cleaning up (killed, OOM).

    Only this user's directories whose process is gone and that are older than any load.
    """
    cutoff = time.time() - _STALE_PLAINTEXT_SECONDS
    for entry in Path(tempfile.gettempdir()).glob(f"{_PLAINTEXT_PREFIX}*"):
        found = _PLAINTEXT_DIR.fullmatch(entry.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            status = entry.lstat()
            if status.st_uid != os.getuid() or status.st_mtime >= cutoff or not stat.S_ISDIR(status.st_mode):
                continue
            if _process_alive(int(found.group(1))):
                continue
            shutil.rmtree(entry, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process has that pid
    return True


def _check_files(path: Path, manifest: Manifest, where: str) -> None:
    present = {
        (Path(directory) / name).relative_to(path).as_posix()
        for directory, _subdirs, names in os.walk(path)
        for name in names
    } - {MANIFEST, SIGNATURE}
    listed = set(manifest.files)
    missing = sorted(listed - present)
    if missing:
        raise TamperedArtifactError(
            f"{where}: file(s) listed in the manifest are missing: {', '.join(missing)}"
        )
    extra = sorted(present - listed)
    if extra:
        raise TamperedArtifactError(f"{where}: file(s) not in the signed manifest: {', '.join(extra)}")
    changed = [
        f"{rel} (sha256 {actual}, signed {manifest.files[rel]})"
        for rel in sorted(listed)
        if (actual := file_digest(path / rel)) != manifest.files[rel]
    ]
    if changed:
        raise TamperedArtifactError(f"{where}: file(s) differ from what was signed: {'; '.join(changed)}")


def _clear_stale_temps(model_dir: Path) -> None:
    """Remove debris of crashed registrations; recent temporaries may belong to a running one."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for entry in model_dir.iterdir():
        if not entry.name.startswith(_TEMP_PREFIX):
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_json_atomically(path: Path, document: Mapping[str, Any]) -> None:
    temp = path.with_name(f"{_TEMP_PREFIX}{path.stem}-{uuid.uuid4().hex[:12]}")
    try:
        _write_durably(temp, json.dumps(document, indent=2, sort_keys=True).encode() + b"\n")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
