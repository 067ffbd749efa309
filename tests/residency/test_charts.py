"""The server-rendered charts (residency.charts): readable on a phone as on a desktop."""

import re
from datetime import date, timedelta

from residency.charts import NARROW, stacked_bars

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(30)]
SERIES = [("global", "global"), ("us", "us"), ("not_available", "not available (older models)")]


def chart(**kw):
    return str(stacked_bars(title="Tokens", categories=DAYS, category_labels=[f"Mar {d.day}" for d in DAYS],
                            series=SERIES, value=lambda day, geo: 1000, **kw))


def day_labels(svg):
    return re.findall(r'class="axis">(Mar \d+)</text>', svg)


def test_the_narrow_drawing_has_few_day_labels_and_a_phone_sized_canvas():
    wide, narrow = chart(), chart(**NARROW)
    assert len(day_labels(wide)) <= 12 and len(day_labels(narrow)) <= 4
    assert 'viewBox="0 0 360 ' in narrow and "chart-narrow" in narrow and "chart-wide" in wide


def test_the_legend_wraps_instead_of_running_off_the_canvas():
    narrow = chart(**NARROW)
    xs = [int(x) for x in re.findall(r'<text x="(\d+)" y="\d+" class="legend">', narrow)]
    lengths = [len(label) for _, label in SERIES]
    assert all(x + 8 * n <= 360 for x, n in zip(xs, lengths, strict=True))
    assert len(set(re.findall(r'y="(\d+)" class="legend"', narrow))) == 2  # two lines of legend
