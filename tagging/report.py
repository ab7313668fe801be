"""A small self-contained HTML report of one tagging run: numbers, two SVG bar charts, tables.

Everything is inline (no scripts, no external stylesheets or fonts), so the file can be
opened from the lake or attached to a ticket as it is.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagging.analytics import TagSummary

_PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
_UNTAGGED_SHOWN = 200


def render_report(summary: TagSummary, title: str) -> str:
    """The report as an HTML document."""
    dims = list(summary.coverage_by_dimension)
    colour = {d: _PALETTE[i % len(_PALETTE)] for i, d in enumerate(dims)}
    coverage_bars = [
        (summary.dimension_names.get(d, d), share, colour[d])
        for d, share in summary.coverage_by_dimension.items()
    ]
    dist: list[tuple[Any, ...]] = list(
        summary.distribution[["tag", "name", "dimension", "items", "share"]].itertuples(
            index=False, name=None
        )
    )
    tag_bars = [
        (f"{tag} {name}", float(share), colour.get(str(dim), _PALETTE[0]))
        for tag, name, dim, _, share in dist
    ]
    rows = "".join(
        f"<tr><td>{escape(str(tag))}</td><td>{escape(str(name))}</td><td>{escape(str(dim))}</td>"
        f"<td class=n>{int(items)}</td><td class=n>{float(share):.1%}</td></tr>"
        for tag, name, dim, items, share in dist
    )
    shown = summary.untagged[:_UNTAGGED_SHOWN]
    more = len(summary.untagged) - len(shown)
    untagged = (
        "<p>Every item has at least one tag.</p>"
        if not summary.untagged
        else "<ul class=ids>"
        + "".join(f"<li>{escape(i)}</li>" for i in shown)
        + "</ul>"
        + (f"<p>... and {more} more.</p>" if more > 0 else "")
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}}
h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}
.kpi{{display:inline-block;margin:0 24px 8px 0}} .kpi b{{display:block;font-size:20px}}
table{{border-collapse:collapse}} td,th{{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}}
td.n{{text-align:right}} ul.ids{{columns:4;font-family:monospace}}
</style></head><body>
<h1>{escape(title)}</h1>
<div class=kpi>items<b>{summary.items}</b></div>
<div class=kpi>tag rows<b>{summary.rows}</b></div>
<div class=kpi>items with a tag<b>{summary.coverage_any:.1%}</b></div>
<div class=kpi>with a price position<b>{summary.coverage_price_position:.1%}</b></div>
<div class=kpi>with a tier<b>{summary.coverage_basic_tier:.1%}</b></div>
<div class=kpi>untagged<b>{len(summary.untagged)}</b></div>
<h2>Coverage by dimension (share of items with at least one tag of the dimension)</h2>
{bar_chart(coverage_bars)}
<h2>Tag distribution (share of items carrying each tag)</h2>
{bar_chart(tag_bars)}
<table><tr><th>tag</th><th>name</th><th>dimension</th><th>items</th><th>share</th></tr>{rows}</table>
<h2>Untagged items ({len(summary.untagged)})</h2>
{untagged}
</body></html>
"""


def bar_chart(bars: list[tuple[str, float, str]], width: int = 900, bar: int = 16) -> str:
    """Horizontal bars of shares in [0, 1] as an inline SVG, one labelled row per bar."""
    label_w, gap = 260, 4
    plot_w = width - label_w - 60
    height = len(bars) * (bar + gap) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'font-family="system-ui,sans-serif" font-size="12">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 14}" stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 2}" text-anchor="middle" fill="#777">{tick:.0%}</text>')
    for i, (label, share, colour) in enumerate(bars):
        y = i * (bar + gap)
        w = max(0.0, min(1.0, share)) * plot_w
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
            f"<title>{escape(label)}: {share:.1%}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 4}" fill="#333">{share:.1%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
