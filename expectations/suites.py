"""Suite files: GX 1.x expectation suites kept as JSON under ``expectations/suites/``.

Each expectation names in ``meta.frame`` the frame it is evaluated on:

* ``rows`` (the default): the partition itself, one row per lake row;
* ``facts``: one row of facts computed beside the partition: Arrow column types, the
  volume against the previous partition, the quarantined share, references into other
  datasets (see ``expectations/facts.py``).

A value that comes from the settings or the run is a suite parameter,
``{"$PARAMETER": "max_quarantine_share"}``, filled in by the runner at validation time, so
the files never go stale when a threshold changes.

Loading does no I/O beyond reading the file and imports Great Expectations lazily.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expectations.errors import SuiteFileError

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITES_DIR = Path(__file__).resolve().parent / "suites"
FRAMES = ("rows", "facts")
PARAMETER = "$PARAMETER"


@dataclass(frozen=True)
class SuiteFile:
    """One suite file, checked: every expectation is a known GX 1.x expectation."""

    name: str
    path: Path
    data: dict[str, Any]

    @property
    def expectations(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.data["expectations"]
        return items

    def frame_of(self, expectation: dict[str, Any]) -> str:
        return str((expectation.get("meta") or {}).get("frame", "rows"))

    def for_frame(self, frame: str) -> list[dict[str, Any]]:
        """The expectations evaluated on ``frame`` (``rows`` or ``facts``)."""
        return [e for e in self.expectations if self.frame_of(e) == frame]

    @property
    def parameters(self) -> set[str]:
        """Names of the suite parameters the file refers to."""
        return {name for e in self.expectations for name in _parameter_names(e["kwargs"])}

    def build(self, frame: str) -> ExpectationSuite:
        """A fresh GX suite of the expectations on ``frame`` (GX binds a suite to one context)."""
        import great_expectations as gx

        name = self.name if frame == "rows" else f"{self.name}.{frame}"
        return gx.ExpectationSuite(
            name=name,
            expectations=[_strip(e) for e in self.for_frame(frame)],
            meta=dict(self.data.get("meta") or {}),
            notes=self.data.get("notes"),
        )


def suite_path(name: str) -> Path:
    """``expectations/suites/<name>.json``."""
    return SUITES_DIR / f"{name}.json"


def load_suite(path: Path) -> SuiteFile:
    """Read and check a suite file.

    GX itself drops an invalid expectation from a suite with only a log line; here every
    expectation is turned into its GX class first, so a typo fails loudly.

    Raises:
        SuiteFileError: the file is missing, is not JSON, or holds an invalid expectation;
            the message names the file and the entry.
    """
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SuiteFileError(f"suite file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SuiteFileError(f"suite file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not data.get("name") or not isinstance(data.get("expectations"), list):
        raise SuiteFileError(f"suite file {path}: expected an object with 'name' and a list 'expectations'")
    for index, expectation in enumerate(data["expectations"]):
        where = f"suite file {path}, expectation {index} ({expectation.get('type', '?')})"
        frame = (expectation.get("meta") or {}).get("frame", "rows")
        if frame not in FRAMES:
            raise SuiteFileError(f"{where}: meta.frame must be one of {', '.join(FRAMES)}, got {frame!r}")
        try:
            ExpectationConfiguration(**_strip(expectation)).to_domain_obj()
        except Exception as exc:  # GX raises several unrelated types for a bad entry
            raise SuiteFileError(f"{where} is not a valid GX expectation: {exc}") from exc
    return SuiteFile(str(data["name"]), Path(path), data)


def _strip(expectation: dict[str, Any]) -> dict[str, Any]:
    """The fields GX's ExpectationConfiguration takes (a file may carry others)."""
    keep = ("type", "kwargs", "meta", "notes", "severity", "description", "id")
    return {k: v for k, v in expectation.items() if k in keep}


def _parameter_names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if PARAMETER in value:
            yield str(value[PARAMETER])
        else:
            for item in value.values():
                yield from _parameter_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _parameter_names(item)
