"""The enterprise_services step's tables as one release (发布版本): 产业空间撮合 (parks, needs,
two-way matches), 挂点服务 and 诉求直达 (officials, key enterprises, visits, requests generated and
submitted, their events), then 外迁预警 (it reads the key enterprises just written).

Each table passes its quality gate (govlake.services.table_gate) before its commit; the steps
that read a table this step wrote read the version it committed, not the released one. Only when
every table is committed are their versions published together (govlake.release), so readers
(API, CLI, portal, 一企一档) never see today's matches beside yesterday's needs. A failed gate
raises before the release: readers keep the previous one. A re-run of the same day computes the
same rows, commits nothing and records no second release."""

from __future__ import annotations

import datetime as dt

from govlake import release
from govlake.lakehouse import Lakehouse
from govlake.services.table_gate import TABLES, TableGate

STEP = "enterprise_services"


def run_enterprise_services(lake: Lakehouse, as_of: dt.date, *, parent_run=None, engine: str = "auto") -> dict:
    """The step; engine: the quality gates' engine (govlake.services.table_gate)."""
    from govlake.services.enterprise_requests import run_requests
    from govlake.services.key_enterprises import KEY
    from govlake.services.relocation import run_relocation
    from govlake.space.inventory import NEEDS, PARKS, write_needs, write_parks
    from govlake.space.matching import run_space_matching

    gate = TableGate(lake, parent_run=parent_run, engine=engine)
    parks = write_parks(lake, as_of=as_of, gate=gate)
    needs = write_needs(lake, as_of, gate=gate)
    matches = run_space_matching(lake, as_of, versions={PARKS: parks["version"], NEEDS: needs["version"]}, gate=gate)
    requests = run_requests(lake, as_of, gate=gate)
    written = {w["table"]: w for w in [parks, needs, matches, *requests["tables"]]}
    relocation = run_relocation(lake, as_of, key_version=written[KEY]["version"], gate=gate)
    written.update({w["table"]: w for w in relocation["tables"]})
    missing = set(TABLES) - set(written)
    if missing:  # a table added to the step must be added to its gate and release too
        raise RuntimeError(f"enterprise_services wrote no {sorted(missing)} (未写入)")
    gate.flush()  # the validations on record before the release makes the tables visible
    run_id = parent_run.run_id if parent_run is not None else f"{STEP}@{as_of.isoformat()}"
    rel = release.publish(lake, run_id, {t: written[t]["version"] for t in TABLES}, step=STEP)
    out = {"parks": parks, "needs": needs, "space_matches": matches, "requests": requests, "relocation": relocation,
           "release": rel.release_id, "committed": sorted(t for t, w in written.items() if w["committed"])}
    out["summary_zh"] = summary_lines(out)
    return out


def summary_lines(out: dict) -> list[str]:
    """The step's figures in Chinese for the run's output (and the README's run summary)."""
    m, r, w = out["space_matches"], out["requests"], out["relocation"]
    return [f"产业空间撮合：园区 {m['parks']} 个，空间需求 {m['needs']} 条，撮合 {m['rows']} 条"
            f"（{m['needs_matched']} 条需求有匹配园区）",
            f"诉求直达：诉求 {r['requests']} 件（其中接口提交 {r['submitted']} 件，挂点代提 {r['proxy_requests']} 件），"
            f"重点企业 {r['key_enterprises']} 家，走访 {r['visits']} 次",
            f"外迁预警：{w['warnings']} 家（留出期 AUC {w['validation']['auc']}）",
            f"发布版本 {out['release']}：{len(TABLES)} 张表经质量校验后一并发布（本次提交 {len(out['committed'])} 张）"]
