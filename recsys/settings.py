"""The one typed settings object. Every value binds to a ``RECSYS_<NAME>`` variable.

Unknown ``RECSYS_*`` variables are refused, so a misspelt key fails loudly instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.errors import SettingsError

ENV_PREFIX = "RECSYS_"

Scale = Literal["tiny", "small", "medium"]
Source = Literal["simulator", "landing"]

# Signs registry manifests outside production only; production refuses to start without a real key.
DEVELOPMENT_REGISTRY_KEY = b"recsys-development-registry-key"


def _as_path(value: str | Path) -> Path:
    """Accept a plain path or a ``file://`` URL; object-store URLs come with fsspec later."""
    text = str(value)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        raise ValueError(f"only local paths or file:// URLs are supported, got {text!r}")
    return Path(text).expanduser().absolute()


class Settings(BaseSettings):
    """Platform configuration. Defaults give a working local setup on the simulated shop."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    environment: Literal["development", "production"] = "development"
    lake_root: Path = Field(default=Path("data/lake"), description="Root of the Parquet lake.")
    landing_root: Path = Field(
        default=Path("data/landing"), description="Where shop exports (raw files) arrive."
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Online store.")
    source: Source = Field(
        default="simulator",
        description="simulator: the built-in shop writes each day's export; landing: wait for real files.",
    )
    sim_scale: Scale = Field(default="small", description="Size of the simulated shop.")
    sim_seed: int = Field(default=42, ge=0, description="Seed of the simulated shop.")
    ingest_future_tolerance_hours: float = Field(
        default=24.0,
        gt=0,
        description="Events later than interval end + this are 'future_timestamp', not 'after_interval'.",
    )
    ingest_max_string_bytes: int = Field(
        default=1024,
        gt=0,
        description="Longest accepted id or context string in an event; longer rows are quarantined.",
    )
    history_start: date = Field(
        default=date(2026, 11, 1),
        description="First day of the lake's history (the DAGs' start date); windows reaching "
        "before it are shorter, every day from it on must be ingested.",
    )
    online_keep_versions: int = Field(
        default=2, ge=1, description="Complete versions kept in Redis per keyspace, for rollback."
    )

    @field_validator("lake_root", "landing_root", "registry_root", mode="before")
    @classmethod
    def _paths(cls, value: str | Path) -> Path:
        return _as_path(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must start with redis://, rediss:// or unix://, got {value!r}")
        return value

    # Validation gates (expectations/, tasks/validate.py): a gate fails past these thresholds.
    validation_max_quarantine_share: float = Field(
        default=0.01, ge=0, le=1, description="Largest share of a day's rows read that may be quarantined."
    )
    validation_min_volume_ratio: float = Field(
        default=0.5, ge=0, le=1, description="Rows below this share of the previous partition fail the gate."
    )
    validation_max_volume_ratio: float = Field(
        default=3.0, ge=1, description="Rows above this multiple of the previous partition fail the gate."
    )
    validation_min_purchase_share: float = Field(
        default=0.0001, ge=0, le=1, description="Fewest purchases per event in a day (0 turns it off)."
    )
    validation_max_purchase_share: float = Field(
        default=0.05, gt=0, le=1, description="Most purchases per event in a day."
    )
    validation_max_event_lag_hours: float = Field(
        default=6.0,
        gt=0,
        le=24,
        description="Freshness: the day's last event may be at most this many hours before its end.",
    )
    validation_min_tag_coverage: float = Field(
        default=0.95, ge=0, le=1, description="Smallest share of the day's catalog items with a tag."
    )
    validation_max_price: float = Field(
        default=1_000_000.0, gt=0, description="Largest believable item price; above it a price is corrupt."
    )

    # Model registry (models/registry.py): signed versions and the promotion gate.
    registry_root: Path = Field(default=Path("data/registry"), description="Where model versions are kept.")
    registry_hmac_key: SecretStr | None = Field(
        default=None,
        description="HMAC key signing registry manifests; required in production, a fixed "
        "development key is used otherwise.",
    )
    promotion_tolerance: float = Field(
        default=0.002,
        ge=0,
        le=1,
        description="A candidate is promoted when its metric is at least the champion's minus this.",
    )

    # FAISS index (models/index.py): exact search below the threshold, approximate above.
    index_exact_max_items: int = Field(
        default=200_000, ge=1, description="Item counts up to this get an exact inner-product index."
    )
    index_kind: Literal["hnsw", "ivf"] = Field(
        default="ivf",
        description="Approximate index used above index_exact_max_items (IVF: HNSW missed the recall "
        "gate for mixed-interest users at 1M items, docs/benchmarks.md).",
    )
    index_min_recall: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="A build fails when its recall@100 against exact search is lower.",
    )

    def model_post_init(self, context: object, /) -> None:
        if self.validation_min_purchase_share > self.validation_max_purchase_share:
            low, high = self.validation_min_purchase_share, self.validation_max_purchase_share
            raise SettingsError(
                f"invalid settings: RECSYS_VALIDATION_MIN_PURCHASE_SHARE ({low}) "
                f"is above RECSYS_VALIDATION_MAX_PURCHASE_SHARE ({high})"
            )
        if self.environment == "production" and self.registry_hmac_key is None:
            raise SettingsError(
                "invalid settings: RECSYS_REGISTRY_HMAC_KEY must be set in production "
                "(the development key signs nothing a production registry should trust)"
            )

    def registry_key(self) -> bytes:
        """The key that signs registry manifests: the configured one, else the development key."""
        if self.registry_hmac_key is not None:
            return self.registry_hmac_key.get_secret_value().encode()
        return DEVELOPMENT_REGISTRY_KEY


def unknown_env_keys(environ: dict[str, str] | None = None) -> list[str]:
    """``RECSYS_*`` variables that name no setting."""
    environ = dict(os.environ) if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides) and validate them.

    Raises:
        SettingsError: a value is invalid or a ``RECSYS_*`` variable is unknown.
    """
    unknown = unknown_env_keys()
    if unknown:
        known = ", ".join(ENV_PREFIX + n.upper() for n in Settings.model_fields)
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known settings: {known}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
