"""Lineage queries over OpenLineage events: which tables feed a table, which tables and consumers
use it, and where a column comes from (following columnLineage facets to the source columns).

Tables are named by their symlink logical name (`bronze.petitions`); a dataset without a symlink
is named from its lake path (`.../tables/<layer>/<name>` -> `layer.name`, `.../landing/<name>` ->
`landing.name`). A run with inputs and no outputs (API reads `api.<consumer>`, quality checks
`quality.<table>`) is a *reader*: it appears downstream as `job:<name>`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Edge:
    source: str  # table
    target: str  # table, or "job:<name>" for a reader
    job: str
    run_id: str
    time: str


@dataclass
class ColumnStep:
    table: str
    column: str
    inputs: list[tuple[str, str]]
    transformation: str | None
    job: str


@dataclass
class LineageGraph:
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)  # latest run per (source, target)
    columns: dict[tuple[str, str], ColumnStep] = field(default_factory=dict)  # (table, col) -> latest step
    tables: set[str] = field(default_factory=set)

    # -- building -----------------------------------------------------------------------------
    def add_event(self, ev: dict) -> None:
        if ev.get("eventType") not in ("COMPLETE", "RUNNING"):
            return  # START repeats COMPLETE's datasets; FAIL made nothing
        job, run_id, when = ev["job"]["name"], ev["run"]["runId"], ev.get("eventTime", "")
        names = {}
        for ds in [*ev.get("inputs", []), *ev.get("outputs", [])]:
            names[(ds["namespace"], ds["name"])] = table_name(ds)
        ins = [table_name(d) for d in ev.get("inputs", [])]
        outs = [table_name(d) for d in ev.get("outputs", [])]
        self.tables.update(ins + outs)
        targets = outs or [f"job:{job}"]
        for s in ins:
            for t in targets:
                old = self.edges.get((s, t))
                if old is None or old.time <= when:
                    self.edges[(s, t)] = Edge(s, t, job, run_id, when)
        for ds in ev.get("outputs", []):
            out = table_name(ds)
            for col, spec in ((ds.get("facets") or {}).get("columnLineage") or {}).get("fields", {}).items():
                src = [(names.get((f["namespace"], f["name"])) or _name_from_path(f["name"]), f["field"])
                       for f in spec.get("inputFields", [])]
                self.columns[(out, col)] = ColumnStep(out, col, src, _description(spec), job)

    # -- queries ------------------------------------------------------------------------------
    def upstream(self, table: str, depth: int | None = None) -> list[tuple[int, Edge]]:
        return self._walk(table, depth, up=True)

    def downstream(self, table: str, depth: int | None = None) -> list[tuple[int, Edge]]:
        return self._walk(table, depth, up=False)

    def readers(self, table: str) -> list[Edge]:
        """Who used it: jobs that read the table without writing a table (API consumers, checks)."""
        return [e for e in self.edges.values() if e.source == table and e.target.startswith("job:")]

    def _walk(self, start: str, depth: int | None, up: bool) -> list[tuple[int, Edge]]:
        by = defaultdict(list)
        for e in self.edges.values():
            by[e.target if up else e.source].append(e)
        seen, out, frontier, level = {start}, [], [start], 1
        while frontier and (depth is None or level <= depth):
            nxt = []
            for node in frontier:
                for e in sorted(by[node], key=lambda e: (e.source, e.target)):
                    other = e.source if up else e.target
                    out.append((level, e))
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier, level = nxt, level + 1
        return out

    def column_origins(self, table: str, column: str, depth: int | None = None) -> list[tuple[str, str, list[ColumnStep]]]:
        """Source columns of table.column: [(table, column, path)], path = the derivation steps
        from the asked column down to the source (each with its transformation text)."""
        out: list[tuple[str, str, list[ColumnStep]]] = []

        def walk(t: str, c: str, path: list[ColumnStep], seen: frozenset):
            step = self.columns.get((t, c))
            if step is None or not step.inputs or (t, c) in seen or (depth is not None and len(path) >= depth):
                if path:
                    out.append((t, c, path))
                return
            for st, sc in step.inputs:
                walk(st, sc, [*path, step], seen | {(t, c)})

        walk(table, column, [], frozenset())
        return out


def _description(spec: dict) -> str | None:
    """How a column is derived: its input fields' transformation descriptions (spec 1-2-0), or
    the deprecated field-level transformationDescription of older events."""
    texts = [t["description"] for f in spec.get("inputFields", []) for t in f.get("transformations") or []
             if t.get("description")]
    if texts:
        return "; ".join(dict.fromkeys(texts))
    return spec.get("transformationDescription")


def table_name(ds: dict) -> str:
    for ident in ((ds.get("facets") or {}).get("symlinks") or {}).get("identifiers", []):
        if ident.get("name"):
            return ident["name"]
    return _name_from_path(ds["name"])


def _name_from_path(name: str) -> str:
    parts = Path(name).parts
    if len(parts) >= 2 and parts[-2] == "landing":
        return f"landing.{parts[-1]}"
    if len(parts) >= 2:
        return f"{parts[-2]}.{parts[-1]}"
    return name


def load_graph(path: Path | str | None = None, url: str | None = None) -> LineageGraph:
    """From the JSON-lines event file (default) or, given a Marquez URL, its raw event log."""
    g = LineageGraph()
    for ev in (_marquez_events(url) if url else _file_events(Path(path))):
        g.add_event(ev)
    return g


def _file_events(path: Path):
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _marquez_events(url: str, page: int = 1000):
    """Marquez keeps the raw OpenLineage events at /api/v1/events/lineage (newest first)."""
    import httpx

    offset = 0
    while True:
        r = httpx.get(f"{url.rstrip('/')}/api/v1/events/lineage", params={"limit": page, "offset": offset}, timeout=30)
        r.raise_for_status()
        events = r.json().get("events", [])
        yield from reversed(events)
        if len(events) < page:
            return
        offset += page
