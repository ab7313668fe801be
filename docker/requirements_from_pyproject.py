"""Print pyproject.toml's pinned dependencies, one a line, for ``pip install --requirement``.

The Dockerfiles install through this, so an image gets exactly the versions pyproject.toml
pins and there is no second list to keep in step:

    python requirements_from_pyproject.py pyproject.toml                  # every dependency
    python requirements_from_pyproject.py pyproject.toml "fastapi redis"  # only these, extras kept

Names are matched after normalisation (``pydantic_settings`` is ``pydantic-settings``) and may
be given as one space-separated argument or several. A name pyproject.toml does not list, or
a dependency not pinned with ``==``, is an error: a renamed or unpinned dependency fails the
image build instead of being installed at whatever version is newest.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class RequirementsError(ValueError):
    """pyproject.toml does not pin what was asked for."""


def normalise(name: str) -> str:
    """The PEP 503 form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(pyproject: Path, names: Sequence[str] = ()) -> list[str]:
    """pyproject.toml's ``[project] dependencies`` (all, or those named, in the order named)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    dependencies: list[str] = project.get("dependencies", [])
    if not dependencies:
        raise RequirementsError(f"{pyproject} has no [project] dependencies")
    by_name: dict[str, str] = {}
    for requirement in dependencies:
        match = _NAME.match(requirement)
        if match is None:
            raise RequirementsError(f"{pyproject}: cannot read the name of {requirement!r}")
        if "==" not in requirement:
            raise RequirementsError(f"{pyproject}: {requirement!r} is not pinned with ==")
        by_name[normalise(match.group(1))] = requirement.strip()
    wanted = [word for name in names for word in name.split()]
    if not wanted:
        return list(by_name.values())
    missing = [name for name in wanted if normalise(name) not in by_name]
    if missing:
        raise RequirementsError(
            f"{pyproject} pins no {', '.join(missing)} (it pins: {', '.join(sorted(by_name))})"
        )
    return [by_name[normalise(name)] for name in wanted]


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2:
        print(f"usage: {argv[0]} PYPROJECT [NAMES...]", file=sys.stderr)
        return 2
    try:
        requirements = pinned_requirements(Path(argv[1]), argv[2:])
    except (OSError, tomllib.TOMLDecodeError, RequirementsError) as exc:
        print(f"requirements_from_pyproject: {exc}", file=sys.stderr)
        return 1
    print("\n".join(requirements))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
