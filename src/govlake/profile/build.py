"""Build and publish the enterprise profile, enterprise tags, policy profile and policy tags.

Full build: dbt builds the generated models (views) and the marts are written once to gold.
Incremental: only enterprises with a source row loaded on/after `as_of` (the load date) are
recomputed, in this process by DuckDB (`govlake.profile.changed`: the generated scope, staging and
profile models as dbt compiles them for DuckDB, over the bronze files), and replaced by uscc: one commit per table
that marks the old rows in deletion vectors (a day's change is a random 1 % of keys that a rewrite
of the files holding them would pay for in full; the marks are prepared while the new rows are
computed) and adds the new files; the policy marts, which come from the catalog alone, are left as they are.
The wide profile is computed once into uncommitted Parquet files in the table's folder, and the
tags (catalog rules as Arrow kernels) from the same rows into the tags table's folder, in one pass
(`profile_files`); the gates and the merge read those files, and each Delta commit happens
only if its gate passes, so the 1,500-column plan is analysed and run once; a tag keeps its `since`
date while it keeps holding. Figures per phase are returned (seconds_*).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pa_compute
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from govlake.catalog.enterprise import load_enterprise_fields
from govlake.catalog.sources import load_sources
from govlake import release
from govlake.lakehouse import Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of
from govlake.profile import changed, direct, profile_files, tag_kernels, tag_since, wide

PROFILE, TAGS, POLICY_PROFILE, POLICY_TAGS = (
    "gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_profile", "gold.policy_tags")


def _date(d) -> dt.date:
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))


def _dbt_frames(spark: SparkSession, lake: Lakehouse, as_of: dt.date, parent) -> dict[str, DataFrame]:
    from govlake.transform import run_dbt
    from govlake.transform.publish import public_marts, with_comments
    from govlake.transform.runner import load_manifest, target_dir

    vars_ = {"as_of": as_of.isoformat(), "load_date": as_of.isoformat()}
    # int_enterprise_rows (what the build computes) is no ancestor of the profile: selected too
    run_dbt(spark, lake.settings, ["build", "--select", "+enterprise_profile", f"+{wide.ROWS}", "+policy_profile",
                                   "+policy_tags", "--vars", json.dumps(vars_)], parent_run=parent)
    manifest = load_manifest(target_dir(lake.settings))
    marts = public_marts(manifest)
    frames = {m: with_comments(spark.table(marts[m]["relation_name"].replace("`", "")), marts[m])
              for m in ("enterprise_profile", "policy_profile", "policy_tags")}
    rows = next(n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == wide.ROWS)
    frames[wide.ROWS] = spark.table(rows["relation_name"].replace("`", ""))
    return frames


def _direct_frames(spark: SparkSession, lake: Lakehouse, as_of: dt.date) -> dict[str, DataFrame]:
    views = direct.model_views(spark, lake, as_of)
    return {m: views[m] for m in ("enterprise_profile", wide.ROWS, "policy_profile", "policy_tags")}


def _published_schema(lake: Lakehouse, catalog) -> StructType:
    """The incremental's profile schema: the published table's, which its rows are merged into (no
    analysis of the 1,500-column views: seconds of a 1 % build). The catalog must still describe
    it, column for column; a changed catalog needs a full build."""
    schema = lake.schema(PROFILE)
    want = [(f.id, f.type) for f in catalog.fields]  # the profile's columns, in order (sqlgen.profile_sql)
    have = [(f.name, f.dataType.simpleString()) for f in schema.fields]
    if have != want:
        diff = sorted(set(want) ^ set(have))[:5] or "the column order"
        raise RuntimeError(f"{PROFILE}: the catalog's fields differ from the published profile's columns "
                           f"(企业画像字段与已发布表不一致: {diff}); run a full build first")
    return schema


def _bronze_versions(lake: Lakehouse) -> dict[str, int]:
    """The versions of the bronze tables a build reads (kept in the profile's commit metadata)."""
    tables = (f"bronze.{s.name}" for s in load_sources(lake.settings.catalog_dir))
    return {t: lake.version(t) for t in tables if lake.exists(t)}


def _txn_version(lake: Lakehouse, bronze: dict[str, int]) -> int:
    """The build's transaction version (txnVersion of its app id): one more with each commit that
    changes rows of a bronze table it reads, also a table's first. A build is idempotent per as_of
    *and* bronze data: a re-run over the same bronze commits nothing (upkeep's OPTIMIZE, VACUUM and
    properties commits do not count), but a load date restated after the day's build (a corrected
    extract re-landed, govlake.ingest.restatements) reaches the next build of that day instead of
    being skipped as already committed."""
    return sum(1 for t in bronze for h in lake.history(t) if h.get("operation") not in release.SAME_DATA)


def _changed_since(lake: Lakehouse, as_of: dt.date) -> dt.date:
    """An incremental's first load date: as_of, or an earlier load date restated since the
    published profile was built. A corrected extract of a day already loaded replaces rows that
    are not on or after as_of, and their enterprises must be recomputed all the same. A restatement
    came after the build when the bronze version it replaced is at least the one the build read.
    (A profile built before the versions were kept in its commits: as_of.)"""
    from govlake.ingest.restatements import RESTATEMENTS

    built = next((json.loads(h["bronze_versions"]) for h in lake.history(PROFILE) if h.get("bronze_versions")), None)
    if built is None or not lake.exists(RESTATEMENTS):
        return as_of
    rows = lake.to_arrow(RESTATEMENTS, columns=["source", "load_date", "bronze_version_before"]).to_pylist()
    return min([as_of, *(r["load_date"] for r in rows
                         if r["bronze_version_before"] >= built.get(f"bronze.{r['source']}", -1))])


_SINCE_COLUMNS = ["uscc", "tag_id", "since"]


def _published_since_index(lake: Lakehouse, keys=None) -> Path:
    """The published tags' since dates (keys, a pyarrow array: of those enterprises only) as a
    saved `tag_since.SinceIndex`, in a folder of the tags table that Delta readers skip (the
    caller removes it), for whoever computes the tags. A few keys (an incremental's ~1 %, random,
    so in every file) are found by a filtered Arrow scan on the files' dictionaries (Spark's
    semi join took 12-20 s at 900,000)."""
    batches = lake.to_batches(TAGS, _SINCE_COLUMNS, where_in=None if keys is None else ("uscc", keys))
    # memory-mapped by the workers: a local folder (the work dir when the lake is in the bucket;
    # shipped to a cluster's executors by the caller)
    base = lake.path(TAGS) if lake.settings.lake_is_local else lake.settings.local_dir / "profile_since"
    return tag_since.SinceIndex.from_batches(batches).save(base / f"_since-{uuid.uuid4().hex[:12]}")


class _EarlyMarks:
    """An incremental's deletion-vector marks of its enterprises' published rows (profile, then
    tags), prepared in a background thread from the moment the scope is known, while this
    process computes and gates their new rows: the marks need only the keys and the published
    files (Lakehouse.prepare_replace), and mostly wait on the JVM. Each merge takes its table's
    (`take`); what no merge took (a failed gate, a quiet day, an error) is discarded on `close`."""

    def __init__(self, lake: Lakehouse, tables: list[str], keys: list, app_id: str, app_version: int):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="profile-marks")
        self._marks = {t: self._pool.submit(lake.prepare_replace, t, "uscc", keys, app_id=app_id, app_version=app_version)
                       for t in tables}

    def take(self, table: str):
        future = self._marks.pop(table, None)
        return future.result() if future is not None else None

    def close(self) -> None:
        for future in self._marks.values():
            try:
                marks = future.result()
            except Exception:  # noqa: BLE001 - the build's own error (or none) is the one to report
                continue
            if marks is not None:
                marks.discard()
        self._marks.clear()
        self._pool.shutdown()


def build_profile(spark: SparkSession, lake: Lakehouse, as_of, *, incremental: bool = False,
                  parent_run=None, engine: str = "direct") -> dict:
    """Build the profile marts for `as_of` (a date; y1 = year(as_of) - 1) and publish them.

    incremental=True recomputes only enterprises with a bronze row whose _load_date >= as_of and
    merges them (keys: uscc); needs a previous full build. engine (a full build's models): "dbt",
    or "direct" to run the same generated SQL without dbt (tests, benchmarks); an incremental
    runs no models in Spark, whatever the engine. Returns figures: rows, versions, seconds.
    """
    as_of = _date(as_of)
    settings = lake.settings
    mode = "incremental" if incremental else "full"
    if incremental and not lake.exists(PROFILE):
        raise RuntimeError(f"incremental profile build needs a published {PROFILE}; run a full build first")
    bronze = _bronze_versions(lake)
    app, app_version = f"profile.{mode}@{as_of.isoformat()}", _txn_version(lake, bronze)
    built_on = {"bronze_versions": json.dumps(bronze)}
    out: dict = {"as_of": as_of.isoformat(), "mode": mode, "engine": engine}
    t0 = time.perf_counter()
    direct.wide_join_settings(spark)  # also for the dbt views, which run on this session
    if engine not in ("dbt", "direct"):
        raise ValueError(f"engine must be dbt or direct, got {engine!r}")
    with (job_run("profile.build", settings, nominal_time=f"{as_of.isoformat()}T00:00:00Z", parent=parent_run) as run,
          contextlib.ExitStack() as cleanup):
        frames = {}  # none for an incremental: computed in this process (govlake.profile.changed)
        if not incremental and engine == "dbt":
            from govlake.profile.dbt_models import generate

            generate(settings.dbt_dir, settings.catalog_dir)  # policy models follow catalog/policies
            frames = _dbt_frames(spark, lake, as_of, run)
        elif not incremental:
            frames = _direct_frames(spark, lake, as_of)
        out["seconds_models"] = round(time.perf_counter() - t0, 2)
        catalog = load_enterprise_fields(settings.catalog_dir)
        lineage = {f.id: [(f"bronze.{s.split('.')[0]}", s.split(".")[1]) for s in f.lineage] for f in catalog.fields}
        derivation = {f.id: f.derivation for f in catalog.fields}
        for src in {s.split(".")[0] for f in catalog.fields for s in f.lineage}:
            run.add_input(f"bronze.{src}")

        from govlake.profile.suite import profile_suite
        from govlake.quality import gate

        def checked(df, table, suite=None, engine="auto", arrow=None):
            """Gate before publish: a failed suite raises and the published version stays."""
            gate(df, table, suite=suite, lake=lake, parent_run=run, record_key=app, engine=engine, arrow=arrow)
            return df

        def lap(name, since):
            now = time.perf_counter()
            out[f"seconds_{name}"] = round(now - since, 2)
            return now

        # Computed once, straight into Parquet files in the table's folder (not yet committed, so
        # readers still see the published version); the gate, the merge and the tags read those
        # files (columnar, only the columns they need), and the Delta transaction is committed
        # only if the gate passes. Replaces an eager local checkpoint of the 1,500-column rows
        # (~11 GB of UnsafeRows at 900,000 enterprises, the memory target).
        # The tags (catalog rules as Arrow kernels, the same rows and evidence as the generated tag
        # SQL: tests/profile/test_tag_kernels.py) are computed from the same Arrow batches by the
        # workers that write the profile's files, into staged files of the tags table: the 146 M
        # tag rows at 900,000 enterprises never pass through Spark's rows and writer, and the
        # rule columns are not read back (docs/profile.md, "Tags and `since`").
        # Over published tags, a tag that still holds keeps its since date, looked up by whoever
        # computes the tags (tag_since: the workers of a full build, this process in an
        # incremental, which packs only its enterprises' published tags), so the tag rows are
        # written once (146 M at 900,000 enterprises).
        # A full build: Spark computes int_enterprise_rows (staging, distributed by enterprise);
        # its Python workers run the source aggregates, int_enterprise_base and the profile (the
        # models as dbt compiles them for DuckDB) on each task's rows (govlake.profile.wide).
        # An incremental: the same projection on the changed enterprises' rows, in this process
        # (govlake.profile.changed). The schema (contract, comments): the Spark profile frame's in
        # a full build, the published table's in an incremental (which analyses no view).
        schema = _published_schema(lake, catalog) if incremental else frames["enterprise_profile"].schema
        project = wide.projection(settings.catalog_dir, as_of, to_arrow_schema(schema))
        t = time.perf_counter()
        since_index = marks = None
        with contextlib.ExitStack() as stack:
            if incremental:
                since = _changed_since(lake, as_of)  # as_of, or a restated earlier load date
                out["changed_since"] = since.isoformat()
                scoped = stack.enter_context(changed.ChangedEnterprises(lake, as_of, since,
                                                                        spark.conf.get("spark.sql.session.timeZone")))
                recomputed = scoped.scope.cast("string")
                if len(recomputed):  # their published rows' marks, while their new rows are computed
                    marks = _EarlyMarks(lake, [tb for tb in (PROFILE, TAGS) if lake.exists(tb)], recomputed.to_pylist(),
                                        app, app_version)
                    cleanup.callback(marks.close)
                t = lap("scope", t)
            if lake.exists(TAGS):
                since_index = _published_since_index(lake, recomputed if incremental else None)
                stack.callback(shutil.rmtree, since_index, ignore_errors=True)
                t = lap("tags_since", t)
            shipped = False
            if since_index is not None and not incremental and not spark.sparkContext.master.startswith("local"):
                # executors on other machines do not see the driver's folder: Spark ships it to each
                spark.sparkContext.addFile(str(since_index), recursive=True)
                shipped = True
            tagger = tag_kernels.tagger(settings.catalog_dir, as_of, since_index, shipped=shipped)
            if incremental:
                staged, staged_tags = profile_files.stage_from_batches(lake, scoped.profile(project), schema, PROFILE,
                                                                       TAGS, tagger, tag_kernels.spark_schema())
            else:
                staged, staged_tags = profile_files.stage_from_rows(lake, frames[wide.ROWS], project, schema, PROFILE,
                                                                    TAGS, tagger, tag_kernels.spark_schema())
        if incremental and not staged.files:  # a quiet day: no enterprise changed, nothing to merge
            staged.discard()
            staged_tags.discard()
            out.update(profile_rows_written=0, tag_rows_written=0, profile_version=lake.version(PROFILE),
                       tags_version=lake.version(TAGS) if lake.exists(TAGS) else None)
            return _released(lake, run, out, t0)
        prof = staged.frame(spark)
        t = lap("profile_compute", t)
        # where the compute's task time went: the staging rows in and the DuckDB projection, the
        # profile files, the tags and their files (task-seconds, summed over the tasks)
        for phase, name in (("rows", "profile_rows"), ("write", "profile_files"), ("tags", "tags")):
            out[f"task_seconds_{name}"] = staged.task_seconds.get(phase)
        try:
            # 3,000+ expectations over 1,500 columns: counted by Arrow from the staged files
            # (27 s by Spark's scans at 100,000 enterprises; docs/profile.md).
            checked(prof, PROFILE, profile_suite(settings.catalog_dir), engine="arrow", arrow=staged.dataset())
        except Exception:
            staged.discard()
            staged_tags.discard()
            raise
        t = lap("profile_gate", t)
        # the recomputed enterprises (incremental): the keys the profile's merge replaces, and
        # whose tags are replaced below, read once from the staged files
        scope = staged.to_table(["uscc"]) if incremental else None
        if incremental:  # a random 1 % of keys hits every file: deletion vectors, not a rewrite
            # the scope's enterprises, whose rows the marks replace, are the staged rows' keys (the
            # union guards the tags' replace)
            keys = pa.chunked_array([recomputed, *scope.column("uscc").chunks], pa.string())
            replaced = pa.table({"uscc": pa_compute.unique(keys)})
            c = lake.merge_staged(staged, ["uscc"], replace=replaced, staged_keys=scope, app_id=app, app_version=app_version,
                                  metadata=built_on, prepared=marks.take(PROFILE) if marks else None)
        else:
            c = lake.commit(staged, app_id=app, app_version=app_version, metadata=built_on)
        t = lap("profile_write", t)
        out["profile_rows_written"], out["profile_version"] = c.rows_written, lake.version(PROFILE)
        run.add_output(DatasetRef(PROFILE, schema=schema_of(prof), rows=c.rows_written, version=c.version,
                                  column_lineage=lineage, transformations=derivation))
        out["seconds_profile"] = round(time.perf_counter() - t0, 2)

        # Tags of the rows just gated and published (incremental: of the recomputed enterprises).
        tags = staged_tags.frame(spark)
        # ~160 tag rows per enterprise (144 M at 900,000): counted by Arrow from the staged files
        # too, nulls from the Parquet footers and the (uscc, tag_id) uniqueness on integer codes
        # of the row groups' dictionaries (Spark's scan and hash group-by: 206 s at 900,000).
        try:
            checked(tags, TAGS, engine="arrow", arrow=staged_tags.dataset())
        except Exception:
            staged_tags.discard()
            raise
        t = lap("tags_gate", t)
        if incremental:  # every recomputed enterprise's tags are replaced, also by none
            tc = lake.merge_staged(staged_tags, ["uscc"], replace=replaced, app_id=app, app_version=app_version,
                                   prepared=marks.take(TAGS) if marks else None)
        else:
            tc = lake.commit(staged_tags, app_id=app, app_version=app_version)
        t = lap("tags_write", t)
        out["tag_rows_written"], out["tags_version"] = tc.rows_written, lake.version(TAGS)
        run.add_output(DatasetRef(TAGS, schema=schema_of(tags), rows=tc.rows_written, version=tc.version,
                                  column_lineage={"evidence": [(PROFILE, "uscc")]}))

        # The policy marts come from the catalog's policies, not from enterprise sources: a day's
        # change to some enterprises leaves them as they are (a catalog change needs a full build).
        for model, table in () if incremental else (("policy_profile", POLICY_PROFILE), ("policy_tags", POLICY_TAGS)):
            pc = lake.write(checked(frames[model], table), table, mode="overwrite", app_id=f"profile.policy@{as_of.isoformat()}")
            out[f"{model}_rows"] = pc.rows_written
            run.add_output(DatasetRef(table, rows=pc.rows_written, version=pc.version))
        lap("policy", t)
        # Staged files are committed as they are (an incremental's too, beside the deletion vectors
        # of the rows they replace); if the same app_id was already committed (an idempotent
        # re-run), they are deleted once nothing reads them any more.
        if not c.committed:
            staged.discard()
        if not tc.committed:
            staged_tags.discard()
        return _released(lake, run, out, t0)


def _released(lake: Lakehouse, run, out: dict, t0: float) -> dict:
    """The versions a build leaves for readers, all committed, released as one set
    (govlake.release) so none is served alone: whoever builds (pipeline, CLI, bench)."""
    out["versions"] = {t: lake.version(t) for t in (PROFILE, TAGS, POLICY_PROFILE, POLICY_TAGS) if lake.exists(t)}
    out["release"] = release.publish(lake, run.run_id, out["versions"], step="profile").release_id
    out["seconds_total"] = round(time.perf_counter() - t0, 2)
    return out

