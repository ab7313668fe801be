"""Validate one lake partition against its suite file and render data docs into the lake.

The runner is a plain function: an ephemeral GX context (nothing kept outside the lake),
GX's pandas datasource with one dataframe asset per frame, one validation definition per
frame, then the data docs site built into ``<docs_dir>`` (under the lake's ``docs/`` folder)
together with ``result.json``, the machine-readable outcome. The docs folder of a partition
is replaced whole, like a lake partition, so a re-run never mixes pages of two runs.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from expectations.errors import SuiteFileError
from expectations.suites import FRAMES, SuiteFile
from recsys.files import replace_dir

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
INDEX_FILE = "index.html"
SITE = "lake"
VIEWS = "expectations.docs_views"  # GX's page views, templates compiled once per process
RESULT_FORMAT: Final = "BASIC"  # counts and up to 20 example values; no per-row index lists


@dataclass(frozen=True)
class Frames:
    """What a suite is evaluated on: the partition's rows, one row of facts, the parameters.

    ``notes`` adds context to a failure, keyed by the column it is about (for example where
    a volume ratio comes from: "1,234 rows against 10,000 in dt=2026-11-01").
    """

    rows: pd.DataFrame
    facts: pd.DataFrame
    parameters: Mapping[str, Any]
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """One failing expectation, in words a person can act on."""

    expectation: str
    column: str | None
    frame: str
    observed: str
    expected: str
    note: str = ""

    def describe(self) -> str:
        target = self.column if self.column else "table"
        text = f"{self.expectation} on {target} ({self.frame}): "
        text += f"observed {self.observed}; expected {self.expected}"
        return f"{text} — {self.note}" if self.note else text


@dataclass(frozen=True)
class ValidationOutcome:
    """The typed result of validating one partition."""

    dataset: str
    dt: date
    success: bool
    evaluated: int
    failures: tuple[Failure, ...]
    docs_path: Path
    result_path: Path
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dt": self.dt.isoformat(),
            "success": self.success,
            "expectations": self.evaluated,
            "failed": len(self.failures),
            "failures": [f.__dict__ for f in self.failures],
            "docs_path": str(self.docs_path),
            "result_path": str(self.result_path),
            "seconds": round(self.seconds, 3),
        }


def validate(
    suite: SuiteFile, frames: Frames, *, dataset: str, dt: date, docs_dir: Path
) -> ValidationOutcome:
    """Validate ``frames`` against ``suite`` and write data docs and ``result.json`` to ``docs_dir``.

    Raises:
        SuiteFileError: the suite refers to a parameter that ``frames`` does not provide.
    """
    missing = sorted(suite.parameters - set(frames.parameters))
    if missing:
        raise SuiteFileError(
            f"suite {suite.path} needs parameter(s) {', '.join(missing)} that were not given"
        )
    started = time.perf_counter()
    docs_dir = Path(docs_dir)
    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = docs_dir.parent / f".tmp-{docs_dir.name}-{uuid.uuid4().hex[:12]}"
    try:
        context = _ephemeral_context(tmp)
        with _no_batch_fingerprint():
            results = _run(context, suite, frames, dataset=dataset, dt=dt)
        context.build_data_docs(site_names=[SITE])
        _prune_static(tmp)
        failures = tuple(_failures(results, frames))
        evaluated = sum(len(r.results) for r in results.values())
        outcome = ValidationOutcome(
            dataset=dataset,
            dt=dt,
            success=not failures,
            evaluated=evaluated,
            failures=failures,
            docs_path=docs_dir / INDEX_FILE,
            result_path=docs_dir / RESULT_FILE,
            seconds=time.perf_counter() - started,
        )
        record = {
            **outcome.summary(),
            "suite": str(suite.path),
            "parameters": dict(frames.parameters),
            "facts": _facts_record(frames.facts),
            "notes": dict(frames.notes),
            "gx_results": {frame: _as_json(result) for frame, result in results.items()},
        }
        (tmp / RESULT_FILE).write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
        replace_dir(tmp, docs_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outcome


@contextmanager
def _no_batch_fingerprint() -> Iterator[None]:
    """Skip GX's fingerprint of an in-memory batch while validating.

    GX hashes every row of a dataframe batch under 1 GB (``hash_pandas_object``, 0.8 s for
    a 2M-event day: a third of the whole validation) only to store the digest among the
    batch markers. A partition is already identified by its lake path and day, so the
    threshold GX reads at batch load (``HASH_THRESHOLD``, pinned GX 1.24.1) is lowered to
    zero for the run and put back after; a unit test notices if GX renames it.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    saved = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = saved


def _ephemeral_context(docs_dir: Path) -> AbstractDataContext:
    """A GX context held in memory whose only data docs site is ``docs_dir``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "show_cta_footer": False,
            "view": {"module_name": VIEWS, "class_name": "CachedJinjaIndexPageView"},
        },
        # Validation pages only: they show every expectation beside its result; the suite
        # itself is the JSON file in version control (and its pages cost a fifth of a gate).
        "site_section_builders": {
            "expectations": "0",
            "profiling": "0",
            "validations": {"view": {"module_name": VIEWS, "class_name": "CachedJinjaPageView"}},
        },
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={SITE: site},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run(
    context: AbstractDataContext, suite: SuiteFile, frames: Frames, *, dataset: str, dt: date
) -> dict[str, ExpectationSuiteValidationResult]:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    source = context.data_sources.add_pandas(name=dataset.replace("/", "."))
    run_id = RunIdentifier(run_name=f"dt={dt.isoformat()}")
    results: dict[str, ExpectationSuiteValidationResult] = {}
    for frame in FRAMES:
        if not suite.for_frame(frame):
            continue
        data = frames.rows if frame == "rows" else frames.facts
        batch = source.add_dataframe_asset(name=frame).add_batch_definition_whole_dataframe(name=f"dt={dt}")
        gx_suite = context.suites.add(suite.build(frame))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{dataset} {frame} dt={dt}", data=batch, suite=gx_suite)
        )
        results[frame] = definition.run(
            batch_parameters={"dataframe": data},
            expectation_parameters=dict(frames.parameters),
            result_format=RESULT_FORMAT,
            run_id=run_id,
        )
    return results


def _failures(results: Mapping[str, ExpectationSuiteValidationResult], frames: Frames) -> list[Failure]:
    out = []
    for frame, suite_result in results.items():
        for result in suite_result.results:
            if result.success:
                continue
            config = result.expectation_config
            assert config is not None
            kwargs = dict(config.kwargs)
            column = kwargs.get("column")
            if (
                column is None
                and "column_list" in kwargs
                and config.type != "expect_table_columns_to_match_ordered_list"
            ):
                column = ", ".join(kwargs["column_list"])
            out.append(
                Failure(
                    expectation=config.type,
                    column=column,
                    frame=frame,
                    observed=observed_text(result, frame, config.type),
                    expected=expected_text(config.type, kwargs, frames.parameters),
                    note=frames.notes.get(column or "", ""),
                )
            )
    return out


def observed_text(result: ExpectationValidationResult, frame: str, kind: str = "") -> str:
    """What the data showed, briefly: the observed value, or the unexpected rows and examples."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "error").splitlines()[0]
        return f"an error: {message}"
    found = result.result or {}
    if "observed_value" in found:
        return short(found["observed_value"])
    if "unexpected_count" in found:
        examples = list(found.get("partial_unexpected_list") or [])
        if frame == "facts":
            return short(examples[0]) if examples else "null"
        count, total = int(found["unexpected_count"] or 0), int(found.get("element_count") or 0)
        share = 100.0 * count / total if total else 0.0
        text = f"{count:,} of {total:,} rows unexpected ({share:.3g}%)"
        if kind == "expect_column_values_to_not_be_null" or not examples:
            return text  # the examples would all be null
        return f"{text}, e.g. {', '.join(short(v) for v in examples[:5])}"
    return short(found) if found else "no observed value"


def expected_text(kind: str, kwargs: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    """The expectation's condition, with its suite parameters filled in."""
    value = {k: _resolve(v, parameters) for k, v in kwargs.items()}
    low, high = value.get("min_value"), value.get("max_value")
    if low is not None or high is not None:
        lo_op = ">" if value.get("strict_min") else ">="
        hi_op = "<" if value.get("strict_max") else "<="
        parts = ([f"{lo_op} {short(low)}"] if low is not None else []) + (
            [f"{hi_op} {short(high)}"] if high is not None else []
        )
        return " and ".join(parts)
    if "value_set" in value:
        members = list(value["value_set"] or [])
        shown = ", ".join(short(m) for m in members[:12]) + (", …" if len(members) > 12 else "")
        return f"{'none' if 'not_be_in' in kind else 'all'} in {{{shown}}}"
    if "column_list" in value and kind.startswith("expect_table_columns"):
        return f"columns {list(value['column_list'])}"
    if "regex" in value:
        return f"{'not ' if 'not_match' in kind else ''}matching {value['regex']!r}"
    words = {
        "expect_column_values_to_not_be_null": "no nulls",
        "expect_column_values_to_be_null": "only nulls",
        "expect_column_values_to_be_unique": "no repeated value",
        "expect_compound_columns_to_be_unique": "no repeated combination",
        "expect_column_values_to_be_increasing": "values in increasing order",
        "expect_column_to_exist": "the column to exist",
    }
    if kind in words:
        return words[kind]
    rest = {k: v for k, v in value.items() if k not in ("column", "batch_id", "result_format")}
    return short(rest)


def short(value: Any, limit: int = 160) -> str:
    """A value as a person reads it in a log line: rounded, ISO times, cut to ``limit``."""
    if isinstance(value, float):
        text = "NaN" if math.isnan(value) else f"{value:.6g}"
    elif isinstance(value, pd.Timestamp | datetime | date):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(short(v, 40) for v in value[:20]) + (", …" if len(value) > 20 else "") + "]"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def _as_json(result: Any) -> Any:
    """GX's own JSON form of a suite validation result (its method is untyped)."""
    return result.to_json_dict()


def _facts_record(facts: pd.DataFrame) -> dict[str, Any]:
    if facts.empty:
        return {}
    return {str(k): v for k, v in facts.iloc[0].to_dict().items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _prune_static(site: Path) -> None:
    """Drop the static files no page of the site refers to.

    GX copies its whole asset folder into every site (3.4 MB of tutorial GIFs and fonts);
    the pages use a handful of them, and a site per partition would otherwise carry it all.
    """
    static = site / "static"
    if not static.is_dir():
        return
    pages = [p.read_text(errors="replace") for p in site.rglob("*.html")]
    pages += [p.read_text(errors="replace") for p in static.rglob("*.css")]
    text = "\n".join(pages)
    for path in static.rglob("*"):
        if path.is_file() and path.suffix != ".css" and path.name not in text:
            path.unlink()
    for folder in sorted((p for p in static.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
