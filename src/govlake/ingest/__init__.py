"""Landing CSV -> bronze Delta, with every row accounted for.

    ingest_source(spark, lake, source, load_date)   one source, one load date -> Reconciliation
    ingest_all(spark, lake, load_date, sources=None) every source (+ departments) -> [Reconciliation]
    ingest_departments(spark, lake)                  catalog/departments.yaml -> bronze tables

Good rows go to bronze.<source> (typed, Chinese labels as column comments, partition
_load_date); bad rows to bronze.quarantine with the first failing rule. Writes replace the
load date's partition under app_id ingest_<source>@<date>, so a re-run commits nothing.
Each run appends to ops.ingest_runs and fails loudly unless read == written + quarantined.
See docs/ingestion.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from govlake.catalog import Source, load_departments, load_sources
from govlake.ingest import rules
from govlake.lakehouse import Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of

__all__ = ["Reconciliation", "ReconciliationError", "ingest_source", "ingest_all", "ingest_departments",
           "SOURCE_GROUPS", "sources_of_group", "run_group_or_sources"]

QUARANTINE = "bronze.quarantine"
RUNS = "ops.ingest_runs"
# Entry points (spark_jobs/ingest_*.py) ingest these groups; "enterprises" = the 法人库 and other
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
    """rows read != rows written + rows quarantined."""


@dataclass
class Reconciliation:
    source: str
    load_date: dt.date
    rows_read: int
    rows_written: int
    rows_quarantined: int
    quarantined_by_rule: dict = field(default_factory=dict)
    run_id: str = ""
    committed: bool = False
    bronze_version: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rows_read == self.rows_written + self.rows_quarantined


def _landing_files(lake: Lakehouse, source: Source, load_date: dt.date) -> list[Path]:
    folder = lake.settings.landing_dir / source.name / load_date.isoformat()
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no landing files for {source.name} ({source.label}) on {load_date}: {folder}/*.csv")
    for f in files:
        with open(f, "rb") as fh:
            header = fh.readline().decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")
        if header != source.column_names:
            missing = [c for c in source.column_names if c not in header]
            extra = [c for c in header if c not in source.column_names]
            raise ValueError(
                f"{f}: header does not match catalog/sources.yaml for {source.name} ({source.label}); "
                f"missing {missing}, unexpected {extra}" + ("" if missing or extra else ", order differs"))
    return files


def _read_raw(spark: SparkSession, files: list[Path], source: Source) -> DataFrame:
    schema = StructType([StructField(c, StringType()) for c in source.column_names])
    # multiLine: petition texts hold quoted newlines; it also keeps each file in one task, so
    # monotonically_increasing_id follows line order within a file.
    df = (spark.read.schema(schema).option("header", True).option("multiLine", True)
          .option("escape", '"').option("encoding", "UTF-8").option("mode", "PERMISSIVE")
          .csv([str(f) for f in files]))
    return df.withColumn("_path", F.col("_metadata.file_path")).withColumn("_row", F.monotonically_increasing_id())


def check(spark: SparkSession, lake: Lakehouse, source: Source, load_date: dt.date) -> DataFrame:
    """Raw columns, typed `_v_<col>` columns, `_reason` (null = good row), `_path`, `_row`."""
    catalog = load_sources(lake.settings.catalog_dir)
    # The new datetime parser only: strict formats, and never the legacy-parser upgrade error.
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    df = _read_raw(spark, _landing_files(lake, source, load_date), source)
    df = df.selectExpr("*", *rules.derived(source, catalog))
    df = df.selectExpr("*", f"{rules.reason(source, catalog)} AS _reason")
    if source.key:
        ok = F.col("_reason").isNull()
        w = Window.partitionBy(ok, *[F.col(f"_v_{k}") for k in source.key]).orderBy("_path", "_row")
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
        F.regexp_extract("_path", r"([^/]+/[^/]+/[^/]+)$", 1).alias("_source_file", metadata={"comment": "来源文件"}),
        F.lit(run_id).alias("_run_id", metadata={"comment": "装载运行标识"}),
    )


def _quarantine(df: DataFrame, source: Source, load_date: dt.date, run_id: str) -> DataFrame:
    raw = F.to_json(F.struct(*[F.col(f"`{c}`") for c in source.column_names]), {"ignoreNullFields": "false"})
    return df.where(F.col("_reason").isNotNull()).select(
        F.lit(source.name).alias("source", metadata={"comment": "来源"}),
        F.lit(load_date).cast("date").alias("load_date", metadata={"comment": "装载日期"}),
        F.col("_reason.rule").alias("rule", metadata={"comment": "未通过的规则"}),
        F.col("_reason.column").alias("column", metadata={"comment": "字段"}),
        F.col("_reason.detail").alias("detail", metadata={"comment": "说明"}),
        raw.alias("raw", metadata={"comment": "原始行（JSON）"}),
        F.regexp_extract("_path", r"([^/]+/[^/]+/[^/]+)$", 1).alias("_source_file", metadata={"comment": "来源文件"}),
        F.lit(run_id).alias("_run_id", metadata={"comment": "装载运行标识"}),
    )


def _record_run(lake: Lakehouse, rec: Reconciliation) -> None:
    spark = lake.spark
    row = {**asdict(rec), "quarantined_by_rule": json.dumps(rec.quarantined_by_rule, ensure_ascii=False),
           "reconciled": rec.ok, "recorded_at": dt.datetime.now()}
    schema = ("source string, load_date date, rows_read bigint, rows_written bigint, rows_quarantined bigint, "
              "quarantined_by_rule string, run_id string, committed boolean, bronze_version bigint, seconds double, "
              "reconciled boolean, recorded_at timestamp")
    lake.write(spark.createDataFrame([row], schema), RUNS, mode="append")


def ingest_source(spark: SparkSession, lake: Lakehouse, source: str, load_date: dt.date, *,
                  parent_run=None) -> Reconciliation:
    t0 = time.perf_counter()
    src = load_sources(lake.settings.catalog_dir)[source]
    app_id = f"ingest_{source}@{load_date.isoformat()}"
    with job_run(f"ingest_{source}", lake.settings, nominal_time=f"{load_date.isoformat()}T00:00:00+08:00",
                 parent=parent_run) as run:
        checked = check(spark, lake, src, load_date).persist()
        try:
            counts = {r["rule"]: r["count"] for r in
                      checked.groupBy(F.col("_reason.rule").alias("rule")).count().collect()}
            rows_read = sum(counts.values())
            by_rule = {k: v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])) if k is not None}
            run.add_input(DatasetRef(f"landing.{source}", schema=[(c.name, "string", c.label) for c in src.columns],
                                     rows=rows_read))
            # ~500k rows per bronze file; tiny loads give one file instead of one per shuffle partition.
            good = _typed(checked, src, load_date, run.run_id).coalesce(max(1, rows_read // 500_000 + 1))
            bad = _quarantine(checked, src, load_date, run.run_id).coalesce(1)
            meta = {"load_date": load_date.isoformat(), "run_id": run.run_id, "source": source}
            cb = lake.write(good, f"bronze.{source}", mode="replace_partitions", partition_by=["_load_date"],
                            app_id=app_id, metadata=meta)
            cq = lake.write(bad, QUARANTINE, mode="replace_partitions", partition_by=["load_date", "source"],
                            app_id=app_id, metadata=meta)
        finally:
            checked.unpersist()
        written = lake.row_count(f"bronze.{source}", partition={"_load_date": load_date.isoformat()})
        quarantined = lake.row_count(QUARANTINE, partition={"load_date": load_date.isoformat(), "source": source})
        rec = Reconciliation(source, load_date, rows_read, written, quarantined, by_rule, run.run_id,
                             committed=cb.committed or cq.committed, bronze_version=cb.version,
                             seconds=round(time.perf_counter() - t0, 2))
        assertions = [{"assertion": f"rows_read == rows_written + rows_quarantined ({rows_read} == {written} + {quarantined})",
                       "success": rec.ok}]
        assertions += [{"assertion": f"{rule}: {n} rows quarantined", "success": False} for rule, n in by_rule.items()]
        run.add_output(DatasetRef(
            f"bronze.{source}", schema=schema_of(good), rows=written, version=cb.version,
            column_lineage={c.name: [(f"landing.{source}", c.name)] for c in src.columns},
            assertions=assertions))
        run.add_output(DatasetRef(QUARANTINE, schema=schema_of(bad), rows=quarantined, version=cq.version))
        _record_run(lake, rec)
        if not rec.ok:
            raise ReconciliationError(
                f"{source} ({src.label}) {load_date}: read {rows_read} rows but bronze holds {written} and quarantine "
                f"{quarantined} for this load date" + ("" if rec.committed else
                " (nothing was committed this run: the landing files changed after the load date was first ingested)"))
    return rec


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


def ingest_all(spark: SparkSession, lake: Lakehouse, load_date: dt.date, sources: list[str] | None = None,
               *, parent_run=None) -> list[Reconciliation]:
    """Every source of the catalog (or the given ones) for load_date; departments too when
    sources is None. Stops at the first source that fails."""
    names = sources or load_sources(lake.settings.catalog_dir).names
    with job_run("ingest_all", lake.settings, nominal_time=f"{load_date.isoformat()}T00:00:00+08:00",
                 parent=parent_run) as run:
        out = [ingest_source(spark, lake, s, load_date, parent_run=run) for s in names]
        if sources is None:
            out += ingest_departments(spark, lake, parent_run=run)
    return out


def run_group_or_sources(settings, load_date: dt.date, sources: list[str] | None = None,
                         group: str | None = None) -> list[Reconciliation]:
    """What the CLI and spark_jobs/ingest_*.py call: own SparkSession, one group or sources.
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
