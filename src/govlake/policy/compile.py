"""A policy compiled for one as-of date: each clause as a checked rule tree (evaluated by the
Arrow back end in the batch, the Python closure online, Spark SQL as a cross-check), plus the
Chinese explanation. The explanation text is built in Python only: online here, and on read of
stored matches by govlake.policy.matches with the same `unmet_detail`.

Clause status: True = 符合 (pass), False = 不符合 (fail), None = 数据缺失 (unknown: an input is
null). Only 'pass' counts toward eligibility. A `manual: true` clause (a condition the profile
cannot see) has the status 'manual': an enterprise passing every other clause is needs_review
(待人工核验), never eligible. The explanation lists the clauses in groups:
  符合：成立满一年、…；待人工核验：…（需字段 …）；不符合：研发费用占比（近三年研发费用占营业收入比例 3.2% < 要求 5.0%）；数据缺失：…（缺少 …）
(the manual group comes before the unmet clause: the matches view appends the unmet clause's
detail to the stored text, so the detail has to end it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from govlake.catalog.policies import Clause, Policy
from govlake import rulelang as E
from govlake.policy.fields import FieldInfo, is_ratio

NEG = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "==": "≠", "!=": "="}
PASS, FAIL, UNKNOWN, MANUAL = "pass", "fail", "unknown", "manual"
OUTCOME_ZH = {"eligible": "符合", "needs_review": "待人工核验", "near_miss": "仅差一项", "ineligible": "不符合"}


def manual_group(policy: Policy) -> str:
    """'待人工核验：a（需字段 x）、b（需字段 y）', or '' when the policy has no manual clause."""
    if not policy.manual_clauses:
        return ""
    return "待人工核验：" + "、".join(f"{c.label_zh}（需字段 {'、'.join(c.needs)}）" for c in policy.manual_clauses)


def outcome_of(eligible: bool, n_failed: int) -> str:
    """eligible | needs_review | near_miss | ineligible from a stored outcome: no machine clause
    unmet but not eligible = a manual clause waits for a person."""
    if eligible:
        return "eligible"
    return "needs_review" if n_failed == 0 else "near_miss" if n_failed == 1 else "ineligible"
_NAMES = {True: PASS, False: FAIL, None: UNKNOWN}


# -- value formatting (the online evaluator and the matches view share it) ---------------------------------
def _fmt_kind(n: E.Node, fields: dict[str, FieldInfo]) -> str:
    if isinstance(n, E.Field):
        f = fields[n.name]
        if n.typ == E.STR:
            return "str"
        if n.typ == E.BOOL:
            return "bool"
        if is_ratio(n.name):
            return "pct"
        return "int" if f.type in ("int", "long") else "num"
    return {E.STR: "str", E.BOOL: "bool"}.get(n.typ, "num")


def fmt_py(v: Any, kind: str) -> str:
    if v is None:
        return "缺失"
    if kind == "pct":
        return f"{v * 100:,.1f}%"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "num":
        return f"{v:,.2f}"
    if kind == "bool":
        return "是" if v else "否"
    return str(v)


@dataclass
class CompiledClause:
    clause: Clause
    rule: E.Rule
    sql: str
    fn: Any
    fields_read: list[str]
    # detail for a failed top-level numeric comparison
    cmp: tuple | None  # (op, left_node, right_node, left_fn, right_fn, kind, left_label)


@dataclass
class PolicyResult:
    """One policy for one enterprise. The Chinese explanation is built on first access (most
    online callers only list eligible / near-miss policies; building all 342 texts costs ~10x)."""

    policy_id: str
    policy_version: int
    name_zh: str
    eligible: bool
    near_miss: bool
    clause_results: dict[str, str]
    missing: list[str]
    needs_review: bool = False  # every machine clause passes, a manual clause waits for a person
    _ctx: tuple = field(default=(), compare=False, repr=False)

    @property
    def outcome(self) -> str:
        return outcome_of(self.eligible, len(self.missing))

    @cached_property
    def explanation_zh(self) -> str:
        cp, row, tags, statuses = self._ctx
        return cp.explain(row, tags, statuses)

    def to_dict(self) -> dict:
        return {"policy_id": self.policy_id, "policy_version": self.policy_version, "name_zh": self.name_zh,
                "eligible": self.eligible, "near_miss": self.near_miss, "needs_review": self.needs_review,
                "outcome": self.outcome, "clause_results": self.clause_results,
                "missing": self.missing, "explanation_zh": self.explanation_zh}


class CompiledPolicy:
    def __init__(self, policy: Policy, as_of: dt.date, fields: dict[str, FieldInfo]):
        self.policy, self.as_of, self.fields = policy, as_of, fields
        params = policy.params_on(as_of)
        types = {k: v.type for k, v in fields.items()}
        self.clauses: list[CompiledClause] = []
        for c in policy.clauses:
            where = f"policy {policy.policy_id} ({policy.name_zh}) clause {c.id} ({c.label_zh})"
            rule = E.parse(c.rule, types, params, where=where)
            cmp = None
            n = rule.node
            if isinstance(n, E.Cmp) and n.left.typ == E.NUM:
                kind = _fmt_kind(n.left, fields)
                label = fields[n.left.name].label if isinstance(n.left, E.Field) else c.label_zh
                cmp = (n.op, n.left, n.right, E.to_py(n.left), E.to_py(n.right), kind, label)
            self.clauses.append(CompiledClause(c, rule, E.to_sql(n), E.to_py(n), E.fields_of(n), cmp))
        self.fields_read = sorted({f for c in self.clauses for f in c.fields_read})
        self.tags_read = sorted({t for c in self.clauses for t in c.rule.tags})
        self._ids = [c.clause.id for c in self.clauses]
        self._manual = {c.id: MANUAL for c in policy.manual_clauses}
        self._manual_zh = manual_group(policy)

    # -- Python path -------------------------------------------------------------------------
    def evaluate(self, row: dict, tags: set[str] | frozenset = frozenset()) -> PolicyResult:
        statuses = [c.fn(row, tags) for c in self.clauses]
        return self.result(row, tags, statuses)

    def result(self, row: dict, tags, statuses: list) -> PolicyResult:
        # the online path builds 342 of these per request: C-level zip/map, no per-clause Python calls
        missing = [cid for cid, s in zip(self._ids, statuses) if s is not True]
        results = dict(zip(self._ids, map(_NAMES.__getitem__, statuses)))
        if self._manual:
            results.update(self._manual)
        return PolicyResult(
            self.policy.policy_id, self.policy.version, self.policy.name_zh, not missing and not self._manual,
            len(missing) == 1, results, missing, needs_review=not missing and bool(self._manual),
            _ctx=(self, row, tags, statuses),
        )

    def explain(self, row: dict, tags, statuses: list) -> str:
        ok, bad, miss = [], [], []
        for c, s in zip(self.clauses, statuses):
            lab = c.clause.label_zh
            if s is True:
                ok.append(lab)
            elif s is False:
                bad.append(lab + self.unmet_detail(c, row, tags, False))
            else:
                miss.append(lab + self.unmet_detail(c, row, tags, None))
        parts = []
        if ok:
            parts.append("符合：" + "、".join(ok))
        if self._manual_zh:
            parts.append(self._manual_zh)
        if bad:
            parts.append("不符合：" + "、".join(bad))
        if miss:
            parts.append("数据缺失：" + "、".join(miss))
        return "；".join(parts)

    def unmet_detail(self, c: CompiledClause, row: dict, tags, status: bool | None) -> str:
        """The text after an unmet clause's label: '（detail with the values）' when it failed,
        '（缺少 …）' when data is missing. Also what the matches view appends to a stored prefix."""
        if status is False:
            return f"（{self._detail_py(c, row, tags)}）"
        nulls = "、".join(self.fields[f].label for f in c.fields_read if row.get(f) is None) or "无法计算"
        return f"（缺少 {nulls}）"

    def _detail_py(self, c: CompiledClause, row: dict, tags) -> str:
        if c.cmp:
            op, _, _, lf, rf, kind, label = c.cmp
            return f"{label} {fmt_py(lf(row, tags), kind)} {NEG[op]} 要求 {fmt_py(rf(row, tags), kind)}"
        return self._fields_detail_py(c, row)

    def _fields_detail_py(self, c: CompiledClause, row: dict) -> str:
        if not c.fields_read:
            return "未满足"
        return "、".join(f"{self.fields[f].label} {fmt_py(row.get(f), _fmt_kind(E.Field(E.FIELD_TYPES[self.fields[f].type], f), self.fields))}"
                        for f in c.fields_read)


_CACHE: dict[tuple, CompiledPolicy] = {}
_FIELDS_REFS: dict[int, dict] = {}  # keeps the catalogs alive so id() keys stay unique


def compile_policies(policies: list[Policy], as_of: dt.date, fields: dict[str, FieldInfo]) -> list[CompiledPolicy]:
    """Compile the policies active on as_of (cached per policy content, date and field catalog)."""
    _FIELDS_REFS[id(fields)] = fields
    out = []
    for p in policies:
        if not p.active_on(as_of):
            continue
        key = (p.policy_id, p.version, p.rule_hash, as_of, id(fields))
        if key not in _CACHE:
            if len(_CACHE) > 20000:
                _CACHE.clear()
            _CACHE[key] = CompiledPolicy(p, as_of, fields)
        out.append(_CACHE[key])
    return out
