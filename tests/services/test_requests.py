from __future__ import annotations

import datetime as dt

import pytest

from govlake.catalog.work_calendar import load_work_calendar
from govlake.services import key_enterprises as ke
from govlake.services.enterprise_requests import EVENTS, REQUESTS, LifecycleError, run_requests, submit
from govlake.services.service_catalog import load_services

FORM = {"contact_name": "王伟", "contact_phone": "13812345678", "description": "企业诉求测试内容，请协助办理"}


@pytest.fixture
def cat_cal(settings):
    return load_services(settings.catalog_dir), load_work_calendar(settings.catalog_dir)


def test_deadline_counts_working_days_across_national_day(cat_cal):
    catalog, cal = cat_cal
    svc = next(s for s in catalog.services.values() if s.days == 5 and len(s.form) == 3)
    r = submit(catalog, cal, request_id="R1", uscc="U", service_id=svc.id, form=FORM, submitted_on=dt.date(2026, 9, 30))
    # 10-01..10-07 国庆 off; 10-08 Thu, 10-09 Fri, 10-10 Sat (调休上班), 10-12 Mon, 10-13 Tue
    assert r.deadline == dt.date(2026, 10, 13) and r.service.dept == svc.dept


def test_lifecycle_and_evaluation(cat_cal):
    catalog, cal = cat_cal
    svc = next(s for s in catalog.services.values() if len(s.form) == 3)
    r = submit(catalog, cal, request_id="R2", uscc="U", service_id=svc.id, form=FORM, submitted_on=dt.date(2026, 11, 2))
    with pytest.raises(LifecycleError, match="cannot go from received"):
        r.move("closed", dt.date(2026, 11, 3), "U")
    r.move("accepted", dt.date(2026, 11, 3), svc.dept)
    with pytest.raises(LifecycleError, match="已办结"):
        r.evaluate(5)
    r.move("handled", r.deadline + dt.timedelta(days=1), svc.dept)
    assert r.on_time is False
    r.move("closed", r.deadline + dt.timedelta(days=2), "U")
    with pytest.raises(LifecycleError, match="1-5"):
        r.evaluate(6)
    r.evaluate(4)
    assert [e["status"] for e in r.events] == ["received", "accepted", "handled", "closed"] and r.rating == 4
    back = submit(catalog, cal, request_id="R3", uscc="U", service_id=svc.id, form=FORM, submitted_on=dt.date(2026, 11, 2))
    with pytest.raises(LifecycleError, match="理由"):
        back.move("returned", dt.date(2026, 11, 3), svc.dept)


def test_run_requests_writes_reconciled_tables_once(services_lake):
    as_of = dt.date(2026, 12, 1)
    out = run_requests(services_lake, as_of)
    assert out["requests"] > 0 and all(t["committed"] for t in out["tables"])
    reqs = services_lake.to_arrow(REQUESTS).to_pylist()
    assert len(reqs) == out["requests"] == services_lake.row_count(REQUESTS)
    assert {r["status"] for r in reqs} >= {"closed", "accepted"}
    for r in reqs:
        assert r["deadline"] > r["submitted_on"] and r["submitted_on"] <= as_of
        assert (r["rating"] is not None) == (r["status"] == "closed")
    # 代提诉求: only key enterprises', raised by their own specialist
    key = {r["uscc"]: r for r in services_lake.to_arrow(ke.KEY).to_pylist()}
    proxied = [r for r in reqs if r["proxy_official"]]
    assert proxied and all(key[r["uscc"]]["specialist_id"] == r["proxy_official"] for r in proxied)
    events = services_lake.to_arrow(EVENTS).to_pylist()
    assert {e["request_id"] for e in events} == {r["request_id"] for r in reqs}
    # SLA: the on-time rate per unit is recomputed from the table's rows
    rlj = [r for r in reqs if r["dept_code"] == "RLJ" and r["on_time"] is not None]
    unit = next(u for u in out["sla_by_unit"] if u["dept_code"] == "RLJ")
    assert unit["on_time_rate"] == round(sum(r["on_time"] for r in rlj) / len(rlj), 4)
    assert 0 < unit["on_time_rate"] <= 1
    again = run_requests(services_lake, as_of)
    assert not any(t["committed"] for t in again["tables"]) and services_lake.row_count(REQUESTS) == len(reqs)


def test_key_enterprise_rule(services_lake):
    rows = ke.read_profile(services_lake, ke.PROFILE_COLUMNS).to_pylist()
    key = ke.select_key(rows)
    assert len(key) == -(-len(rows) * 11_935 // 900_000)  # 1.33 % of the enterprises, rounded up
    chosen = {r["uscc"] for r in key}
    assert all(r["reg_status"] != "注销" for r in key)
    eligible_left = [r for r in rows if r["uscc"] not in chosen and r["reg_status"] != "注销"]
    assert min(r["total_tax_y1_wan"] for r in key) >= max(r["total_tax_y1_wan"] for r in eligible_left)
    staff = ke.officials(services_lake.settings.catalog_dir)
    assigned = ke.assign(key, staff)
    spec = {o["official_id"]: o for o in staff}
    assert all(spec[a["specialist_id"]]["street_code"] == a["street_code"] for a in assigned)
    assert all(spec[a["leader_id"]]["role"] == "挂点领导" for a in assigned)
