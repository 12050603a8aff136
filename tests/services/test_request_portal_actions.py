"""诉求直达 in the portal (/portal/requests): a unit's account signs for, answers (the result
required) and closes its request with the page's forms, and answers again after a
不满意重办, through the same handling as the API
(state and events read back from the live view); a double-submitted form is one action; a
wrong state shows its reason; another unit, a department without the grant and a form without
its CSRF token are refused; the rate of the services routes holds; every action is audited."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from fastapi.testclient import TestClient

from services_lake import usccs
from govlake import access
from govlake.access import rate_limits, reads
from govlake.api.app import create_app
from govlake.services.request_handling import ACTIONS, live_requests

FORM = {"contact_name": "王伟", "contact_phone": "13800138000", "description": "申请对接银行流动资金贷款，金额约五百万元",
        "amount_wan": 500, "loan_purpose": "流动资金"}
PASSWORD = "requests-pass-1"


def login(app, username: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/portal/login", data={"username": username, "password": PASSWORD, "next": "/portal/requests"},
               follow_redirects=False)
    assert r.status_code == 303
    return c


def form_of(page: str, rid: str) -> dict:
    """The hidden fields of the request's action form on the page."""
    m = re.search(rf'action="/portal/requests/{rid}/actions"[^>]*>(.*?)</form>', page, re.S)
    assert m, f"no action form for {rid}"
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', m.group(1)))


def post(c: TestClient, rid: str, data: dict) -> tuple[str, str]:
    """POST the form; the redirect's flash (msg: 成功, err: 失败) and the page it shows."""
    r = c.post(f"/portal/requests/{rid}/actions", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/requests?")
    q = parse_qs(urlparse(r.headers["location"]).query)
    flash = (q.get("msg") or q.get("err"))[0]
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and flash in page.text
    return flash, page.text


def test_unit_handles_a_request_in_the_portal(services_lake, settings, store, H, grant, monkeypatch):
    app = create_app(settings)
    api = TestClient(app)
    access.add_consumer(store, "jrj_request_desk", "区金融工作局·诉求办理", "JRJ", by="admin")
    grant("zsj_data_portal", "ops.enterprise_requests", row_scope={"uscc": [usccs()[0]]})
    grant("jrj_request_desk", "ops.enterprise_requests")
    grant("kcj_policy_portal", "ops.enterprise_requests")  # a unit of another department
    rid = api.post("/enterprise-requests", headers=H("zsj_data_portal"), json={
        "client_request_id": "c-1", "uscc": usccs()[0], "service_id": "finance_01", "form": FORM}).json()["ticket_id"]
    access.create_account(store, "li_jrj", PASSWORD, "member", "JRJ")
    access.create_account(store, "wang_kcj", PASSWORD, "member", "KCJ")
    access.create_account(store, "zhao_street", PASSWORD, "member", "ST017")  # no grant in its department

    def state():
        r = live_requests(services_lake, request_id=rid)[0]
        return r.status, [e.get("action") for e in r.events]

    jrj = login(app, "li_jrj")
    page = jrj.get("/portal/requests").text
    assert rid in page and 'class="accept">签收' in page and 'class="reply"' not in page
    accept = {**form_of(page, rid), "note": ""}
    assert accept["action"] == "accept"

    # without the CSRF token, or a forged one: refused, nothing recorded
    assert jrj.post(f"/portal/requests/{rid}/actions", data={**accept, "csrf": ""},
                    follow_redirects=False).status_code == 403
    assert jrj.post(f"/portal/requests/{rid}/actions", data={**accept, "csrf": "forged"},
                    follow_redirects=False).status_code == 403
    assert state() == ("received", ["submit"])

    # another unit (its own grant) may not sign for JRJ's request; a department without the grant gets 403
    kcj = login(app, "wang_kcj")
    assert rid not in kcj.get("/portal/requests").text
    kcj_form = {**accept, "csrf": form_of_csrf(kcj)}
    flash, _ = post(kcj, rid, kcj_form)
    assert flash.startswith("失败") and "非本单位承办的诉求" in flash and "403" in flash
    street = login(app, "zhao_street")
    r = street.post(f"/portal/requests/{rid}/actions", data={**accept, "csrf": form_of_csrf(street)},
                    follow_redirects=False)
    assert r.status_code == 403 and 'id="requests-denied"' in r.text and "不能办理诉求" in r.text
    assert state() == ("received", ["submit"])

    # 签收, the same form sent twice: one action
    flash, page = post(jrj, rid, accept)
    assert flash.startswith("成功") and "签收" in flash and "已签收" in flash
    flash, _ = post(jrj, rid, accept)
    assert flash.startswith("成功") and "重复提交" in flash
    assert state() == ("accepted", ["submit", "accept"])
    assert "签收（jrj_request_desk）" in page  # the event names the consumer, as through the API

    # a wrong state: the form of 签收 again (a fresh one, as a stale tab would send) answers the 409's reason
    flash, _ = post(jrj, rid, {**accept, "seq": "9"})
    assert flash.startswith("失败") and "当前状态不能签收" in flash and "409" in flash

    # 办理答复: the result is required
    reply = form_of(page, rid)
    assert reply["action"] == "reply" and 'class="reply">办理答复' in page and 'name="note"' in page
    flash, _ = post(jrj, rid, {**reply, "note": "  "})
    assert flash.startswith("失败") and "办理答复须填写办理结果" in flash
    assert state()[0] == "accepted"
    flash, page = post(jrj, rid, {**reply, "note": "已对接三家银行，授信审批中"})
    assert flash.startswith("成功") and "已办理" in flash

    # 已办理 stays on the page (the unit still closes it); 办结 with an optional note
    close = form_of(page, rid)
    assert close["action"] == "close" and 'class="close">办结' in page
    flash, page = post(jrj, rid, {**close, "note": ""})
    assert flash.startswith("成功") and "已办结" in flash
    assert rid not in page.split('id="requests"')[1]  # done: off the pending list
    assert rid in jrj.get("/portal/requests", params={"done": 1}).text
    r = live_requests(services_lake, request_id=rid)[0]
    assert [(e["action"], e["by"]) for e in r.events] == [
        ("submit", r.events[0]["by"]), ("accept", "jrj_request_desk"), ("reply", "jrj_request_desk"),
        ("close", "jrj_request_desk")]
    assert r.events[2]["note"] == "已对接三家银行，授信审批中"
    assert services_lake.row_count(ACTIONS) == 3  # refusals and the repeat recorded nothing

    # 不满意 reopens it (through the API): the same reply again is a new action, not a repeat
    r = api.post(f"/enterprise-requests/{rid}/actions", headers=H("zsj_data_portal"),
                 json={"action_id": "e1", "action": "evaluate", "evaluation": "不满意"})
    assert r.status_code == 201 and r.json()["status"] == "accepted"
    page = jrj.get("/portal/requests").text
    flash, page = post(jrj, rid, {**form_of(page, rid), "note": "已对接三家银行，授信审批中"})
    assert flash.startswith("成功") and "重复提交" not in flash and state()[0] == "handled"
    close = form_of(page, rid)

    # past the services routes' rate: refused with the reason, nothing recorded. A slow rate here:
    # at the real one (10/s) a token comes back within 0.1 s, before a slow machine's post arrives.
    label = rate_limits.ROUTE_CLASSES["services"][2]
    monkeypatch.setitem(rate_limits.ROUTE_CLASSES, "services", (0.01, 1, label))
    for _ in range(60):
        try:
            reads.admit_route(store, "jrj_request_desk", "services")
        except reads.AccessDenied:
            break
    flash, _ = post(jrj, rid, {**close, "note": "再办结一次"})
    assert flash.startswith("失败") and "已限流" in flash and state()[0] == "handled"
    assert services_lake.row_count(ACTIONS) == 5

    # every action audited: actor the consumer, client the account, outcome and status
    audit = [e for e in access.query_audit(store, product="ops.enterprise_requests", limit=200)
             if (e["action"] or "").startswith("portal.request.")]
    got = sorted((e["action"], e["outcome"], e["status"], e["actor"], e["client"]) for e in audit)
    assert got == sorted([
        ("portal.request.accept", "denied", 403, "kcj_policy_portal", "portal:wang_kcj"),
        ("portal.request.accept", "denied", 403, "zhao_street", "portal:zhao_street"),
        ("portal.request.accept", "allowed", 201, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.accept", "allowed", 200, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.accept", "denied", 409, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.reply", "denied", 422, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.reply", "allowed", 201, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.reply", "allowed", 201, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.close", "allowed", 201, "jrj_request_desk", "portal:li_jrj"),
        ("portal.request.close", "denied", 429, "jrj_request_desk", "portal:li_jrj"),
    ])
    assert all(e["filters"]["request_id"] == rid and e["filters"]["action_id"] for e in audit)
    assert all(e["grant_id"] for e in audit if e["actor"] == "jrj_request_desk")


def form_of_csrf(c: TestClient) -> str:
    """The account's CSRF token, from any page's form (the logout form is on every page)."""
    return re.search(r'name="csrf" value="([^"]+)"', c.get("/portal/requests").text).group(1)
