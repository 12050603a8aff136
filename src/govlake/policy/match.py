"""Matching job: all active policies against all enterprises, in Spark, into gold.policy_matches.

The plan (govlake.policy.plan) evaluates every distinct clause once per chunk of policies and
keeps only rows that are eligible or one clause short (near miss); explanations are built only
for those. Rows with two or more unmet clauses are not stored (at 342 policies x 900k enterprises
that would be 300M rows nobody reads); the online evaluator answers for any enterprise and policy.

gold.policy_matches is partitioned by policy_id: a full run overwrites the table; a run for
some policies (new or changed versions) replaces only their partitions. app_id makes a re-run for
the same date and the same policy versions commit nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from govlake.catalog.policies import Policy, load_policies
from govlake.lakehouse import Commit, Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of
from govlake.policy.compile import compile_policies
from govlake.policy.fields import FieldInfo, field_catalog
from govlake.policy.plan import (  # noqa: F401  (build_matches, clause_frame: public API used by tests)
    CHUNK_CLAUSES, base_frame, build_matches, clause_frame, fields_read, matches_from_base, policy_chunks,
)

PROFILE, TAGS, MATCHES = "gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_matches"
JOB = "match_policies"

def _set_hash(policies: list[Policy]) -> str:
    blob = json.dumps(sorted((p.policy_id, p.version, p.rule_hash) for p in policies))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _state_path(lake: Lakehouse) -> Path:
    return lake.settings.state_dir / "policy_matches_hashes.json"


def matched_hashes(lake: Lakehouse) -> dict[str, str]:
    """policy_id -> rule_hash last matched into gold.policy_matches (for change detection)."""
    p = _state_path(lake)
    if not p.exists() or not lake.exists(MATCHES):
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def changed_policies(lake: Lakehouse, policies: list[Policy]) -> list[Policy]:
    """Policies that are new or whose rules/parameters/version changed since they were last matched."""
    done = matched_hashes(lake)
    return [p for p in policies if done.get(p.policy_id) != p.rule_hash]


def match_policies(spark: SparkSession, lake: Lakehouse, as_of: dt.date, *, policies: list[Policy] | None = None,
                   parent_run=None, fields: dict[str, FieldInfo] | None = None,
                   chunk_clauses: int = CHUNK_CLAUSES) -> Commit:
    """Match policies against every enterprise in gold.enterprise_profile into gold.policy_matches.

    policies=None: every active catalog policy; the table is overwritten (a full daily run).
    policies=[...]: only those (e.g. `changed_policies(...)`); only their partitions are replaced.
    """
    settings = lake.settings
    fields = fields or field_catalog(settings.catalog_dir)
    full = policies is None
    if full:
        policies = load_policies(settings.catalog_dir, {k: v.type for k, v in fields.items()})
    compiled = compile_policies(policies, as_of, fields)
    if not compiled:
        raise ValueError(f"no policy is active on {as_of}")
    run_set = [cp.policy for cp in compiled]
    app_id = f"{JOB}@{as_of.isoformat()}#{'all' if full else 'some'}-{_set_hash(run_set)}"

    with job_run(JOB, settings, nominal_time=f"{as_of.isoformat()}T00:00:00+08:00", parent=parent_run) as run:
        pv = lake.version(PROFILE)
        run.add_input(DatasetRef(PROFILE, version=pv))
        tags = None
        if lake.exists(TAGS):
            tags = lake.read(TAGS)
            run.add_input(DatasetRef(TAGS, version=lake.version(TAGS)))
        base = base_frame(lake.read(PROFILE, version=pv), tags, compiled)
        several = len(policy_chunks(compiled, chunk_clauses)) > 1
        if several:  # every chunk scans the base: read the profile (and group the tags) once
            base = base.repartition(spark.sparkContext.defaultParallelism).persist(StorageLevel.MEMORY_AND_DISK)
        df = matches_from_base(base, compiled, as_of, chunk_clauses)
        meta = {"as_of": as_of.isoformat(), "policies": len(run_set), "profile_version": pv,
                "scope": "all" if full else ",".join(p.policy_id for p in run_set)}
        try:
            with matching_conf(spark, len(compiled)):
                commit = lake.write(df, MATCHES, mode="overwrite" if full else "replace_partitions",
                                    partition_by=["policy_id"], app_id=app_id, metadata=meta)
        finally:
            if several:
                base.unpersist()
        if commit.committed and not full:
            commit = _drop_stale(lake, run_set, as_of, app_id, commit)
        if commit.committed:
            state = {} if full else matched_hashes(lake)
            state.update({p.policy_id: p.rule_hash for p in run_set})
            _state_path(lake).parent.mkdir(parents=True, exist_ok=True)
            _state_path(lake).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        used = fields_read(compiled)
        run.add_output(DatasetRef(
            MATCHES, schema=schema_of(df), rows=commit.rows_written, version=commit.version,
            column_lineage={c: [(PROFILE, f) for f in used] for c in ("eligible", "near_miss", "clause_results", "explanation_zh")}
            | {"uscc": [(PROFILE, "uscc")]},
            transformations={"eligible": "all policy clauses satisfied (catalog/policies)",
                             "explanation_zh": "Chinese explanation per clause group"},
        ))
    return commit


@contextmanager
def matching_conf(spark: SparkSession, n_policies: int):
    """Session settings for the matching write, restored afterwards.

    - no whole-stage codegen: a chunk's explanation CASE is one huge method inside a stage (past
      64 KB Janino fails after seconds of compiling; past 8 KB HotSpot never JITs it); per-operator
      code generation splits every expression into small methods instead;
    - each write task keeps one open file per policy instead of sorting its rows by policy_id
      (a sort of every kept row, spilling at 900k) or shuffling them (the old repartition); rows
      arrive interleaved by policy, one enterprise at a time; files = tasks x policies."""
    conf = {"spark.sql.codegen.wholeStage": "false",
            "spark.sql.optimizer.plannedWrite.enabled": "false",
            "spark.sql.maxConcurrentOutputFileWriters": str(n_policies + 1)}
    before = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            spark.conf.unset(k) if v is None else spark.conf.set(k, v)


def _drop_stale(lake: Lakehouse, run_set: list[Policy], as_of: dt.date, app_id: str, commit: Commit) -> Commit:
    """A policy that now matches nobody wrote no partition, so replace_partitions left its old
    rows; remove them (rare: costs one rewrite of the table)."""
    hashes = {p.policy_id: p.rule_hash for p in run_set}
    cur = lake.read(MATCHES)
    stale = [r["policy_id"] for r in cur.where(F.col("policy_id").isin(list(hashes)))
             .select("policy_id", "rule_hash", "as_of").distinct().collect()
             if hashes[r["policy_id"]] != r["rule_hash"] or r["as_of"] != as_of]
    if not stale:
        return commit
    keep = cur.where(~F.col("policy_id").isin(stale)).repartition("policy_id")
    return lake.write(keep, MATCHES, mode="overwrite", partition_by=["policy_id"], app_id=app_id + "#drop-stale",
                      metadata={"dropped_policies": ",".join(sorted(set(stale)))})
