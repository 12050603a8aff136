"""Matching job: all active policies against all enterprises in ONE Spark pass.

Plan (generated SQL text, no per-policy jobs):
  1. one projection over gold.enterprise_profile (+ tags as an array): every distinct clause
     expression of every policy becomes a boolean column c<k> (clauses shared by policies are
     computed once), plus n<p> = number of clauses of policy p not satisfied;
  2. one projection builds array(CASE WHEN n<p> <= 1 THEN struct(policy p's result) END, ...),
     drops the nulls and explodes: one row per (policy, enterprise) that is eligible or one
     clause short (near miss). Explanations are built only inside that CASE, so only for kept rows.
Rows with two or more unmet clauses are not stored (at 342 policies x 900k enterprises that would
be 300M rows nobody reads); the online evaluator answers for any enterprise and policy.

gold.policy_matches is partitioned by policy_id: a full run overwrites the table; a run for
some policies (new or changed versions) replaces only their partitions. app_id makes a re-run for
the same date and the same policy versions commit nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from govlake.catalog.policies import Policy, load_policies
from govlake.lakehouse import Commit, Lakehouse
from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import schema_of
from govlake.policy import expr as E
from govlake.policy.compile import CompiledPolicy, compile_policies
from govlake.policy.fields import FieldInfo, field_catalog

PROFILE, TAGS, MATCHES = "gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_matches"
JOB = "match_policies"

COMMENTS = {
    "policy_id": "政策编号", "policy_version": "政策版本", "rule_hash": "政策规则内容哈希",
    "policy_name_zh": "政策名称", "dept_code": "发文部门代码", "uscc": "统一社会信用代码",
    "as_of": "匹配基准日", "eligible": "符合全部条件", "near_miss": "仅差一项条件",
    "n_failed": "未满足（含数据缺失）条件数", "clause_results": "各条件结果（pass/fail/unknown）",
    "missing": "未满足的条件编号", "explanation_zh": "匹配说明",
}


def clause_frame(profile: DataFrame, tags: DataFrame | None, compiled: list[CompiledPolicy]):
    """uscc, the fields the policies read, and one boolean column per distinct clause expression.
    Returns (DataFrame, {clause SQL: column name})."""
    if not compiled:
        raise ValueError("no active policies to match")
    fields = sorted({f for cp in compiled for f in cp.fields_read})
    missing = [f for f in fields if f not in profile.columns]
    if missing:
        raise KeyError(f"{PROFILE} lacks field(s) used by policies: {missing}")
    base = profile.select("uscc", *fields)
    if any(cp.tags_read for cp in compiled) and tags is not None:
        agg = tags.groupBy("uscc").agg(F.collect_set("tag_id").alias(E.TAGS_COL))
        base = base.join(agg, "uscc", "left").withColumn(
            E.TAGS_COL, F.coalesce(F.col(E.TAGS_COL), F.array().cast("array<string>")))
    else:
        base = base.withColumn(E.TAGS_COL, F.array().cast("array<string>"))
    # every distinct clause expression once (policies share gates such as 注册地在本区)
    col_of: dict[str, str] = {}
    for cp in compiled:
        for c in cp.clauses:
            col_of.setdefault(c.sql, f"c{len(col_of)}")
    frame = base.selectExpr("uscc", *[f"`{f}`" for f in fields],
                            *[f"{sql} AS {name}" for sql, name in col_of.items()])
    return frame, col_of


def build_matches(profile: DataFrame, tags: DataFrame | None, compiled: list[CompiledPolicy],
                  as_of: dt.date) -> DataFrame:
    """The policy_matches rows (eligible or near miss) for `compiled` over `profile`."""
    spark = profile.sparkSession
    stage1, col_of = clause_frame(profile, tags, compiled)

    # 2. per policy, only for rows with at most one unmet clause: the status string
    #    (P/F/U per clause) and the text of the unmet clause; then explode.
    elems = []
    for i, cp in enumerate(compiled):
        cols = [col_of[c.sql] for c in cp.clauses]
        n_failed = " + ".join(f"(CASE WHEN {s} THEN 0 ELSE 1 END)" for s in cols)
        status = "concat(" + ", ".join(f"(CASE WHEN {s} IS NULL THEN 'U' WHEN {s} THEN 'P' ELSE 'F' END)" for s in cols) + ")"
        item = "CASE " + " ".join(f"WHEN NOT coalesce({s}, false) THEN {cp.failed_item_sql(c, s)}"
                                  for c, s in zip(cp.clauses, cols)) + " END"
        elems.append(f"CASE WHEN {n_failed} <= 1 THEN named_struct('i', {i}, 's', {status}, 'd', {item}) END")
    exploded = stage1.selectExpr("uscc", f"explode(filter(array({', '.join(elems)}), x -> x IS NOT NULL)) AS m")

    # 3. generic part from a small broadcast table of policy metadata
    meta = spark.createDataFrame(
        [(i, cp.policy.policy_id, int(cp.policy.version), cp.policy.rule_hash, cp.policy.name_zh, cp.policy.dept,
          [c.clause.id for c in cp.clauses], [c.clause.label_zh for c in cp.clauses])
         for i, cp in enumerate(compiled)],
        "i int, policy_id string, policy_version int, rule_hash string, policy_name_zh string, dept_code string, "
        "ids array<string>, labels array<string>")
    j = exploded.select("uscc", "m.*").join(F.broadcast(meta), "i")
    codes = "split(s, '')"
    out = j.selectExpr(
        "policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "uscc",
        f"CAST(DATE'{as_of.isoformat()}' AS DATE) AS as_of",
        "NOT (s LIKE '%F%' OR s LIKE '%U%') AS eligible",
        "(s LIKE '%F%' OR s LIKE '%U%') AS near_miss",
        "CAST(CASE WHEN s LIKE '%F%' OR s LIKE '%U%' THEN 1 ELSE 0 END AS INT) AS n_failed",
        f"map_from_arrays(ids, transform({codes}, x -> CASE x WHEN 'P' THEN 'pass' WHEN 'F' THEN 'fail' ELSE 'unknown' END)) AS clause_results",
        f"filter(zip_with(ids, {codes}, (a, b) -> CASE WHEN b != 'P' THEN a END), x -> x IS NOT NULL) AS missing",
        "concat_ws('；', "
        f"  CASE WHEN s LIKE '%P%' THEN concat('符合：', concat_ws('、', filter(zip_with(labels, {codes}, "
        "       (a, b) -> CASE WHEN b = 'P' THEN a END), x -> x IS NOT NULL))) END, "
        "  CASE WHEN s LIKE '%F%' THEN concat('不符合：', d) END, "
        "  CASE WHEN s LIKE '%U%' THEN concat('数据缺失：', d) END) AS explanation_zh",
    )
    return out.select(*[F.col(c).alias(c, metadata={"comment": COMMENTS[c]}) for c in out.columns])


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
                   parent_run=None, fields: dict[str, FieldInfo] | None = None) -> Commit:
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
        df = build_matches(lake.read(PROFILE, version=pv), tags, compiled, as_of)
        # One file per policy partition, so a re-match replaces exactly that policy's files.
        df = df.repartition("policy_id")
        meta = {"as_of": as_of.isoformat(), "policies": len(run_set), "profile_version": pv,
                "scope": "all" if full else ",".join(p.policy_id for p in run_set)}
        commit = lake.write(df, MATCHES, mode="overwrite" if full else "replace_partitions",
                            partition_by=["policy_id"], app_id=app_id, metadata=meta)
        if commit.committed and not full:
            commit = _drop_stale(lake, run_set, as_of, app_id, commit)
        if commit.committed:
            state = {} if full else matched_hashes(lake)
            state.update({p.policy_id: p.rule_hash for p in run_set})
            _state_path(lake).parent.mkdir(parents=True, exist_ok=True)
            _state_path(lake).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        used = sorted({f for cp in compiled for f in cp.fields_read})
        run.add_output(DatasetRef(
            MATCHES, schema=schema_of(df), rows=commit.rows_written, version=commit.version,
            column_lineage={c: [(PROFILE, f) for f in used] for c in ("eligible", "near_miss", "clause_results", "explanation_zh")}
            | {"uscc": [(PROFILE, "uscc")]},
            transformations={"eligible": "all policy clauses satisfied (catalog/policies)",
                             "explanation_zh": "Chinese explanation per clause group"},
        ))
    return commit


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
