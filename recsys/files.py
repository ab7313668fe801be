"""Atomic directory replacement on a local filesystem, shared by the lake, the registry and the index."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory entry, so a rename inside it survives a power cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_dir(tmp: Path, final: Path, token: str | None = None) -> None:
    """Put the complete directory ``tmp`` at ``final``; an existing ``final`` is moved aside first.

    Between the two renames the old directory lives at ``.old-<name>-<token>`` (the lake's
    crash recovery looks for that name); it is removed once the new one is in place.
    """
    if not final.exists():
        os.rename(tmp, final)
    else:
        old = final.parent / f".old-{final.name}-{token or uuid.uuid4().hex[:12]}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(final.parent)
