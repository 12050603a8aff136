"""Matching job: all active policies against all enterprises, in Spark, into the narrow stored
layout of gold.policy_matches (govlake.policy.plan) — read it through govlake.policy.matches.

Per run (a SEGMENT): the outcome table rows of the run's policies are built in Python and gated;
Spark evaluates every enterprise with the Arrow kernel and writes gold.policy_match_keys (one row
per enterprise with at least one kept pair); then gold.policy_match_outcomes is written, naming the
keys version it belongs to. Only pairs that are eligible or one clause short are kept (the online
evaluator answers for any pair).

policies=None: every active catalog policy; both tables are overwritten (a full daily run).
policies=[...] (new or changed versions, `changed_policies`): the run's segment is added to the
keys table (replace_partitions) and the outcome rows of those policy ids are replaced by the new
segment's, so the older segment's keys for them are no longer visible; everything else stays.
app_ids make a re-run for the same date and policy versions commit nothing.
Reconciled: enterprises evaluated = profile rows; pairs evaluated = enterprises x policies; pairs
kept = keys written; recorded in the commit metadata, the lineage event and the returned commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from govlake import release
from govlake.catalog.policies import Policy, load_policies
from govlake.lakehouse import Commit, Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of
from govlake.policy.compile import compile_policies
from govlake.policy.fields import FieldInfo, field_catalog
from govlake.policy.matches import KEYS, MATCHES, OUTCOMES, PROFILE, TAGS, WIDE_COLUMNS
from govlake.policy.plan import (  # noqa: F401  (clause_frame, build_keys: public API used by tests)
    KEY_BUCKETS, KEYS_COMMENTS, OUTCOME_COLUMNS, OUTCOME_SCHEMA, base_frame, build_keys, clause_frame,
    fields_read, outcome_rows, outcome_width,
)

JOB = "match_policies"


@dataclass(frozen=True)
class MatchCommit(Commit):
    """The keys table commit, plus what the run evaluated and kept (reconciled)."""

    outcomes_version: int = -1
    release: str | None = None  # the release that made keys and outcomes visible together
    segment: str = ""
    enterprises: int = 0
    pairs_evaluated: int = 0
    pairs_kept: int = 0
    eligible: int = 0
    seconds: dict = None  # wall seconds per phase (gate, keys, outcomes)


def _set_hash(policies: list[Policy]) -> str:
    blob = json.dumps(sorted((p.policy_id, p.version, p.rule_hash) for p in policies))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def matched_hashes(lake: Lakehouse) -> dict[str, str]:
    """policy_id -> rule_hash of the version currently visible in gold.policy_matches."""
    if not lake.exists(OUTCOMES):
        return {}
    t = lake.to_arrow(OUTCOMES).select(["policy_id", "rule_hash"])
    return dict(zip(t.column("policy_id").to_pylist(), t.column("rule_hash").to_pylist()))


def changed_policies(lake: Lakehouse, policies: list[Policy]) -> list[Policy]:
    """Policies that are new or whose rules/parameters/version changed since they were last matched."""
    done = matched_hashes(lake)
    return [p for p in policies if done.get(p.policy_id) != p.rule_hash]


def outcomes_suite() -> dict:
    """The gate of the outcome rows (every visible match row takes its policy columns, results and
    explanation prefix from one of them): key unique, the columns a reader relies on present."""
    from govlake.quality.suites import ColumnSpec, suite_from_columns

    labels = {n: c for n, _, c in OUTCOME_COLUMNS}
    specs = [ColumnSpec(n, t if t in ("string", "int", "long", "date", "boolean") else "", label=labels[n],
                        nullable=n in ("unmet_clause", "unmet_status", "tags_version"))
             for n, t, _ in OUTCOME_COLUMNS]
    for s in specs:
        if s.name == "n_failed":
            s.min, s.max = 0, 1
        if s.name == "unmet_status":
            s.allowed_values = ["fail", "unknown"]
    return suite_from_columns(OUTCOMES, specs, key=["segment", "k"])


def match_policies(spark: SparkSession, lake: Lakehouse, as_of: dt.date, *, policies: list[Policy] | None = None,
                   parent_run=None, fields: dict[str, FieldInfo] | None = None) -> MatchCommit:
    """Match policies against every enterprise in gold.enterprise_profile (see the module doc)."""
    from govlake.quality import gate

    settings = lake.settings
    fields = fields or field_catalog(settings.catalog_dir)
    full = policies is None
    if full:
        policies = load_policies(settings.catalog_dir, {k: v.type for k, v in fields.items()})
    compiled = compile_policies(policies, as_of, fields)
    if not compiled:
        raise ValueError(f"no policy is active on {as_of}")
    run_set = [cp.policy for cp in compiled]
    h = _set_hash(run_set)
    app_id = f"{JOB}@{as_of.isoformat()}#{'all' if full else 'some'}-{h}"
    segment = f"{as_of:%Y%m%d}-{'all' if full else 'some'}-{h}"
    width = outcome_width(compiled)

    with job_run(JOB, settings, nominal_time=f"{as_of.isoformat()}T00:00:00+08:00", parent=parent_run) as run:
        # The released profile and tags (govlake.release): never a profile whose tags were not
        # committed with it.
        pv = release.version_of(lake, PROFILE)
        run.add_input(DatasetRef(PROFILE, version=pv))
        tags, tv = None, None
        if lake.exists(TAGS):
            tv = release.version_of(lake, TAGS)
            tags = lake.read(TAGS, version=tv)
            run.add_input(DatasetRef(TAGS, version=tv))

        t0 = time.perf_counter()
        # The outcome rows of this segment: built and gated before anything is written.
        new_rows = [(segment, *r, pv, tv) for r in outcome_rows(compiled, width, as_of)]
        rows_df = spark.createDataFrame([(*r, -1) for r in new_rows], OUTCOME_SCHEMA)
        gate(rows_df, OUTCOMES, suite=outcomes_suite(), parent_run=run, lake=lake, engine="arrow",
             record_key=segment)  # a re-run records no second result

        t1 = time.perf_counter()
        base = base_frame(lake.read(PROFILE, version=pv), tags, compiled)
        cores = spark.sparkContext.defaultParallelism
        if base.rdd.getNumPartitions() < cores:
            base = base.repartition(cores)
        counters = [spark.sparkContext.accumulator(0) for _ in range(4)]  # enterprises, with keys, kept, eligible
        keys_df = build_keys(base, compiled, width, counters).select(
            F.lit(segment).alias("segment", metadata={"comment": KEYS_COMMENTS["segment"]}),
            *[F.col(c).alias(c, metadata={"comment": KEYS_COMMENTS[c]}) for c in ("bucket", "uscc", "keys")])
        meta = {"as_of": as_of.isoformat(), "policies": len(run_set), "profile_version": pv, "segment": segment,
                "scope": "all" if full else ",".join(p.policy_id for p in run_set)}
        with matching_conf(spark):
            commit = lake.write(keys_df, KEYS, mode="overwrite" if full else "replace_partitions",
                                partition_by=["segment", "bucket"], app_id=app_id, metadata=meta)
        enterprises, with_keys, kept, eligible = (c.value for c in counters)
        if commit.committed:
            n_profile = lake.row_count(PROFILE, version=pv)
            if enterprises != n_profile or with_keys != commit.rows_written:
                raise RuntimeError(f"{JOB}: reconciliation failed: {enterprises} enterprises evaluated of {n_profile} "
                                   f"profile rows; {commit.rows_written} key rows written of {with_keys}")

        t2 = time.perf_counter()
        # The outcome rows: a full run's alone; a partial run's replace those of its policy ids
        # (MERGE: the other policies' rows stay as they are, a run policy without rows loses its own).
        ids = {p.policy_id for p in run_set}
        kv = lake.version(KEYS)
        odf = spark.createDataFrame([(*r, kv) for r in new_rows], OUTCOME_SCHEMA)
        odf = odf.select(*[F.col(n).alias(n, metadata={"comment": c}) for n, _, c in OUTCOME_COLUMNS])
        counts = {"enterprises": enterprises, "pairs_evaluated": enterprises * len(compiled), "pairs_kept": kept,
                  "pairs_eligible": eligible, "key_rows": commit.rows_written} if commit.committed else {}
        oc = lake.write(odf, OUTCOMES, mode="overwrite" if full else "replace_keys", keys=["policy_id"],
                        extra_keys=None if full else spark.createDataFrame([(i,) for i in sorted(ids)], "policy_id string"),
                        app_id=app_id + "#outcomes", metadata={**meta, "keys_version": kv, **counts})
        t3 = time.perf_counter()
        used = fields_read(compiled)
        src = [(PROFILE, f) for f in used] + ([(TAGS, "tag_id")] if tags is not None and any(cp.tags_read for cp in compiled) else [])
        run.add_output(DatasetRef(
            KEYS, schema=schema_of(keys_df), rows=commit.rows_written, version=commit.version,
            column_lineage={"uscc": [(PROFILE, "uscc")], "bucket": [(PROFILE, "uscc")], "keys": src},
            transformations={"keys": "outcome key of each policy eligible or one clause short (catalog/policies)"},
            assertions=[{"assertion": "enterprises evaluated = profile rows", "success": True}] if commit.committed else None,
        ))
        run.add_output(DatasetRef(OUTCOMES, schema=schema_of(odf), rows=lake.row_count(OUTCOMES, oc.version), version=oc.version,
                                  transformations={"explanation_prefix": "clause labels per outcome (catalog/policies)"}))
        view_cols = {c: [(KEYS, "keys"), (OUTCOMES, c)] for c in WIDE_COLUMNS if c not in ("uscc", "explanation_zh")}
        run.add_output(DatasetRef(
            MATCHES, rows=kept if commit.committed else None, version=oc.version,
            schema=[(c, t, None) for c, t in zip(WIDE_COLUMNS, _WIDE_TYPES)],
            column_lineage=view_cols | {"uscc": [(KEYS, "uscc")],
                                        "explanation_zh": [(KEYS, "keys"), (OUTCOMES, "explanation_prefix"),
                                                           (OUTCOMES, "profile_version"), *[(PROFILE, f) for f in used]]},
            transformations={"explanation_zh": "outcome prefix + the unmet clause's values from the profile version matched, on read"},
        ))
        # keys and outcomes become visible together, whoever matched (pipeline, CLI)
        rel = release.publish(lake, run.run_id, {KEYS: lake.version(KEYS), OUTCOMES: oc.version}, step="match")
    return MatchCommit(commit.table, commit.version, commit.rows_written, commit.files_added, commit.files_removed,
                       commit.committed, outcomes_version=oc.version, release=rel.release_id, segment=segment, enterprises=enterprises,
                       pairs_evaluated=enterprises * len(compiled), pairs_kept=kept, eligible=eligible,
                       seconds={"gate": round(t1 - t0, 2), "keys": round(t2 - t1, 2), "outcomes": round(t3 - t2, 2)})


_WIDE_TYPES = ["string", "int", "string", "string", "string", "string", "date", "boolean", "boolean", "int",
               "map<string,string>", "array<string>", "string"]


def build_matches(profile, tags, compiled: list, as_of: dt.date) -> list:
    """Wide rows (pyspark Rows) for small in-memory data: the batch kernel in Spark, then the view
    with the profile values collected from `profile` (tests and inspection; the job stores keys)."""
    from pyspark.sql import Row

    from govlake.policy.matches import MatchView

    keys = [(r["uscc"], list(r["keys"])) for r in build_keys(base_frame(profile, tags, compiled), compiled).collect()]
    tag_sets: dict[str, set] = {}
    for r in (tags.collect() if tags is not None else []):
        tag_sets.setdefault(r["uscc"], set()).add(r["tag_id"])
    rows = {r["uscc"]: (r.asDict(), frozenset(tag_sets.get(r["uscc"], ()))) for r in profile.collect()}
    return [Row(**d) for d in MatchView.in_memory(keys, compiled, as_of, rows).rows()]


@contextmanager
def matching_conf(spark: SparkSession):
    """Session settings for the keys write, restored afterwards: each write task keeps one open
    file per bucket instead of Spark sorting every row by the partition columns first; Arrow
    batches of 20,000 enterprises (fewer Python calls per row)."""
    conf = {"spark.sql.optimizer.plannedWrite.enabled": "false",
            "spark.sql.maxConcurrentOutputFileWriters": str(KEY_BUCKETS + 1),
            "spark.sql.execution.arrow.maxRecordsPerBatch": "20000"}
    before = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            spark.conf.unset(k) if v is None else spark.conf.set(k, v)
