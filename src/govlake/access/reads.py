"""One way to authorise a read of a data product (读取授权规则), for every path that serves rows:
the API (govlake.api.app), the portal (govlake.portal.grant_reads) and SQL (govlake.api.sql_reads).

Plain Python: a refusal raises AccessDenied(status, message) with the HTTP status it maps to; the
caller audits it (the API's middleware, the portal's own audit rows). The rules:
  grant      a consumer needs an active grant, except for a 公开 product (公开 columns only)
  columns    the grant's columns (plus the key), levels from the catalog mask the rest (***)
  filters    key columns only, never a masked one (the rows returned would tell its values)
  row scope  the grant's rows only: added to the filters, a filter outside it is refused
  daily cap  the grant's rows per day (PUBLIC_DAILY_ROWS without a grant), counted in the audit
  rate       the grant's requests per second and burst (限流, govlake.access.rate_limits): admit()
  text       tag evidence quoting a profile value the reader may not see is masked too
"""

from __future__ import annotations

import re

import math
import os
import threading
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from govlake import release
from govlake.access import rate_limits, read_runs
from govlake.access.audit import rows_served_today
from govlake.access.grants import Grant, default_rate
from govlake.access.levels import hidden_profile_fields, masked_columns, tags_reading
from govlake.products import Product, load_products

MASK = "***"
MAX_FILTER_CHARS = 128
MAX_COLUMNS_PARAM = 4000
PUBLIC_DAILY_ROWS = 5000      # a consumer reading a 公开 product without a grant, per product and day
PROFILE, TAGS = "gold.enterprise_profile", "gold.enterprise_tags"


class AccessDenied(Exception):
    """A refused read: status is the HTTP status it answers (400/403/404/422/429). reason: a
    machine-readable cause for the audit (`rate_limited`); retry_after: seconds (429 of the rate)."""

    def __init__(self, status: int, message: str, *, reason: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.message, self.reason, self.retry_after = status, message, reason, retry_after

    @property
    def headers(self) -> dict | None:
        """The HTTP headers of the refusal (Retry-After in whole seconds, at least 1)."""
        return None if self.retry_after is None else {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


@dataclass
class Page:
    product: str
    label: str
    version: int | None
    total: int
    offset: int
    columns: list[str]
    rows: list[dict]
    masked: list[str] = field(default_factory=list)

    @property
    def masked_columns(self) -> list[str]:
        return self.masked

    def as_dict(self) -> dict:
        return {"product": self.product, "label": self.label, "version": self.version, "total": self.total,
                "offset": self.offset, "count": len(self.rows), "masked_columns": self.masked,
                "columns": self.columns, "rows": self.rows}


def clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def typed(col: str, raw: str, typ: pa.DataType):
    """A filter's text in the column's type (400 when it is not one)."""
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return raw
    try:
        return pc.cast(pa.scalar(raw), typ).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise AccessDenied(400, f"{col}={raw!r} is not a valid {typ} (取值格式错误)")


def version_exists(table_path, version: int) -> bool:
    """Within the table's history, from the log's file names: no time travel to find out (a
    huge version would make delta-rs replay the log looking for it)."""
    return (table_path / "_delta_log" / f"{version:020d}.json").is_file()


def masked_of(p: Product, g: Grant | None, names: list[str], settings) -> set[str]:
    return set(masked_columns(p, g, names, settings))


def hidden_text_fields(g: Grant | None, settings) -> frozenset[str]:
    """Profile fields whose values must not appear in text this reader gets."""
    prof = load_products(settings).get(PROFILE)
    return hidden_profile_fields(prof, g, settings) if prof else frozenset()


def sandbox_drafts(g: Grant | None, texts: list[str], settings) -> list[dict]:
    """The drafts of a policy-sandbox run (政策沙盘推演), parsed, once the grant allows the run: the
    report covers every enterprise, so the grant on the profile must have no row scope, and its
    curves and lists would reveal a masked field a draft names, so no draft may name one."""
    import yaml

    if g is None or g.row_scope:
        raise AccessDenied(403, "the sandbox evaluates every enterprise: it needs a grant on the profile "
                                "without row scope (沙盘推演需一企一画像全量授权)")
    named = {w for t in texts for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", t)}
    hidden = sorted(named & hidden_text_fields(g, settings))
    if hidden:
        raise AccessDenied(403, f"the draft reads fields this grant masks: {', '.join(hidden)} (草案涉及未授权的敏感字段)")
    docs = []
    for text in texts:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise AccessDenied(400, f"the draft is not valid YAML (草案格式错误): {str(e)[:200]}")
        if not isinstance(doc, dict):
            raise AccessDenied(400, "the draft must be a YAML mapping (草案须为政策条目)")
        docs.append(doc)
    return docs


def grant_rate(p: Product, g: Grant | None) -> tuple[float, int]:
    """(requests per second, burst) a read under g may make: the grant's; for a grant made before
    rates were stored, the product's or the platform's default; without a grant, PUBLIC_RATE."""
    if g is None:
        return rate_limits.PUBLIC_RATE
    if g.rate_per_s is not None and g.rate_burst is not None:
        return g.rate_per_s, g.rate_burst
    return default_rate(p)


def admit(store, consumer: str, p: Product, g: Grant | None) -> None:
    """Count one request against the grant's rate (限流); AccessDenied(429, reason rate_limited,
    retry_after) past it. The buckets are shared by every worker process of the lake's API."""
    rate, burst = grant_rate(p, g)
    key = f"grant:{g.id}" if g is not None else f"public:{consumer}:{p.name}"
    _take(store, key, rate, burst, f"{p.name} (burst {burst}) under {'grant ' + str(g.id) if g is not None else 'no grant'}",
          consumer)


def admit_route(store, consumer: str, route_class: str) -> None:
    """Count one request of a route that is not a product read (企业服务, 民生诉求分拨, 政策沙盘推演,
    数据沙箱: rate_limits.ROUTE_CLASSES) against the consumer's rate for that class; the same
    buckets, refusal and audit as admit()."""
    rate, burst, label = rate_limits.ROUTE_CLASSES[route_class]
    _take(store, f"route:{route_class}:{consumer}", rate, burst, f"{label} (route class {route_class}, burst {burst})",
          consumer)


def _take(store, key: str, rate: float, burst: int, what: str, consumer: str) -> None:
    try:
        rate_limits.limiter_for(store).take(key, rate, burst)
    except rate_limits.RateLimited as e:
        refusal = AccessDenied(
            429, f"{rate_limits.REASON}: {consumer} may make {rate:g} requests per second to {what}; "
                 f"retry after {e.retry_after:.2f} s (请求过于频繁，已限流)", reason=rate_limits.REASON,
            retry_after=e.retry_after)
        rate_limits.note_denial(e.retry_after, refusal.message)
        raise refusal


def daily_remaining(store, consumer: str, p: Product, g: Grant | None) -> int:
    cap = g.daily_rows if g is not None else PUBLIC_DAILY_ROWS
    left = cap - rows_served_today(store, consumer, p.name)
    if left <= 0:
        raise AccessDenied(429, f"{consumer} has read its {cap} rows of {p.name} for today (今日行数已用完)")
    return left


def check_filters(p: Product, g: Grant | None, filters: dict[str, str], names: list[str] | None, settings) -> dict:
    """The filters plus the grant's row scope (column -> value or list of values)."""
    bad = [k for k in filters if k not in p.contract.key]
    if bad:
        raise AccessDenied(400, f"filters must be key columns of {p.name} ({p.contract.key}), got {bad[:5]}")
    for col, raw in filters.items():
        if len(raw) > MAX_FILTER_CHARS or any(ord(ch) < 32 for ch in raw):
            raise AccessDenied(400, f"filter {col} is longer than {MAX_FILTER_CHARS} characters or has control characters")
    hidden = masked_of(p, g, list(filters), settings)
    if hidden:
        # filtering on a masked column would tell its values by which rows come back
        raise AccessDenied(403, f"{sorted(hidden)} are masked for this grant: no filtering on them (脱敏字段不可作筛选条件)")
    where: dict[str, object] = dict(filters)
    for col, values in row_scope(g).items():
        if names is not None and col not in names:
            raise AccessDenied(403, f"the grant's row scope is on {col}, which {p.name} has no column for (授权范围不适用)")
        if col in filters:
            if filters[col] not in values:
                raise AccessDenied(403, f"{col}={filters[col]!r} is outside the grant's rows (超出授权数据范围)")
        elif p.view:
            raise AccessDenied(403, f"the grant covers {col} in {values}: filter on {col} (须按授权范围筛选)")
        else:
            where[col] = list(values)
    return where


def row_scope(g: Grant | None) -> dict[str, list]:
    return dict((g.row_scope or {}) if g is not None else {})


def granted_columns(p: Product, g: Grant | None, names: list[str]) -> list[str]:
    """Of the product's columns, those the grant lists (all without a column list), key included."""
    if g is None or g.columns is None:
        return list(names)
    allowed = set(g.columns) | set(p.contract.key)
    return [c for c in names if c in allowed]


def served_columns(p: Product, g: Grant | None, names: list[str], wanted: str | None) -> list[str]:
    cols = granted_columns(p, g, names)
    if wanted:
        if len(wanted) > MAX_COLUMNS_PARAM:
            raise AccessDenied(422, f"columns= is longer than {MAX_COLUMNS_PARAM} characters")
        ask = [c.strip() for c in wanted.split(",") if c.strip()]
        unknown = [c for c in ask if c not in names]
        if unknown:
            raise AccessDenied(400, f"{p.name} has no columns {unknown[:5]}")
        outside = [c for c in ask if c not in cols]
        if outside:
            raise AccessDenied(403, f"columns {outside[:5]} are not in the grant (未授权字段)")
        keys = [k for k in p.contract.key if k in names and k not in ask]
        cols = keys + ask
    return cols


def visible_columns(p: Product, g: Grant | None, names: list[str], settings) -> list[str]:
    """The columns a reader may use at all (select, filter, group, join): granted and not masked."""
    cols = granted_columns(p, g, names)
    hidden = masked_of(p, g, cols, settings)
    return [c for c in cols if c not in hidden]


def mask_rows(rows: list[dict], masked: set[str]) -> list[dict]:
    return [{k: (MASK if k in masked else clean(v)) for k, v in r.items()} for r in rows]


def guard_text(p: Product, g: Grant | None, rows: list[dict], settings) -> list[str]:
    """Tag evidence quotes profile values (字段=取值): masked in the rows of tags whose rule reads
    a field this reader may not see. Returns the columns so masked (for masked_columns)."""
    if p.name != TAGS or not rows or "evidence" not in rows[0]:
        return []
    tags = tags_reading(hidden_text_fields(g, settings), settings)
    hit = False
    for r in rows:
        if r.get("tag_id") in tags and r.get("evidence") is not None:
            r["evidence"], hit = MASK, True
    return ["evidence"] if hit else []


def served_version(lake, p: Product, version: int | None) -> int:
    """The version a read serves: the asked one if the table has it, else the current release's
    (发布版本), never "latest of each table" (a build that crashed between two commits is not
    served half-published, govlake.release). 404 when unpublished or unknown."""
    if _log_stamp(lake, p.name) is None:  # no _delta_log directory: not a table (yet)
        raise AccessDenied(404, f"{p.name} ({p.label}) has not been published yet (尚未发布)")
    if version is not None and not version_exists(table_path(lake, p.name), version):
        raise AccessDenied(404, f"{p.name} has no version {version} (无此版本)")
    v = released_version(lake, p.name) if version is None else version
    if v is None:
        raise AccessDenied(404, f"{p.name} ({p.label}) has not been published yet (尚未发布)")
    return v


def read_rows(lake, store, p: Product, consumer: str, g: Grant | None, filters: dict[str, str], *, version: int,
              limit: int = 100, offset: int = 0, columns: str | None = None, whole: bool = False) -> Page:
    """A page of a stored product's rows at `version` as this grant may see them. whole=True:
    every row or a refusal (a dashboard drawn from part of a table would be wrong)."""
    settings = lake.settings
    admit(store, consumer, p, g)
    try:
        schema = schema_of(lake, p.name, version)
    except Exception:  # e.g. a version whose files a vacuum removed
        raise AccessDenied(404, f"{p.name} has no version {version} (无此版本)")
    where = check_filters(p, g, filters, schema.names, settings)
    for col, raw in where.items():  # the filters, and the row scope's values, in the column's type
        typ = schema.field(col).type
        where[col] = [typed(col, v, typ) for v in raw] if isinstance(raw, list) else typed(col, raw, typ)
    cols, masked = _plan(p, g, schema, version, columns, settings)
    left = daily_remaining(store, consumer, p, g)
    # masked columns are not read (nor, from a snapshot in memory, taken): their values, and
    # whether they are null, never reach the page
    read = [c for c in cols if c not in masked]
    keyed = None if whole else keyed_positions(lake, p, version, where)
    if keyed is not None:  # one key's rows from memory: each value taken from its column, no table built
        snap, at = keyed
        total = len(at)
        rows = [snap.row(i, cols, masked) for i in at[offset:offset + min(limit, left)]]
        text_masked = guard_text(p, g, rows, settings)
        return Page(p.name, p.label, version, total, offset, cols, rows,
                    [c for c in cols if c in masked] + text_masked)
    else:
        table = keyed_arrow(lake, p, version, read, where)
        total = table.num_rows
        if whole:
            if total > left:
                raise AccessDenied(429, f"{consumer} may read {left} more rows of {p.name} today, the table has "
                                        f"{total} (超出每日行数上限)")
            offset, limit = 0, total
        rows = table.slice(offset, min(limit, left)).to_pylist()
    rows = [{c: r.get(c) for c in cols} for r in rows]
    text_masked = guard_text(p, g, rows, settings)
    rows = mask_rows(rows, masked)
    return Page(p.name, p.label, version, total, offset, cols, rows, [c for c in cols if c in masked] + text_masked)


_plans: dict[tuple, tuple] = {}


def _plan(p: Product, g: Grant | None, schema: pa.Schema, version: int, columns: str | None,
          settings) -> tuple[list[str], set[str]]:
    """The columns served and those masked, for a grant, version and columns= (a grant never
    changes but by its revocation, which active_grant sees; a catalog edit makes new products)."""
    k = (p.name, None if g is None else g.id, version, columns)
    hit = _plans.get(k)
    if hit is not None and hit[0] is p and hit[1] is schema:
        return hit[2], hit[3]
    cols = served_columns(p, g, schema.names, columns)
    masked = masked_of(p, g, cols, settings)
    if len(_plans) > 4096:
        _plans.clear()
    _plans[k] = (p, schema, cols, masked)
    return cols, masked


def emit_read(job: str, product: str, version: int | None, rows: int, settings) -> None:
    """An OpenLineage reader run (`api.<consumer>`, `portal.<consumer>`, `sql.<consumer>`), input =
    the product: `govlake lineage PRODUCT --downstream` lists who read it. Written off the request
    path in a serving process (govlake.access.read_runs)."""
    read_runs.submit(job, product, version, rows, settings)


# -- keyed reads from memory ------------------------------------------------------------------
# A keyed read (one enterprise's profile) scanned through delta-rs costs a scan of the snapshot
# (its deletion vectors make DataFusion read every file). The released snapshot of a table small
# enough is instead held in memory once, with a key -> rows index: a version never changes, so
# the copy is exact until the release moves on, and then the next read loads the new version.
SNAPSHOT_MAX_PARQUET_BYTES = 512 * 2 ** 20


@dataclass
class _Snapshot:
    """A released version in memory. index: key value -> its row (unique keys), or -> start * 2**32
    + count in `order` (row numbers sorted by key) when keys repeat. Plain str -> int, so the
    garbage collector never walks it (a dict of lists per key would be millions of tracked
    objects, and a full collection a pause of tens of milliseconds on some request)."""
    table: pa.Table
    key: str
    index: dict
    order: pa.Array | None = None
    arrays: dict = field(default_factory=dict)   # column -> its one chunk

    def __post_init__(self):
        self.arrays = {c: (col.chunk(0) if col.num_chunks == 1 else col.combine_chunks())
                       for c, col in zip(self.table.column_names, self.table.columns)}

    def row(self, i: int, cols: list[str], masked: set[str]) -> dict:
        """Row i as served: masked columns *** (never read), NaN as null."""
        out = {}
        for c in cols:
            if c in masked:
                out[c] = MASK
            else:
                v = self.arrays[c][i].as_py()
                out[c] = None if v.__class__ is float and v != v else v
        return out

    def positions(self, value) -> list[int]:
        at = self.index.get(value)
        if at is None:
            return []
        if self.order is None:
            return [at]
        start, count = divmod(at, 2 ** 32)
        return self.order.slice(start, count).to_pylist()

    def rows_of(self, value) -> pa.Table:
        at = self.index.get(value)
        if at is None:
            return self.table.slice(0, 0)
        if self.order is None:
            return self.table.slice(at, 1)  # one row: a zero-copy slice; take() would copy every column
        start, count = divmod(at, 2 ** 32)
        return self.table.take(self.order.slice(start, count))


def _index(data: pa.Table, key: str) -> _Snapshot:
    keys = data.column(key)
    if pc.count_distinct(keys, mode="all").as_py() == data.num_rows:
        return _Snapshot(data, key, dict(zip(keys.to_pylist(), range(data.num_rows))))
    order = pc.sort_indices(keys)  # stable: a key's rows keep their order
    index: dict = {}
    prev, start = None, 0
    for i, k in enumerate(keys.take(order).to_pylist()):
        if i == 0 or k != prev:
            if i:
                index[prev] = start * 2 ** 32 + (i - start)
            prev, start = k, i
    if data.num_rows:
        index[prev] = start * 2 ** 32 + (data.num_rows - start)
    return _Snapshot(data, key, index, order)


_snapshots: dict[str, tuple[int, _Snapshot | None]] = {}   # table path -> (version, snapshot or None: too big)
_schemas: dict[tuple[str, int], pa.Schema] = {}
_versions: dict[tuple[str, str], tuple[tuple, int | None]] = {}
_lock = threading.Lock()


_log_dirs: dict[tuple[str, str], str] = {}
_paths: dict[tuple[str, str], object] = {}


def table_path(lake, table: str):
    """lake.path(table), kept (a Path built per call is a visible share of a keyed read)."""
    k = (str(lake.settings.lake_root), table)
    path = _paths.get(k)
    if path is None:
        path = _paths[k] = lake.path(table)
    return path


def _log_stamp(lake, table: str) -> int | None:
    k = (str(lake.settings.lake_root), table)
    d = _log_dirs.get(k)
    if d is None:
        d = _log_dirs[k] = str(table_path(lake, table) / "_delta_log")
    try:
        return os.stat(d).st_mtime_ns
    except OSError:
        return None


def released_version(lake, table: str) -> int | None:
    """release.version_of, reused while neither the releases' log nor the table's has changed (a
    commit adds a file to _delta_log, which moves the directory's mtime): one stat per table."""
    k = (str(lake.settings.lake_root), table)
    stamp = (_log_stamp(lake, release.RELEASES), _log_stamp(lake, table))
    hit = _versions.get(k)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    v = release.version_of(lake, table)
    _versions[k] = (stamp, v)
    return v


def schema_of(lake, table: str, version: int) -> pa.Schema:
    k = (str(lake.path(table)), version)
    if k not in _schemas:
        if len(_schemas) > 256:
            _schemas.clear()
        _schemas[k] = lake.arrow_schema(table, version)
    return _schemas[k]


def parquet_bytes(lake, table: str, version: int) -> int:
    """The size of a snapshot's data files, from the Delta log (no scan)."""
    from govlake.lakehouse import arrow_reads

    dt = arrow_reads.open_table(lake.path(table), version)
    return sum(pa.table(dt.get_add_actions(flatten=True)).column("size_bytes").to_pylist())


def _snapshot(lake, table: str, version: int, key: str) -> _Snapshot | None:
    path = str(table_path(lake, table))
    hit = _snapshots.get(path)
    if hit is not None and hit[0] == version and (hit[1] is None or hit[1].key == key):
        return hit[1]
    with _lock:
        hit = _snapshots.get(path)
        if hit is not None and hit[0] == version and (hit[1] is None or hit[1].key == key):
            return hit[1]
        snap = None
        if parquet_bytes(lake, table, version) <= SNAPSHOT_MAX_PARQUET_BYTES:
            snap = _index(lake.to_arrow(table, version).combine_chunks(), key)
        _snapshots[path] = (version, snap)
        return snap


def in_memory(lake, p: Product) -> bool:
    """Whether a keyed read of p's released version is served from the snapshot already held."""
    hit = _snapshots.get(str(table_path(lake, p.name)))
    return hit is not None and hit[1] is not None and hit[0] == released_version(lake, p.name)


def keyed_positions(lake, p: Product, version: int, where: dict) -> tuple[_Snapshot, list[int]] | None:
    """For a read filtered on the product's first key column by one value, of the released version
    held in memory: the snapshot and the row numbers (the other filters applied). None: scan."""
    key = p.contract.key[0] if p.contract.key else None
    value = where.get(key) if key else None
    if value is None or isinstance(value, list) or version != released_version(lake, p.name):
        return None
    snap = _snapshot(lake, p.name, version, key)
    if snap is None:
        return None
    at = snap.positions(value)
    for col, v in where.items():
        if col != key and at:
            values = set(v) if isinstance(v, list) else {v}
            arr = snap.arrays[col]
            at = [i for i in at if arr[i].as_py() in values]
    return snap, at


def keyed_arrow(lake, p: Product, version: int, columns: list[str], where: dict, *,
                whole: bool = False) -> pa.Table:
    """lake.to_arrow(p, version, columns, where) for a read filtered on the product's first key
    column by one value (or, whole=True, any read: SQL's views): from the snapshot in memory when
    the table is small enough."""
    key = p.contract.key[0] if p.contract.key else None
    value = where.get(key) if key else None
    keyed = value is not None and not isinstance(value, list)
    # only the released version is held: time travel to another one scans (no reload per request)
    current = key is not None and (keyed or whole) and version == released_version(lake, p.name)
    snap = _snapshot(lake, p.name, version, key) if current else None
    if snap is None:
        return lake.to_arrow(p.name, version, columns=columns, where=where or None)
    if keyed:
        rows = snap.rows_of(value)
    else:
        rows = snap.table
    for col, v in where.items():
        if col != key or not keyed:
            values = v if isinstance(v, list) else [v]
            rows = rows.filter(pc.is_in(rows.column(col), value_set=pa.array(values, rows.schema.field(col).type)))
    return rows.select(columns)
