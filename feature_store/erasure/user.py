"""The user being erased: a checked id, its keyed hash, and what counts as a mention of it."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import cached_property

from feature_store.service.errors import ID_RULE, is_id
from feature_store.service.privacy import UserHasher, user_hash_key
from recsys.errors import RecsysError
from recsys.settings import Settings

REDACTED = "[erased]"  # what a mention of the user becomes in the lake's text files (data docs)


class InvalidUserIdError(RecsysError, ValueError):
    """The user id to erase breaks the shop's id rule (the lookup service's rule)."""


def check_user_id(value: object) -> str:
    """``value`` when it is a user id the shop can have, else ``InvalidUserIdError``."""
    if not isinstance(value, str) or not is_id(value):
        shown = value if not isinstance(value, str) else (value[:40] + "…" if len(value) > 40 else value)
        raise InvalidUserIdError(
            f"user_id {shown!r} is not a shop user id: it {ID_RULE} (the lookup service's rule); "
            "copy it exactly as the shop's events spell it"
        )
    return value


def user_hasher(settings: Settings) -> UserHasher:
    """The lookup service's keyed hash of user ids (same key, so the hashes match its audit log)."""
    return UserHasher(user_hash_key(settings))


@dataclass(frozen=True)
class ErasedUser:
    """One user id to erase, with the forms it takes in stored text."""

    user_id: str
    user_hash: str

    @classmethod
    def of(cls, user_id: str, settings: Settings) -> ErasedUser:
        checked = check_user_id(user_id)
        return cls(checked, user_hasher(settings)(checked))

    @cached_property
    def raw(self) -> bytes:
        return self.user_id.encode()

    @cached_property
    def record_pattern(self) -> str:
        """A regex (Python and RE2 alike) matching a raw record of this user: a JSON object's
        ``user_id`` field, or a CSV field holding exactly the id."""
        escaped = re.escape(json.dumps(self.user_id)[1:-1])
        plain = re.escape(self.user_id)
        return rf'"user_id"\s*:\s*"?{escaped}"?\s*[,}}]|(^|,)"?{plain}"?(,|\r?$)'

    @cached_property
    def record_regex(self) -> re.Pattern[bytes]:
        return re.compile(self.record_pattern.encode())

    @cached_property
    def quoted_forms(self) -> tuple[bytes, ...]:
        """The id as a whole value in JSON or HTML text (``"U1"``, ``'U1'``, ``>U1<``).

        A bare substring would also hit ids it is a part of, and digits in prices for short ids.
        """
        escaped = html.escape(self.user_id)
        forms = {json.dumps(self.user_id), f"'{self.user_id}'", f'"{escaped}"', f">{escaped}<"}
        return tuple(sorted(f.encode() for f in forms))

    def redact(self, text: bytes) -> tuple[bytes, int]:
        """``text`` with every quoted form of the id replaced by ``REDACTED``; and how many."""
        found = 0
        for form in self.quoted_forms:
            count = text.count(form)
            if count:
                found += count
                text = text.replace(form, form[:1] + REDACTED.encode() + form[-1:])
        return text, found
