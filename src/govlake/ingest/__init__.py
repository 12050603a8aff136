"""Landing CSV -> bronze Delta, with every record accounted for.

    ingest_source(spark, lake, source, load_date)   one source, one load date -> Reconciliation
    ingest_all(spark, lake, load_date, sources=None) every source (+ departments) -> [Reconciliation]
    ingest_departments(spark, lake)                  catalog/departments.yaml -> bronze tables

The physical records of every landing file are counted first, without Spark (`records`):
malformed ones (wrong field count, unclosed quote, cut-off last line, NUL bytes, over-long
field) go to bronze.quarantine with their raw text; Spark reads the rest, and must see exactly
those. Good rows go to bronze.<source> (typed, normalised, Chinese labels as column comments,
partition _load_date); rows failing a rule of catalog/sources.yaml to bronze.quarantine.
A file not in its declared encoding, or with too large a quarantined share, is rejected: nothing
is committed. A load date re-landed with other content is a restatement (`restatements`); the
same content commits nothing. Each attempt appends to ops.ingest_runs; a load fails loudly
unless records == written + quarantined. See docs/ingestion.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from govlake.catalog import Source, SourcesCatalog, load_departments, load_sources
from govlake.catalog.sources import ENCODINGS
from govlake.ingest import records, restatements, rules
from govlake.lakehouse import Lakehouse, storage
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of

__all__ = ["Reconciliation", "ReconciliationError", "LoadRejected", "ingest_source", "ingest_all",
           "ingest_departments", "SOURCE_GROUPS", "sources_of_group", "run_group_or_sources"]

QUARANTINE = "bronze.quarantine"
RUNS = "ops.ingest_runs"
# `govlake ingest --group` ingests these groups; "enterprises" = the 法人库 and other
# enterprise extracts, everything except certificates and petitions.
SOURCE_GROUPS = {"certificates": ["certificates"], "petitions": ["petitions"]}


def sources_of_group(group: str, catalog_dir: Path) -> list[str]:
    names = load_sources(catalog_dir).names
    if group == "enterprises":
        taken = {s for g in SOURCE_GROUPS.values() for s in g}
        return [n for n in names if n not in taken]
    if group not in SOURCE_GROUPS:
        raise KeyError(f"unknown source group {group!r}; use enterprises, certificates or petitions")
    return SOURCE_GROUPS[group]


class ReconciliationError(RuntimeError):
    """records in the files != rows written + rows quarantined."""


class LoadRejected(ValueError):
    """A landing file failed the whole-file checks (header, encoding, quarantined share):
    nothing was committed."""


@dataclass
class Reconciliation:
    source: str
    load_date: dt.date
    rows_read: int            # physical records in the landing files (records.scan, not Spark)
    rows_written: int
    rows_quarantined: int
    quarantined_by_rule: dict = field(default_factory=dict)
    run_id: str = ""
    committed: bool = False
    bronze_version: int | None = None
    seconds: float = 0.0
    status: str = "loaded"    # loaded | unchanged | restated | rejected | failed
    reason: str | None = None
    content_hash: str | None = None
    previous_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in ("rejected", "failed") and \
            self.rows_read == self.rows_written + self.rows_quarantined


def _landing_files(lake: Lakehouse, source: Source, load_date: dt.date) -> list[Path]:
    folder = lake.settings.landing_dir / source.name / load_date.isoformat()
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no landing files for {source.name} ({source.label}) on {load_date}: {folder}/*.csv")
    return files


def _header_problem(s: records.FileScan, source: Source) -> str | None:
    if s.header_problem:
        return f"{s.path}: {s.header_problem} (文件编码与声明不符)"
    if s.header != source.column_names:
        missing = [c for c in source.column_names if c not in s.header]
        extra = [c for c in s.header if c not in source.column_names]
        return (f"{s.path}: header does not match catalog/sources.yaml for {source.name} ({source.label}); "
                f"missing {missing}, unexpected {extra}" + ("" if missing or extra else ", order differs")
                + " (表头与目录不符)")
    return None


def _too_many(n: int, total: int, source: Source) -> bool:
    return n >= source.min_quarantined_to_fail and n > source.max_quarantine_share * total


def _encoding_guess(path: Path, declared: str) -> str:
    head = path.read_bytes()[: 1 << 20]
    if b"\x00" in head:
        return "; it holds NUL bytes (binary content, or UTF-16)"
    for enc in ("gb18030", "utf-8"):
        if enc != declared:
            try:
                head[: head.rfind(b"\n") + 1].decode(enc)
                return f"; it reads as {enc.upper()}" + (" (GBK)" if enc == "gb18030" else "")
            except UnicodeDecodeError:
                pass
    return ""


def _encoding_problem(s: records.FileScan, source: Source) -> str | None:
    if not _too_many(s.undecodable, s.records, source):
        return None
    return (f"{s.path}: {s.undecodable} of {s.records} records are not valid {source.encoding} (first at byte "
            f"offset {s.first_undecodable}){_encoding_guess(s.path, source.encoding)}: the file is not in the "
            f"encoding declared in catalog/sources.yaml (文件编码与声明不符)")


def _read_raw(spark: SparkSession, files: list[Path], source: Source) -> DataFrame:
    schema = StructType([StructField(c, StringType()) for c in source.column_names])
    # multiLine: petition texts hold quoted newlines; it also keeps each file in one task, so
    # monotonically_increasing_id follows line order within a file.
    df = (spark.read.schema(schema).option("header", True).option("multiLine", True)
          .option("escape", '"').option("encoding", ENCODINGS[source.encoding]).option("mode", "PERMISSIVE")
          .csv([str(f) for f in files]))
    return (df.withColumn("_path", F.col("_metadata.file_path")).withColumn("_row", F.monotonically_increasing_id())
            .withColumn("_file", F.regexp_extract("_path", r"([^/]+/[^/]+/[^/]+)$", 1)))


def check(spark: SparkSession, catalog: SourcesCatalog, source: Source, files: list[Path]) -> DataFrame:
    """Raw columns, normalised `_n_<col>`, typed `_v_<col>`, `_reason` (null = good row), `_file`
    (`<source>/<date>/<file>`), `_row`."""
    # The new datetime parser only: strict formats, and never the legacy-parser upgrade error.
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    df = _read_raw(spark, files, source)
    df = df.selectExpr("*", *rules.normalised(source))
    df = df.selectExpr("*", *rules.derived(source, catalog))
    df = df.selectExpr("*", f"{rules.reason(source, catalog)} AS _reason")
    if source.key:
        ok = F.col("_reason").isNull()
        w = Window.partitionBy(ok, *[F.col(f"_v_{k}") for k in source.key]).orderBy("_file", "_row")
        key_txt = F.concat_ws(", ", *[F.concat(F.lit(f"{k}="), F.col(f"`{k}`")) for k in source.key])
        dup = F.struct(F.lit("duplicate_key").alias("rule"), F.lit(",".join(source.key)).alias("column"),
                       F.concat(F.lit(f"key ({', '.join(source.key)}) repeats an earlier row of this load: "), key_txt)
                       .alias("detail"))
        df = df.withColumn("_reason", F.when(ok & (F.row_number().over(w) > 1), dup).otherwise(F.col("_reason")))
    return df


def _typed(df: DataFrame, source: Source, load_date: dt.date, run_id: str) -> DataFrame:
    return df.where(F.col("_reason").isNull()).select(
        *[F.col(f"_v_{c.name}").cast(rules.SPARK_TYPES[c.type]).alias(c.name, metadata={"comment": c.label})
          for c in source.columns],
        F.lit(load_date).cast("date").alias("_load_date", metadata={"comment": "装载日期"}),
        F.col("_file").alias("_source_file", metadata={"comment": "来源文件"}),
        F.lit(run_id).alias("_run_id", metadata={"comment": "装载运行标识"}),
    )


QUARANTINE_SCHEMA = ("source string, load_date date, rule string, column string, detail string, raw string, "
                     "_source_file string, _run_id string")


def _quarantine(df: DataFrame, source: Source, load_date: dt.date, run_id: str,
                scans: list[records.FileScan]) -> DataFrame:
    """Rows failing a rule (raw: JSON of the fields) and records that were never rows (raw: the
    record's text as in the file)."""
    raw = F.to_json(F.struct(*[F.col(f"`{c}`") for c in source.column_names]), {"ignoreNullFields": "false"})
    out = df.where(F.col("_reason").isNotNull()).select(
        F.lit(source.name).alias("source", metadata={"comment": "来源"}),
        F.lit(load_date).cast("date").alias("load_date", metadata={"comment": "装载日期"}),
        F.col("_reason.rule").alias("rule", metadata={"comment": "未通过的规则"}),
        F.col("_reason.column").alias("column", metadata={"comment": "字段"}),
        F.col("_reason.detail").alias("detail", metadata={"comment": "说明"}),
        raw.alias("raw", metadata={"comment": "原始行（JSON；记录级规则为原文）"}),
        F.col("_file").alias("_source_file", metadata={"comment": "来源文件"}),
        F.lit(run_id).alias("_run_id", metadata={"comment": "装载运行标识"}),
    )
    pre = [(source.name, load_date, b.rule, b.column, f"line {b.line}, byte offset {b.offset}: {b.detail}", b.raw,
            s.name, run_id) for s in scans for b in s.bad]
    if pre:
        out = out.unionByName(df.sparkSession.createDataFrame(pre, QUARANTINE_SCHEMA))
    return out


RUNS_SCHEMA = ("source string, load_date date, rows_read bigint, rows_written bigint, rows_quarantined bigint, "
               "quarantined_by_rule string, run_id string, committed boolean, bronze_version bigint, seconds double, "
               "reconciled boolean, recorded_at timestamp, status string, reason string, content_hash string, "
               "previous_hash string")
AUTO_MERGE = "spark.databricks.delta.schema.autoMerge.enabled"


def _record_run(lake: Lakehouse, rec: Reconciliation) -> None:
    spark = lake.spark
    row = {**{k: getattr(rec, k) for k in ("source", "load_date", "rows_read", "rows_written", "rows_quarantined",
                                           "run_id", "committed", "bronze_version", "seconds", "status", "reason",
                                           "content_hash", "previous_hash")},
           "quarantined_by_rule": json.dumps(rec.quarantined_by_rule, ensure_ascii=False),
           "reconciled": rec.ok, "recorded_at": dt.datetime.now()}
    # status .. previous_hash came later than the table: let this append add them to an older one.
    before = spark.conf.get(AUTO_MERGE, None)
    spark.conf.set(AUTO_MERGE, "true")
    try:
        lake.write(spark.createDataFrame([row], RUNS_SCHEMA), RUNS, mode="append")
    finally:
        spark.conf.unset(AUTO_MERGE) if before is None else spark.conf.set(AUTO_MERGE, before)


def ingest_source(spark: SparkSession, lake: Lakehouse, source: str, load_date: dt.date, *,
                  parent_run=None) -> Reconciliation:
    t0 = time.perf_counter()
    catalog = load_sources(lake.settings.catalog_dir)
    src = catalog[source]
    files = _landing_files(lake, src, load_date)
    with job_run(f"ingest_{source}", lake.settings, nominal_time=f"{load_date.isoformat()}T00:00:00+08:00",
                 parent=parent_run) as run:
        # copies of files without their malformed records, for Spark; gone after the load
        staging = lake.settings.scratch_dir / "ingest_staging" / run.run_id
        try:
            return _Load(spark, lake, catalog, src, load_date, run, t0).run(files, staging)
        finally:
            storage.rmtree(staging)


class _Load:
    """One source, one load date: scan, decide (new / unchanged / restatement), check, commit."""

    def __init__(self, spark, lake, catalog, src, load_date, run, t0):
        self.spark, self.lake, self.catalog, self.src, self.load_date, self.job, self.t0 = \
            spark, lake, catalog, src, load_date, run, t0
        self.app_id = f"ingest_{src.name}@{load_date.isoformat()}"
        self.table = f"bronze.{src.name}"
        self.where_bronze = {"_load_date": load_date.isoformat()}
        self.where_q = {"load_date": load_date.isoformat(), "source": src.name}

    def rec(self, **kw) -> Reconciliation:
        base = dict(source=self.src.name, load_date=self.load_date, rows_read=self.rows_read, rows_written=0,
                    rows_quarantined=0, run_id=self.job.run_id, seconds=round(time.perf_counter() - self.t0, 2),
                    content_hash=self.digest, previous_hash=getattr(self, "prev", None) and self.prev.content_hash)
        return Reconciliation(**{**base, **kw})

    def fail(self, exc_type, reason: str, **kw):
        """Record the attempt in ops.ingest_runs, then raise: nothing was committed."""
        _record_run(self.lake, self.rec(reason=reason, **kw))
        what = "load rejected, nothing committed (装载被拒绝，未提交任何数据)" if exc_type is LoadRejected else \
            "records not accounted for, nothing committed (记录数不平衡，未提交任何数据)"
        raise exc_type(f"{self.src.name} ({self.src.label}) {self.load_date}: {what}: {reason}")

    def run(self, files: list[Path], staging: Path) -> Reconciliation:
        src, lake = self.src, self.lake
        scans = [records.scan(f, src, clean_dir=staging) for f in files]
        self.digest = records.content_hash(scans)
        self.rows_read = sum(s.records for s in scans)
        self.job.add_input(DatasetRef(f"landing.{src.name}", schema=[(c.name, "string", c.label) for c in src.columns],
                                      rows=self.rows_read))
        for s in scans:
            problem = _header_problem(s, src) or _encoding_problem(s, src)
            if problem:
                self.fail(LoadRejected, problem, status="rejected")
        self.prev = restatements.previous_load(lake, self.table, QUARANTINE, src.name, self.load_date, self.app_id)
        if self.prev.loaded and self.prev.content_hash == self.digest:
            status, version = "unchanged", self.prev.bronze_txn
            if (self.prev.quarantine_txn if self.prev.quarantine_txn is not None else -1) >= version:
                return self.unchanged()
        elif self.prev.loaded:
            status, version = "restated", max(self.prev.bronze_txn, self.prev.quarantine_txn or 0) + 1
        else:
            status, version = "loaded", 0
        checked = check(self.spark, self.catalog, src, [s.read_path for s in scans]).persist()
        try:
            return self.commit(checked, scans, status, version)
        finally:
            checked.unpersist()

    def unchanged(self) -> Reconciliation:
        """Same files as the committed load: nothing to do, nothing read by Spark."""
        lake = self.lake
        written = lake.row_count(self.table, partition=self.where_bronze)
        quarantined = lake.row_count(QUARANTINE, partition=self.where_q)
        rules_ = lake.to_arrow(QUARANTINE, columns=["rule"], where={"load_date": self.load_date, "source": self.src.name})
        by_rule = dict(sorted(Counter(rules_.column("rule").to_pylist()).items()))
        rec = self.rec(rows_written=written, rows_quarantined=quarantined, quarantined_by_rule=by_rule,
                       bronze_version=lake.version(self.table), status="unchanged")
        self.job.add_output(DatasetRef(self.table, rows=written, version=rec.bronze_version))
        _record_run(lake, rec)
        if not rec.ok:
            raise ReconciliationError(f"{self.src.name} ({self.src.label}) {self.load_date}: the files hold "
                                      f"{rec.rows_read} records but bronze holds {written} and quarantine {quarantined}")
        return rec

    def commit(self, checked: DataFrame, scans: list[records.FileScan], status: str, version: int) -> Reconciliation:
        src, lake, spark, d = self.src, self.lake, self.spark, self.load_date
        counts = Counter()
        rows_by_file, bad_by_file = Counter(), Counter()
        for r in checked.groupBy("_file", F.col("_reason.rule").alias("rule")).count().collect():
            rows_by_file[r["_file"]] += r["count"]
            if r["rule"] is not None:
                counts[r["rule"]] += r["count"]
                bad_by_file[r["_file"]] += r["count"]
        for s in scans:
            counts.update(b.rule for b in s.bad)
        by_rule = dict(sorted(counts.items()))
        quarantined = sum(by_rule.values())
        for s in scans:  # Spark must have read exactly the records the scan handed over
            if rows_by_file[s.name] != s.good:
                firsts = [r[0] for r in checked.where(F.col("_file") == s.name).orderBy("_row")
                          .select(src.column_names[0]).collect()]
                off = records.first_divergence(s.read_path, src, firsts)
                self.fail(ReconciliationError,
                          f"{s.path}: the file holds {s.good} well-formed records but Spark read {rows_by_file[s.name]}; "
                          f"first difference at byte offset {off}"
                          + (f" of the copy without malformed records {s.read_path}" if s.clean_path else ""),
                          status="failed", rows_quarantined=quarantined, quarantined_by_rule=by_rule)
        for s in scans:
            q = len(s.bad) + bad_by_file[s.name]
            if _too_many(q, s.records, src):
                rules_ = Counter(b.rule for b in s.bad)
                self.fail(LoadRejected,
                          f"{s.path}: {q} of {s.records} records ({q / max(1, s.records):.0%}) would be quarantined, "
                          f"more than max_quarantine_share {src.max_quarantine_share:.0%} of {src.name} "
                          f"({src.label}) allows (隔离比例超过上限)" + (f"; record rules: {dict(rules_)}" if rules_ else ""),
                          status="rejected", rows_quarantined=quarantined, quarantined_by_rule=by_rule)
        good = _typed(checked, src, d, self.job.run_id).coalesce(max(1, self.rows_read // 500_000 + 1))
        bad = _quarantine(checked, src, d, self.job.run_id, scans).coalesce(1)
        meta = {"load_date": d.isoformat(), "run_id": self.job.run_id, "source": src.name,
                "content_hash": self.digest, "previous_hash": self.prev.content_hash, "txn_version": version}
        if status == "restated":
            self.record_restatement(good, version, quarantined)
        if version == 0:
            cb = lake.write(good, self.table, mode="replace_partitions", partition_by=["_load_date"],
                            app_id=self.app_id, metadata=meta)
            cq = lake.write(bad, QUARANTINE, mode="replace_partitions", partition_by=["load_date", "source"],
                            app_id=self.app_id, app_version=version, metadata=meta)
        else:  # replace the whole partition, also when the new content has no rows for it
            keys_b = spark.createDataFrame([(d,)], "_load_date date")
            keys_q = spark.createDataFrame([(d, src.name)], "load_date date, source string")
            cb = lake.write(good, self.table, mode="replace_keys", keys=["_load_date"], extra_keys=keys_b,
                            app_id=self.app_id, app_version=version, metadata=meta)
            cq = lake.write(bad, QUARANTINE, mode="replace_keys", keys=["load_date", "source"], extra_keys=keys_q,
                            app_id=self.app_id, app_version=version, metadata=meta)
        written = lake.row_count(self.table, partition=self.where_bronze)
        in_q = lake.row_count(QUARANTINE, partition=self.where_q)
        rec = self.rec(rows_written=written, rows_quarantined=in_q, quarantined_by_rule=by_rule,
                       committed=cb.committed or cq.committed, bronze_version=cb.version, status=status)
        assertions = [{"assertion": f"records == rows_written + rows_quarantined ({rec.rows_read} == {written} + {in_q})",
                       "success": rec.ok}]
        assertions += [{"assertion": f"{rule}: {n} rows quarantined", "success": False} for rule, n in by_rule.items()]
        self.job.add_output(DatasetRef(
            self.table, schema=schema_of(good), rows=written, version=cb.version,
            column_lineage={c.name: [(f"landing.{src.name}", c.name)] for c in src.columns},
            assertions=assertions))
        self.job.add_output(DatasetRef(QUARANTINE, schema=schema_of(bad), rows=in_q, version=cq.version))
        if not rec.ok:
            rec.status, rec.reason = "failed", "records != written + quarantined"
        _record_run(lake, rec)
        if not rec.ok:
            raise ReconciliationError(
                f"{src.name} ({src.label}) {d}: the files hold {rec.rows_read} records but bronze holds {written} "
                f"and quarantine {in_q} for this load date" + ("" if rec.committed else " (nothing was committed this run)"))
        return rec

    def record_restatement(self, good: DataFrame, version: int, quarantined: int) -> None:
        lake, src = self.lake, self.src
        old = lake.read(self.table).where(F.col("_load_date") == F.lit(self.load_date).cast("date"))
        changes = restatements.diff(old, good, list(src.key))
        row = {"source": src.name, "load_date": self.load_date, "run_id": self.job.run_id,
               "old_hash": self.prev.content_hash, "new_hash": self.digest, "txn_version": version,
               "bronze_version_before": self.prev.bronze_version,
               "rows_before": lake.row_count(self.table, partition=self.where_bronze),
               "rows_after": self.rows_read - quarantined,
               "quarantined_before": lake.row_count(QUARANTINE, partition=self.where_q),
               "quarantined_after": quarantined, **changes}
        restatements.record(lake, row, self.app_id, version)


def ingest_departments(spark: SparkSession, lake: Lakehouse, *, parent_run=None) -> list[Reconciliation]:
    """bronze.departments and bronze.dept_responsibilities (one row per department x matter x
    keyword) from catalog/departments.yaml; unchanged YAML commits nothing."""
    t0 = time.perf_counter()
    path = lake.settings.catalog_dir / "departments.yaml"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    depts = load_departments(lake.settings.catalog_dir)
    today = dt.date.today()
    d_rows = [(d.code, d.name, d.kind, d.street_code, d.issues_policies, list(d.petition_classes), len(d.responsibilities))
              for d in depts]
    r_rows = [(d.code, d.name, r.matter, k) for d in depts for r in d.responsibilities for k in r.keywords]
    c = lambda n, t, label: StructField(n, t, True, {"comment": label})  # noqa: E731
    from pyspark.sql.types import ArrayType, BooleanType, IntegerType
    d_schema = StructType([c("code", StringType(), "部门代码"), c("name", StringType(), "部门名称"),
                           c("kind", StringType(), "部门类型（职能部门/街道）"), c("street_code", StringType(), "街道代码"),
                           c("issues_policies", BooleanType(), "是否发布惠企政策"),
                           c("petition_classes", ArrayType(StringType()), "负责的诉求一级分类"),
                           c("responsibility_count", IntegerType(), "权责事项数")])
    r_schema = StructType([c("dept_code", StringType(), "部门代码"), c("dept_name", StringType(), "部门名称"),
                           c("matter", StringType(), "权责事项"), c("keyword", StringType(), "关键词")])
    out = []
    with job_run("ingest_departments", lake.settings, parent=parent_run) as run:
        run.add_input(DatasetRef("catalog.departments"))
        for table, rows, schema in (("bronze.departments", d_rows, d_schema),
                                    ("bronze.dept_responsibilities", r_rows, r_schema)):
            df = spark.createDataFrame(rows, schema)
            cm = lake.write(df, table, mode="overwrite", app_id=f"ingest_departments@{digest}")
            n = lake.row_count(table)
            run.add_output(DatasetRef(table, schema=schema_of(df), rows=n, version=cm.version))
            rec = Reconciliation(table.split(".")[1], today, len(rows), n, 0, {}, run.run_id, cm.committed, cm.version,
                                 round(time.perf_counter() - t0, 2))
            if not rec.ok:
                raise ReconciliationError(f"{table}: {len(rows)} rows in departments.yaml but {n} in the table")
            out.append(rec)
    return out


DEPARTMENTS = "departments"


def ingest_all(spark: SparkSession, lake: Lakehouse, load_date: dt.date, sources: list[str] | None = None,
               *, parent_run=None) -> list[Reconciliation]:
    """Every source of the catalog (or the given ones) for load_date; departments too when
    sources is None. Stops at the first source that fails."""
    # "departments" is no landing source: it is catalog/departments.yaml, asked for by name
    with_departments = sources is None or DEPARTMENTS in sources
    names = [s for s in (sources or load_sources(lake.settings.catalog_dir).names) if s != DEPARTMENTS]
    with job_run("ingest_all", lake.settings, nominal_time=f"{load_date.isoformat()}T00:00:00+08:00",
                 parent=parent_run) as run:
        out = [ingest_source(spark, lake, s, load_date, parent_run=run) for s in names]
        if with_departments:
            out += ingest_departments(spark, lake, parent_run=run)
    return out


def run_group_or_sources(settings, load_date: dt.date, sources: list[str] | None = None,
                         group: str | None = None) -> list[Reconciliation]:
    """What the CLI calls: own SparkSession, one group or sources.
    The enterprises group also loads the departments (issuers of subsidies and policies)."""
    from govlake.spark import get_spark

    spark = get_spark(settings, app_name=f"ingest_{group or 'all'}")
    lake = Lakehouse(spark, settings)
    if group is None:
        return ingest_all(spark, lake, load_date, sources)
    recs = ingest_all(spark, lake, load_date, sources_of_group(group, settings.catalog_dir))
    if group == "enterprises":
        recs += ingest_departments(spark, lake)
    return recs
