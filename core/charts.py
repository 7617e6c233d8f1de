"""Charts drawn on the server as SVG: several series over the same x labels, each drawn as
bars (grouped side by side) or as a line with a point per value, with axes, labels, a
legend and an accessible ``<title>``/``<desc>``. No script, nothing from outside.

Every bar is a ``<rect class="bar">`` and every point a ``<circle class="point">``, each
with ``data-series``, ``data-x`` and ``data-value`` and a ``<title>`` a mouse or screen
reader reads; the figures behind the chart are the table the page shows beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

# Okabe-Ito: told apart with the common kinds of colour blindness
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36
LEGEND_ROW = 20


@dataclass(frozen=True, slots=True)
class Line:
    """One series: its name in the legend, one value per x label, ``bar`` or ``line``."""

    label: str
    values: Sequence[float]
    kind: str = "line"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round y-axis ticks from 0 to at least ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step >= 1:
        step = math.ceil(step)
    n = math.ceil(top / step)
    return [round(i * step, 6) for i in range(n + 1)]


def _num(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def chart(x_labels: Sequence[str], series: Sequence[Line], *, title: str, desc: str,
          chart_id: str = "chart", width: int = 760, height: int = 320,
          y_label: str = "") -> str:
    """The SVG markup (every text escaped). ``chart_id`` keeps the ids of several charts
    on a page apart."""
    n = max(len(x_labels), 1)
    legend_h = LEGEND_ROW * math.ceil(len(series) / 3) if series else 0
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM - legend_h
    values = [v for s in series for v in s.values]
    ticks = nice_ticks(max(values, default=0))
    top = ticks[-1] or 1
    slot = plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    def x_mid(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    t, d = f"{chart_id}-title", f"{chart_id}-desc"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
           f'viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-labelledby="{escape(t)} {escape(d)}">',
           f'<title id="{escape(t)}">{escape(title)}</title>',
           f'<desc id="{escape(d)}">{escape(desc)}</desc>',
           '<g class="axis y-axis" font-size="11" fill="#333">']
    for v in ticks:
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{_num(v)}</text>')
    if y_label:
        out.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>')
    out.append('</g><g class="axis x-axis" font-size="11" fill="#333">')
    base = TOP + plot_h
    out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}" '
               'stroke="#333"/>')
    every = max(1, math.ceil(n / max(1, plot_w // 56)))  # labels that do not overlap
    for i, text in enumerate(x_labels):
        if i % every == 0:
            out.append(f'<text class="x-label" x="{x_mid(i):.1f}" y="{base + 16}" '
                       f'text-anchor="middle">{escape(text)}</text>')
    out.append('</g>')
    bars = [s for s in series if s.kind == "bar"]
    bar_w = slot * 0.8 / max(len(bars), 1)
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        name = escape(s.label)
        out.append(f'<g class="series series-{s.kind}" data-series="{name}" fill="{colour}">')
        if s.kind == "bar":
            j = bars.index(s)
            for i, v in enumerate(s.values):
                x0 = LEFT + slot * i + slot * 0.1 + bar_w * j
                out.append(f'<rect class="bar" x="{x0:.1f}" y="{y(v):.1f}" '
                           f'width="{max(bar_w - 1, 1):.1f}" height="{base - y(v):.1f}" '
                           f'data-series="{name}" data-x="{escape(x_labels[i])}" '
                           f'data-value="{_num(v)}"><title>{name}, '
                           f'{escape(x_labels[i])}: {_num(v)}</title></rect>')
        else:
            points = " ".join(f"{x_mid(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                       'stroke-width="2"/>')
            for i, v in enumerate(s.values):
                out.append(f'<circle class="point" cx="{x_mid(i):.1f}" cy="{y(v):.1f}" r="3" '
                           f'data-series="{name}" data-x="{escape(x_labels[i])}" '
                           f'data-value="{_num(v)}"><title>{name}, '
                           f'{escape(x_labels[i])}: {_num(v)}</title></circle>')
        out.append('</g>')
    out.append('<g class="legend" font-size="12" fill="#222">')
    for k, s in enumerate(series):
        lx = LEFT + (k % 3) * (plot_w / 3)
        ly = height - legend_h + LEGEND_ROW * (k // 3) + 4
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{lx:.1f}" y="{ly:.1f}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{lx + 18:.1f}" y="{ly + 11:.1f}">'
                   f'{escape(s.label)}</text>')
    out.append('</g></svg>')
    return "".join(out)
