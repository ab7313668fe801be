"""The explicit run context every step takes: which partition, which interval, which settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from recsys.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """A step's inputs besides data: the partition date, its interval and the settings.

    The interval is the whole UTC day of ``partition_date``; steps never read the wall clock.
    """

    partition_date: date
    settings: Settings = field(default_factory=load_settings)

    @property
    def interval_start(self) -> datetime:
        return datetime.combine(self.partition_date, time(0), tzinfo=UTC)

    @property
    def interval_end(self) -> datetime:
        return self.interval_start + timedelta(days=1)

    @property
    def ds(self) -> str:
        return self.partition_date.isoformat()


def context_from_airflow(airflow_context: Mapping[str, Any]) -> RunContext:
    """Build the run context from an Airflow task context (no Airflow import needed).

    The partition is the ``partition_date`` param when given (UI triggers), else the
    data interval's start. The ``scale`` param, when given, overrides ``RECSYS_SIM_SCALE``.
    """
    params = airflow_context.get("params") or {}
    chosen = params.get("partition_date") or ""
    announced = _announced_day(airflow_context)
    if chosen:
        partition, how = date.fromisoformat(str(chosen)), "from the partition_date param"
    elif announced is not None:
        partition, how = announced, "from the triggering asset events"
    elif airflow_context.get("data_interval_start") is not None:
        partition, how = airflow_context["data_interval_start"].date(), "from the data interval start"
    else:
        raise ValueError(
            "no partition day: this run has no partition_date param, no data interval and no "
            "triggering asset event with a 'dt' extra; trigger it with partition_date=YYYY-MM-DD"
        )
    overrides: dict[str, Any] = {}
    if params.get("scale"):
        overrides["sim_scale"] = params["scale"]
    log.info("partition %s (%s)", partition.isoformat(), how)
    return RunContext(partition, load_settings(**overrides))


def hour_from_airflow(airflow_context: Mapping[str, Any]) -> str:
    """The UTC hour (``YYYY-MM-DDTHH``) an hourly run covers: the ``hour`` param when given
    (UI triggers), else the start of the run's data interval."""
    params = airflow_context.get("params") or {}
    if params.get("hour"):
        return str(params["hour"])
    start = airflow_context.get("data_interval_start")
    if start is None:
        raise ValueError(
            "no hour: this run has no hour param and no data interval; trigger it with hour=YYYY-MM-DDTHH"
        )
    return f"{start.astimezone(UTC):%Y-%m-%dT%H}"


def _announced_day(airflow_context: Mapping[str, Any]) -> date | None:
    """The latest ``dt`` extra among the asset events that triggered this run, if any.

    An asset-triggered run has no data interval; the producing task names its day instead.
    """
    events = airflow_context.get("triggering_asset_events") or {}
    days = [
        date.fromisoformat(str(event.extra["dt"]))
        for per_asset in events.values()
        for event in per_asset
        if isinstance(getattr(event, "extra", None), Mapping) and event.extra.get("dt")
    ]
    return max(days) if days else None


def run_step(target: str, *args: Any, **kwargs: Any) -> Any:
    """Inside a running Airflow task: import the step ``module:function`` and call it with the
    task's run context. DAG files call this, so parsing them imports no step's dependencies."""
    from importlib import import_module

    from airflow.sdk import get_current_context

    module, name = target.split(":")
    step = getattr(import_module(module), name)
    return step(context_from_airflow(get_current_context()), *args, **kwargs)
