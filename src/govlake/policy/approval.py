"""Instant approval (秒批): applications -> automated checks (catalog/approval.yaml) -> decision,
with each application's timeline (push sent -> submitted -> decided) and the public notice (公示).

A decision reads the enterprise profile, bronze.subsidies and the earlier 秒批 decisions at
recorded Delta versions, and records the hash of the rules it applied (policy YAML + decision
tree); the rule text itself is kept content-addressed under state_dir/approval_rules/<hash>.json.
`replay` re-reads exactly those versions (Delta time travel) with exactly those rules, so the same
answer comes back even after the data or the catalog changed.

Tables (schemas below, explicit): ops.applications (what the portal submitted),
ops.approval_decisions (one decision per application), ops.approval_timeline (push sent ->
submitted -> decided, with durations), gold.approval_notices (the approvals' 公示 list).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
from govlake import yamlio
from govlake.catalog.policies import Policy, load_policies, parse_policy
from govlake.catalog.work_calendar import load_work_calendar
from govlake.catalog.sources import CatalogError
from govlake import rulelang as E
from govlake.policy.compile import CompiledPolicy, manual_group
from govlake.quality.gate import publish
from govlake.policy.fields import FieldInfo, field_catalog

PROFILE, SUBSIDIES = "gold.enterprise_profile", "bronze.subsidies"
APPLICATIONS, DECISIONS = "ops.applications", "ops.approval_decisions"
TIMELINE, NOTICES, OUTBOX = "ops.approval_timeline", "gold.approval_notices", "ops.push_outbox"
TZ = ZoneInfo("Asia/Shanghai")
OUTCOME_ZH = {"approve": "批准", "reject": "不予批准", "manual": "转人工审核"}
NOTICE_WORKING_DAYS = 5  # 公示期: five working days from the first working day after the decision
FACTS = {
    "requested_amount_wan": FieldInfo("requested_amount_wan", "double", "申请金额（万元）"),
    "funding_cap_wan": FieldInfo("funding_cap_wan", "double", "资助标准上限（万元）"),
    "prior_awards_same_policy": FieldInfo("prior_awards_same_policy", "int", "本政策已获资助次数"),
    "policy_eligible": FieldInfo("policy_eligible", "boolean", "符合政策申报条件"),
}
# What every 秒批 tree must check (the district's list), as the facts a node must read.
# Certificates and honours: every cert_valid(...) the policy's clauses read must be a node of its own.
REQUIRED_CHECKS = {
    "registered 注册地在本区": {"is_registered_in_district"},
    "statistics 统计关系在本区": {"stat_in_district_y1"},
    "credit 信用良好": {"credit_serious_1y_count", "credit_dishonest_active"},
    "eligible 符合政策申报条件": {"policy_eligible"},
    "duplicate 未重复获得本项资助": {"prior_awards_same_policy"},
    "amount 申请金额在资助标准内": {"requested_amount_wan", "funding_cap_wan"},
}


def now_local() -> dt.datetime:
    """Wall-clock time in Asia/Shanghai, naive (how the lake's timestamps are written)."""
    return dt.datetime.now(TZ).replace(tzinfo=None, microsecond=0)


def aware(v: dt.datetime | None) -> dt.datetime | None:
    """A naive Asia/Shanghai time as an aware one for Spark: PySpark reads a naive datetime in the
    Python process's zone, which need not be the lake's."""
    return v.replace(tzinfo=TZ) if v is not None and v.tzinfo is None else v


def local(v: dt.datetime | None) -> dt.datetime | None:
    """A timestamp read back through delta-rs (UTC-aware) as naive Asia/Shanghai time."""
    if v is None or v.tzinfo is None:
        return v
    return v.astimezone(TZ).replace(tzinfo=None)


@dataclass
class Decision:
    decision_id: str
    application_id: str
    uscc: str
    policy_id: str
    outcome: str
    outcome_zh: str
    reasons_zh: list[str]
    path: list[str]
    amount_approved_wan: float | None
    rule_version: str
    data_versions: dict[str, int | None]
    as_of: dt.date
    decided_at: dt.datetime = field(default_factory=now_local)


# -- rules ------------------------------------------------------------------------------------
def load_trees(catalog_dir: Path) -> dict[str, dict]:
    doc = yamlio.safe_load((Path(catalog_dir) / "approval.yaml").read_text(encoding="utf-8")) or {}
    trees = {}
    for t in doc.get("trees") or []:
        pid = t.get("policy_id")
        nodes = t.get("nodes") or {}
        if not pid or t.get("start") not in nodes:
            raise CatalogError(f"approval.yaml: tree {pid!r} needs policy_id and a start node among its nodes")
        for nid, n in nodes.items():
            for edge in ("pass", "fail"):
                tgt = n.get(edge)
                if tgt not in nodes and tgt not in ("approve", "reject", "manual"):
                    raise CatalogError(f"approval.yaml: tree {pid} node {nid}: {edge} -> {tgt!r} is not a node or approve/reject/manual")
        trees[pid] = t
    return trees


def tree_gaps(policy: Policy, tree: dict, fields: dict[str, FieldInfo]) -> list[str]:
    """The required checks (REQUIRED_CHECKS, and each certificate the policy reads) that no node of
    the tree makes. Empty = the tree covers the district's list."""
    types = {k: v.type for k, v in {**fields, **FACTS}.items()}
    params = policy.params_on(policy.effective_from)
    read = set()
    for nid, n in tree["nodes"].items():
        read |= set(E.parse(str(n["check"]), types, params, where=f"approval tree {policy.policy_id} node {nid}").fields)
    certs = {f for c in policy.clauses for f in E.parse(c.rule, types, params).fields if f.startswith("cert_valid_")}
    gaps = [name for name, need in REQUIRED_CHECKS.items() if not need <= read]
    return gaps + [f"certificate 证照 {c}" for c in sorted(certs - read)]


def ruleset_for(policy: Policy, tree: dict) -> tuple[str, dict]:
    rs = {"policy": policy.raw, "tree": tree}
    blob = json.dumps(rs, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16], json.loads(blob)


def _rules_dir(settings) -> Path:
    return settings.state_dir / "approval_rules"


def _save_ruleset(settings, version: str, rs: dict) -> None:
    p = _rules_dir(settings) / f"{version}.json"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(rs, ensure_ascii=False, sort_keys=True), encoding="utf-8")


def _load_ruleset(settings, version: str) -> tuple[Policy, dict]:
    p = _rules_dir(settings) / f"{version}.json"
    if not p.exists():
        raise FileNotFoundError(f"rule version {version} is not in {p.parent} (规则版本缺失，无法重放)")
    rs = json.loads(p.read_text(encoding="utf-8"))
    return parse_policy(rs["policy"], source=f"ruleset {version}"), rs["tree"]


def funding_standard_wan(policy: Policy, row: dict, as_of: dt.date, types: dict[str, str]) -> float | None:
    """The policy's funding standard for this enterprise: funding.cap_wan (a number or a formula
    over profile fields and the policy's parameters in force on as_of). None when the policy pays
    no money (honours, in-kind) or a value the formula needs is missing."""
    cap = policy.funding.get("cap_wan")
    if cap is None:
        return None
    rule = E.parse(str(cap), types, policy.params_on(as_of), want="num",
                   where=f"policy {policy.policy_id} ({policy.name_zh}) funding.cap_wan")
    v = E.to_py(rule.node)(row, frozenset())
    return None if v is None else float(v)


# -- data at fixed versions ---------------------------------------------------------------------
class VersionedReader:
    """Reads tables at pinned Delta versions through the lakehouse (delta-rs), cached per version.
    Default: the current release's versions (govlake.release; a table in no release, bronze.subsidies
    and ops.approval_decisions, at its latest), so a decision never reads a profile whose build was
    not released."""

    def __init__(self, lake, versions: dict[str, int | None] | None = None):
        from govlake import release

        self.lake = lake
        self.versions = dict(versions) if versions else {
            t: release.version_of(lake, t) for t in (PROFILE, SUBSIDIES, DECISIONS)}
        self._cache: dict = {}

    def table(self, name: str):
        v = self.versions.get(name)
        if v is None:
            return None
        if (name, v) not in self._cache:
            self._cache[(name, v)] = self.lake.to_arrow(name, version=v)
        return self._cache[(name, v)]

    def _index(self, name: str, build):
        key = ("index", name, self.versions.get(name))
        if key not in self._cache:
            self._cache[key] = build(self.table(name))
        return self._cache[key]

    def profile_row(self, uscc: str) -> dict | None:
        t = self.table(PROFILE)
        if t is None:
            raise FileNotFoundError(f"{PROFILE} does not exist")
        pos = self._index(PROFILE, lambda t: {u: i for i, u in enumerate(t["uscc"].to_pylist())}).get(uscc)
        return None if pos is None else t.slice(pos, 1).to_pylist()[0]

    def usccs(self) -> list[str]:
        t = self.table(PROFILE)
        return [] if t is None else t["uscc"].to_pylist()

    def prior_awards(self, uscc: str, policy_id: str, since: dt.date, application_id: str | None = None) -> int:
        """Payments of this policy to this enterprise since the policy took effect (bronze.subsidies),
        plus 秒批 approvals of it for another application (ops.approval_decisions at its pinned version)."""
        n = 0
        t = self.table(SUBSIDIES)
        if t is not None:
            m = pc.and_(pc.and_(pc.equal(t["uscc"], uscc), pc.equal(t["policy_code"], policy_id)),
                        pc.greater_equal(t["award_date"], since))
            n += int(pc.sum(m.cast("int8")).as_py() or 0)

        def approvals(d):
            out: dict = {}
            if d is not None:
                for r in d.select(["uscc", "policy_id", "application_id", "outcome"]).to_pylist():
                    if r["outcome"] == "approve":
                        out.setdefault((r["uscc"], r["policy_id"]), set()).add(r["application_id"])
            return out
        return n + len(self._index(DECISIONS, approvals).get((uscc, policy_id), set()) - {application_id})


# -- deciding ---------------------------------------------------------------------------------
def _eligibility(cp: CompiledPolicy, row: dict) -> tuple[bool | None, list[str], str | None]:
    """True when every clause holds, False (with the failed clauses' labels) when one fails,
    None when none fails but a person checks; then why: "missing" when a clause cannot be
    evaluated (data missing), else "manual" (the policy has a manual clause, 待人工核验)."""
    statuses = [c.fn(row, frozenset()) for c in cp.clauses]
    failed = [c.clause.label_zh for c, s in zip(cp.clauses, statuses) if s is False]
    if failed:
        return False, failed, None
    if any(s is None for s in statuses):
        return None, [], "missing"
    return (None, [], "manual") if cp.policy.manual_clauses else (True, [], None)


def _decide(app: dict, policy: Policy, tree: dict, reader: VersionedReader, as_of: dt.date,
            fields: dict[str, FieldInfo], rule_version: str) -> Decision:
    row = reader.profile_row(app["uscc"])
    did = hashlib.sha256(f"{app['application_id']}|{rule_version}|{json.dumps(reader.versions, sort_keys=True)}"
                         .encode()).hexdigest()[:20]

    def done(outcome, reasons, path, amount=None):
        return Decision(did, app["application_id"], app["uscc"], policy.policy_id, outcome, OUTCOME_ZH[outcome],
                        reasons, path, amount, rule_version, dict(reader.versions), as_of)
    if row is None:
        return done("manual", ["企业不在画像库中，转人工核实"], [])
    allf = {**fields, **FACTS}
    types = {k: v.type for k, v in allf.items()}
    params = policy.params_on(as_of)
    ckey = ("compiled", rule_version, as_of)
    if ckey not in reader._cache:
        reader._cache[ckey] = (CompiledPolicy(policy, as_of, fields), {
            nid: E.parse(str(n["check"]), types, params, where=f"approval tree {policy.policy_id} node {nid}")
            for nid, n in tree["nodes"].items()})
    cp, rules = reader._cache[ckey]
    facts = dict(row)
    facts["requested_amount_wan"] = app.get("requested_amount_wan")
    facts["prior_awards_same_policy"] = reader.prior_awards(app["uscc"], policy.policy_id, policy.effective_from,
                                                            app["application_id"])
    facts["policy_eligible"], failed_clauses, pending = _eligibility(cp, row)
    facts["funding_cap_wan"] = funding_standard_wan(policy, row, as_of, types)

    path, node_id, reasons = [], tree["start"], []
    for _ in range(len(tree["nodes"]) + 1):
        node, rule = tree["nodes"][node_id], rules[node_id]
        v = E.to_py(rule.node)(facts, frozenset())
        path.append(f"{node_id}:{'pass' if v else 'unknown' if v is None else 'fail'}")
        if v is None:
            if "policy_eligible" in rule.fields and pending == "manual":
                return done("manual", [f"{manual_group(policy)}，转人工核验"], path)
            gaps = "、".join(allf[f].label for f in E.fields_of(rule.node) if facts.get(f) is None) or "无法计算"
            return done("manual", [f"{node.get('label_zh', node_id)}：数据缺失（缺少 {gaps}），转人工核实"], path)
        nxt = node["pass"] if v else node["fail"]
        if not v:
            reason = node.get("reason_zh") or f"不满足：{node.get('label_zh', node_id)}"
            if "policy_eligible" in rule.fields and failed_clauses:
                reason += "（不符合：" + "、".join(failed_clauses) + "）"
            if "funding_cap_wan" in rule.fields and facts["funding_cap_wan"] is not None:
                reason += f"（申请 {facts['requested_amount_wan']:g} 万元，标准 {facts['funding_cap_wan']:g} 万元）"
            reasons.append(reason)
        if nxt == "approve":
            # what the profile cannot see stays the department's to verify after payment (承诺制)
            later = [f"事后核查：{m.split('（需字段')[0]}" for m in policy.manual_checks]
            return done("approve", (reasons or ["全部自动核验通过"]) + later, path, facts["requested_amount_wan"])
        if nxt in ("reject", "manual"):
            return done(nxt, reasons, path)
        node_id = nxt
    raise CatalogError(f"approval tree {policy.policy_id} has a cycle")


def decide(lake, application: dict, *, as_of: dt.date, policies: list[Policy] | None = None,
           trees: dict | None = None, reader: VersionedReader | None = None,
           fields: dict[str, FieldInfo] | None = None) -> Decision:
    """Decide one application {application_id, uscc, policy_id, requested_amount_wan} on current data."""
    s = lake.settings
    fields = fields or field_catalog(s.catalog_dir)
    trees = trees if trees is not None else load_trees(s.catalog_dir)
    pid = application["policy_id"]
    if pid not in trees:
        raise KeyError(f"policy {pid} has no 秒批 decision tree in catalog/approval.yaml")
    pols = {p.policy_id: p for p in (policies or load_policies(s.catalog_dir, {k: v.type for k, v in fields.items()}))}
    if pid not in pols:
        raise KeyError(f"policy {pid} is not in the policy catalog")
    version, rs = ruleset_for(pols[pid], trees[pid])
    _save_ruleset(s, version, rs)
    return _decide(application, pols[pid], trees[pid], reader or VersionedReader(lake), as_of, fields, version)


def replay(lake, decision_id: str, *, fields: dict[str, FieldInfo] | None = None) -> Decision:
    """Re-decide a recorded decision on the data versions and rules it used."""
    t = lake.to_arrow(DECISIONS)
    rows = t.filter(pc.equal(t["decision_id"], decision_id)).to_pylist()
    if not rows:
        raise KeyError(f"no decision {decision_id} in {DECISIONS}")
    d = rows[0]
    policy, tree = _load_ruleset(lake.settings, d["rule_version"])
    versions = json.loads(d["data_versions"])
    app = {"application_id": d["application_id"], "uscc": d["uscc"], "policy_id": d["policy_id"],
           "requested_amount_wan": d["requested_amount_wan"]}
    fields = fields or field_catalog(lake.settings.catalog_dir)
    return _decide(app, policy, tree, VersionedReader(lake, versions), d["as_of"], fields, d["rule_version"])


# -- tables -----------------------------------------------------------------------------------
APP_SCHEMA = ("application_id string COMMENT '申请编号', uscc string COMMENT '统一社会信用代码', "
              "policy_id string COMMENT '政策编号', requested_amount_wan double COMMENT '申请金额（万元）', "
              "submitted_at timestamp COMMENT '提交时间', channel string COMMENT '申报渠道'")
DECISION_SCHEMA = (
    "decision_id string COMMENT '决定编号', application_id string COMMENT '申请编号', uscc string COMMENT '统一社会信用代码', "
    "policy_id string COMMENT '政策编号', requested_amount_wan double COMMENT '申请金额（万元）', "
    "outcome string COMMENT '结果 approve/reject/manual', outcome_zh string COMMENT '结果（中文）', "
    "reasons_zh array<string> COMMENT '理由', path array<string> COMMENT '决策树路径', "
    "amount_approved_wan double COMMENT '核准金额（万元）', rule_version string COMMENT '规则版本（政策+决策树哈希）', "
    "data_versions string COMMENT '读取的数据版本（JSON）', as_of date COMMENT '决定基准日', decided_at timestamp COMMENT '决定时间'")
TIMELINE_SCHEMA = (
    "application_id string COMMENT '申请编号', decision_id string COMMENT '决定编号', uscc string COMMENT '统一社会信用代码', "
    "policy_id string COMMENT '政策编号', outcome string COMMENT '结果 approve/reject/manual', "
    "push_channel string COMMENT '首条推送渠道（inbox站内信/sms短信/webhook；自行申报为空）', "
    "push_sent_at timestamp COMMENT '推送发送时间', submitted_at timestamp COMMENT '申请提交时间', "
    "submitted_source string COMMENT '提交时间来源（portal 平台记录 / generated 模拟生成）', "
    "decided_at timestamp COMMENT '决定时间', check_ms double COMMENT '自动核验耗时（毫秒）', "
    "minutes_push_to_submit double COMMENT '推送→提交（分钟）', seconds_submit_to_decision double COMMENT '提交→决定（秒）', "
    "minutes_push_to_decision double COMMENT '推送→决定（分钟）'")
NOTICE_SCHEMA = (
    "notice_id string COMMENT '公示编号（决定编号）', enterprise_name string COMMENT '企业名称', "
    "uscc_masked string COMMENT '统一社会信用代码（公示脱敏）', policy_id string COMMENT '政策编号', "
    "policy_name_zh string COMMENT '政策名称', dept string COMMENT '主管部门', amount_wan double COMMENT '核准金额（万元）', "
    "decision_date date COMMENT '决定日期', notice_start date COMMENT '公示开始日期', notice_end date COMMENT '公示截止日期', "
    "approval_mode string COMMENT '审批方式（秒批自动审批/人工审核）'")
MODE_AUTO, MODE_MANUAL = "秒批自动审批", "人工审核"
REVIEWS = "ops.approval_reviews"  # a person's decisions on 转人工审核 applications (govlake.policy.review)
GENERATED = "generated"  # applications.channel of generated applications: their submitted_at is modelled


def submit_applications(lake, applications: list[dict]):
    """Intake: append the applications not yet in ops.applications (a re-run adds nothing)."""
    have = set(lake.to_arrow(APPLICATIONS, columns=["application_id"])["application_id"].to_pylist()) \
        if lake.exists(APPLICATIONS) else set()
    new = [a for a in applications if a["application_id"] not in have]
    if not new:
        return None
    now = now_local()
    rows = [(a["application_id"], a["uscc"], a["policy_id"], float(a["requested_amount_wan"]),
             aware(a.get("submitted_at") or now), a.get("channel", "企业服务平台")) for a in new]
    df = lake.spark.createDataFrame(rows, APP_SCHEMA)
    key = hashlib.sha256("|".join(sorted(a["application_id"] for a in new)).encode()).hexdigest()[:16]
    return lake.write(df, APPLICATIONS, mode="append", app_id=f"applications@{key}")


def first_push(lake) -> dict[tuple[str, str], list[tuple[dt.datetime, str, int]]]:
    """(policy_id, uscc) -> the sent messages [(sent_at, channel, policy_version)], earliest first,
    from ops.push_outbox (the published outbox)."""
    if not lake.exists(OUTBOX):
        return {}
    t = lake.to_arrow(OUTBOX, columns=["policy_id", "policy_version", "uscc", "channel", "status", "sent_at"])
    out: dict = {}
    for r in t.filter(pc.equal(t["status"], "sent")).to_pylist():
        if r["sent_at"] is not None:
            out.setdefault((r["policy_id"], r["uscc"]), []).append((local(r["sent_at"]), r["channel"], r["policy_version"]))
    return {k: sorted(v) for k, v in out.items()}


def _timeline_row(app: dict, d: dict, pushes: list, check_ms: float | None) -> tuple:
    sub, dec = local(app["submitted_at"]), local(d["decided_at"])
    before = [p for p in pushes if p[0] <= sub]
    sent, ch = (before[0][0], before[0][1]) if before else (None, None)

    def minutes(a, b):
        return None if a is None or b is None else round((b - a).total_seconds() / 60, 2)
    return (app["application_id"], d["decision_id"], app["uscc"], app["policy_id"], d["outcome"], ch, aware(sent),
            aware(sub), GENERATED if app.get("channel") == GENERATED else "portal", aware(dec), check_ms, minutes(sent, sub),
            round((dec - sub).total_seconds(), 3), minutes(sent, dec))


def _pctl(xs: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not xs:
        return None
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


def approval_figures(lake, as_of: dt.date) -> dict:
    """The day's 秒批 figures: shares by outcome, time to decision (median, p90) for the automatic
    decisions, from submission and from the push message."""
    if not lake.exists(DECISIONS):
        return {"as_of": as_of.isoformat(), "decisions": 0}
    d = lake.to_arrow(DECISIONS, columns=["application_id", "outcome", "as_of"])
    rows = [r for r in d.to_pylist() if r["as_of"] == as_of]
    n = len(rows)
    by = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOME_ZH}
    ids = {r["application_id"] for r in rows if r["outcome"] in ("approve", "reject")}
    tl = [r for r in lake.to_arrow(TIMELINE).to_pylist() if r["application_id"] in ids] if lake.exists(TIMELINE) else []
    sub = [r["seconds_submit_to_decision"] for r in tl if r["seconds_submit_to_decision"] is not None]
    push = [r["minutes_push_to_decision"] for r in tl if r["minutes_push_to_decision"] is not None]
    share = (lambda k: round(k / n, 4) if n else None)
    return {"as_of": as_of.isoformat(), "decisions": n, **{o: by[o] for o in OUTCOME_ZH},
            "share_auto_approved": share(by["approve"]), "share_rejected": share(by["reject"]),
            "share_manual": share(by["manual"]),
            "seconds_submit_to_decision": {"median": _pctl(sub, 0.5), "p90": _pctl(sub, 0.9), "n": len(sub)},
            "minutes_push_to_decision": {"median": _pctl(push, 0.5), "p90": _pctl(push, 0.9), "n": len(push)}}


def summary_lines(result: dict) -> list[str]:
    """The approve step's figures in Chinese, one line each (CLI and `govlake run`)."""
    f = result["figures"]
    n = f.get("decisions", 0)
    if not n:
        return [f"秒批 {f['as_of']}：本日无决定（新决定 {result['new_decisions']} 件）"]
    pct = (lambda k: f"{100 * f['share_' + k]:.1f}%")
    s, p = f["seconds_submit_to_decision"], f["minutes_push_to_decision"]
    lines = [f"秒批 {f['as_of']}：本日决定 {n} 件（本次新增 {result['new_decisions']} 件）；"
             f"自动批准 {f['approve']} 件 {pct('auto_approved')}，不予批准 {f['reject']} 件 {pct('rejected')}，"
             f"转人工 {f['manual']} 件 {pct('manual')}"]
    if s["n"]:
        sec = (lambda x: f"{x * 1000:.0f} 毫秒" if x < 1 else f"{x:.1f} 秒")
        lines.append(f"  提交→自动决定：中位数 {sec(s['median'])}，P90 {sec(s['p90'])}（{s['n']} 件）")
    if p["n"]:
        lines.append(f"  推送→自动决定：中位数 {p['median']:.1f} 分钟，P90 {p['p90']:.1f} 分钟（{p['n']} 件）")
    lines.append(f"  公示 {NOTICES}：{result['notices']} 条")
    for pid, gaps in result.get("tree_gaps", {}).items():
        lines.append(f"  注意：{pid} 的秒批决策树缺少核验 {', '.join(gaps)}")
    for pid in result.get("trees_without_policy", []):
        lines.append(f"  注意：决策树 {pid} 的政策不在政策目录中")
    if result.get("left_to_departments"):
        lines.append(f"  另有 {result['left_to_departments']} 件申请的政策无秒批决策树，由主管部门审核")
    return lines


def _write_timeline(spark, lake, apps: dict, decisions: list[dict], check_ms: dict, pushes: dict):
    have = set(lake.to_arrow(TIMELINE, columns=["application_id"])["application_id"].to_pylist()) \
        if lake.exists(TIMELINE) else set()
    rows = [_timeline_row(apps[d["application_id"]], d, pushes.get((d["policy_id"], d["uscc"]), []),
                          check_ms.get(d["application_id"]))
            for d in decisions if d["application_id"] not in have and d["application_id"] in apps]
    if not rows:
        return None
    key = hashlib.sha256("|".join(sorted(r[1] for r in rows)).encode()).hexdigest()[:16]
    return lake.write(spark.createDataFrame(rows, TIMELINE_SCHEMA), TIMELINE, mode="append", app_id=f"approval_timeline@{key}")


def auto_approve(spark, lake, as_of: dt.date, *, parent_run=None) -> dict:
    """Decide every application that has no decision yet into ops.approval_decisions, record its
    timeline in ops.approval_timeline, rebuild the 公示 list; return the day's figures.

    A decision's time is when the checks finished, and never before the submission plus the time
    the checks took (generated submissions are modelled and can lie after the batch's clock).
    Applications of one enterprise for one policy are decided in rounds, one per round, so the
    second one sees the first's approval (a duplicate) in the pinned decisions version it records."""
    from govlake.lineage import DatasetRef, job_run
    from govlake.lineage.emitter import schema_of

    s = lake.settings
    with job_run("auto_approve", s, nominal_time=f"{as_of.isoformat()}T00:00:00+08:00", parent=parent_run) as run:
        apps = {a["application_id"]: a for a in lake.to_arrow(APPLICATIONS).to_pylist()} if lake.exists(APPLICATIONS) else {}
        done = set(lake.to_arrow(DECISIONS, columns=["application_id"])["application_id"].to_pylist()) \
            if lake.exists(DECISIONS) else set()
        fields = field_catalog(s.catalog_dir)
        policies = load_policies(s.catalog_dir, {k: v.type for k, v in fields.items()})
        trees = load_trees(s.catalog_dir)
        pol = {p.policy_id: p for p in policies}
        todo = sorted((a for a in apps.values() if a["application_id"] not in done and a["policy_id"] in trees
                       and a["policy_id"] in pol), key=lambda a: (local(a["submitted_at"]), a["application_id"]))
        rounds: list[list[dict]] = []  # round k: the k-th application of each (enterprise, policy)
        seen: dict = {}
        for a in todo:
            k = seen.get((a["uscc"], a["policy_id"]), 0)
            seen[(a["uscc"], a["policy_id"])] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(a)
        if lake.exists(APPLICATIONS):
            run.add_input(DatasetRef(APPLICATIONS, version=lake.version(APPLICATIONS)))
        written, check_ms = 0, {}
        for batch in rounds:
            reader = VersionedReader(lake)
            decisions = []
            for a in batch:
                t0 = time.perf_counter()
                d = decide(lake, a, as_of=as_of, policies=policies, trees=trees, reader=reader, fields=fields)
                took = time.perf_counter() - t0
                check_ms[a["application_id"]] = round(took * 1000, 3)
                d.decided_at = max(now_local(), local(a["submitted_at"]) + dt.timedelta(seconds=round(took, 3)))
                decisions.append(d)
            for t, v in reader.versions.items():
                if v is not None:
                    run.add_input(DatasetRef(t, version=v))
            df = spark.createDataFrame(
                [(d.decision_id, d.application_id, d.uscc, d.policy_id, apps[d.application_id]["requested_amount_wan"],
                  d.outcome, d.outcome_zh, d.reasons_zh, d.path, d.amount_approved_wan, d.rule_version,
                  json.dumps(d.data_versions, sort_keys=True), d.as_of, aware(d.decided_at)) for d in decisions],
                DECISION_SCHEMA)
            key = hashlib.sha256("|".join(sorted(d.decision_id for d in decisions)).encode()).hexdigest()[:16]
            commit = lake.write(df, DECISIONS, mode="append", app_id=f"auto_approve@{as_of.isoformat()}#{key}")
            run.add_output(DatasetRef(DECISIONS, schema=schema_of(df), rows=len(decisions), version=commit.version))
            written += len(decisions)
        # the timeline of every decision that has none yet (also after a crash between the two writes)
        recorded = lake.to_arrow(DECISIONS).to_pylist() if lake.exists(DECISIONS) else []
        tl = _write_timeline(spark, lake, apps, recorded, check_ms, first_push(lake))
        if tl is not None:
            run.add_output(DatasetRef(TIMELINE, rows=tl.rows_written, version=tl.version))
        changed = bool(written) or tl is not None
        notices = build_notices(spark, lake, policies, recorded, changed=changed)
        if changed:
            run.add_output(DatasetRef(NOTICES, rows=notices, version=lake.version(NOTICES)))
        out = {"new_decisions": written,
               "decisions_version": lake.version(DECISIONS) if lake.exists(DECISIONS) else None,
               "figures": approval_figures(lake, as_of), "notices": notices}
        gaps = {pid: g for pid, t in trees.items() if pid in pol and (g := tree_gaps(pol[pid], t, fields))}
        if gaps:
            out["tree_gaps"] = gaps
        missing = sorted(set(trees) - set(pol))
        if missing:
            out["trees_without_policy"] = missing
        undecided = len(set(apps) - done) - len(todo)
        if undecided:  # no tree (or no policy): the department reviews them
            out["left_to_departments"] = undecided
        out["summary_zh"] = summary_lines(out)
    return out


# -- 公示 ---------------------------------------------------------------------------------------
def mask_uscc(uscc: str) -> str:
    """公示 practice: the 18-character code with its middle hidden (first 8 and last 4 shown)."""
    if not uscc:
        return uscc
    if len(uscc) >= 12:
        return uscc[:8] + "*" * (len(uscc) - 12) + uscc[-4:]
    return uscc[0] + "*" * max(len(uscc) - 2, 0) + uscc[-1:] if len(uscc) > 1 else "*"


def _approvals(lake, decisions: list[dict]) -> list[dict]:
    """Every approval the 公示 lists: the automatic ones (ops.approval_decisions) and the ones a
    person approved on review (ops.approval_reviews, govlake.policy.review: notice id = review id,
    the person's decision time and amount). A rejection, by the checks or by a person, never."""
    out = [{**d, "mode": MODE_AUTO} for d in decisions if d["outcome"] == "approve"]
    if lake.exists(REVIEWS):
        out += [{"decision_id": r["review_id"], "uscc": r["uscc"], "policy_id": r["policy_id"],
                 "amount_approved_wan": r["amount_approved_wan"], "decided_at": r["decided_at"], "mode": MODE_MANUAL}
                for r in lake.to_arrow(REVIEWS).to_pylist() if r["outcome"] == "approve"]
    return sorted(out, key=lambda d: (local(d["decided_at"]), d["decision_id"]))


def build_notices(spark, lake, policies: list[Policy], decisions: list[dict], *, changed: bool = True) -> int:
    """gold.approval_notices, rebuilt from every approval, automatic or by a person's review
    (enterprise name from the released profile)."""
    if not changed and lake.exists(NOTICES) and "approval_mode" in lake.arrow_schema(NOTICES).names:
        return lake.row_count(NOTICES)
    approved = _approvals(lake, decisions)
    pol = {p.policy_id: p for p in policies}
    calendar = load_work_calendar(lake.settings.catalog_dir)  # 公示期 in working days, holidays off
    reader = VersionedReader(lake)
    names = {}
    if reader.table(PROFILE) is not None and "ent_name" in reader.table(PROFILE).column_names:
        t = reader.table(PROFILE).select(["uscc", "ent_name"])
        names = dict(zip(t["uscc"].to_pylist(), t["ent_name"].to_pylist()))
    rows = []
    for d in approved:
        day = local(d["decided_at"]).date()
        start, end = calendar.workdays_after(day, NOTICE_WORKING_DAYS)
        p = pol.get(d["policy_id"])
        rows.append((d["decision_id"], names.get(d["uscc"]) or "（名称缺失）", mask_uscc(d["uscc"]), d["policy_id"],
                     p.name_zh if p else d["policy_id"], p.dept if p else None, d["amount_approved_wan"], day, start, end,
                     d["mode"]))
    key = hashlib.sha256("|".join(f"{r[0]}:{r[-1]}" for r in rows).encode()).hexdigest()[:16]
    # a data product (catalog/products.yaml): gated against its contract before the commit
    publish(spark.createDataFrame(rows, NOTICE_SCHEMA), NOTICES, lake, app_id=f"approval_notices@{key}")
    return len(rows)


def refresh_notices(lake) -> int:
    """Rebuild the 公示 list now (after a person's review), from every decision recorded."""
    s = lake.settings
    fields = field_catalog(s.catalog_dir)
    policies = load_policies(s.catalog_dir, {k: v.type for k, v in fields.items()})
    decisions = lake.to_arrow(DECISIONS).to_pylist() if lake.exists(DECISIONS) else []
    return build_notices(lake.spark, lake, policies, decisions)


def read_notices(lake, on: dt.date | None = None) -> list[dict]:
    """The 公示 list; with `on`, the notices whose 公示期 covers that day."""
    if not lake.exists(NOTICES):
        return []
    rows = lake.to_arrow(NOTICES).to_pylist()
    if on is not None:
        rows = [r for r in rows if r["notice_start"] <= on <= r["notice_end"]]
    return sorted(rows, key=lambda r: (r["decision_date"], r["policy_id"], r["uscc_masked"]))


def decision_dict(d: Decision) -> dict:
    out = asdict(d)
    out["as_of"] = d.as_of.isoformat()
    out["decided_at"] = d.decided_at.isoformat()
    return out
