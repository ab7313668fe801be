"""What a request can get wrong, and what the service cannot do; turned into HTTP only in app.py."""

from __future__ import annotations

import re

from recsys.errors import RecsysError

_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")
ID_RULE = "must be 1-128 characters without whitespace or control characters"


class ServiceError(RecsysError):
    """Root of the lookup service's errors."""


class InvalidRequestError(ServiceError):
    """A request field is wrong: 422, naming the field and the problem."""

    def __init__(self, field: str, problem: str, value: object = None, location: str = "query") -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem, self.value, self.location = field, problem, value, location


class UnknownItemError(ServiceError):
    """The serving version holds nothing for this item: 404."""


class ServiceUnavailableError(ServiceError):
    """Neither Redis nor a snapshot can answer (nothing published, or Redis away since start): 503."""


def is_id(value: str) -> bool:
    return _ID.match(value) is not None


def check_id(field: str, value: str, location: str) -> str:
    """``value`` if it is a usable user or item id, else ``InvalidRequestError``."""
    if not is_id(value):
        raise InvalidRequestError(field, ID_RULE, value, location)
    return value


def check_context(context: str | None, tags: frozenset[str], personas: frozenset[str]) -> str | None:
    """A request's context: ``category:<name>``, ``tag:<code>`` or ``persona:<code>`` (or none).

    Tag and persona codes are checked against the taxonomy here; a category is checked
    against the serving version (its segment must exist) once Redis has answered.
    """
    if context is None or context == "":
        return None
    kind, _, name = context.partition(":")
    if kind not in ("category", "tag", "persona") or not name:
        raise InvalidRequestError(
            "context", "unknown context: use category:<name>, tag:<code> or persona:<code>", context
        )
    if len(name) > 100 or not is_id(name):
        raise InvalidRequestError(
            "context",
            f"the {kind} must be 1-100 characters without whitespace or control characters",
            context,
        )
    if kind == "tag" and name not in tags:
        raise InvalidRequestError("context", f"unknown tag {name!r}: not a code of the tag taxonomy", context)
    if kind == "persona" and name not in personas:
        known = ", ".join(sorted(personas))
        raise InvalidRequestError("context", f"unknown persona {name!r}; personas are {known}", context)
    return context
