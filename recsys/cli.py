"""``recsys``: the platform's command line for people (summaries now; more commands later)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from feature_store import lake
from recsys.errors import RecsysError
from recsys.settings import load_settings


def _days(first: str, count: int) -> list[date]:
    start = date.fromisoformat(first)
    return [start + timedelta(days=i) for i in range(count)]


def summary(first: str, count: int) -> str:
    """A table of what ingestion kept and quarantined for ``count`` days from ``first``."""
    settings = load_settings()
    header = f"{'day':<11} {'events':>9} {'impr':>8} {'click':>7} {'view':>7} {'cart':>6} {'purch':>6} "
    header += f"{'users':>6} {'items':>6} {'quarantined':>11}"
    lines = [f"lake: {settings.lake_root}", header, "-" * len(header)]
    totals = [0] * 7
    for day in _days(first, count):
        events = lake.read_meta(settings.lake_root, "events", day)
        catalog = lake.read_meta(settings.lake_root, "catalog", day)
        by_type = events["events_by_type"]
        quarantined = events["quarantined"] + catalog["quarantined"]
        row = [events["events"], *(by_type[t] for t in ("impression", "click", "view", "cart", "purchase"))]
        row.append(quarantined)
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        lines.append(
            f"{day.isoformat():<11} {row[0]:>9,} {row[1]:>8,} {row[2]:>7,} {row[3]:>7,} {row[4]:>6,} "
            f"{row[5]:>6,} {events['users']:>6,} {catalog['items']:>6,} {quarantined:>11,}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<11} {totals[0]:>9,} {totals[1]:>8,} {totals[2]:>7,} {totals[3]:>7,} {totals[4]:>6,} "
        f"{totals[5]:>6,} {'':>6} {'':>6} {totals[6]:>11,}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("summary", help="what ingestion kept and quarantined per day")
    show.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    show.add_argument("--days", type=int, default=1, help="how many days")
    held = commands.add_parser("quarantine", help="what was quarantined for a dataset and day, and why")
    held.add_argument("--dataset", required=True, help="events or catalog")
    held.add_argument("--date", required=True, type=date.fromisoformat, help="the day, YYYY-MM-DD")
    held.add_argument("--limit", type=int, default=20, help="rows to show after the counts per reason")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summary(args.first, args.days))
        elif args.command == "quarantine":
            from expectations.quarantine import listing

            print(listing(load_settings().lake_root, args.dataset, args.date, args.limit))
    except RecsysError as exc:
        print(f"recsys: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
