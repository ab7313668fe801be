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


class RegistryError(RecsysError):
    """A model registry operation failed; the message names the model, version and path."""


class UnsignedArtifactError(RegistryError):
    """A model version has no signature: never load it; re-register it from its training run."""


class TamperedArtifactError(RegistryError):
    """A model version differs from what was signed (or was signed with another key): do not load it."""


class NoChampionError(RegistryError):
    """No version of the model is champion yet: promote one, or name a version explicitly."""


class IndexInputError(RecsysError):
    """Item vectors, ids or queries given to a retrieval index are malformed; the message says which."""


class IndexRecallError(RecsysError):
    """A built retrieval index misses too many exact neighbours: raise its search breadth or rebuild."""


class IndexFormatError(RecsysError):
    """A saved retrieval index is missing, corrupt or of another version: rebuild or re-save it."""


class FeatureSpecError(RecsysError):
    """A ranking model's feature spec is invalid: fix the field named in the message."""


class FeatureInputError(RecsysError):
    """Input arrays do not match the model's feature spec; the message names the field."""


class TrainingError(RecsysError):
    """A training run was asked for something it cannot do (bad settings, missing metric)."""


class SequenceDataError(RecsysError):
    """A sequence file cannot be read as 'user item ...' lines or 'user item' pairs; see the named line."""


class SequenceEvaluationError(RecsysError):
    """A sequential evaluation cannot be built or scored (protocol, negatives, score shapes)."""


class RecallDataError(RecsysError):
    """The recall model's pairs or inputs cannot be built (no engaged events, unknown items, bad columns)."""


class RecallModelError(RecsysError):
    """A two-tower recall model cannot be built, trained or loaded as asked: fix the named setting or file."""


class SequenceInputError(RecsysError):
    """Histories or candidate ids given to a sequential model are malformed (shape, ids out of range)."""
