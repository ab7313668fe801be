"""The day's ingest summary, as a person reads it in the task log or the demo."""

from __future__ import annotations

from typing import Any


def ingest_summary(partition: str, catalog: dict[str, Any], events: dict[str, Any]) -> str:
    """A short multi-line text of what one day's ingestion kept and quarantined."""
    by_type = ", ".join(f"{t} {n:,}" for t, n in events["events_by_type"].items())
    quarantined = events["quarantined"] + catalog["quarantined"]
    reasons = {**catalog["quarantined_by_reason"]}
    for reason, n in events["quarantined_by_reason"].items():
        reasons[reason] = reasons.get(reason, 0) + n
    why = ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items())) or "none"
    return "\n".join(
        [
            f"day {partition}",
            f"  events     {events['events']:,} ({by_type})",
            f"  users      {events['users']:,} active, {events['sessions']:,} sessions",
            f"  items      {catalog['items']:,} in catalog, {events['items']:,} with events",
            f"  quarantine {quarantined:,} rows ({why})",
        ]
    )
