"""Server-rendered SVG charts (pure: strings in, markup out). No JavaScript, no inline style.

Colours come from the NHS identity palette and are set as SVG presentation attributes, which a
Content-Security-Policy without 'unsafe-inline' allows (it governs ``style`` attributes, not
``fill``). Every chart is paired on the page with a table of the same numbers, for screen readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

# NHS identity colours; each has at least 3:1 contrast against white (WCAG 2.2 SC 1.4.11).
PALETTE = ("#005eb8", "#007f3b", "#330072", "#d5281b", "#7c2855", "#425563", "#ae2573", "#003087")


@dataclass(frozen=True)
class Legend:
    label: str
    colour: str


def colours_for(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def stacked_bars(
    chart_id: str,
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[int]],
    *,
    width: int = 720,
    height: int = 220,
) -> str:
    """A stacked bar per day; the SVG's accessible name is ``title``."""
    colours = colours_for(list(series))
    left, bottom, top = 40, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    peak = max(totals, default=0) or 1
    step = plot_w / max(len(days), 1)
    bar_w = max(step * 0.7, 1.0)
    parts = [
        f'<svg id="{escape(chart_id)}" class="ig-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#4c6272"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11" fill="#212b32">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11" fill="#212b32">0</text>',
    ]
    for i, day in enumerate(days):
        x = left + i * step + (step - bar_w) / 2
        y: float = top + plot_h
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colours[name]}">'
                f"<title>{escape(day.strftime('%d %b'))}: {escape(name)} {value}</title></rect>"
            )
        if (len(days) - 1 - i) % 7 == 0:  # the last day, and every week back from it
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" '
                f'fill="#212b32">{escape(day.strftime("%d %b"))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(series: Sequence[str]) -> list[Legend]:
    colours = colours_for(list(series))
    return [Legend(name, colours[name]) for name in series]


def swatch(colour: str) -> str:
    """A small square of a legend colour, as SVG (no inline style needed)."""
    return (
        f'<svg class="ig-swatch" width="14" height="14" aria-hidden="true" focusable="false">'
        f'<rect width="14" height="14" fill="{escape(colour)}"/></svg>'
    )
