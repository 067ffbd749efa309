"""Server-rendered SVG charts: no JavaScript, nothing loaded from the internet.

`stacked_bars` draws one bar per category (a day), stacked by series (a geo), with a y axis
on "nice" steps, a legend, and a <title> on every segment so hovering shows the value. The console draws each
chart twice, wide and narrow (`NARROW`), and the stylesheet shows the one that fits the screen:
an SVG scales as a whole, so one drawn for 880 px would shrink its labels to 4 px on a phone.
"""

import math
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import mark_safe

GEO_COLORS = {"global": "#6e7781", "us": "#8a4b2d", "not_available": "#c8a98f"}
FALLBACK_COLORS = ("#3b7ea1", "#5b8c3a", "#a14a76", "#b08800")


def color_for(key, index):
    return GEO_COLORS.get(key) or FALLBACK_COLORS[index % len(FALLBACK_COLORS)]


def nice_max(value):
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above `value` (and 1 for nothing)."""
    value = float(value)
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def compact(value):
    """12_300_000 -> '12.3M' (axis labels)."""
    value = float(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


# the phone-sized drawing: fewer, larger labels on a canvas about as wide as a phone's card
NARROW = {"width": 360, "height": 220, "max_labels": 4, "css_class": "chart-narrow"}
LEGEND_LINE = 20


def stacked_bars(*, title, categories, category_labels, series, value, fmt=compact, axis_fmt=compact,
                 width=880, height=260, chart_id="chart", max_labels=12, css_class="chart-wide"):
    """SVG markup. `series` is [(key, label)], `value(category, key)` a number (0 if none).
    At most `max_labels` day labels; the legend wraps onto more lines when it is wider than the chart."""
    left, right, top, bottom = 64, 12, 16, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(Decimal(str(value(c, k))) for k, _ in series) for c in categories]
    top_value = nice_max(max(totals, default=0))
    n = max(len(categories), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1)
    legend, lx, line = [], left, 0
    for si, (key, label) in enumerate(series):
        needed = 30 + 8 * len(label)
        if lx > left and lx + needed > width:
            lx, line = left, line + 1
        legend.append((lx, line, key, si, label))
        lx += needed
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 28 + LEGEND_LINE * line}" '
        f'class="chart {css_class}" '
        f'role="img" aria-labelledby="{chart_id}-title" data-chart="{escape(chart_id)}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for i in range(5):
        v = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(axis_fmt(v))}</text>')
    label_every = max(1, math.ceil(n / max_labels))
    for ci, category in enumerate(categories):
        x = left + ci * slot + (slot - bar_w) / 2
        y = top + plot_h
        for si, (key, label) in enumerate(series):
            v = float(value(category, key) or 0)
            if v <= 0:
                continue
            h = plot_h * v / top_value
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{color_for(key, si)}" data-series="{escape(key)}">'
                f'<title>{escape(category_labels[ci])} · {escape(label)}: {escape(fmt(value(category, key)))}</title></rect>'
            )
        if ci % label_every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="axis">'
                         f'{escape(category_labels[ci])}</text>')
    for lx, line, key, si, label in legend:
        y = height + 8 + LEGEND_LINE * line
        parts.append(f'<rect x="{lx}" y="{y}" width="12" height="12" fill="{color_for(key, si)}"/>')
        parts.append(f'<text x="{lx + 18}" y="{y + 10}" class="legend">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
