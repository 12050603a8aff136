"""Portal page 政策沙盘推演 (/portal/policy-sandbox): an officer picks a draft from
catalog/policies/drafts/ (or pastes one) and sees its reach by street, industry and size, its cost
against a budget, one sensitivity curve per parameter, the diff against the version in force and
the overlap with the policies in force — govlake.policy.sandbox, drawn as inline SVG.

The same rule as POST /policies/sandbox (govlake.access.reads.sandbox_drafts) and the same rate:
each run counts against the API's bucket of the department's granted consumer for the route class
`sandbox` (reads.admit_route; past it 429 with Retry-After). Each run, or its refusal, is audited."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse

from govlake import access
from govlake.access import reads
from govlake.catalog.sources import CatalogError
from govlake.policy.sandbox import run_sandbox
from govlake.portal import grant_reads
from govlake.portal.pages import Ctx, user
from govlake.portal.svg_charts import bar_chart, line_chart

router = APIRouter(prefix="/portal", include_in_schema=False)
PROFILE = "gold.enterprise_profile"
MAX_DRAFT_CHARS = 50_000
DIMENSIONS = {"street": "街道", "industry": "行业门类", "size": "企业规模"}


def _drafts(ctx: Ctx) -> dict[str, Path]:
    return {p.stem: p for p in sorted((ctx.settings.catalog_dir / "policies" / "drafts").glob("*.yaml"))}


def _charts(report) -> dict:
    """SVG for the reach cells and the curves; x labels carry their order (the chart sorts text)."""
    reach = {by: bar_chart([(c.label, c.eligible) for c in cells[:20]], title=f"符合条件企业数 · 按{DIMENSIONS.get(by, by)}")
             for by, cells in report.reach.items()}
    curves = []
    for c in report.sensitivity:
        xs = [(f"{i + 1:02d} {p.value}", p) for i, p in enumerate(c.points)]
        series = {"符合 eligible": [(x, p.eligible) for x, p in xs], "差一项 near miss": [(x, p.near_miss) for x, p in xs]}
        curves.append(line_chart(series, title=f"{c.param}（当前 {c.base_value}）：覆盖面"))
        if any(p.total_wan is not None for _, p in xs):
            curves.append(line_chart({"资助总额（万元）": [(x, p.total_wan) for x, p in xs]},
                                     title=f"{c.param}：资助总额（万元）"))
    return {"reach": reach, "curves": curves}


def _run(ctx: Ctx, text: str, example: str, budget: float | None, points: int):
    consumer, grant = grant_reads.granted_consumer(ctx.store, ctx.account, PROFILE)
    ev = access.AuditEvent("portal.policy_sandbox", "denied", "account", ctx.account.username, product=PROFILE,
                           client=f"portal:{ctx.account.username}", purpose=getattr(grant, "purpose", None),
                           grant_id=getattr(grant, "id", None), filters={"draft": example or "pasted"})
    try:
        if consumer is not None:  # as the API: the grant first, then the rate, then the run
            reads.admit_route(ctx.store, consumer, "sandbox")
        doc, = reads.sandbox_drafts(grant, [text], ctx.settings)
        report = run_sandbox(doc, ctx.settings, budget_wan=budget, points=points)
    except (reads.AccessDenied, ValueError, CatalogError, KeyError, FileNotFoundError) as e:
        ev.status, ev.detail = getattr(e, "status", 400), str(e)[:300]
        access.append_audit(ctx.store, ev)
        retry = getattr(e, "retry_after", None)
        return None, (grant_reads.too_fast(e) if retry is not None else str(e))[:500], retry
    ev.outcome, ev.status, ev.rows, ev.version = "allowed", 200, report.enterprises_evaluated, report.profile_version
    access.append_audit(ctx.store, ev)
    return report, None, None


@router.get("/policy-sandbox", response_class=HTMLResponse)
def sandbox_page(ctx: Ctx = Depends(user), example: str = "", budget: str = "", points: int = 10):
    drafts = _drafts(ctx)
    report = error = retry = None
    text = ""
    if example in drafts:
        text = drafts[example].read_text(encoding="utf-8")
        report, error, retry = _run(ctx, text, example, _budget(budget), max(0, min(points, 40)))
    return _render(ctx, drafts, example, text, budget, points, report, error, retry)


@router.post("/policy-sandbox", response_class=HTMLResponse)
def sandbox_run(ctx: Ctx = Depends(user), csrf: str = Form(""), draft: str = Form(""), budget: str = Form(""),
                points: int = Form(10)):
    ctx.check_csrf(csrf)
    report, error, retry = (None, f"草案过长（最多 {MAX_DRAFT_CHARS} 字符）", None) if len(draft) > MAX_DRAFT_CHARS \
        else _run(ctx, draft, "", _budget(budget), max(0, min(points, 40)))
    return _render(ctx, _drafts(ctx), "", draft, budget, points, report, error, retry)


def _budget(v: str) -> float | None:
    try:
        return float(v) if v.strip() else None
    except ValueError:
        return None


def _render(ctx, drafts, example, text, budget, points, report, error, retry_after=None):
    return grant_reads.limited(ctx.render(
        "policy_sandbox.html", "政策沙盘推演", drafts=list(drafts), example=example, text=text, budget=budget,
        points=points, r=report, error=error, charts=_charts(report) if report else None, dims=DIMENSIONS), retry_after)
