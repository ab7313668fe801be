"""Ingest drops what an erasure removed: events of listed users from before their erasure.

The list (``feature_store/erasure/erased_users.py``) holds keyed hashes, so each distinct user
id of an export file is hashed once (about a microsecond each), and only while the list is not
empty. Rows are taken out of the parsed files before any check, so an erased user's events are
neither counted, nor deduplicated against, nor quarantined.
"""

from __future__ import annotations

import csv
import logging
import re
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from feature_store.erasure.erased_users import read_erased_users
from feature_store.erasure.user import user_hasher
from feature_store.service.privacy import UserHasher
from recsys.settings import Settings
from tasks.ingest import checks, reasons
from tasks.ingest.records import ParsedFile

log = logging.getLogger(__name__)

_JSON_USER = re.compile(r'"user_id"\s*:\s*"?([^",}\s]+)')


def without_erased_users(settings: Settings, files: list[ParsedFile]) -> list[ParsedFile]:
    """``files`` without the rows and quarantined lines of erased users (dated before their erasure)."""
    erased = read_erased_users(settings.lake_root)
    if not erased:
        return files
    hasher = user_hasher(settings)
    kept = [_without(parsed, erased, hasher) for parsed in files]
    dropped = sum(p.table.num_rows - k.table.num_rows + len(p.rejects) - len(k.rejects)
                  for p, k in zip(files, kept, strict=True))  # fmt: skip
    if dropped:
        log.info("erased users: %d record(s) of %d listed user(s) left out", dropped, len(erased))
    return kept


def _without(parsed: ParsedFile, erased: dict[str, datetime], hasher: UserHasher) -> ParsedFile:
    table = parsed.table
    users = pc.unique(table.column("user_id")).drop_null()
    cutoffs = [erased.get(hasher(u)) for u in users.to_pylist()]
    rejects = [r for r in parsed.rejects if not _mentions_erased(r, erased, hasher)]
    if all(c is None for c in cutoffs):
        return ParsedFile(parsed.path, table, rejects, parsed.unknown_fields, parsed.source)
    cutoff = pa.array(cutoffs, pa.timestamp("us", tz="UTC"))
    per_row = pc.take(cutoff, pc.index_in(table.column("user_id"), value_set=users))
    times = checks.parse_times(table.column("event_time"))
    # Listed, and before the erasure (or with a time that cannot tell): the erasure's data.
    erased_row = pc.and_kleene(pc.is_valid(per_row), pc.or_kleene(pc.is_null(times), pc.less(times, per_row)))
    keep = pc.invert(pc.fill_null(erased_row, False))
    kept = table if pc.all(keep).as_py() else table.filter(keep)
    return ParsedFile(parsed.path, kept, rejects, parsed.unknown_fields, parsed.source)


def _mentions_erased(reject: reasons.Reject, erased: dict[str, datetime], hasher: UserHasher) -> bool:
    """A quarantined line naming a listed user (by its user_id field, or any CSV field)."""
    candidates = set(_JSON_USER.findall(reject.raw))
    if not reject.raw.lstrip().startswith("{"):
        candidates.update(f.strip() for f in next(csv.reader([reject.raw]), []))
    return any(hasher(c) in erased for c in candidates if c)
