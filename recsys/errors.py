"""One root exception for the platform; each subclass says what to check or do."""

from __future__ import annotations


class RecsysError(Exception):
    """Root of every error the platform raises on purpose."""


class SettingsError(RecsysError):
    """The configuration is invalid: fix the named RECSYS_* variable."""


class LandingMissingError(RecsysError):
    """The shop's export for a date has not arrived; the task fails so Airflow retries it."""


class LandingFormatError(RecsysError):
    """A landing file cannot be read at all (corrupt archive, missing columns)."""


class PartitionMissingError(RecsysError):
    """A lake partition a step needs does not exist: run the step that writes it first."""
