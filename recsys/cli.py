"""``recsys``: the platform's command line for people (summaries now; more commands later)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING

from feature_store import lake
from recsys.errors import PartitionMissingError, RecsysError, RegistryError
from recsys.settings import load_settings

if TYPE_CHECKING:
    from models.registry import ModelRegistry


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


def _registry() -> ModelRegistry:
    from models.registry import ModelRegistry  # lazily: the other commands need none of it

    return ModelRegistry.from_settings(load_settings())


def registry_list(model: str) -> str:
    """Every version of a model with its check result, data range and metrics; * marks the champion."""
    registry = _registry()
    versions = registry.versions(model)
    if not versions:
        return f"{model}: no versions in {registry.model_dir(model)}"
    champion = registry.champion(model)
    lines = [
        f"{model} in {registry.model_dir(model)}; champion: {'none' if champion is None else f'v{champion}'}"
    ]
    for version in versions:
        mark = "*" if version == champion else " "
        try:
            manifest = registry.verify(model, version)
        except RegistryError as exc:
            lines.append(f"{mark} v{version:<4} REFUSED  {exc}")
            continue
        first, last = manifest.data_range
        scores = " ".join(f"{name}={value:.4g}" for name, value in sorted(manifest.metrics.items()))
        lines.append(f"{mark} v{version:<4} ok  {manifest.created_at}  data {first}..{last}  {scores}")
    return "\n".join(lines)


def registry_show(model: str, version: int | None) -> str:
    """The verified manifest of a version (the champion by default) and the promotion history."""
    registry = _registry()
    number = version if version is not None else registry.champion(model)
    if number is None:
        raise RegistryError(f"{model}: no champion yet; name a version with --version")
    manifest = registry.verify(model, number)  # the signature and digests: no decryption needed
    document = {
        "path": str(registry.version_dir(model, number)),
        "champion": registry.champion(model),
        **manifest.to_document(),
    }
    document["promotions"] = registry.promotions(model)
    return json.dumps(document, indent=2, sort_keys=True)


def registry_verify(model: str, version: int | None) -> tuple[bool, str]:
    """Check one version (or every version) against its signature; ``False`` if any is refused."""
    registry = _registry()
    versions = [version] if version is not None else registry.versions(model)
    if not versions:
        return False, f"{model}: no versions in {registry.model_dir(model)}"
    lines, good = [], True
    for each in versions:
        try:
            manifest = registry.verify(model, each)
            lines.append(f"{model} v{each}: ok ({len(manifest.files)} files, signature valid)")
        except RegistryError as exc:
            good = False
            lines.append(f"{model} v{each}: REFUSED: {exc}")
    return good, "\n".join(lines)


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
    registry = commands.add_parser("registry", help="model versions, champions and their signatures")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    for name, text in (
        ("list", "every version with its check result and metrics"),
        ("show", "a version's verified manifest (default: the champion)"),
        ("rollback", "make the previous champion champion again"),
        ("verify", "check signatures and file digests (default: every version)"),
    ):
        sub = registry_commands.add_parser(name, help=text)
        sub.add_argument("--model", required=True, help="model name, e.g. deepfm")
        if name in ("show", "verify"):
            sub.add_argument("--version", type=int, default=None, help="version number N (of vN)")
    published = commands.add_parser("recommendations", help="published recommendation versions in Redis")
    published_commands = published.add_subparsers(dest="recommendations_command", required=True)
    published_commands.add_parser("status", help="the serving version and the versions kept for rollback")
    published_commands.add_parser("rollback", help="serve the previous complete version (one SET)")
    shown = published_commands.add_parser(
        "show", help="what the serving version holds for a user, item or segment"
    )
    which = shown.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", help="a user's list")
    which.add_argument("--similar", metavar="ITEM", help="an item's similar items")
    which.add_argument("--segment", help="a segment list: global, trending, new_arrivals, category:<c>, ...")
    shown.add_argument("--variant", default="champion", help="published variant of a user's list")
    shown.add_argument("--k", type=int, default=10, help="how many entries")
    alerts = commands.add_parser("alerts", help="alerts recsys_feedback raised (or every rule's outcome)")
    alerts.add_argument("--since", help="first hour, YYYY-MM-DDTHH UTC (default: 24 hours ago)")
    alerts.add_argument("--hours", type=int, default=24, help="how many hours")
    alerts.add_argument("--all", action="store_true", help="every rule's outcome, not only alerts")
    ab = commands.add_parser("ab-report", help="CTR and CVR per A/B variant, as of an hour's report")
    ab.add_argument("--hour", required=True, help="the report's hour, YYYY-MM-DDTHH UTC")
    looked = commands.add_parser(
        "inspect", help="Redis explorer: versions, key counts and memory of rec and feat; one list"
    )
    looked_at = looked.add_mutually_exclusive_group()
    looked_at.add_argument("--user", help="print this user's list instead of the summary")
    looked_at.add_argument("--item", help="print this item's similar items instead of the summary")
    looked.add_argument("--variant", default="champion", help="variant of --user's list (aliases apply)")
    looked.add_argument("--version", type=int, help="version N (of vN) instead of the current one")
    looked.add_argument("--keyspace", choices=("rec", "feat"), help="summarise one keyspace (default: both)")
    looked.add_argument(
        "--sample", type=int, default=1000, help="keys per kind measured before memory is estimated"
    )
    looked.add_argument("--k", type=int, default=None, help="entries of a list to print (default: all)")
    looked.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summary(args.first, args.days))
        elif args.command == "quarantine":
            from expectations.quarantine import listing

            print(listing(load_settings().lake_root, args.dataset, args.date, args.limit))
        elif args.command == "registry":
            return _registry_command(args)
        elif args.command == "recommendations" and args.recommendations_command == "show":
            print(recommendations_show(args.user, args.similar, args.segment, args.variant, args.k))
        elif args.command == "recommendations":
            print(recommendations_command(args.recommendations_command))
        elif args.command == "alerts":
            print(alerts_listing(args.since, args.hours, args.all))
        elif args.command == "ab-report":
            print(ab_report(args.hour))
        elif args.command == "inspect":
            from recsys.explorer import inspect_command

            options = ("user", "item", "variant", "version", "keyspace", "sample", "k")
            print(inspect_command(**{o: getattr(args, o) for o in options}, as_json=args.json))
    except (RecsysError, ValueError) as exc:
        print(f"recsys: {exc}", file=sys.stderr)
        return 1
    return 0


def recommendations_command(command: str) -> str:
    """``status``: the serving version and every kept one; ``rollback``: switch to the previous one."""
    from feature_store.recommendations import NAMESPACE, rollback
    from feature_store.versioned import VersionedKeyspace
    from tasks.connections import redis_client

    client = redis_client(load_settings())
    keyspace = VersionedKeyspace(client, NAMESPACE)
    if command == "rollback":
        was = keyspace.current()
        try:
            now = rollback(client)
        except RuntimeError as exc:
            raise RecsysError(str(exc)) from exc
        return f"rec:current is now v{now} (was v{was})"
    current = keyspace.current()
    lines = [f"rec:current -> {'nothing published' if current is None else f'v{current}'}"]
    for version in keyspace.versions():
        info = keyspace.info(version)
        if info is not None:
            mark = "*" if version == current else " "
            lines.append(f"{mark} v{version}  {info.state:<9} dt={info.dt}  keys={info.keys:,}")
    return "\n".join(lines)


def recommendations_show(
    user: str | None, similar: str | None, segment: str | None, variant: str, k: int
) -> str:
    """One list of the serving version, as the lookup service reads it."""
    from feature_store.recommendations import RecommendationReader
    from tasks.connections import redis_client

    reader = RecommendationReader(redis_client(load_settings()), pointer_ttl_s=0.0)
    version = reader.current_version()
    if version is None:
        raise RecsysError("nothing is published yet (rec:current is not set): run recsys_publish")
    if user is not None:
        found = reader.user(variant, user)
        if found is None:
            return (
                f"rec:v{version}: no {variant!r} list for user {user!r} (the service would answer cold start)"
            )
        lines = [f"rec:v{version} user {user} ({variant}):"]
        lines += [
            f"  {n:>3}. {r.item_id:<12} {r.score:8.3f}  {r.channel:<12} {r.stage}"
            for n, r in enumerate(found[:k], 1)
        ]
        return "\n".join(lines)
    name = f"similar to {similar}" if similar is not None else f"segment {segment}"
    pairs = reader.similar(similar, k) if similar is not None else reader.segment(str(segment), k)
    if not pairs:
        return f"rec:v{version}: no list {name}"
    return "\n".join(
        [f"rec:v{version} {name}:", *(f"  {n:>3}. {i:<12} {s:8.3f}" for n, (i, s) in enumerate(pairs, 1))]
    )


def _registry_command(args: argparse.Namespace) -> int:
    if args.registry_command == "list":
        print(registry_list(args.model))
    elif args.registry_command == "show":
        print(registry_show(args.model, args.version))
    elif args.registry_command == "rollback":
        registry = _registry()
        was = registry.champion(args.model)
        now = registry.rollback(args.model, reason="rolled back from the command line")
        print(f"{args.model}: champion is now v{now} (was v{was})")
    elif args.registry_command == "verify":
        good, text = registry_verify(args.model, args.version)
        print(text)
        return 0 if good else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def alerts_listing(since: str | None, hours: int, everything: bool) -> str:
    """The alert records of ``hours`` hours from ``since`` (default: the last 24 hours)."""
    from datetime import UTC, datetime

    from tasks.context import RunContext
    from tasks.feedback import Hour, list_alerts

    settings = load_settings()
    start = (
        Hour.parse(since).start
        if since
        else Hour.parse(datetime.now(UTC).isoformat()).start - timedelta(hours=hours - 1)
    )
    end = start + timedelta(hours=hours)
    frame = list_alerts(RunContext(start.date(), settings), start, end, everything)
    what = "rule outcomes" if everything else "alerts"
    head = f"{len(frame)} {what} from {start:%Y-%m-%dT%H} to {end:%Y-%m-%dT%H} (lake: {settings.lake_root})"
    lines = [head]
    for row in frame.itertuples():
        lines.append(f"{row.hour}  {row.rule:<18} {row.status:<7} {row.message}")
    return "\n".join(lines)


def ab_report(hour: str) -> str:
    """The A/B report recsys_feedback wrote for ``hour``."""
    from tasks.feedback import REPORT, Hour

    settings, window = load_settings(), Hour.parse(hour)
    try:
        frame = lake.read_partition(
            settings.lake_root, window.dataset(REPORT), window.start.date()
        ).to_pandas()
        meta = lake.read_meta(settings.lake_root, window.dataset(REPORT), window.start.date())
    except PartitionMissingError:
        raise RecsysError(f"no A/B report for {window.label}: run recsys_feedback for that hour") from None
    lines = [f"A/B report of {window.label}: feedback since {meta['since']}, {meta['events']:,} events"]
    lines.append(
        f"{'experiment':<14} {'variant':<10} {'impr':>8} {'clicks':>7} {'purch':>6} {'CTR':>7} {'CVR':>7} "
        f"{'CTR lift':>9} {'p':>8}"
    )
    for r in frame.itertuples():
        lift = "" if r.ctr_lift != r.ctr_lift or r.ctr_lift is None else f"{r.ctr_lift:+.1%}"
        p = "" if r.ctr_p != r.ctr_p or r.ctr_p is None else f"{r.ctr_p:.3g}"
        lines.append(
            f"{r.experiment:<14} {r.variant:<10} {r.impressions:>8,} {r.clicks:>7,} {r.purchases:>6,} "
            f"{r.ctr:>7.4f} {r.cvr:>7.4f} {lift:>9} {p:>8}"
        )
    return "\n".join(lines)
