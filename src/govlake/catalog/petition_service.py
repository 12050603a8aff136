"""catalog/petition_service.yaml: 民意速办 service levels and the 不满意回退 / 专项督办 rule.

The generator, the dbt marts (through `dbt_macros()`, written by `govlake dbt generate-staging`)
and the enterprise profile (@returned) all take the rule from here, so it exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake import yamlio
from govlake.catalog.sources import CatalogError
from govlake.catalog.work_calendar import WorkCalendar

FILE = "petition_service.yaml"


@dataclass(frozen=True)
class RatingDimension:
    id: str
    label: str       # 处置速度 / 处置效果 / 服务体验 / 反馈质量
    column: str      # first rating (首次评价)
    rerating: str    # rating after re-handling (回退重办后的二次评价)


@dataclass(frozen=True)
class PetitionService:
    contact_hours: int                # 派单后首次联系时限（小时）
    simple_label: str
    simple_request_types: tuple[str, ...]
    normal_label: str
    close_days: int                   # 一般事项办结时限（天）
    pre_evaluation_label: str
    rating_min: int
    rating_max: int
    dimensions: tuple[RatingDimension, ...]
    return_label: str                 # 不满意回退
    return_dimensions: tuple[str, ...]
    return_max_score: int             # a score <= this on a named dimension sends the ticket back
    escalation_label: str             # 专项督办
    escalation_queue: str

    def dimension(self, dim_id: str) -> RatingDimension:
        return next(d for d in self.dimensions if d.id == dim_id)

    def rule_columns(self, rerating: bool = False) -> list[str]:
        """The columns the 回退 rule reads (first rating, or the re-rating after re-handling)."""
        return [getattr(self.dimension(i), "rerating" if rerating else "column") for i in self.return_dimensions]

    def dissatisfied_sql(self, rerating: bool = False) -> str:
        """SQL: true when the rating fires the rule; NULL (not false) when it does not fire and a
        named dimension is unrated, so callers coalesce."""
        return "(" + " OR ".join(f"{c} <= {self.return_max_score}" for c in self.rule_columns(rerating)) + ")"


def parse_petition_service(doc: dict) -> PetitionService:
    try:
        sl, r, ret, esc = doc["service_levels"], doc["ratings"], doc["return_rule"], doc["escalation"]
        dims = tuple(RatingDimension(d["id"], d["label"], d["column"], d["rerating"]) for d in r["dimensions"])
        svc = PetitionService(
            contact_hours=int(sl["contact_hours"]), simple_label=sl["simple"]["label"],
            simple_request_types=tuple(sl["simple"]["request_types"]), normal_label=sl["normal"]["label"],
            close_days=int(sl["normal"]["close_days"]), pre_evaluation_label=sl["pre_evaluation"],
            rating_min=int(r["min"]), rating_max=int(r["max"]), dimensions=dims, return_label=ret["label"],
            return_dimensions=tuple(ret["dimensions"]), return_max_score=int(ret["max_score"]),
            escalation_label=esc["label"], escalation_queue=esc["queue"])
    except (KeyError, TypeError) as e:
        raise CatalogError(f"{FILE}: missing or malformed entry {e}") from e
    unknown = set(svc.return_dimensions) - {d.id for d in dims}
    if unknown or not svc.return_dimensions:
        raise CatalogError(f"{FILE}: return_rule.dimensions {sorted(unknown)} are not rating dimensions")
    if not svc.rating_min <= svc.return_max_score < svc.rating_max:
        raise CatalogError(f"{FILE}: return_rule.max_score must lie in [{svc.rating_min}, {svc.rating_max})")
    return svc


def load_petition_service(catalog_dir: Path) -> PetitionService:
    with open(Path(catalog_dir) / FILE, encoding="utf-8") as f:
        return parse_petition_service(yamlio.safe_load(f))


def _dates(days) -> str:
    return ", ".join(f"date'{d.isoformat()}'" for d in sorted(days))


def dbt_macros(svc: PetitionService, calendar: WorkCalendar, header: str) -> str:
    """dbt/macros/petition_service.sql: the catalog values (and the work calendar's days) as macros
    the petition marts call."""
    simple = ", ".join(f"'{t}'" for t in svc.simple_request_types)

    def macro(name: str, comment: str, body: str) -> str:
        return f"{{# {comment} #}}\n{{% macro {name}() %}}{body}{{% endmacro %}}\n"

    return "\n".join([
        f"-- {header}\n-- Values of catalog/{FILE}; the petition marts call these, never literals.\n"
        f"-- {svc.pre_evaluation_label}: fct_petition_sla.has_pre_evaluation (sent before the close).\n",
        macro("petition_contact_hours", "首次联系时限（派单后小时数）", str(svc.contact_hours)),
        macro("petition_simple_request_types", f"{svc.simple_label}（当日办结）的诉求类型", simple),
        macro("petition_close_days", f"{svc.normal_label}办结时限（天）", str(svc.close_days)),
        macro("petition_holidays", "法定节假日放假日（含调休），catalog/work_calendar.yaml", _dates(calendar.holidays)),
        macro("petition_extra_workdays", "调休上班的周末，catalog/work_calendar.yaml", _dates(calendar.extra_workdays)),
        macro("petition_dissatisfied", f"{svc.return_label}：首次评价触发回退",
              svc.dissatisfied_sql()),
        macro("petition_redissatisfied", f"{svc.escalation_label}（{svc.escalation_queue}）：重办后二次评价仍触发回退规则",
              svc.dissatisfied_sql(rerating=True)),
    ])
