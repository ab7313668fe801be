"""The one typed settings object. Every value binds to a ``RECSYS_<NAME>`` variable.

Unknown ``RECSYS_*`` variables are refused, so a misspelt key fails loudly instead of
silently falling back to a default.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

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
    redis_username: str | None = Field(
        default=None, description="Redis ACL user sent with AUTH; none: the default user."
    )
    redis_password: SecretStr | None = Field(
        default=None, description="Redis AUTH password (kept out of RECSYS_REDIS_URL so it is never logged)."
    )
    redis_tls_ca_file: Path | None = Field(
        default=None, description="CA certificate that verifies the Redis server (rediss:// URLs)."
    )
    redis_tls_cert_file: Path | None = Field(
        default=None, description="Client certificate for Redis TLS with client authentication."
    )
    redis_tls_key_file: Path | None = Field(
        default=None, description="Private key of the client certificate."
    )
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

    @field_validator("redis_tls_ca_file", "redis_tls_cert_file", "redis_tls_key_file", mode="before")
    @classmethod
    def _optional_paths(cls, value: str | Path | None) -> Path | None:
        return None if value in (None, "") else _as_path(value)  # type: ignore[arg-type]

    @field_validator("registry_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # The shape only (url-safe base64 of 32 bytes each); never echo the key in the message.
        if value is not None:
            for position, item in enumerate(value.get_secret_value().split(","), start=1):
                try:
                    valid = len(base64.urlsafe_b64decode(item.strip().encode())) == 32
                except (ValueError, binascii.Error):
                    valid = False
                if not valid:
                    raise ValueError(f"key {position} is not a Fernet key (url-safe base64 of 32 bytes)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        # Credentials and TLS options in the URL are refused before anything echoes the URL:
        # a SettingsError (not a ValueError) leaves pydantic no error that repeats the input.
        _check_redis_url(value)
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
    registry_encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key encrypting model artifacts at rest, on top of their signature "
        "(several, comma-separated: the first encrypts, any decrypts, for rotation); none: "
        "artifacts are stored in the clear.",
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

    # Candidate generation (models/candidates.py): recall channels → DeepFM → BERT4Rec → rules → top N.
    candidates_recall_size: int = Field(
        default=150, ge=1, description="Candidates per user after merging the recall channels."
    )
    candidates_coarse_size: int = Field(
        default=120, ge=1, description="Candidates the coarse ranker (DeepFM) keeps for the fine ranker."
    )
    candidates_top_n: int = Field(default=100, ge=1, description="Recommendations published per user.")
    candidates_active_days: int = Field(
        default=30, ge=1, le=30, description="A user with an event in this many days before D is active."
    )
    candidates_exclude_seen_days: int = Field(
        default=0,
        ge=0,
        le=30,
        description="Leave out items the user viewed or clicked in this many days (0: keep them; "
        "purchased items are always left out).",
    )
    candidates_max_per_category: int = Field(
        default=40, ge=1, description="Most items of one category in a published list (diversity)."
    )
    candidates_price_band: float = Field(
        default=3.0,
        gt=1,
        description="Items priced beyond this factor of the user's median engaged price (either way) "
        "rank after the items that fit.",
    )
    candidates_shards: int = Field(
        default=4, ge=1, le=256, description="User shards of candidate generation (mapped tasks)."
    )

    # Publication (feature_store/recommendations.py): versioned keyspace rec:v<N>:...
    publish_keep_versions: int = Field(
        default=3, ge=1, description="Complete recommendation versions kept in Redis for rollback."
    )
    publish_batch_size: int = Field(default=2000, ge=1, description="Commands per pipelined batch.")
    publish_verify_sample: int = Field(
        default=500, ge=0, description="Keys read back and compared with the source before the switch."
    )

    # Lookup service (feature_store/service/, docs/service.md): HTTP API over the published lists.
    service_host: str = Field(default="127.0.0.1", description="Address the lookup service listens on.")
    service_port: int = Field(default=8000, ge=1, le=65535, description="Port of the lookup service.")
    service_workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes.")
    service_pointer_ttl_s: float = Field(
        default=1.0, ge=0, description="Seconds a worker caches rec:current before reading it again."
    )
    service_redis_timeout_s: float = Field(
        default=0.25, gt=0, description="Connect and read timeout of one Redis call from the service."
    )
    service_read_batch: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Most concurrent requests whose reads a worker sends as one MGET; 1: each alone.",
    )
    service_breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive Redis failures that open the circuit breaker."
    )
    service_breaker_open_s: float = Field(
        default=300.0, gt=0, description="Seconds the breaker stays open before a half-open probe."
    )
    service_default_k: int = Field(default=20, ge=1, description="Items returned when a request names no k.")
    service_max_k: int = Field(default=100, ge=1, description="Largest k a request may ask for.")
    service_audit_sample_rate: float = Field(
        default=0.01, ge=0, le=1, description="Share of served responses written to the audit log."
    )
    service_user_hash_key: SecretStr | None = Field(
        default=None,
        description="HMAC key hashing user ids in logs and audit records; required in production, "
        "a fixed development key is used otherwise.",
    )
    service_admin_api_key: SecretStr | None = Field(
        default=None,
        description="API key the service's admin endpoints (bandit reset, experiment reload) "
        "require; none: they are disabled.",
    )
    service_bandit_policy: Literal["ucb1", "epsilon_greedy"] = Field(
        default="ucb1", description="Cold-start policy: UCB1, or contextual epsilon-greedy."
    )
    service_bandit_epsilon: float = Field(
        default=0.1, ge=0, le=1, description="Exploration share of the epsilon-greedy policy."
    )
    service_bandit_half_life_hours: float = Field(
        default=24.0, gt=0, description="Bandit rewards and pulls lose half their weight in this time."
    )
    service_bandit_refresh_s: float = Field(
        default=1.0, ge=0, description="Seconds a worker caches the bandit's statistics."
    )
    service_feedback_maxlen: int = Field(
        default=1_000_000, ge=1, description="Approximate length cap of the feedback:events stream."
    )
    service_rollup_flush_s: float = Field(
        default=5.0, gt=0, description="Seconds between a worker's sends of its hourly request counts."
    )
    feedback_report_days: int = Field(
        default=7, ge=1, le=60, description="Days of feedback the hourly A/B report covers."
    )
    alert_p99_ms: float = Field(
        default=10.0, gt=0, description="Alert when an hour's p99 recommendation latency is above (ms)."
    )
    alert_fallback_share: float = Field(
        default=0.05, ge=0, le=1, description="Alert when more of an hour's answers are fallbacks."
    )
    alert_ctr_drop: float = Field(
        default=0.2, gt=0, lt=1, description="Alert when the last day's CTR fell by this share week on week."
    )
    alert_min_requests: int = Field(
        default=100, ge=1, description="Requests an hour needs before its latency and fallback rules apply."
    )
    alert_min_impressions: int = Field(
        default=500, ge=1, description="Impressions each day needs before the CTR rule applies."
    )
    service_experiments: list[dict[str, Any]] = Field(
        default=[
            {
                "name": "deepfm_tags",
                "salt": "deepfm-tags-2026-11",
                "variants": [
                    {"name": "baseline", "share": 0.5, "reads": "baseline"},
                    {"name": "tags", "share": 0.5, "reads": "tags"},
                ],
            }
        ],
        description="A/B experiments (JSON): name, salt, variants with share and the published "
        "list each reads (champion, or a DeepFM variant: recsys_publish publishes it); the first "
        "experiment chooses the list (docs/service.md).",
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
        self._check_redis_security()

    def _check_redis_security(self) -> None:
        """AUTH and TLS settings that cannot work together, or a production store without AUTH."""
        if self.redis_password is not None and not self.redis_password.get_secret_value():
            raise SettingsError(
                "invalid settings: RECSYS_REDIS_PASSWORD is empty; unset it or give the password"
            )
        if self.redis_username is not None and self.redis_password is None:
            raise SettingsError(
                "invalid settings: RECSYS_REDIS_USERNAME is set without RECSYS_REDIS_PASSWORD "
                "(Redis AUTH needs both)"
            )
        if self.environment == "production" and self.redis_password is None:
            raise SettingsError(
                "invalid settings: RECSYS_REDIS_PASSWORD must be set in production "
                "(the online store requires AUTH)"
            )
        tls_files = {
            "RECSYS_REDIS_TLS_CA_FILE": self.redis_tls_ca_file,
            "RECSYS_REDIS_TLS_CERT_FILE": self.redis_tls_cert_file,
            "RECSYS_REDIS_TLS_KEY_FILE": self.redis_tls_key_file,
        }
        given = [name for name, path in tls_files.items() if path is not None]
        if given and not self.redis_url.startswith("rediss://"):
            raise SettingsError(
                f"invalid settings: {', '.join(given)} set, but RECSYS_REDIS_URL does not start with "
                "rediss:// (TLS is on only with a rediss:// URL)"
            )
        if (self.redis_tls_cert_file is None) != (self.redis_tls_key_file is None):
            raise SettingsError(
                "invalid settings: RECSYS_REDIS_TLS_CERT_FILE and RECSYS_REDIS_TLS_KEY_FILE go together "
                "(a client certificate needs its key): set both or neither"
            )
        for name, path in tls_files.items():
            if path is not None and not path.is_file():
                raise SettingsError(f"invalid settings: {name}: no such file {path}")

    def registry_key(self) -> bytes:
        """The key that signs registry manifests: the configured one, else the development key."""
        if self.registry_hmac_key is not None:
            return self.registry_hmac_key.get_secret_value().encode()
        return DEVELOPMENT_REGISTRY_KEY


def _check_redis_url(url: str) -> None:
    """Refuse credentials and TLS options in RECSYS_REDIS_URL without repeating the URL.

    URLs end up in logs and error messages, so the password has its own secret setting; and
    redis-py lets URL parameters override the client's keywords, so ``?ssl_cert_reqs=none``
    would turn certificate verification off behind the settings' back.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.username or parts.password or "password" in query or "username" in query:
        raise SettingsError(
            "invalid settings: RECSYS_REDIS_URL carries credentials; give them in RECSYS_REDIS_USERNAME "
            "and RECSYS_REDIS_PASSWORD instead (URLs get logged, the password setting never does)"
        )
    ssl_options = sorted(name for name in query if name.startswith("ssl"))
    if ssl_options:
        raise SettingsError(
            f"invalid settings: RECSYS_REDIS_URL sets {', '.join(ssl_options)}; TLS is configured by the "
            "rediss:// scheme and RECSYS_REDIS_TLS_CA_FILE / _CERT_FILE / _KEY_FILE only, and always verifies"
        )


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
