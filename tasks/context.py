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
    if chosen:
        partition = date.fromisoformat(str(chosen))
    else:
        partition = airflow_context["data_interval_start"].date()
    overrides: dict[str, Any] = {}
    if params.get("scale"):
        overrides["sim_scale"] = params["scale"]
    how = "from the partition_date param" if chosen else "from the data interval start"
    log.info("partition %s (%s)", partition.isoformat(), how)
    return RunContext(partition, load_settings(**overrides))
