"""Which profile fields a rule may read: id -> (type, 中文 label).

The full catalog (catalog/enterprise_fields, ~1,500 fields) is loaded through
`govlake.catalog.enterprise` when that module exists; otherwise the core fields of
docs/contracts.md (which every profile build must provide) are the vocabulary.
Validation takes the resulting mapping as a parameter, so both work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake.catalog.departments import load_certificate_types


@dataclass(frozen=True)
class FieldInfo:
    id: str
    type: str  # string | double | int | boolean
    label: str


# docs/contracts.md, "Core profile fields".
_CORE = [
    ("uscc", "string", "统一社会信用代码"), ("ent_name", "string", "企业名称"),
    ("industry_code", "string", "行业代码"), ("street_code", "string", "所属街道代码"),
    ("reg_status", "string", "登记状态"), ("is_registered_in_district", "boolean", "注册地在本区"),
    ("years_since_registration", "double", "成立年限（年）"), ("reg_capital_wan", "double", "注册资本（万元）"),
    ("enterprise_size", "string", "企业规模"),
    ("revenue_y1_wan", "double", "上年营业收入（万元）"), ("revenue_y2_wan", "double", "前年营业收入（万元）"),
    ("revenue_y3_wan", "double", "大前年营业收入（万元）"), ("revenue_3y_wan", "double", "近三年营业收入合计（万元）"),
    ("revenue_growth_2y_avg", "double", "近两年营业收入平均增长率"), ("profit_y1_wan", "double", "上年利润总额（万元）"),
    ("total_tax_y1_wan", "double", "上年纳税总额（万元）"), ("tax_credit_grade_y1", "string", "上年纳税信用等级"),
    ("hightech_revenue_ratio_y1", "double", "上年高新技术产品（服务）收入占比"),
    ("rd_expense_y1_wan", "double", "上年研发费用（万元）"), ("rd_expense_y2_wan", "double", "前年研发费用（万元）"),
    ("rd_expense_3y_wan", "double", "近三年研发费用合计（万元）"),
    ("rd_expense_ratio_y1", "double", "上年研发费用占营业收入比例"),
    ("rd_expense_ratio_3y", "double", "近三年研发费用占营业收入比例"),
    ("rd_domestic_share_3y", "double", "近三年境内研发费用占比"),
    ("insured_headcount_y1", "int", "上年末参保人数"), ("rd_staff_ratio_y1", "double", "上年研发（科技）人员占比"),
    ("bachelor_plus_ratio_y1", "double", "上年本科及以上学历人员占比"),
    ("ip_invention_valid_count", "int", "有效发明专利数"), ("ip_utility_valid_count", "int", "有效实用新型专利数"),
    ("ip_software_valid_count", "int", "软件著作权数"), ("ip_core_valid_count", "int", "有效核心自主知识产权数"),
    ("ip_invention_apply_2y_count", "int", "近两年发明专利申请数"),
    ("equity_financing_2y_wan", "double", "近两年股权融资总额（万元）"),
    ("credit_serious_1y_count", "int", "近一年严重失信/重大违法记录数"),
    ("credit_serious_3y_count", "int", "近三年严重失信/重大违法记录数（含已修复）"),
    ("credit_dishonest_active", "boolean", "当前在失信名单"), ("admin_penalty_1y_count", "int", "近一年行政处罚次数"),
    ("stat_category_y1", "string", "上年统计类别"), ("stat_in_district_y1", "boolean", "上年统计关系在本区"),
    ("subsidy_total_3y_wan", "double", "近三年获得资助总额（万元）"), ("petition_count_1y", "int", "近一年涉企诉求数"),
    ("innovation_score", "double", "企业创新能力评价得分"), ("specialization_score", "double", "专精特新评价得分"),
]


def core_fields(catalog_dir: Path) -> dict[str, FieldInfo]:
    out = {i: FieldInfo(i, t, lab) for i, t, lab in _CORE}
    for c in load_certificate_types(catalog_dir):
        fid = f"cert_valid_{c.key}"
        out[fid] = FieldInfo(fid, "boolean", f"持有有效{c.name}")
    return out


def _catalog_fields(catalog_dir: Path) -> dict[str, FieldInfo] | None:
    """The full enterprise field catalog, if its loader is available; None otherwise."""
    try:
        from govlake.catalog import enterprise as prof  # written by the profile engineer
    except ImportError:
        return None
    loader = getattr(prof, "load_enterprise_fields", None) or getattr(prof, "load_fields", None)
    if loader is None:
        return None
    try:
        items = loader(catalog_dir)
    except Exception:  # an unfinished catalog must not break policy loading; core fields still apply
        return None
    items = getattr(items, "fields", items)
    items = items.values() if isinstance(items, dict) else items
    out = {}
    for f in items:
        fid = getattr(f, "id", None) or getattr(f, "name", None)
        if fid:
            out[fid] = FieldInfo(fid, str(getattr(f, "type", "double")), str(getattr(f, "label", fid)))
    return out or None


def field_catalog(catalog_dir: Path) -> dict[str, FieldInfo]:
    """Core fields, overlaid by the full catalog when it loads (the catalog wins on type/label)."""
    out = core_fields(catalog_dir)
    out.update(_catalog_fields(catalog_dir) or {})
    return out


def tag_ids(catalog_dir: Path) -> set[str] | None:
    """Tag ids from catalog/enterprise_tags/*.yaml, or None (tags unchecked) while it is empty."""
    from govlake import yamlio

    try:
        from govlake.catalog.enterprise import load_enterprise_tags

        ids = {t.id for t in load_enterprise_tags(catalog_dir)}
        if ids:
            return ids
    except Exception:  # loader absent or catalog unfinished: fall back to reading the YAML ids
        pass

    d = Path(catalog_dir) / "enterprise_tags"
    ids: set[str] = set()
    for p in sorted(d.glob("*.yaml")) if d.is_dir() else []:
        doc = yamlio.safe_load(p.read_text(encoding="utf-8")) or {}
        items = doc.get("tags") if isinstance(doc, dict) else doc
        for t in items or []:
            if isinstance(t, dict) and (t.get("id") or t.get("tag_id")):
                ids.add(t.get("id") or t.get("tag_id"))
    return ids or None


def is_ratio(field_id: str) -> bool:
    """Ratios are shown as percentages in explanations (0.032 -> 3.2%)."""
    return "_ratio" in field_id or "_share" in field_id or field_id.endswith("_growth_2y_avg")
