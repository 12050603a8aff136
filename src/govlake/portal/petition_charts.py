"""The petition dashboards' figures and charts: 诉求时效 (daily / weekly / monthly reports of
gold.rpt_petition_sla_*, headline by department from gold.fct_petition_sla through
govlake.signals.sla_summary) and 分拨质量 (top-1 / top-3 agreement of gold.petition_dispatch with
the department that finally handled each ticket, govlake.petitions.agreement). Inputs are Arrow
tables the caller read through the grant check; nothing here reads the lake."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from govlake.portal.svg_charts import bar_chart, line_chart

PERIODS = {"daily": ("gold.rpt_petition_sla_daily", "日报"), "weekly": ("gold.rpt_petition_sla_weekly", "周报"),
           "monthly": ("gold.rpt_petition_sla_monthly", "月报")}


def _weighted(rows: list[dict], col: str, weight: str = "ticket_count") -> float | None:
    """A rate over groups, weighted by their tickets (groups without the rate left out)."""
    num = sum(r[col] * r[weight] for r in rows if r.get(col) is not None)
    den = sum(r[weight] for r in rows if r.get(col) is not None)
    return num / den if den else None


def sla_report(report: pa.Table, period_label: str, last: int = 30) -> dict:
    """Per period: tickets, 按时办结率, 24小时首次联系率, 回退率 (the report's groups summed);
    per department for the latest period: 按时办结率."""
    by_period = defaultdict(list)
    for r in report.to_pylist():
        by_period[str(r["period_start"])].append(r)
    periods = sorted(by_period)[-last:]
    rows = [{"period": p, "tickets": sum(r["ticket_count"] for r in by_period[p]),
             "on_time_rate": _weighted(by_period[p], "on_time_rate"),
             "first_contact_rate": _weighted(by_period[p], "first_contact_on_time_rate"),
             "return_rate": _weighted(by_period[p], "return_rate", "rated_count"),
             "escalated": sum(r["escalated_count"] or 0 for r in by_period[p])} for p in periods]
    latest = by_period[periods[-1]] if periods else []
    depts = defaultdict(list)
    for r in latest:
        depts[f'{r["dept_name"]} ({r["dept_code"]})'].append(r)
    dept_rates = sorted(((d, _weighted(rs, "on_time_rate")) for d, rs in depts.items()), key=lambda x: -(x[1] or 0))
    return {
        "rows": rows,
        "tickets_svg": bar_chart([(r["period"], r["tickets"]) for r in rows], title=f"诉求量（{period_label}）"),
        "rates_svg": line_chart({"按时办结率": [(r["period"], r["on_time_rate"]) for r in rows],
                                 "24小时首次联系率": [(r["period"], r["first_contact_rate"]) for r in rows],
                                 "回退率": [(r["period"], r["return_rate"]) for r in rows]},
                                title=f"办理时效与回退（{period_label}）", percent=True),
        "dept_svg": bar_chart(dept_rates[:15], title=f"各部门按时办结率（{periods[-1] if periods else '—'}）",
                              percent=True),
    }


def sla_headline(fact: pa.Table) -> list[dict]:
    """govlake.signals.sla_summary by department: the figures `govlake signals sla --by dept` prints."""
    from govlake.signals.sla_summary import sla_summary

    df = sla_summary(fact, "dept")
    return [{k: (None if v != v else v) for k, v in r.items()} for r in df.to_dict("records")]  # NaN -> None


def dispatch_quality(dispatch: pa.Table, final: pa.Table, names: dict[str, str]) -> dict:
    """Agreement of the top-3 recommendations (ticket_id, rank, dept_code) with the handling
    department (ticket_id, dept_code) of the tickets found in both."""
    from govlake.petitions.agreement import agreement
    from govlake.petitions.dispatch import Recommendation

    recs = defaultdict(list)
    kind = ["dispatch_kind"] if "dispatch_kind" in dispatch.column_names else []
    for r in dispatch.select(["ticket_id", "rank", "dept_code", *kind]).to_pylist():
        if r.get("dispatch_kind") != "replay":  # 退单重放 rows are decisions, not the model's proposals
            recs[r["ticket_id"]].append(r)
    handled = {r["ticket_id"]: r["dept_code"] for r in final.select(["ticket_id", "dept_code"]).to_pylist()
               if r["dept_code"] and r["dept_code"] != "UNASSIGNED"}
    tickets = sorted(t for t in recs if t in handled)
    ranked = [[Recommendation(x["rank"], x["dept_code"], names.get(x["dept_code"], ""), 0.0, "")
               for x in sorted(recs[t], key=lambda x: x["rank"])] for t in tickets]
    a = agreement(ranked, [handled[t] for t in tickets])
    per = list(a["per_department"].items())[:15]
    label = lambda code: f"{names.get(code, code)} ({code})"  # noqa: E731
    return {**a, "overall_svg": bar_chart([("首位命中率 top-1", a["top1"]), ("前三命中率 top-3", a["top3"])],
                                          title=f"分拨准确率（{a['n']} 件已办结工单）", percent=True),
            "top1_svg": bar_chart([(label(k), v["top1"]) for k, v in per], title="各承办部门首位命中率", percent=True),
            "top3_svg": bar_chart([(label(k), v["top3"]) for k, v in per], title="各承办部门前三命中率", percent=True),
            "per_department": [(label(k), v) for k, v in per]}
