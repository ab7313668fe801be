"""Errors of the validation gates; each says what to look at or fix."""

from __future__ import annotations

from recsys.errors import RecsysError


class ValidationError(RecsysError):
    """Root of the errors the validation package raises on purpose."""


class SuiteFileError(ValidationError):
    """A suite file under ``expectations/suites/`` is not a valid GX 1.x suite: fix the named entry."""


class ValidationFailedError(ValidationError):
    """A partition failed its gate: the message lists each failing expectation, its observed
    value and the data docs page. Nothing downstream runs; fix the export (or the step) and
    re-run the day."""
