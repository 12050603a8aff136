"""catalog/policies/*.yaml: one subsidy / recognition policy per file, and its YAML test cases.

A policy has named clauses (条件), each a rule in the rule language (`govlake.rulelang`, docs/rules.md), plus
dated parameters, effective dates, version, issuing department, funding standard, legal
reference (文号) and application window. Loading validates every clause under every dated
parameter set against the field catalog (a parameter) and fails with the policy and clause named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from govlake import yamlio
from govlake.catalog.sources import CatalogError
from govlake.rulelang import RuleError, parse

KINDS = {
    "national": "国家政策原文（忠实编码）",
    "city": "市级政策原文（忠实编码）",
    "district": "区级政策原文（忠实编码）",
    "district_modelled": "参照区级政策实践建模",
    "synthetic": "基准测试用合成政策",
}
PUBLISHED = ("city", "district")  # encoded from a published text: article and source page required
REQUIRED = ("policy_id", "name_zh", "kind", "dept", "version", "effective_from", "doc_no", "clauses")


@dataclass(frozen=True)
class Clause:
    id: str
    label_zh: str
    rule: str
    text_zh: str = ""  # the published wording this clause encodes
    # A condition of the text that the profile cannot see (待人工核验): no rule; `needs` names the
    # field(s) it would read. An enterprise meeting every other clause is needs_review, not eligible.
    manual: bool = False
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    policy_id: str
    name_zh: str
    kind: str
    dept: str
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    doc_no: str
    title_zh: str
    source_url: str
    article_zh: str  # the article / sub-item of the document that grants this item, e.g. 第二条
    window_open: dt.date | None
    window_close: dt.date | None
    funding: dict
    params: dict  # name -> value, or [{from: date, value: v}, ...]
    clauses: tuple[Clause, ...]  # the machine-checked clauses (each has a rule)
    manual_checks: tuple[str, ...] = ()
    manual_clauses: tuple[Clause, ...] = ()  # conditions only a person can verify (manual: true)
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def rule_hash(self) -> str:
        """Content hash of the policy document: any change to a rule or parameter changes it."""
        blob = json.dumps(self.raw, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def active_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def params_on(self, day: dt.date) -> dict[str, Any]:
        """Parameter values in force on `day` (the latest `from` not after it)."""
        out = {}
        for name, v in self.params.items():
            if _is_dated(v):
                chosen = [e["value"] for e in sorted(v, key=lambda e: e["from"]) if e["from"] <= day]
                if not chosen:
                    raise CatalogError(f"policy {self.policy_id}: parameter {name!r} has no value on {day}")
                out[name] = chosen[-1]
            else:
                out[name] = v
        return out

    def param_dates(self) -> list[dt.date]:
        """Every date on which some parameter changes (validation checks each period)."""
        days = {self.effective_from}
        for v in self.params.values():
            if _is_dated(v):
                days.update(e["from"] for e in v if e["from"] >= self.effective_from)
        return sorted(days)


def _is_dated(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(e, dict) and "from" in e for e in v)


def _date(v: Any, where: str) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise CatalogError(f"{where}: {v!r} is not a date (YYYY-MM-DD)") from None


def parse_policy(doc: dict, *, source: str = "policy", dept_codes: set[str] | None = None,
                 city_dept_codes: set[str] | None = None) -> Policy:
    """dept_codes: district departments that issue policies; a `city` item may instead name a
    city bureau listed in departments.yaml (city_dept_codes), since the district does not run it."""
    if not isinstance(doc, dict):
        raise CatalogError(f"{source}: a policy file must be a mapping")
    missing = [k for k in REQUIRED if doc.get(k) in (None, "", [])]
    if missing:
        raise CatalogError(f"{source}: policy {doc.get('policy_id', '?')} is missing {missing}")
    pid = doc["policy_id"]
    where = f"policy {pid} ({doc['name_zh']})"
    if doc["kind"] not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {sorted(KINDS)}, got {doc['kind']!r}")
    allowed = dept_codes
    if dept_codes is not None and doc["kind"] == "city":
        allowed = dept_codes | (city_dept_codes or set())
    if allowed is not None and doc["dept"] not in allowed:
        raise CatalogError(f"{where}: dept {doc['dept']!r} is not a department that issues policies "
                           f"(catalog/departments.yaml, issues_policies: true)")
    if doc["kind"] in PUBLISHED and not (doc.get("article_zh") and doc.get("source_url")):
        raise CatalogError(f"{where}: a {doc['kind']} item needs article_zh (e.g. 第二条) and source_url "
                           f"(the page its text was read from)")
    params = {}
    for name, v in (doc.get("params") or {}).items():
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            if not all({"from", "value"} <= set(e) for e in v):
                raise CatalogError(f"{where}: dated parameter {name!r} needs entries {{from, value}}")
            v = [{"from": _date(e["from"], f"{where} parameter {name}"), "value": e["value"]} for e in v]
        params[name] = v
    clauses, manual, seen = [], [], set()
    for c in doc["clauses"]:
        if isinstance(c, dict) and c.get("manual"):
            manual.append(_manual_clause(c, where))
        elif not isinstance(c, dict) or not c.get("id") or not c.get("rule") or not c.get("label_zh"):
            raise CatalogError(f"{where}: every clause needs id, label_zh and rule, got {c!r}")
        else:
            clauses.append(Clause(c["id"], c["label_zh"], str(c["rule"]), c.get("text_zh", "")))
        if c["id"] in seen:
            raise CatalogError(f"{where}: duplicate clause id {c['id']!r}")
        seen.add(c["id"])
    if not clauses:
        # the batch keeps pairs by their machine clauses; with none every enterprise would be kept
        raise CatalogError(f"{where}: needs at least one clause with a rule besides its manual: true clauses")
    win = doc.get("application_window") or {}
    p = Policy(
        policy_id=pid, name_zh=doc["name_zh"], kind=doc["kind"], dept=doc["dept"],
        version=int(doc["version"]), effective_from=_date(doc["effective_from"], where),
        effective_to=_date(doc.get("effective_to"), where), doc_no=doc["doc_no"],
        title_zh=doc.get("title_zh", ""), source_url=doc.get("source_url", ""),
        article_zh=str(doc.get("article_zh") or ""),
        window_open=_date(win.get("open"), where), window_close=_date(win.get("close"), where),
        funding=dict(doc.get("funding") or {}), params=params, clauses=tuple(clauses),
        manual_checks=tuple(doc.get("manual_checks") or ()), manual_clauses=tuple(manual), raw=doc,
    )
    return p


def _manual_clause(c: dict, where: str) -> Clause:
    """A `manual: true` clause: id, label_zh, needs (the field or fields it would read), no rule."""
    if not c.get("id") or not c.get("label_zh"):
        raise CatalogError(f"{where}: a manual clause needs id and label_zh, got {c!r}")
    if c.get("rule"):
        raise CatalogError(f"{where}: clause {c['id']} is manual: true and has a rule; drop one of them "
                           f"(a condition the profile can check is a rule, not a manual clause)")
    needs = c.get("needs")
    needs = (needs,) if isinstance(needs, str) else tuple(needs or ())
    if not needs or not all(isinstance(n, str) and _IDENT.fullmatch(n) for n in needs):
        raise CatalogError(f"{where}: manual clause {c['id']} ({c['label_zh']}) must name the field(s) it needs "
                           f"as ASCII ids (needs: field_id), got {c.get('needs')!r}")
    return Clause(c["id"], c["label_zh"], "", c.get("text_zh", ""), manual=True, needs=needs)


_IDENT = re.compile(r"[a-z][a-z0-9_]*")


def validate_policy(p: Policy, fields: dict[str, str], *, tags: set[str] | None = None,
                    cert_keys: set[str] | None = None) -> None:
    """Check every clause under every dated parameter set. fields: field id -> type."""
    for c in p.manual_clauses:
        known = [n for n in c.needs if n in fields]
        if known:
            raise RuleError(f"policy {p.policy_id} ({p.name_zh}) clause {c.id} ({c.label_zh}): manual clause needs "
                            f"{known}, which the profile has: write it as a rule instead of manual: true")
    for day in p.param_dates():
        params = p.params_on(day)
        for c in p.clauses:
            parse(c.rule, fields, params, where=f"policy {p.policy_id} ({p.name_zh}) clause {c.id} ({c.label_zh})",
                  tags=tags, cert_keys=cert_keys)
        cap = p.funding.get("cap_wan")
        if cap is not None:
            parse(str(cap), fields, params, where=f"policy {p.policy_id} ({p.name_zh}) funding.cap_wan",
                  want="num", tags=tags, cert_keys=cert_keys)


def load_policies(catalog_dir: Path, fields: dict[str, str] | None = None, *,
                  tags: set[str] | None = None, include_synthetic: bool = False) -> list[Policy]:
    """All policies in catalog/policies/*.yaml, validated. fields defaults to the field catalog."""
    from govlake.catalog.departments import load_certificate_types, load_departments
    from govlake.policy.fields import field_catalog, tag_ids

    catalog_dir = Path(catalog_dir)
    if fields is None:
        fields = {k: v.type for k, v in field_catalog(catalog_dir).items()}
        tags = tags if tags is not None else tag_ids(catalog_dir)
    all_depts = load_departments(catalog_dir)
    depts = {d.code for d in all_depts if d.issues_policies}
    city_depts = {d.code for d in all_depts if d.name.startswith("深圳市")}  # city bureaus (市级), see departments.yaml
    certs = {c.key for c in load_certificate_types(catalog_dir)}
    out, ids = [], set()
    for path in sorted((catalog_dir / "policies").glob("*.yaml")):
        doc = yamlio.safe_load(path.read_text(encoding="utf-8"))
        p = parse_policy(doc, source=str(path.name), dept_codes=depts, city_dept_codes=city_depts)
        if p.kind == "synthetic" and not include_synthetic:
            continue
        if p.policy_id in ids:
            raise CatalogError(f"{path.name}: duplicate policy_id {p.policy_id!r}")
        ids.add(p.policy_id)
        try:
            validate_policy(p, fields, tags=tags, cert_keys=certs)
        except RuleError as e:
            raise CatalogError(f"{path.name}: {e}") from None
        out.append(p)
    return out


def load_cases(catalog_dir: Path) -> dict[str, list[dict]]:
    """catalog/policies/cases/<policy_id>.yaml -> {policy_id: [case, ...]}.

    A case: {name, as_of, profile: {field: value}, tags: [..], expect: {eligible, clauses: {id: pass|fail|unknown}}}.
    Fields absent from `profile` are null (the 'data missing' path)."""
    out: dict[str, list[dict]] = {}
    for path in sorted((Path(catalog_dir) / "policies" / "cases").glob("*.yaml")):
        doc = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        pid = doc.get("policy_id") or path.stem
        cases = []
        for c in doc.get("cases") or []:
            c = dict(c)
            c["as_of"] = _date(c.get("as_of") or doc.get("as_of"), f"{path.name} case {c.get('name')}")
            cases.append(c)
        out[pid] = cases
    return out
