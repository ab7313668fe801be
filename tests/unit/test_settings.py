"""The settings object: documented defaults, every RECSYS_* binding, refusal of unknown keys."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from recsys.errors import SettingsError
from recsys.settings import DEVELOPMENT_REGISTRY_KEY, Settings, load_settings, unknown_env_keys


def test_empty_environment_gives_the_documented_defaults() -> None:
    settings = load_settings()
    assert settings.environment == "development"
    assert settings.lake_root == Path("data/lake").absolute()
    assert settings.landing_root == Path("data/landing").absolute()
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.source == "simulator"
    assert settings.sim_scale == "small"
    assert settings.sim_seed == 42
    assert settings.ingest_future_tolerance_hours == 24.0
    assert settings.ingest_max_string_bytes == 1024
    assert settings.history_start == date(2026, 11, 1)
    assert settings.online_keep_versions == 2
    assert settings.validation_max_quarantine_share == 0.01
    assert settings.validation_min_volume_ratio == 0.5
    assert settings.validation_max_volume_ratio == 3.0
    assert settings.validation_min_purchase_share == 0.0001
    assert settings.validation_max_purchase_share == 0.05
    assert settings.validation_max_event_lag_hours == 6.0
    assert settings.validation_min_tag_coverage == 0.95
    assert settings.validation_max_price == 1_000_000.0
    assert settings.registry_root == Path("data/registry").absolute()
    assert settings.registry_hmac_key is None
    assert settings.registry_key() == DEVELOPMENT_REGISTRY_KEY
    assert settings.promotion_tolerance == 0.002
    assert settings.index_exact_max_items == 200_000
    assert settings.index_kind == "ivf"
    assert settings.index_min_recall == 0.95
    assert (settings.candidates_recall_size, settings.candidates_coarse_size, settings.candidates_top_n) == (
        150,
        120,
        100,
    )
    assert settings.candidates_shards == 4 and settings.publish_keep_versions == 3


# Every field, the text put in its variable, and the value it must become.
BINDINGS = [
    ("service_rollup_flush_s", "2.5", 2.5),
    ("feedback_report_days", "14", 14),
    ("alert_p99_ms", "25", 25.0),
    ("alert_fallback_share", "0.1", 0.1),
    ("alert_ctr_drop", "0.3", 0.3),
    ("alert_min_requests", "50", 50),
    ("alert_min_impressions", "1000", 1000),
    ("environment", "production", "production"),
    ("lake_root", "/srv/lake", Path("/srv/lake")),
    ("lake_root", "file:///srv/lake2", Path("/srv/lake2")),
    ("landing_root", "/srv/landing", Path("/srv/landing")),
    ("redis_url", "redis://cache:6380/2", "redis://cache:6380/2"),
    ("redis_username", "recsys", "recsys"),
    ("redis_password", "s3cret", SecretStr("s3cret")),
    ("redis_tls_ca_file", "/etc/recsys/ca.crt", Path("/etc/recsys/ca.crt")),
    ("redis_tls_cert_file", "/etc/recsys/client.crt", Path("/etc/recsys/client.crt")),
    ("redis_tls_key_file", "/etc/recsys/client.key", Path("/etc/recsys/client.key")),
    ("registry_encryption_key", "a" * 43 + "=", SecretStr("a" * 43 + "=")),
    ("service_admin_api_key", "admin-key", SecretStr("admin-key")),
    ("source", "landing", "landing"),
    ("sim_scale", "medium", "medium"),
    ("sim_seed", "123", 123),
    ("ingest_future_tolerance_hours", "2.5", 2.5),
    ("ingest_max_string_bytes", "256", 256),
    ("history_start", "2026-01-15", date(2026, 1, 15)),
    ("online_keep_versions", "5", 5),
    ("validation_max_quarantine_share", "0.05", 0.05),
    ("validation_min_volume_ratio", "0.25", 0.25),
    ("validation_max_volume_ratio", "5", 5.0),
    ("validation_min_purchase_share", "0", 0.0),
    ("validation_max_purchase_share", "0.2", 0.2),
    ("validation_max_event_lag_hours", "2.5", 2.5),
    ("validation_min_tag_coverage", "0.9", 0.9),
    ("validation_max_price", "50000", 50_000.0),
    ("registry_root", "/srv/registry", Path("/srv/registry")),
    ("registry_hmac_key", "s3cret", SecretStr("s3cret")),
    ("promotion_tolerance", "0.01", 0.01),
    ("index_exact_max_items", "1000", 1000),
    ("index_kind", "hnsw", "hnsw"),
    ("index_min_recall", "0.9", 0.9),
    ("candidates_recall_size", "500", 500),
    ("candidates_coarse_size", "150", 150),
    ("candidates_top_n", "50", 50),
    ("candidates_active_days", "7", 7),
    ("candidates_exclude_seen_days", "2", 2),
    ("candidates_max_per_category", "10", 10),
    ("candidates_price_band", "2.5", 2.5),
    ("candidates_shards", "8", 8),
    ("publish_keep_versions", "5", 5),
    ("publish_batch_size", "500", 500),
    ("publish_verify_sample", "0", 0),
    ("service_host", "0.0.0.0", "0.0.0.0"),
    ("service_port", "8080", 8080),
    ("service_workers", "4", 4),
    ("service_pointer_ttl_s", "0.5", 0.5),
    ("service_redis_timeout_s", "0.1", 0.1),
    ("service_read_batch", "1", 1),
    ("service_breaker_failures", "3", 3),
    ("service_breaker_open_s", "2.5", 2.5),
    ("service_default_k", "10", 10),
    ("service_max_k", "50", 50),
    ("service_audit_sample_rate", "0.5", 0.5),
    ("service_user_hash_key", "pepper", SecretStr("pepper")),
    ("service_bandit_policy", "epsilon_greedy", "epsilon_greedy"),
    ("service_bandit_epsilon", "0.2", 0.2),
    ("service_bandit_half_life_hours", "6", 6.0),
    ("service_bandit_refresh_s", "0.5", 0.5),
    ("service_feedback_maxlen", "1000", 1000),
    (
        "service_experiments",
        '[{"name": "x", "salt": "s", "variants": [{"name": "a", "share": 1}]}]',
        [{"name": "x", "salt": "s", "variants": [{"name": "a", "share": 1}]}],
    ),
]


def test_every_field_has_a_binding_test() -> None:
    assert {name for name, _, _ in BINDINGS} == set(Settings.model_fields)


@pytest.mark.parametrize(("name", "text", "expected"), BINDINGS)
def test_environment_binding(monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: object) -> None:
    # What a value needs beside it to be valid (the Redis rules: tests/unit/test_redis_settings.py).
    if name == "environment":
        monkeypatch.setenv("RECSYS_REGISTRY_HMAC_KEY", "k")  # production refuses to start without one
        monkeypatch.setenv("RECSYS_REDIS_PASSWORD", "p")  # nor without Redis AUTH
    if name == "redis_username":
        monkeypatch.setenv("RECSYS_REDIS_PASSWORD", "p")  # AUTH needs both
    if name.startswith("redis_tls_"):  # TLS files: a rediss:// URL, certificate and key in pairs
        monkeypatch.setenv("RECSYS_REDIS_URL", "rediss://cache:6380/0")
        monkeypatch.setenv("RECSYS_REDIS_TLS_CERT_FILE", "/etc/recsys/client.crt")
        monkeypatch.setenv("RECSYS_REDIS_TLS_KEY_FILE", "/etc/recsys/client.key")
        monkeypatch.setattr(Path, "is_file", lambda self: True)  # the files need not exist here
    monkeypatch.setenv(f"RECSYS_{name.upper()}", text)
    assert getattr(load_settings(), name) == expected


def test_unknown_variable_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_LAKE_ROOOT", "/typo")
    assert unknown_env_keys() == ["RECSYS_LAKE_ROOOT"]
    with pytest.raises(SettingsError, match="RECSYS_LAKE_ROOOT"):
        load_settings()


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(SettingsError, match="RECSYS_LAKE_ROT: Extra inputs are not permitted"):
        load_settings(lake_rot="/x")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("sim_scale", "huge"),
        ("sim_seed", "-1"),
        ("source", "ftp"),
        ("redis_url", "http://cache"),
        ("lake_root", "s3://bucket/lake"),
        ("ingest_max_string_bytes", "0"),
        ("validation_max_quarantine_share", "1.5"),
        ("validation_min_volume_ratio", "2"),
        ("validation_max_volume_ratio", "0.5"),
        ("validation_max_event_lag_hours", "0"),
        ("validation_min_tag_coverage", "-0.1"),
        ("registry_encryption_key", "not-a-fernet-key"),
    ],
)
def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    monkeypatch.setenv(f"RECSYS_{name.upper()}", text)
    with pytest.raises(SettingsError, match=f"RECSYS_{name.upper()}"):
        load_settings()


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.sim_seed = 1  # type: ignore[misc]


def test_purchase_share_bounds_must_be_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_VALIDATION_MIN_PURCHASE_SHARE", "0.3")
    monkeypatch.setenv("RECSYS_VALIDATION_MAX_PURCHASE_SHARE", "0.1")
    with pytest.raises(SettingsError, match="RECSYS_VALIDATION_MIN_PURCHASE_SHARE"):
        load_settings()


def test_registry_key_binds_as_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_REGISTRY_HMAC_KEY", "s3cret")
    settings = load_settings()
    assert settings.registry_key() == b"s3cret"
    assert "s3cret" not in repr(settings)


def test_a_bad_encryption_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    good = "a" * 43 + "="
    monkeypatch.setenv("RECSYS_REGISTRY_ENCRYPTION_KEY", f"{good},short-secret-text")
    with pytest.raises(SettingsError, match="key 2 is not a Fernet key") as refused:
        load_settings()
    assert "short-secret-text" not in str(refused.value) and good not in str(refused.value)


def test_production_refuses_to_start_without_a_registry_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="RECSYS_REGISTRY_HMAC_KEY must be set in production"):
        load_settings()
    monkeypatch.setenv("RECSYS_REGISTRY_HMAC_KEY", "k")
    monkeypatch.setenv("RECSYS_REDIS_PASSWORD", "p")  # production requires Redis AUTH too
    assert load_settings().registry_key() == b"k"
