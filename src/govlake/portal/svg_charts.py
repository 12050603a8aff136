"""Charts as inline SVG, drawn on the server (no script in the page): horizontal bars for
values per label, a line for values per day. Every text is escaped here; templates insert the
returned markup as is."""

from __future__ import annotations

from html import escape

FONT = 'font-family="sans-serif" font-size="12"'
PALETTE = ["#2f6db5", "#d9822b", "#3a9a5b", "#b53f3f", "#7a5bb5"]


def _fmt(v: float, percent: bool) -> str:
    if percent:
        return f"{v * 100:.1f}%"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def bar_chart(items: list[tuple[str, float | None]], *, title: str, percent: bool = False,
              width: int = 640, bar: int = 18) -> str:
    """Horizontal bars, one per (label, value); None is drawn as 无数据 (no data)."""
    label_w, pad, top = 220, 8, 28
    height = top + max(1, len(items)) * (bar + pad) + pad
    values = [v for _, v in items if v is not None]
    top_value = max(values, default=0) or 1
    if percent:
        top_value = max(top_value, 1.0)
    scale = (width - label_w - 90) / top_value
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" {FONT}><title>{escape(title)}</title>',
           f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>']
    if not items:
        out.append(f'<text x="4" y="{top + 14}" fill="#777">无数据 (no data)</text>')
    for i, (label, v) in enumerate(items):
        y = top + i * (bar + pad)
        out.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{escape(str(label))[:40]}</text>')
        if v is None:
            out.append(f'<text x="{label_w + 4}" y="{y + bar - 5}" fill="#777">无数据</text>')
            continue
        w = max(1.0, v * scale)
        out.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{PALETTE[0]}">'
                   f'<title>{escape(str(label))}: {_fmt(v, percent)}</title></rect>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}">{_fmt(v, percent)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(series: dict[str, list[tuple[str, float | None]]], *, title: str, percent: bool = False,
               width: int = 640, height: int = 240) -> str:
    """One line per series over shared x labels (dates as text, in order); a legend on top."""
    left, right, top, bottom = 56, 16, 40, 36
    xs = sorted({x for pts in series.values() for x, _ in pts})
    values = [v for pts in series.values() for _, v in pts if v is not None]
    lo = 0.0
    hi = (max(values, default=0) or 1) if not percent else max(1.0, max(values, default=0))
    plot_w, plot_h = width - left - right, height - top - bottom
    x_of = {x: left + (plot_w * i / max(1, len(xs) - 1) if len(xs) > 1 else plot_w / 2) for i, x in enumerate(xs)}

    def y_of(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" {FONT}><title>{escape(title)}</title>',
           f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>']
    for frac in (0, 0.5, 1):
        v = lo + (hi - lo) * frac
        out.append(f'<text x="{left - 4}" y="{y_of(v) + 4:.1f}" text-anchor="end" fill="#555">{_fmt(v, percent)}</text>')
    if not values:
        out.append(f'<text x="{left + 8}" y="{top + 20}" fill="#777">无数据 (no data)</text>')
    step = max(1, len(xs) // 6)
    for i, x in enumerate(xs):
        if i % step == 0 or (i == len(xs) - 1 and i % step >= step / 2):  # last label, unless crowded
            out.append(f'<text x="{x_of[x]:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#555">{escape(x)}</text>')
    for k, (name, pts) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{left + k * 150}" y="24" width="10" height="10" fill="{color}"/>'
                   f'<text x="{left + k * 150 + 14}" y="33">{escape(name)}</text>')
        coords = [(x_of[x], y_of(v), x, v) for x, v in sorted(pts) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _, _ in coords)
            out.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for cx, cy, x, v in coords:
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}">'
                       f'<title>{escape(name)} {escape(x)}: {_fmt(v, percent)}</title></circle>')
    out.append("</svg>")
    return "".join(out)
