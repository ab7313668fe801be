"""Generate docs/features.md from the feature declarations: ``python -m feature_store.features.docs``."""

from __future__ import annotations

import sys
from pathlib import Path

from feature_store.features.definitions import ENTITIES, EVENT_TYPES, FORMULAS, TRENDS, WINDOWS, Entity

TARGET = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def columns(entity: Entity) -> list[str]:
    """The value columns of an entity's table, in order, windows collapsed as ``_<w>``."""
    names = [f"{c}_<w>" for c in (*entity.counters, *entity.distinct)]
    if entity.rates:
        names += ["ctr_<w>", "cvr_<w>"]
    if entity.trends:
        names += [name for name, _, _ in TRENDS]
    if entity.recency:
        names += [f"recency_{t}_s" for t in EVENT_TYPES]
    if entity.preference:
        names += ["pref", "pref_share"]
    return names


def render() -> str:
    windows = ", ".join(f"`{w.name}`" for w in WINDOWS)
    lines = [
        "# Features",
        "",
        "Generated from `feature_store/features/definitions.py` by "
        "`python -m feature_store.features.docs`; do not edit by hand (a test checks it is current).",
        "",
        f"Every feature of partition day D is computed over each window in {windows}, all ending at the "
        "end of D (UTC), and uses only events with `event_time` before that end. `<w>` in a column name "
        "stands for the window (`clicks_7d`).",
        "",
        "Stores: offline `features/<entity>/dt=D` (Parquet, one table per entity below); online, the "
        "`user` and `item` tables of the latest day as Redis hashes `feat:v<N>:<entity>:<id>`.",
        "",
        "## Tables",
        "",
        "| entity | key | columns | one row per |",
        "|---|---|---|---|",
    ]
    for entity in ENTITIES:
        key = ", ".join(f"`{k}`" for k in entity.keys)
        extra = ["`in_catalog`"] if entity.name == "item" else []
        cols = ", ".join(extra + [f"`{c}`" for c in columns(entity)])
        lines.append(f"| `{entity.name}` | {key} | {cols} | {entity.description} |")
    lines += ["", "## Formulas", "", "| feature | definition |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in FORMULAS.items()]
    lines += [
        "",
        "## How a day is computed",
        "",
        "1. The day's events, catalog and item tags are aggregated once into daily *partials* "
        "(`feature_partials/<table>/dt=D`): additive counters per entity, the distinct engaged "
        "(user, item) and (user, session) pairs, and each user's last event time per type.",
        "2. Sub-day windows (`1h`, `6h`) are aggregated from the day's own events.",
        "3. Multi-day windows roll on from the previous day's stored state "
        "(`feature_state/<window>/<table>/dt=D-1`): window(D) = window(D-1) + partial(D) - "
        "partial(D-w). Counters add and subtract; the distinct (user, item) and (user, session) sets "
        "keep a count of the days each pair appeared on, so distinct counts stay exact; a day's cost "
        "does not grow with the window's length. When the previous state is missing (a backfill out "
        "of order) or was built with another history start, the window is merged from the w daily "
        "partials instead. A missing partial is rebuilt from its day's events; a day with no events "
        "partition stops the step with its date.",
        "4. Preferences weight each day's engagement by 0.5^(age/7): rolling, the previous value is "
        "decayed by one day, today's is added and the day leaving the window subtracted. Recency is "
        "a running latest time per type, forgotten once it falls before the 30-day window.",
        "",
        "Categories and tags of an event are those of its own day's catalog and item tags.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            raise SystemExit(f"{TARGET} is stale: run python -m feature_store.features.docs")
        return
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
