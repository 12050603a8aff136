"""Lineage pictures (血缘图) as inline SVG: a product's upstream tables and downstream tables and
readers, or one field's derivation down to its source columns, laid out in columns by distance
from the node asked about (sources left, readers right)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape

from govlake.lineage.graph import LineageGraph

NODE_W, NODE_H, COL_GAP, ROW_GAP = 210, 34, 70, 14


@dataclass(frozen=True)
class Picture:
    nodes: dict[str, int]            # node -> column (0 = the node asked about, <0 upstream)
    edges: list[tuple[str, str, str]]  # (from, to, title)
    focus: str


def product_picture(g: LineageGraph, table: str, depth: int = 3) -> Picture:
    """Upstream tables (left), the product, downstream tables and readers `job:<name>` (right)."""
    nodes, edges = {table: 0}, []
    for level, e in g.upstream(table, depth):
        nodes.setdefault(e.source, -level)
        edges.append((e.source, e.target, e.job))
    for level, e in g.downstream(table, depth):
        nodes.setdefault(e.target, level)
        edges.append((e.source, e.target, e.job))
    return Picture(nodes, list(dict.fromkeys(edges)), table)


def field_picture(g: LineageGraph, table: str, column: str, depth: int | None = None) -> Picture:
    """table.column and every column it is derived from, down to the source columns; each edge
    carries the derivation step's transformation text."""
    focus = f"{table}.{column}"
    nodes, edges = {focus: 0}, []
    for _, _, path in g.column_origins(table, column, depth):
        for i, step in enumerate(path):
            here = f"{step.table}.{step.column}"
            for st, sc in step.inputs:
                src = f"{st}.{sc}"
                nodes.setdefault(src, -(i + 1))
                edges.append((src, here, step.transformation or step.job))
    return Picture(nodes, list(dict.fromkeys(edges)), focus)


def render(pic: Picture, href=None, title: str = "") -> str:
    """The picture as SVG; href(node) -> a link for the node or None."""
    cols = defaultdict(list)
    for node, c in sorted(pic.nodes.items(), key=lambda kv: (kv[1], kv[0])):
        cols[c].append(node)
    order = sorted(cols)
    first = order[0] if order else 0
    rows = max((len(v) for v in cols.values()), default=1)
    width = len(order) * (NODE_W + COL_GAP) - COL_GAP + 20
    height = rows * (NODE_H + ROW_GAP) + 40
    pos = {}
    for c in order:
        col_nodes = cols[c]
        offset = (rows - len(col_nodes)) * (NODE_H + ROW_GAP) / 2
        for i, n in enumerate(col_nodes):
            pos[n] = (10 + (c - first) * (NODE_W + COL_GAP), 30 + offset + i * (NODE_H + ROW_GAP))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="lineage" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<title>{escape(title or pic.focus)}</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>']
    for a, b, label in pic.edges:
        if a not in pos or b not in pos:
            continue
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, y1, x2, y2 = ax + NODE_W, ay + NODE_H / 2, bx, by + NODE_H / 2
        if x2 <= x1:  # an edge back into an earlier column: route it below the boxes
            x1, x2 = ax + NODE_W / 2, bx + NODE_W / 2
            y1, y2 = ay + NODE_H, by + NODE_H
        mid = (x1 + x2) / 2
        out.append(f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
                   f'fill="none" stroke="#888" marker-end="url(#arrow)"><title>{escape(label or "")}</title></path>')
    for n, (x, y) in pos.items():
        reader = n.startswith("job:")
        fill = "#fde9c8" if n == pic.focus else ("#e8f4ea" if reader else "#e6eef8")
        text = escape(n if len(n) <= 30 else n[:14] + "…" + n[-15:])
        box = (f'<g class="node" data-node="{escape(n)}"><rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" '
               f'rx="6" fill="{fill}" stroke="#557"/><text x="{x + NODE_W / 2:.0f}" y="{y + NODE_H / 2 + 4:.0f}" '
               f'text-anchor="middle">{text}<title>{escape(n)}</title></text></g>')
        link = href(n) if href else None
        out.append(f'<a href="{escape(link)}">{box}</a>' if link else box)
    out.append("</svg>")
    return "".join(out)
