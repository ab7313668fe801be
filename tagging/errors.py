"""Errors of the tagging package; each subclass says what to fix."""

from __future__ import annotations

from recsys.errors import RecsysError


class TaggingError(RecsysError):
    """Root of every error the tagging package raises on purpose."""


class TaxonomyError(TaggingError):
    """The tag definitions file is invalid: fix the entry named in the message."""


class CatalogFormatError(TaggingError):
    """The catalog handed to the engine lacks a required column or repeats an item_id."""
