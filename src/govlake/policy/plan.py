"""The Spark plan of policy matching, as generated SQL text, in chunks of policies.

Why chunks: one projection holding every clause of 342 policies and their explanation text is
far beyond 8 KB of bytecode per method (HotSpot never JIT-compiles those; past 64 KB Janino fails
and Spark runs it interpreted). So policies are grouped so that each group has at most
`chunk_clauses` distinct clause expressions; each group is a small pipeline over the base frame
(uscc + only the fields read + tags array, cached by the job when there are several groups):

  project  every distinct clause of the group once, as a boolean column c<k>
  project  _keys = the outcome key of every policy of the group that is eligible or one clause
           short (key = policy index * width + 0 | 1+2k failed clause k | 2+2k unknown clause k)
  explode  one row per kept (enterprise, policy)

A broadcast table with one row per (policy, outcome) supplies everything
that does not depend on the enterprise's values (clause_results map, missing ids, the explanation
up to the unmet clause's detail), so strings are built only for kept rows and only the unmet
clause's detail (values formatted from the row) is computed, by a CASE over the chunk's distinct
detail texts. The chunks are unioned. No higher-order functions (lambdas run interpreted in Spark).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from govlake.policy import expr as E
from govlake.policy.compile import CompiledPolicy

# Distinct clause expressions per generated pipeline: 16 chunks for the 342 synthetic policies
# (not tuned yet). Every chunk size gives the same rows (tests/policy/test_plan.py).
CHUNK_CLAUSES = 64

COMMENTS = {
    "policy_id": "政策编号", "policy_version": "政策版本", "rule_hash": "政策规则内容哈希",
    "policy_name_zh": "政策名称", "dept_code": "发文部门代码", "uscc": "统一社会信用代码",
    "as_of": "匹配基准日", "eligible": "符合全部条件", "near_miss": "仅差一项条件",
    "n_failed": "未满足（含数据缺失）条件数", "clause_results": "各条件结果（pass/fail/unknown）",
    "missing": "未满足的条件编号", "explanation_zh": "匹配说明",
}


def fields_read(compiled: list[CompiledPolicy]) -> list[str]:
    return sorted({f for cp in compiled for f in cp.fields_read})


def base_frame(profile: DataFrame, tags: DataFrame | None, compiled: list[CompiledPolicy]) -> DataFrame:
    """uscc, only the profile fields the policies read, and the tag set as an array."""
    if not compiled:
        raise ValueError("no active policies to match")
    fields = fields_read(compiled)
    missing = [f for f in fields if f not in profile.columns]
    if missing:
        raise KeyError(f"gold.enterprise_profile lacks field(s) used by policies: {missing}")
    base = profile.select("uscc", *fields)
    if any(cp.tags_read for cp in compiled) and tags is not None:
        agg = tags.groupBy("uscc").agg(F.collect_set("tag_id").alias(E.TAGS_COL))
        return base.join(agg, "uscc", "left").withColumn(
            E.TAGS_COL, F.coalesce(F.col(E.TAGS_COL), F.array().cast("array<string>")))
    return base.withColumn(E.TAGS_COL, F.array().cast("array<string>"))


def clause_columns(compiled: list[CompiledPolicy]) -> dict[str, str]:
    """{clause SQL: column name}, each distinct expression once (policies share gates)."""
    col_of: dict[str, str] = {}
    for cp in compiled:
        for c in cp.clauses:
            col_of.setdefault(c.sql, f"c{len(col_of)}")
    return col_of


def clause_frame(profile: DataFrame, tags: DataFrame | None, compiled: list[CompiledPolicy]):
    """uscc, the fields read, and one boolean column per distinct clause of ALL policies (for tests
    and inspection; matching itself goes chunk by chunk). Returns (DataFrame, {clause SQL: column})."""
    base = base_frame(profile, tags, compiled)
    col_of = clause_columns(compiled)
    frame = base.selectExpr("uscc", *[f"`{f}`" for f in fields_read(compiled)],
                            *[f"{sql} AS {name}" for sql, name in col_of.items()])
    return frame, col_of


def policy_chunks(compiled: list[CompiledPolicy], max_clauses: int = CHUNK_CLAUSES) -> list[list[int]]:
    """Consecutive groups of policy indexes with at most max_clauses distinct clause expressions
    each; a policy is never split (one larger than max_clauses is a group of its own)."""
    if max_clauses < 1:
        raise ValueError(f"max_clauses must be >= 1, got {max_clauses}")
    chunks: list[list[int]] = []
    seen: set[str] = set()
    for i, cp in enumerate(compiled):
        new = {c.sql for c in cp.clauses} - seen
        if chunks and len(seen) + len(new) <= max_clauses:
            chunks[-1].append(i)
            seen |= new
        else:
            chunks.append([i])
            seen = {c.sql for c in cp.clauses}
    return chunks


def _joined(labels: list[str]) -> str:
    return "、".join(labels)


def n_failed_sql(cp: CompiledPolicy, col_of: dict[str, str]) -> str:
    return " + ".join(f"(CASE WHEN {col_of[c.sql]} THEN 0 ELSE 1 END)" for c in cp.clauses) or "0"


def outcome_width(compiled: list[CompiledPolicy]) -> int:
    """Outcomes per policy: 0 eligible, 1+2k clause k failed, 2+2k clause k unknown."""
    return 2 * max(len(cp.clauses) for cp in compiled) + 1


def outcome_key_sql(i: int, cp: CompiledPolicy, col_of: dict[str, str], width: int) -> str:
    """i * width + outcome if policy i has at most one unmet clause, else -1 (dropped)."""
    cols = [col_of[c.sql] for c in cp.clauses]
    which = " ".join(f"WHEN NOT coalesce({s}, false) THEN {1 + 2 * k} + CAST({s} IS NULL AS INT)"
                     for k, s in enumerate(cols))
    outcome = f"CASE {which} ELSE 0 END" if cols else "0"
    return f"CASE WHEN {n_failed_sql(cp, col_of)} <= 1 THEN {i * width} + {outcome} ELSE -1 END"


def chunk_keys(base: DataFrame, compiled: list[CompiledPolicy], idx: list[int], width: int) -> DataFrame:
    """(base columns, k) for each kept (enterprise, policy) of the policies `idx`: clause booleans
    once per distinct expression, then the outcome keys of the policies (array_remove, not a
    lambda: code-generated), exploded."""
    col_of = clause_columns([compiled[i] for i in idx])
    stage1 = base.selectExpr("*", *[f"{sql} AS {name}" for sql, name in col_of.items()])
    keys = ", ".join(outcome_key_sql(i, compiled[i], col_of, width) for i in idx)
    stage2 = stage1.selectExpr(*[f"`{c}`" for c in base.columns], f"array_remove(array({keys}), -1) AS _keys")
    return stage2.selectExpr(*[f"`{c}`" for c in base.columns], "explode(_keys) AS k")


def outcome_rows(compiled: list[CompiledPolicy], width: int) -> list[tuple]:
    """One row per (policy, outcome): everything of a gold.policy_matches row that does not depend
    on the enterprise's values — clause results, missing ids, the explanation up to the detail of
    the unmet clause — and which distinct clause (g) that detail comes from."""
    g_of = detail_items(compiled)
    rows = []
    for i, cp in enumerate(compiled):
        ids = [c.clause.id for c in cp.clauses]
        labels = [c.clause.label_zh for c in cp.clauses]
        head = (i, cp.policy.policy_id, int(cp.policy.version), cp.policy.rule_hash, cp.policy.name_zh, cp.policy.dept)
        all_ok = ("符合：" + _joined(labels)) if labels else ""
        rows.append((i * width, *head, dict.fromkeys(ids, "pass"), [], all_ok, None, None))
        for k, cid in enumerate(ids):
            others = labels[:k] + labels[k + 1:]
            ok = ("符合：" + _joined(others) + "；") if others else ""
            g = g_of[cp.failed_detail_sql(cp.clauses[k], "st")]
            for unknown in (False, True):
                res = dict.fromkeys(ids, "pass") | {cid: "unknown" if unknown else "fail"}
                prefix = ok + ("数据缺失：" if unknown else "不符合：") + labels[k]
                rows.append((i * width + 1 + 2 * k + unknown, *head, res, [cid], prefix, g, None if unknown else False))
    return rows


OUTCOME_SCHEMA = ("k int, i int, policy_id string, policy_version int, rule_hash string, policy_name_zh string, "
                  "dept_code string, clause_results map<string,string>, missing array<string>, prefix string, "
                  "g int, st boolean")


def detail_items(compiled: list[CompiledPolicy]) -> dict[str, int]:
    """{SQL of the text after an unmet clause's label: g}, each distinct text once (keyed by the
    text, not the rule: a comparison's detail may name the clause label)."""
    items: dict[str, int] = {}
    for cp in compiled:
        for c in cp.clauses:
            items.setdefault(cp.failed_detail_sql(c, "st"), len(items))
    return items


def detail_sql(items: dict[str, int], used: set[int], group: int = 32) -> str:
    """Text after the unmet clause's label for the items `used` ('（detail）' or '（缺少 …）',
    status in column st): a CASE on g, two levels deep so a row tests ~group + n/group branches."""
    texts = {g: sql for sql, g in items.items() if g in used}
    gs = sorted(texts)
    blocks = []
    for lo in range(0, len(gs), group):
        block = gs[lo:lo + group]
        inner = " ".join(f"WHEN {g} THEN {texts[g]}" for g in block)
        blocks.append(f"WHEN g <= {block[-1]} THEN (CASE g {inner} END)")
    return f"CASE {' '.join(blocks)} END" if blocks else "CAST(NULL AS STRING)"


def chunk_matches(base: DataFrame, compiled: list[CompiledPolicy], idx: list[int], width: int,
                  outcomes: DataFrame, items: dict[str, int], as_of: dt.date) -> DataFrame:
    """The gold.policy_matches rows of the policies `idx`: kept pairs joined with their outcome
    row; the detail CASE covers only this chunk's clauses (code generated per task stays small)."""
    used = {items[compiled[i].failed_detail_sql(c, "st")] for i in idx for c in compiled[i].clauses}
    return chunk_keys(base, compiled, idx, width).join(F.broadcast(outcomes), "k").selectExpr(
        "policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "uscc",
        f"CAST(DATE'{as_of.isoformat()}' AS DATE) AS as_of",
        "size(missing) = 0 AS eligible", "size(missing) = 1 AS near_miss", "CAST(size(missing) AS INT) AS n_failed",
        "clause_results", "missing",
        f"CASE WHEN g IS NULL THEN prefix ELSE concat(prefix, {detail_sql(items, used)}) END AS explanation_zh")


def matches_from_base(base: DataFrame, compiled: list[CompiledPolicy], as_of: dt.date,
                      chunk_clauses: int = CHUNK_CLAUSES) -> DataFrame:
    """The gold.policy_matches rows (eligible or near miss) for `compiled` over a base frame."""
    width = outcome_width(compiled)
    outcomes = base.sparkSession.createDataFrame(outcome_rows(compiled, width), OUTCOME_SCHEMA)
    items = detail_items(compiled)
    parts = [chunk_matches(base, compiled, idx, width, outcomes, items, as_of)
             for idx in policy_chunks(compiled, chunk_clauses)]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.select(*[F.col(c).alias(c, metadata={"comment": COMMENTS[c]}) for c in out.columns])


def build_matches(profile: DataFrame, tags: DataFrame | None, compiled: list[CompiledPolicy],
                  as_of: dt.date, chunk_clauses: int = CHUNK_CLAUSES) -> DataFrame:
    """The policy_matches rows for `compiled` over `profile` (uncached; the job caches the base)."""
    return matches_from_base(base_frame(profile, tags, compiled), compiled, as_of, chunk_clauses)
