"""Running a sandbox job (沙箱作业): a SQL aggregate or a registered model over granted products,
inside the platform; only safe results leave.

Every job, allowed or refused, is recorded three times: a row of the sandbox ledger (jobs), a
hash-chained audit row (govlake.access.append_audit, action `cleanroom.job`: consumer, inputs and
their versions, code hash, cells released / suppressed, enterprises), and an OpenLineage run
`cleanroom.<consumer>` with the products read and their versions as inputs (FAIL when refused).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
from dataclasses import asdict, dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from govlake import release
from govlake.access import AuditEvent, active_grant, append_audit, open_store
from govlake.access.levels import masked_columns
from govlake.cleanroom.aggregate_query import CONTRIBUTORS_PREFIX, ENTITY, MEMBERS, QueryRefused, parse
from govlake.cleanroom.authorisations import authorised_usccs
from govlake.cleanroom.ledger import Ledger, member_id
from govlake.cleanroom.model_registry import ModelUnavailable, load_registry
from govlake.lakehouse import Lakehouse
from govlake.lineage.emitter import DatasetRef, JobRun
from govlake.products import load_products
from govlake.settings import Settings

MAX_USCCS = 1000
ACTION = "cleanroom.job"


@dataclass
class JobResult:
    job_id: int
    consumer: str
    kind: str                       # sql | model
    outcome: str                    # allowed
    k: int
    code_sha256: str
    inputs: dict[str, int]          # product -> version read
    columns: list[str]
    rows: list[dict]
    cells_released: int
    cells_suppressed: int
    enterprises: int
    audit_id: int
    run_id: str
    not_found: list[str] = field(default_factory=list)  # requested enterprises the model returned nothing for

    def to_dict(self) -> dict:
        return asdict(self)


class JobRefused(QueryRefused):
    """A job refused; nothing left the sandbox. job_id and audit_id name its records."""

    def __init__(self, reason: str, status: int, job_id: int, audit_id: int):
        super().__init__(reason, status)
        self.job_id, self.audit_id = job_id, audit_id


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean(v):
    """A result value as JSON can carry it: no NaN/infinity (null), bytes as hex, decimals as floats."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, decimal.Decimal):
        return _clean(float(v))
    return v


class _Job:
    """One job's records: ledger row, audit row, lineage run (START at once)."""

    def __init__(self, settings: Settings, store, ledger: Ledger, consumer: str, kind: str, code: str, code_sha: str):
        self.settings, self.store, self.ledger = settings, store, ledger
        self.consumer, self.kind, self.code, self.code_sha = consumer, kind, code, code_sha
        self.inputs: dict[str, int] = {}
        self.named: list[str] = []        # the products the job names (read or not)
        self.grant = None
        self.run = JobRun(f"cleanroom.{consumer}", settings, job_type="BATCH",
                          integration="DUCKDB" if kind == "sql" else "PYTHON",
                          job_kind="QUERY" if kind == "sql" else "MODEL")
        self.run.start()
        self.k = ledger.k_for(consumer)

    def read(self, lake: Lakehouse, product: str, columns: set[str] | None, *, masked_ok: bool) -> pa.Table:
        """The product at its released version, the columns asked for that it has (uscc always),
        within the grant's row scope. Refused without an active grant; a column the grant does not
        show is refused when the consumer's own code names it (masked_ok False: SQL)."""
        p = load_products(self.settings).get(product)
        if p is None:
            raise QueryRefused(f"unknown data product {product!r} (未知数据产品)", 404)
        g = active_grant(self.store, self.consumer, product)
        if g is None:
            raise QueryRefused(f"{self.consumer} has no grant for {product} ({p.label}) (未获授权)", 403)
        self.grant = self.grant or g
        if not lake.exists(product):
            raise QueryRefused(f"{product} ({p.label}) has not been published yet (尚未发布)", 404)
        version = release.version_of(lake, product)
        schema = lake.arrow_schema(product, version)
        if ENTITY not in schema.names:
            raise QueryRefused(f"{product} has no enterprise key {ENTITY}: k-anonymity counts enterprises "
                               f"(沙箱仅支持含企业主键的数据产品)")
        cols = [c for c in schema.names if columns is None or c in columns or c == ENTITY]
        if not masked_ok:
            if g.columns is not None:
                outside = [c for c in cols if c not in set(g.columns) | set(p.contract.key)]
                if outside:
                    raise QueryRefused(f"columns {outside[:5]} of {product} are not in the grant (未授权字段)", 403)
            hidden = masked_columns(p, g, cols, self.settings)
            if hidden:
                raise QueryRefused(f"columns {hidden[:5]} of {product} are masked for this grant (脱敏字段不可参与计算)", 403)
        where = {}
        for col, values in (g.row_scope or {}).items():
            if col not in schema.names:
                raise QueryRefused(f"the grant's row scope is on {col}, which {product} lacks (授权范围不适用)", 403)
            typ = schema.field(col).type
            where[col] = values if pa.types.is_string(typ) else [pc.cast(pa.scalar(v), typ).as_py() for v in values]
        self.inputs[product] = version
        table = lake.to_arrow(product, version, columns=cols, where=where or None)
        self.run.add_input(DatasetRef(product, version=version, rows=table.num_rows))
        return table

    def _audit(self, outcome: str, status: int, detail: str, rows: int, job_id: int, extra: dict) -> int:
        product = next(iter(self.inputs), None) or next(iter(self.named), None)
        return append_audit(self.store, AuditEvent(
            ACTION, outcome, "consumer", self.consumer, product=product,
            version=self.inputs.get(product) if product else None,
            filters={"job_id": job_id, "kind": self.kind, "inputs": self.inputs, "products": self.named,
                     "code_sha256": self.code_sha, "k": self.k, "run_id": self.run.run_id, **extra},
            rows=rows, purpose=self.grant.purpose if self.grant else None,
            grant_id=self.grant.id if self.grant else None, status=status, detail=detail[:1000]))

    def refuse(self, e: QueryRefused, extra: dict | None = None) -> JobRefused:
        outcome = "error" if e.status >= 500 else "denied"
        with self.ledger.write() as db:
            job_id = self.ledger.record_job(db, self._row(outcome, str(e)))
            # the details of a failure (paths, the model's own message, values a failed cast
            # quotes) stay in the jobs row and the audit; the consumer is told this
            public = "the job failed inside the platform (作业内部失败)" if e.status >= 500 else (e.public or str(e))
            self.ledger.record_output(db, job_id, public_reason=public)
        audit_id = self._audit(outcome, e.status, f"refused: {e}", 0, job_id, extra or {})
        self._link(job_id, audit_id)
        for product in self.named:  # the lineage names what the refused job asked for
            if product not in self.inputs:
                self.run.add_input(DatasetRef(product))
        self.run.fail(e)
        if e.status >= 500:
            return JobRefused(f"{public}: job {job_id}, audit #{audit_id}", e.status, job_id, audit_id)
        return JobRefused(public, e.status, job_id, audit_id)

    def _row(self, outcome: str, reason: str | None, released=0, suppressed=0, enterprises=0) -> dict:
        return {"consumer_id": self.consumer, "kind": self.kind, "submitted_at": _now(), "outcome": outcome,
                "reason": reason, "code_sha256": self.code_sha, "code": self.code, "inputs": self.inputs, "k": self.k,
                "cells_released": released, "cells_suppressed": suppressed, "enterprises": enterprises,
                "run_id": self.run.run_id}

    def _link(self, job_id: int, audit_id: int) -> None:
        with self.ledger.write() as db:
            db.execute("UPDATE jobs SET audit_id = ? WHERE id = ?", (audit_id, job_id))

    def allow(self, job_id: int, released: int, suppressed: int, enterprises: int, extra: dict) -> int:
        audit_id = self._audit("allowed", 200, f"cells released {released}, suppressed {suppressed}, "
                                               f"enterprises {enterprises}", released, job_id, extra)
        self._link(job_id, audit_id)
        self.run.complete()
        return audit_id


def history_pool(store, ledger: Ledger, consumer: str) -> list[str]:
    """The consumers whose released cells are this consumer's differencing history: those of its
    department (a portal member acts for every consumer of the department, so the department is
    the smallest unit one person cannot split) and those an admin put in its organisation (组织,
    `govlake cleanroom set-org`: one party registered under several departments)."""
    from govlake.access import list_consumers

    depts = {c.id: c.dept for c in list_consumers(store)}
    orgs = ledger.organisations()
    mine_dept, mine_org = depts.get(consumer), orgs.get(consumer)
    return sorted({consumer} | {c for c, d in depts.items() if d == mine_dept and d is not None}
                  | {c for c, o in orgs.items() if mine_org is not None and o == mine_org})


def _open(settings: Settings, store, ledger):
    own = store is None, ledger is None
    return (open_store(settings) if own[0] else store), (Ledger(settings) if own[1] else ledger), own


def _close(store, ledger, own) -> None:
    if own[0]:
        store.close()
    if own[1]:
        ledger.close()


def submit_sql(settings: Settings, consumer: str, sql: str, *, store=None, ledger=None) -> JobResult:
    """Run a SQL aggregate for `consumer`; the cells that cover at least k enterprises leave.
    Raises JobRefused (recorded and audited) when the query or its answer may not leave."""
    store, ledger, own = _open(settings, store, ledger)
    try:
        job = _Job(settings, store, ledger, consumer, "sql", sql,
                   hashlib.sha256((sql or "").encode("utf-8")).hexdigest())
        try:
            return _run_sql(job, sql)
        except QueryRefused as e:
            raise job.refuse(e) from None
        except Exception as e:  # the platform's own failure: recorded as an error, then raised
            job.refuse(QueryRefused(f"internal error (内部错误): {type(e).__name__}: {str(e)[:300]}", 500))
            raise
    finally:
        _close(store, ledger, own)


def _run_sql(job: _Job, sql: str) -> JobResult:
    q = parse(sql)
    job.named = list(dict.fromkeys(q.products))
    lake = Lakehouse(None, job.settings)
    con = duckdb.connect(":memory:")
    try:
        for i, product in enumerate(dict.fromkeys(q.products)):
            table = job.read(lake, product, q.columns, masked_ok=False)
            layer, _, name = product.partition(".")
            con.register(f"_input_{i}", table)
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
            con.execute(f'CREATE VIEW "{layer}"."{name}" AS SELECT * FROM _input_{i}')
        # the query runs with no way out of the registered inputs: no files, no extensions
        con.execute("SET enable_external_access = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET lock_configuration = true")
        try:
            result = con.sql(q.executable).to_arrow_table()
        except (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException) as e:
            # planning errors name columns and types, never values
            raise QueryRefused(f"the query cannot run over the granted products (查询无法执行): {str(e)[:300]}")
        except duckdb.Error as e:
            # errors while running quote the values they met (a failed cast names the text): the
            # consumer gets the kind of error only
            raise QueryRefused(f"the query failed while running: {str(e)[:300]}", 400,
                               public=f"the query failed while running: {type(e).__name__}; the message is not "
                                      f"returned, it may quote data (查询运行出错，错误详情可能含数据，不予返回)")
    finally:
        con.close()
    hidden = [c for c in result.column_names if c == MEMBERS or c.startswith(CONTRIBUTORS_PREFIX)]
    columns = [c for c in result.column_names if c not in hidden]
    measures = [names[-1].lower() for names in q.measured]
    released_rows, cells, suppressed, covered = [], [], 0, set()
    for row in result.to_pylist():
        # the enterprise sets behind this cell: all of it ("*": counts) and, per aggregated column,
        # those with a value in it
        sets = {"*": {m for m in row[MEMBERS] or [] if m is not None}}
        for i, measure in enumerate(measures):
            sets.setdefault(measure, set()).update(m for m in row[f"{CONTRIBUTORS_PREFIX}{i}"] or [] if m is not None)
        if any(len(members) < job.k for members in sets.values()):
            suppressed += 1
            continue
        released_rows.append({c: _clean(row[c]) for c in columns})
        n = len(released_rows)
        cells += [(n, measure, frozenset(member_id(m) for m in members)) for measure, members in sets.items()]
        covered.update(sets["*"])
    pool = history_pool(job.store, job.ledger, job.consumer)
    with job.ledger.write() as db:
        clash = job.ledger.differencing(db, job.consumer, cells, job.k, pool=pool)
        if clash is None:
            job_id = job.ledger.record_job(db, job._row("allowed", None, len(released_rows), suppressed, len(covered)))
            job.ledger.record_cells(db, job.consumer, job_id, cells)
            job.ledger.record_output(db, job_id, columns=columns, rows=released_rows)
    if clash is not None:
        raise QueryRefused(f"differencing: {clash}, fewer than k={job.k}; answering would let that combination "
                           f"reveal those enterprises (差分攻击防护：本结果与已发布结果相加减可单独算出不足 {job.k} 家企业)", 403)
    audit_id = job.allow(job_id, len(released_rows), suppressed, len(covered), {})
    return JobResult(job_id, job.consumer, "sql", "allowed", job.k, job.code_sha, dict(job.inputs), columns,
                     released_rows, len(released_rows), suppressed, len(covered), audit_id, job.run.run_id)


def submit_model(settings: Settings, consumer: str, model: str, *, usccs: list[str] | None = None,
                 store=None, ledger=None) -> JobResult:
    """Score a registered model inside; its outputs leave per enterprise, only for enterprises
    that authorised `consumer` for the model's purpose (all of `usccs` must have; without usccs:
    every enterprise that has). Raises JobRefused (recorded and audited) otherwise."""
    store, ledger, own = _open(settings, store, ledger)
    try:
        m = load_registry(settings).get(model)
        try:
            code_sha = m.code_sha256() if m else hashlib.sha256(b"").hexdigest()
        except ModelUnavailable:
            code_sha = hashlib.sha256(b"").hexdigest()
        job = _Job(settings, store, ledger, consumer, "model", model, code_sha)
        extra = {"model": model, "requested": len(usccs or [])}
        try:
            if m is None:
                raise QueryRefused(f"no registered model {model!r} (未登记的模型)", 404)
            return _run_model(job, m, usccs)
        except ModelUnavailable as e:
            raise job.refuse(QueryRefused(str(e), 404), extra) from None
        except QueryRefused as e:
            raise job.refuse(e, extra) from None
        except Exception as e:  # the platform's own failure: recorded as an error, then raised
            job.refuse(QueryRefused(f"internal error (内部错误): {type(e).__name__}: {str(e)[:300]}", 500), extra)
            raise
    finally:
        _close(store, ledger, own)


def _run_model(job: _Job, m, usccs: list[str] | None) -> JobResult:
    job.named = [m.input]
    allowed = authorised_usccs(job.settings, job.consumer, m.purpose)
    if usccs:
        wanted = list(dict.fromkeys(u.strip().upper() for u in usccs))
        if len(wanted) > MAX_USCCS:
            raise QueryRefused(f"at most {MAX_USCCS} enterprises per job (企业数过多)", 422)
        missing = [u for u in wanted if u not in allowed]
        if missing:
            raise QueryRefused(f"{len(missing)} of {len(wanted)} enterprises have not authorised {job.consumer} for "
                               f"{m.purpose}: {', '.join(missing[:10])} (企业未授权，不予输出逐企业结果)", 403)
        target = set(wanted)
    else:
        target = allowed
        if not target:
            raise QueryRefused(f"no enterprise has authorised {job.consumer} for {m.purpose} (无企业授权)", 403)
    fn = m.load()
    table = job.read(Lakehouse(None, job.settings), m.input, set(m.columns) if m.columns else None, masked_ok=True)
    try:
        out = fn(table, job.settings)
    except Exception as e:  # the model's own failure: recorded as an error, nothing leaves
        raise QueryRefused(f"model {m.name} failed (模型运行失败): {type(e).__name__}: {str(e)[:300]}", 500)
    if not isinstance(out, pa.Table) or ENTITY not in out.column_names:
        raise QueryRefused(f"model {m.name} returned no table with {ENTITY} (模型输出不合规)", 500)
    inputs = set(table.column_names)
    outputs = [c for c in (m.outputs or out.column_names) if c in out.column_names and c not in inputs]
    kept = out.filter(pc.is_in(out[ENTITY], value_set=pa.array(sorted(target), out.schema.field(ENTITY).type)))
    rows = [{ENTITY: r[ENTITY], **{c: _clean(r[c]) for c in outputs}} for r in kept.select([ENTITY, *outputs]).to_pylist()]
    found = {r[ENTITY] for r in rows}
    with job.ledger.write() as db:
        job_id = job.ledger.record_job(db, job._row("allowed", None, len(rows), 0, len(found)))
        job.ledger.record_output(db, job_id, columns=[ENTITY, *outputs], rows=rows)
    audit_id = job.allow(job_id, len(rows), 0, len(found), {"model": m.name, "requested": len(usccs or [])})
    return JobResult(job_id, job.consumer, "model", "allowed", job.k, job.code_sha, dict(job.inputs),
                     [ENTITY, *outputs], rows, len(rows), 0, len(found), audit_id, job.run.run_id,
                     not_found=sorted(target - found))
