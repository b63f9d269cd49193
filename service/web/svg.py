"""Server-rendered SVG charts: no JavaScript, no chart library, readable without colour.

Every chart is an <svg role="img"> with a <title> and <desc> naming what it shows; the
pages also print the same numbers as a table. Text is escaped here because the SVG is
inserted into the page as markup. Colours come from CSS classes (the page's CSP allows
no inline styles).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # a class in web.css giving the fill colour
    values: list[int]


def _nice_max(value: float) -> int:
    """A round axis maximum at or above `value` (5, 10, 20, 50...: five whole ticks)."""
    if value <= 5:
        return 5
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _open(title: str, desc: str, width: int, height: int) -> tuple[str, str]:
    n = next(_ids)
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="ct{n} cd{n}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="ct{n}">{escape(title)}</title><desc id="cd{n}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def grouped_bars(
    *, title: str, labels: list[str], series: list[Series], width: int = 760, height: int = 260
) -> Markup:
    """One group of bars per label (e.g. a day), one bar per series in each group."""
    left, right, top, bottom = 48, 8, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    desc = "; ".join(f"{s.name}: {sum(s.values)} in total" for s in series)
    head, tail = _open(title, desc, width, height)
    parts = [head, *_y_axis(left, top, plot_w, plot_h, top_value)]
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    for i, label in enumerate(labels):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / top_value
            x, y = x0 + j * bar_w, top + plot_h - h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)} {escape(s.name)}: {value}</title></rect>'
            )
        if len(labels) <= 16 or i % max(len(labels) // 8, 1) == 0:
            cx = left + (i + 0.5) * group_w
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 - every text and attribute above is escaped


def _y_axis(left: int, top: int, plot_w: int, plot_h: int, top_value: int) -> list[str]:
    parts = []
    for k in range(6):
        value = top_value * k / 5
        y = top + plot_h - plot_h * k / 5
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>')
    return parts


def horizontal_bars(
    *, title: str, rows: list[tuple[str, int]], css: str | list[str] = "s-bar", width: int = 760
) -> Markup:
    """One labelled bar per row, largest scale first; `css` may give a class per row."""
    row_h, left, right, top = 26, 220, 60, 8
    height = top * 2 + row_h * max(len(rows), 1)
    top_value = max((v for _, v in rows), default=0) or 1
    desc = "; ".join(f"{label}: {value}" for label, value in rows) or "no data"
    head, tail = _open(title, desc, width, height)
    parts = [head]
    for i, (label, value) in enumerate(rows):
        cls = css[i] if isinstance(css, list) else css
        y = top + i * row_h
        w = (width - left - right) * value / top_value
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(short)}</text>'
            f'<rect class="{escape(cls)}" x="{left}" y="{y + 4}" width="{w:.1f}" '
            f'height="{row_h - 8}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 17}">{value}</text>'
        )
    if not rows:
        parts.append(f'<text x="{left}" y="{top + 17}">No data in this period.</text>')
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 - every text and attribute above is escaped
