"""Hashed user ids for logs, and the sampled audit log of served recommendations.

User ids never appear in the service's logs or audit records: only a keyed hash
(HMAC-SHA256 under ``service_user_hash_key``, 16 hex digits). A keyed hash, because shop user
ids are short and often sequential: a plain hash of each could be reversed by hashing them
all. The same key gives the same hash in every worker, so one user's records can still be
followed across them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping

from recsys.errors import SettingsError
from recsys.settings import Settings

AUDIT_LOGGER = "recsys.audit"
# Used outside production only, like the registry's development key.
DEVELOPMENT_USER_HASH_KEY = b"recsys-development-user-hash-key"


def user_hash_key(settings: Settings) -> bytes:
    """The configured key; production refuses to start without one."""
    if settings.service_user_hash_key is not None:
        return settings.service_user_hash_key.get_secret_value().encode()
    if settings.environment == "production":
        raise SettingsError(
            "invalid settings: RECSYS_SERVICE_USER_HASH_KEY must be set in production "
            "(the development key would let anyone reverse the hashed user ids in logs)"
        )
    return DEVELOPMENT_USER_HASH_KEY


class UserHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, user_id: str) -> str:
        return hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:16]


class AuditLog:
    """Writes one JSON record per sampled response to the ``recsys.audit`` logger.

    Sampling is decided by the request id (random per request), so it costs no extra random
    draw and a request id tells whether its response was audited.
    """

    def __init__(self, rate: float, logger: logging.Logger | None = None) -> None:
        self.threshold = int(rate * (1 << 64))
        self.logger = logger or logging.getLogger(AUDIT_LOGGER)

    def sampled(self, request_nonce: int) -> bool:
        return request_nonce < self.threshold

    def write(self, request_nonce: int, record: Mapping[str, object]) -> None:
        """``record`` must hold hashed user ids only (the caller's duty; the tests check it)."""
        if self.sampled(request_nonce):
            self.logger.info(json.dumps(record, separators=(",", ":"), sort_keys=True))
