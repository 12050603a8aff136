"""Build and publish the enterprise profile, enterprise tags, policy profile and policy tags.

Full build: dbt builds the generated models (views) and the marts are written once to gold.
Incremental: only enterprises with a source row loaded on/after `as_of` (the load date) are
recomputed (dbt var profile_changed_since -> int_enterprise_scope) and merged by uscc.
Tags are computed from the published profile rows (same generated SQL), so the wide profile
plan runs once; a tag keeps its `since` date while it keeps holding.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from govlake.catalog.profile import load_enterprise_fields
from govlake.lakehouse import Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of
from govlake.profile import direct, sqlgen

PROFILE, TAGS, POLICY_PROFILE, POLICY_TAGS = (
    "gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_profile", "gold.policy_tags")
MODELS = ["enterprise_profile", "enterprise_tags", "policy_profile", "policy_tags"]


def _date(d) -> dt.date:
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))


def _dbt_frames(spark: SparkSession, lake: Lakehouse, as_of: dt.date, changed: dt.date | None, parent) -> dict[str, DataFrame]:
    from govlake.transform import run_dbt
    from govlake.transform.publish import public_marts, with_comments
    from govlake.transform.runner import load_manifest, target_dir

    vars_ = {"as_of": as_of.isoformat(), "load_date": as_of.isoformat(), sqlgen.CHANGED_VAR: changed.isoformat() if changed else None}
    run_dbt(spark, lake.settings, ["build", "--select", "+enterprise_profile", "+policy_profile", "+policy_tags",
                                   "--vars", json.dumps(vars_)], parent_run=parent)
    marts = public_marts(load_manifest(target_dir(lake.settings)))
    return {m: with_comments(spark.table(marts[m]["relation_name"].replace("`", "")), marts[m])
            for m in ("enterprise_profile", "policy_profile", "policy_tags")}


def _direct_frames(spark: SparkSession, lake: Lakehouse, as_of: dt.date, changed: dt.date | None) -> dict[str, DataFrame]:
    from govlake.profile.policy import policy_profile_sql, policy_tags_sql

    direct.register_staging(spark, lake, as_of)
    prof = direct.profile_views(spark, lake.settings, as_of, changed)
    d = sqlgen.Dialect("spark", as_of=as_of)
    pp = spark.sql(policy_profile_sql(lake.settings.catalog_dir, d))
    pp.createOrReplaceTempView("policy_profile")
    return {"enterprise_profile": prof, "policy_profile": pp, "policy_tags": spark.sql(policy_tags_sql(lake.settings.catalog_dir, d))}


def _with_since(spark, lake: Lakehouse, tags: DataFrame) -> DataFrame:
    """Keep the first date a still-holding tag was seen."""
    if not lake.exists(TAGS):
        return tags
    prev = lake.read(TAGS).select("uscc", "tag_id", F.col("since").alias("_prev_since"))
    return (tags.join(prev, ["uscc", "tag_id"], "left")
            .withColumn("since", F.coalesce("_prev_since", "since")).drop("_prev_since")
            .select("uscc", "tag_id", "tag_name", "tag_group", "since", "evidence"))


def build_profile(spark: SparkSession, lake: Lakehouse, as_of, *, incremental: bool = False,
                  parent_run=None, engine: str = "direct") -> dict:
    """Build the profile marts for `as_of` (a date; y1 = year(as_of) - 1) and publish them.

    incremental=True recomputes only enterprises with a bronze row whose _load_date >= as_of and
    merges them (keys: uscc); needs a previous full build. engine="direct" runs the same generated
    SQL without dbt (tests, benchmarks). Returns figures: rows, versions, seconds.
    """
    as_of = _date(as_of)
    settings = lake.settings
    changed = as_of if incremental else None
    mode = "incremental" if incremental else "full"
    if incremental and not lake.exists(PROFILE):
        raise RuntimeError(f"incremental profile build needs a published {PROFILE}; run a full build first")
    app = f"profile.{mode}@{as_of.isoformat()}"
    out: dict = {"as_of": as_of.isoformat(), "mode": mode, "engine": engine}
    t0 = time.perf_counter()
    direct.wide_join_settings(spark)  # also for the dbt views, which run on this session
    with job_run("profile.build", settings, nominal_time=f"{as_of.isoformat()}T00:00:00Z", parent=parent_run) as run:
        if engine == "dbt":
            from govlake.profile.generate import generate

            generate(settings.dbt_dir, settings.catalog_dir)  # policy models follow catalog/policies
            frames = _dbt_frames(spark, lake, as_of, changed, run)
        elif engine == "direct":
            frames = _direct_frames(spark, lake, as_of, changed)
        else:
            raise ValueError(f"engine must be dbt or direct, got {engine!r}")
        out["seconds_models"] = round(time.perf_counter() - t0, 2)
        catalog = load_enterprise_fields(settings.catalog_dir)
        lineage = {f.id: [(f"bronze.{s.split('.')[0]}", s.split(".")[1]) for s in f.lineage] for f in catalog.fields}
        derivation = {f.id: f.derivation for f in catalog.fields}
        for src in {s.split(".")[0] for f in catalog.fields for s in f.lineage}:
            run.add_input(f"bronze.{src}")

        from pyspark import StorageLevel

        from govlake.profile.quality import profile_suite
        from govlake.quality import gate

        def checked(df, table, suite=None):
            """Gate before publish: a failed suite raises and the published version stays."""
            gate(df, table, suite=suite, lake=lake, parent_run=run, record_key=app)
            return df

        # Computed once for the gate and the write (the wide plan is the expensive part).
        prof = frames["enterprise_profile"].persist(StorageLevel.MEMORY_AND_DISK)
        checked(prof, PROFILE, profile_suite(settings.catalog_dir))
        if incremental:
            c = lake.write(prof, PROFILE, mode="merge", keys=["uscc"], app_id=app)
        else:
            c = lake.write(prof, PROFILE, mode="overwrite", app_id=app)
        out["profile_rows_written"], out["profile_version"] = c.rows_written, lake.version(PROFILE)
        run.add_output(DatasetRef(PROFILE, schema=schema_of(prof), rows=c.rows_written, version=c.version,
                                  column_lineage=lineage, transformations=derivation))
        out["seconds_profile"] = round(time.perf_counter() - t0, 2)

        published = lake.read(PROFILE)
        if incremental:  # the same enterprises int_enterprise_scope selected
            published = published.join(_changed_usccs(lake, as_of), "uscc", "left_semi")
        published.createOrReplaceTempView("_published_profile")
        tags = _with_since(spark, lake, direct.tags_frame(spark, settings, "_published_profile", as_of))
        tags = checked(tags.persist(StorageLevel.MEMORY_AND_DISK), TAGS)
        tc = lake.write(tags, TAGS, mode="merge" if incremental else "overwrite",
                        keys=["uscc"] if incremental else None, app_id=app)
        out["tag_rows_written"], out["tags_version"] = tc.rows_written, lake.version(TAGS)
        run.add_output(DatasetRef(TAGS, schema=schema_of(tags), rows=tc.rows_written, version=tc.version,
                                  column_lineage={"evidence": [(PROFILE, "uscc")]}))

        for model, table in (("policy_profile", POLICY_PROFILE), ("policy_tags", POLICY_TAGS)):
            pc = lake.write(checked(frames[model], table), table, mode="overwrite", app_id=f"profile.policy@{as_of.isoformat()}")
            out[f"{model}_rows"] = pc.rows_written
            run.add_output(DatasetRef(table, rows=pc.rows_written, version=pc.version))
        prof.unpersist()
        tags.unpersist()
        out["seconds_total"] = round(time.perf_counter() - t0, 2)
    return out


def _changed_usccs(lake: Lakehouse, as_of: dt.date) -> DataFrame:
    """uscc with any bronze row loaded on/after as_of (what int_enterprise_scope selects)."""
    from govlake.catalog.profile import USCC_COLUMN
    from govlake.catalog.sources import load_sources

    parts = []
    for src in load_sources(lake.settings.catalog_dir):
        if lake.exists(f"bronze.{src.name}"):
            col = USCC_COLUMN.get(src.name, "uscc")
            parts.append(lake.read(f"bronze.{src.name}").where(F.col("_load_date") >= F.lit(as_of))
                         .select(F.col(col).alias("uscc")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.where(F.col("uscc").isNotNull()).distinct()
