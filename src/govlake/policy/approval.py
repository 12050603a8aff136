"""Instant approval (秒批): applications -> automated checks (catalog/approval.yaml) -> decision.

A decision reads the enterprise profile, tags-free facts and bronze.subsidies at recorded Delta
versions, and records the hash of the rules it applied (policy YAML + decision tree); the rule
text itself is kept content-addressed under state_dir/approval_rules/<hash>.json. `replay`
re-reads exactly those versions (Delta time travel) with exactly those rules, so the same
answer comes back even after the data or the catalog changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.compute as pc
from govlake import yamlio
from govlake.catalog.policies import Policy, load_policies, parse_policy
from govlake.catalog.sources import CatalogError
from govlake.policy import expr as E
from govlake.policy.compile import CompiledPolicy
from govlake.policy.fields import FieldInfo, field_catalog

PROFILE, SUBSIDIES = "gold.enterprise_profile", "bronze.subsidies"
APPLICATIONS, DECISIONS = "ops.applications", "ops.approval_decisions"
OUTCOME_ZH = {"approve": "批准", "reject": "不予批准", "manual": "转人工审核"}
FACTS = {
    "requested_amount_wan": FieldInfo("requested_amount_wan", "double", "申请金额（万元）"),
    "funding_cap_wan": FieldInfo("funding_cap_wan", "double", "资助标准上限（万元）"),
    "prior_awards_same_policy": FieldInfo("prior_awards_same_policy", "int", "本政策已拨付次数"),
    "policy_eligible": FieldInfo("policy_eligible", "boolean", "符合政策申报条件"),
}


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
    decided_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))


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


# -- data at fixed versions ---------------------------------------------------------------------
class VersionedReader:
    """Reads tables at pinned Delta versions through the lakehouse (delta-rs), cached per version.
    Default: the current release's versions (govlake.release; a table in no release, bronze.subsidies,
    at its latest), so a decision never reads a profile whose build was not released."""

    def __init__(self, lake, versions: dict[str, int | None] | None = None):
        from govlake import release

        self.lake = lake
        self.versions = dict(versions) if versions else {t: release.version_of(lake, t) for t in (PROFILE, SUBSIDIES)}
        self._cache: dict = {}

    def table(self, name: str):
        v = self.versions.get(name)
        if v is None:
            return None
        if (name, v) not in self._cache:
            self._cache[(name, v)] = self.lake.to_arrow(name, version=v)
        return self._cache[(name, v)]

    def profile_row(self, uscc: str) -> dict | None:
        t = self.table(PROFILE)
        if t is None:
            raise FileNotFoundError(f"{PROFILE} does not exist")
        rows = t.filter(pc.equal(t["uscc"], uscc)).slice(0, 1).to_pylist()
        return rows[0] if rows else None

    def prior_awards(self, uscc: str, policy_id: str, since: dt.date) -> int:
        t = self.table(SUBSIDIES)
        if t is None:
            return 0
        m = pc.and_(pc.and_(pc.equal(t["uscc"], uscc), pc.equal(t["policy_code"], policy_id)),
                    pc.greater_equal(t["award_date"], since))
        return int(pc.sum(m.cast("int8")).as_py() or 0)


# -- deciding ---------------------------------------------------------------------------------
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
    cp = CompiledPolicy(policy, as_of, fields)
    facts = dict(row)
    facts["requested_amount_wan"] = app.get("requested_amount_wan")
    facts["prior_awards_same_policy"] = reader.prior_awards(app["uscc"], policy.policy_id, policy.effective_from)
    facts["policy_eligible"] = cp.evaluate(row).eligible
    cap = policy.funding.get("cap_wan")
    facts["funding_cap_wan"] = None if cap is None else E.to_py(E.parse(str(cap), types, params, want="num").node)(facts, frozenset())

    path, node_id, reasons = [], tree["start"], []
    for _ in range(len(tree["nodes"]) + 1):
        node = tree["nodes"][node_id]
        rule = E.parse(str(node["check"]), types, params, where=f"approval tree {policy.policy_id} node {node_id}")
        v = E.to_py(rule.node)(facts, frozenset())
        path.append(f"{node_id}:{'pass' if v else 'unknown' if v is None else 'fail'}")
        if v is None:
            gaps = "、".join(allf[f].label for f in E.fields_of(rule.node) if facts.get(f) is None) or "无法计算"
            return done("manual", [f"{node.get('label_zh', node_id)}：数据缺失（缺少 {gaps}），转人工核实"], path)
        nxt = node["pass"] if v else node["fail"]
        if not v:
            reasons.append(node.get("reason_zh") or f"不满足：{node.get('label_zh', node_id)}")
        if nxt == "approve":
            return done("approve", reasons or ["全部自动核验通过"], path, facts["requested_amount_wan"])
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


def submit_applications(lake, applications: list[dict]):
    """Intake: append applications to ops.applications (idempotent per batch of ids)."""
    now = dt.datetime.now().replace(microsecond=0)
    rows = [(a["application_id"], a["uscc"], a["policy_id"], float(a["requested_amount_wan"]),
             a.get("submitted_at") or now, a.get("channel", "企业服务平台")) for a in applications]
    df = lake.spark.createDataFrame(rows, APP_SCHEMA)
    key = hashlib.sha256("|".join(sorted(a["application_id"] for a in applications)).encode()).hexdigest()[:16]
    return lake.write(df, APPLICATIONS, mode="append", app_id=f"applications@{key}")


def auto_approve(spark, lake, as_of: dt.date, *, parent_run=None):
    """Decide every application that has no decision yet; append to ops.approval_decisions."""
    from govlake.lineage import DatasetRef, job_run
    from govlake.lineage.emitter import schema_of

    s = lake.settings
    with job_run("auto_approve", s, nominal_time=f"{as_of.isoformat()}T00:00:00+08:00", parent=parent_run) as run:
        apps = lake.to_arrow(APPLICATIONS).to_pylist()
        done = set(lake.to_arrow(DECISIONS)["application_id"].to_pylist()) if lake.exists(DECISIONS) else set()
        todo = [a for a in apps if a["application_id"] not in done]
        reader = VersionedReader(lake)
        fields = field_catalog(s.catalog_dir)
        policies = load_policies(s.catalog_dir, {k: v.type for k, v in fields.items()})
        trees = load_trees(s.catalog_dir)
        decisions = [decide(lake, a, as_of=as_of, policies=policies, trees=trees, reader=reader, fields=fields)
                     for a in todo]
        run.add_input(DatasetRef(APPLICATIONS, version=lake.version(APPLICATIONS)))
        for t, v in reader.versions.items():
            if v is not None:
                run.add_input(DatasetRef(t, version=v))
        if not decisions:  # nothing new to decide: a re-run commits nothing
            from govlake.lakehouse import Commit

            run.add_output(DatasetRef(DECISIONS, rows=0))
            version = lake.version(DECISIONS) if lake.exists(DECISIONS) else -1
            return Commit(DECISIONS, version, 0, 0, 0, committed=False)
        amount = {a["application_id"]: a["requested_amount_wan"] for a in todo}
        df = spark.createDataFrame(
            [(d.decision_id, d.application_id, d.uscc, d.policy_id, amount[d.application_id], d.outcome, d.outcome_zh,
              d.reasons_zh, d.path, d.amount_approved_wan, d.rule_version, json.dumps(d.data_versions, sort_keys=True),
              d.as_of, d.decided_at) for d in decisions], DECISION_SCHEMA)
        key = hashlib.sha256("|".join(sorted(d.decision_id for d in decisions)).encode()).hexdigest()[:16]
        commit = lake.write(df, DECISIONS, mode="append", app_id=f"auto_approve@{as_of.isoformat()}#{key}")
        run.add_output(DatasetRef(DECISIONS, schema=schema_of(df), rows=len(decisions), version=commit.version))
    return commit


def decision_dict(d: Decision) -> dict:
    out = asdict(d)
    out["as_of"] = d.as_of.isoformat()
    out["decided_at"] = d.decided_at.isoformat()
    return out
