"""The policy sandbox (政策沙盘推演) on a small generated lake: its counts are the matching engine's
with the draft active, the budget goes by the draft's ranking, sensitivity curves move the way a
threshold must, the diff against the active version and another draft, the overlap with the
policies in force, and nothing is written to the lake."""

from __future__ import annotations

import datetime as dt
import json
import math
import os

import pyarrow as pa
import pytest
from click.testing import CliRunner

from govlake.catalog.policies import load_policies
from govlake.catalog.sources import CatalogError
from govlake import rulelang as E
from govlake.policy.compile import compile_policies
from govlake.policy.evaluate import evaluate_enterprise
from govlake.policy.match import PROFILE, TAGS, match_policies
from govlake.policy.matches import read_matches
from govlake.policy.plan import KeyKernel, num_fields, outcome_width
from govlake.policy.sandbox import load_draft, run_sandbox
from govlake.policy.synth import random_profiles
from govlake.settings import get_settings

AS_OF = dt.date(2026, 7, 1)
DRAFTS = get_settings().catalog_dir / "policies" / "drafts"
STREETS = ["440306017", "440306018", "440306019"]
ARROW = {"string": pa.string(), "double": pa.float64(), "int": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_()}
TAGGED = ("above_scale", "hnte")


def _profile(lake, core, n=400, seed=11):
    """A generated profile and tags committed by delta-rs (as the profile build commits them; no Spark)."""
    from pyspark.sql import types as T

    from govlake.policy.synth import profile_schema

    rows = random_profiles(core, n, seed=seed, null_rate=0.04)
    for i, r in enumerate(rows):
        r["street_code"] = STREETS[i % 3]
        if i % 2 == 0:  # enough certified, clean enterprises that the drafts reach a real population
            r.update(cert_valid_little_giant=True, cert_valid_gd_srdi=True, credit_serious_1y_count=0, credit_serious_3y_count=0,
                     credit_dishonest_active=False)
        if i % 20 == 0:  # meets little_giant but for growth 4 % (< 5 %): the lower-threshold draft (3 %) admits them
            r.update(years_since_registration=5.0, revenue_growth_2y_avg=0.04, revenue_y1_wan=12000.0,
                     revenue_y2_wan=11000.0, rd_expense_ratio_y1=0.04, rd_expense_y2_wan=400.0, ip_invention_valid_count=3)
    schema = profile_schema(core)
    conv = {"double": float, "int": int, "long": int, "boolean": bool, "string": str}
    data = [{k: None if r.get(k) is None else conv[core[k].type](r[k]) for k in schema.fieldNames()} for r in rows]
    arrow = pa.schema([(f.name, ARROW[f.dataType.simpleString()]) for f in schema.fields])
    lake.commit(lake.stage_arrow([[pa.RecordBatch.from_pylist(data, schema=arrow)]], PROFILE, schema))
    tags = [{"uscc": r["uscc"], "tag_id": t} for i, r in enumerate(rows) for k, t in enumerate(TAGGED) if (i + k) % 3 == 0]
    tschema = T.StructType([T.StructField("uscc", T.StringType()), T.StructField("tag_id", T.StringType())])
    lake.commit(lake.stage_arrow([[pa.RecordBatch.from_pylist(tags, schema=pa.schema([("uscc", pa.string()),
                                                                                      ("tag_id", pa.string())]))]],
                                 TAGS, tschema))
    return rows


def _tags_of(rows) -> dict[str, set]:
    return {r["uscc"]: {t for k, t in enumerate(TAGGED) if (i + k) % 3 == 0} for i, r in enumerate(rows)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, core):
    """One generated lake (no Spark) for the tests that only read it: (lake, profile rows)."""
    from govlake.lakehouse import Lakehouse
    from govlake.settings import Settings

    lake = Lakehouse(None, Settings(lake_root=tmp_path_factory.mktemp("sandbox") / "lake"))
    return lake, _profile(lake, core)


def _doc(name: str) -> dict:
    from govlake import yamlio

    return yamlio.safe_load((DRAFTS / f"{name}.yaml").read_text(encoding="utf-8"))


def _reward(**params) -> dict:
    doc = _doc("baoan_little_giant_reward")
    return {**doc, "params": {**doc["params"], **params}}


def _online(rows, policy, core, tags_of=None) -> tuple[set, set]:
    """(eligible, near-miss) usccs by the online evaluator, one enterprise at a time."""
    cps = compile_policies([policy], AS_OF, core)
    el, nm = set(), set()
    for r in rows:
        res = evaluate_enterprise(r, cps, tags=(tags_of or {}).get(r["uscc"], set()))[0]
        (el if res.eligible else nm if res.near_miss else set()).add(r["uscc"])
    return el, nm


def _sets(report) -> tuple[set, set]:
    rows = report.rows.to_pylist()
    return ({r["uscc"] for r in rows if r["status"] == "eligible"}, {r["uscc"] for r in rows if r["status"] == "near_miss"})


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(d, f))
            out[os.path.join(d, f)] = (st.st_size, st.st_mtime_ns)
    return out


def _tagged_draft(lake):
    doc = _reward()
    doc["clauses"] = doc["clauses"] + [{"id": "scale_or_hnte", "label_zh": "规上或高企标签",
                                        "rule": "has_tag('above_scale') or has_tag('hnte') or revenue_y1_wan >= 20000"}]
    return doc


def test_counts_equal_the_engine_online_and_kernel(shared, core):
    lake, rows = shared
    draft = load_draft(_tagged_draft(lake), lake.settings.catalog_dir, core)
    rep = run_sandbox(draft, lake=lake, fields=core, as_of=AS_OF, points=0)
    el, nm = _sets(rep)
    assert rep.enterprises_evaluated == len(rows) and rep.tags_version is not None
    assert rep.eligible == len(el) > 5 and rep.near_miss == len(nm) > 5
    # the online evaluator (秒批, API), one enterprise at a time from the profile dicts
    assert _online(rows, draft.policy, core, _tags_of(rows)) == (el, nm)
    # the batch kernel's outcome keys (what the match job stores), over a batch built from the dicts
    cps = compile_policies([draft.policy], AS_OF, core)
    width = outcome_width(cps)
    cols = sorted(cps[0].fields_read)
    batch = pa.RecordBatch.from_pylist(
        [{"uscc": r["uscc"], **{c: None if r[c] is None else (float(r[c]) if c in num_fields(cps) else r[c]) for c in cols},
          E.TAGS_COL: sorted(_tags_of(rows)[r["uscc"]])} for r in rows])
    keys = KeyKernel(cps, width, num_fields(cps)).keys(batch)[:, 0]
    uscc = [r["uscc"] for r in rows]
    assert {u for u, k in zip(uscc, keys) if k == 0} == el
    assert {u for u, k in zip(uscc, keys) if k > 0} == nm
    unmet = {x["uscc"]: x["unmet_clause"] for x in rep.rows.to_pylist() if x["status"] == "near_miss"}
    ids = [c.clause.id for c in cps[0].clauses]
    assert {u: ids[(k - 1) // 2] for u, k in zip(uscc, keys) if k > 0} == unmet
    by_clause = {c["clause"]: c["fail"] + c["unknown"] for c in rep.near_miss_by_clause}
    assert sum(by_clause.values()) == rep.near_miss
    for by, cells in rep.reach.items():  # every breakdown adds up
        assert sum(c.eligible for c in cells) == rep.eligible and sum(c.near_miss for c in cells) == rep.near_miss
    street = {c.key: c for c in rep.reach["street"]}
    assert set(street) == set(STREETS) and street["440306017"].label == "新安街道"
    listed = rep.enterprises("street", "新安街道")
    assert {x["uscc"] for x in listed} == {u for u in el | nm if int(u[-10:]) % 3 == 0}


@pytest.mark.slow
def test_counts_equal_the_matching_job_with_the_draft_active(spark, lake, core):
    """The batch job itself (Spark, stored keys read through the matches view) with the draft active."""
    _profile(lake, core)
    draft = load_draft(_tagged_draft(lake), lake.settings.catalog_dir, core)
    rep = run_sandbox(draft, lake=lake, fields=core, as_of=AS_OF, points=0)
    el, nm = _sets(rep)
    match_policies(spark, lake, AS_OF, policies=[draft.policy], fields=core)
    wide = read_matches(lake, policy_ids=[draft.policy.policy_id])["rows"]
    assert {r["uscc"] for r in wide if r["eligible"]} == el and el
    assert {r["uscc"] for r in wide if r["near_miss"]} == nm and nm
    unmet = {x["uscc"]: x["unmet_clause"] for x in rep.rows.to_pylist() if x["status"] == "near_miss"}
    assert {r["uscc"]: r["missing"][0] for r in wide if r["near_miss"]} == unmet


def test_budget_binds_by_the_ranking(shared, core):
    lake, rows = shared
    doc = _reward()
    free = run_sandbox(doc, lake=lake, fields=core, as_of=AS_OF, points=0)
    el, _ = _sets(free)
    p = doc["params"]
    by_uscc = {r["uscc"]: r for r in rows}
    amount = {u: max(min(by_uscc[u]["rd_expense_y1_wan"] * p["reward_rate"], p["reward_cap_wan"]), 0.0)
              for u in el if by_uscc[u]["rd_expense_y1_wan"] is not None}
    assert math.isclose(free.cost.total_wan, sum(amount.values()), rel_tol=1e-9)
    assert free.cost.amount_unknown == len(el) - len(amount)
    budget = round(sum(amount.values()) * 0.4, 2)

    def expected(key):
        funded, spent, cut = set(), 0.0, None
        for u in sorted(amount, key=key):
            if spent + amount[u] > budget + 1e-9:
                cut = u
                break
            spent += amount[u]
            funded.add(u)
        return funded, spent, cut

    def ratio_first(u):  # rd_expense_ratio_y1 desc (missing last), then amount desc, then uscc
        v = by_uscc[u]["rd_expense_ratio_y1"]
        return (v is None, -(v or 0.0), -amount[u], u)

    rep = run_sandbox(doc, lake=lake, fields=core, as_of=AS_OF, points=0, budget_wan=budget)
    funded, spent, cut = expected(ratio_first)
    got = {x["uscc"] for x in rep.rows.to_pylist() if x["funded"]}
    assert got == funded and rep.cost.funded == len(funded) and math.isclose(rep.cost.funded_wan, spent, rel_tol=1e-9)
    assert rep.cost.cutoff["uscc"] == cut and rep.cost.cutoff["rank"] == len(funded) + 1
    assert sum(c.funded for c in rep.reach["size"]) == len(funded)
    ranked = sorted((x for x in rep.rows.to_pylist() if x["status"] == "eligible"), key=lambda x: x["rank"])
    assert [x["uscc"] for x in ranked if x["uscc"] in amount] == sorted(amount, key=ratio_first)

    # the default rule (by amount, descending) picks the largest rewards instead
    by_amount = run_sandbox({k: v for k, v in doc.items() if k != "ranking"}, lake=lake, fields=core, as_of=AS_OF,
                            points=0, budget_wan=budget)
    funded2, _, _ = expected(lambda u: (-amount[u], u))
    assert {x["uscc"] for x in by_amount.rows.to_pylist() if x["funded"]} == funded2 != funded
    assert by_amount.cost.ranking == "amount desc"


def test_sensitivity_curves(shared, core):
    lake, _ = shared
    doc = _reward()
    rep = run_sandbox(doc, lake=lake, fields=core, as_of=AS_OF, points=9, budget_wan=300)
    curves = {c.param: c for c in rep.sensitivity}
    assert set(curves) == set(doc["params"])

    floor = curves["min_revenue_wan"]
    assert floor.clauses == ["revenue_floor"] and not floor.in_amount
    values = [pt.value for pt in floor.points]
    assert values == sorted(values) and values[0] == 1000 and values[-1] == 3000 and len(values) == 9
    reach = [pt.eligible for pt in floor.points]
    # a lower revenue floor never reduces reach (and here really moves it)
    assert all(a >= b for a, b in zip(reach, reach[1:])) and reach[0] > reach[-1]
    assert floor.points[4].eligible == rep.eligible  # the middle point is the draft itself
    # every point equals a fresh evaluation of the draft with that value
    for pt in (floor.points[0], floor.points[6]):
        fresh = run_sandbox(_reward(min_revenue_wan=pt.value), lake=lake, fields=core, as_of=AS_OF, points=0, budget_wan=300)
        assert (pt.eligible, pt.near_miss) == (fresh.eligible, fresh.near_miss)
        assert math.isclose(pt.total_wan, fresh.cost.total_wan) and pt.funded == fresh.cost.funded

    # the reward rate moves the cost, not the reach; more money per enterprise never costs less
    rate = curves["reward_rate"]
    assert rate.in_amount and rate.clauses == [] and {pt.eligible for pt in rate.points} == {rep.eligible}
    totals = [pt.total_wan for pt in rate.points]
    assert all(a <= b for a, b in zip(totals, totals[1:])) and totals[0] < totals[-1]
    # integer thresholds move in whole units
    assert [pt.value for pt in curves["min_invention"].points] == [1, 2, 3]

    # a dated parameter moves its value in force on the as-of date; a list parameter (bands) is
    # scaled as a whole, and a higher requirement never reaches more
    dated = _reward(min_revenue_wan=[{"from": "2024-01-01", "value": 1000}, {"from": "2026-01-01", "value": 2000}])
    c1 = next(c for c in run_sandbox(dated, lake=lake, fields=core, as_of=AS_OF, points=9).sensitivity
              if c.param == "min_revenue_wan")
    assert c1.base_value == 2000 and [pt.eligible for pt in c1.points] == reach
    doc = _reward(rd_required=[0.05, 0.04, 0.03])
    doc["clauses"] = [c if c["id"] != "rd_ratio" else
                      {**c, "rule": "rd_expense_ratio_y1 >= piecewise(revenue_y1_wan, [5000, 20000], rd_required)"}
                      for c in doc["clauses"]]
    rep2 = run_sandbox(doc, lake=lake, fields=core, as_of=AS_OF, points=9)
    c2 = {c.param: c for c in rep2.sensitivity}
    bands = c2["rd_required"]
    assert bands.clauses == ["rd_ratio"] and bands.points[0].value == [0.025, 0.02, 0.015]
    assert bands.points[4].value == [0.05, 0.04, 0.03] and bands.points[4].eligible == rep2.eligible
    reach2 = [pt.eligible for pt in bands.points]
    assert all(a >= b for a, b in zip(reach2, reach2[1:])) and reach2[0] > reach2[-1]


def test_diff_against_active_version_and_another_draft(shared, core, policies):
    lake, rows = shared
    lower = load_draft(DRAFTS / "little_giant_lower_threshold.yaml", lake.settings.catalog_dir, core)
    active = next(p for p in policies if p.policy_id == "little_giant")
    rep = run_sandbox(lower, lake=lake, fields=core, as_of=AS_OF, points=0)
    el_new, nm_new = _online(rows, lower.policy, core)
    el_old, nm_old = _online(rows, active, core)
    d = rep.diff
    assert d.against_version == active.version and rep.version == lower.policy.version
    assert set(d.entered) == el_new - el_old and set(d.left) == el_old - el_new
    assert d.entered and (d.eligible_before, d.near_miss_before) == (len(el_old), len(nm_old))

    # against another draft: symmetric, and the stricter one loses enterprises
    strict = _reward(min_rd_ratio=0.08, min_revenue_wan=4000)
    loose = _reward(min_rd_ratio=0.02)
    a = run_sandbox(loose, lake=lake, fields=core, as_of=AS_OF, points=0, against=strict)
    b = run_sandbox(strict, lake=lake, fields=core, as_of=AS_OF, points=0, against=loose)
    assert a.diff.entered == b.diff.left and a.diff.left == b.diff.entered == []
    assert len(a.diff.entered) == a.eligible - b.eligible > 0
    # a policy with no active version: everyone eligible enters
    new = run_sandbox(_reward(), lake=lake, fields=core, as_of=AS_OF, points=0)
    assert new.diff.against_version is None and len(new.diff.entered) == new.eligible and "新政策" in new.diff.note


def test_overlap_with_policies_in_force(shared, core, policies):
    lake, rows = shared
    rep = run_sandbox(_reward(), lake=lake, fields=core, as_of=AS_OF, points=0)
    el, _ = _sets(rep)
    mine = [r for r in rows if r["uscc"] in el]
    types = {k: v.type for k, v in core.items()}
    expected = {}
    for p in policies:
        if not p.active_on(AS_OF) or p.policy_id == "baoan_little_giant_reward":
            continue
        got, _ = _online(mine, p, core)
        if not got:
            continue
        amount = None
        if p.funding.get("cap_wan") is not None:  # the formula by the Python back end, as 秒批 evaluates it
            fn = E.to_py(E.parse(str(p.funding["cap_wan"]), types, p.params_on(AS_OF), want=E.NUM).node)
            vals = [fn(r, frozenset()) for r in mine if r["uscc"] in got]
            amount = sum(max(v, 0.0) for v in vals if v is not None)
        expected[p.policy_id] = (len(got), amount)
    assert expected, "the generated profile should meet some policy in force"
    got = {o.policy_id: (o.enterprises, o.amount_wan) for o in rep.overlap}
    assert set(got) == set(expected)
    for pid, (n, amount) in expected.items():
        assert got[pid][0] == n and (amount is None) == (got[pid][1] is None), pid
        assert amount is None or math.isclose(got[pid][1], amount, rel_tol=1e-9, abs_tol=1e-3), pid
    per = rep.rows.to_pylist()
    assert sum(1 for x in per if x["active_matches"]) == rep.overlap_any
    assert sum(x["active_matches"] for x in per) == sum(n for n, _ in expected.values())


def test_nothing_written_and_cli(shared, core, tmp_path, monkeypatch):
    lake, _ = shared
    before = _tree(lake.settings.lake_root)
    rep = run_sandbox(_reward(), lake=lake, fields=core, as_of=AS_OF, points=5, budget_wan=200)
    json.dumps(rep.to_dict(list_limit=None, full=True))  # serialisable as is

    from govlake.policy.cli import policy

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(lake.settings.lake_root))
    get_settings.cache_clear()
    try:
        draft, out = DRAFTS / "baoan_little_giant_reward.yaml", tmp_path / "report.json"
        r = CliRunner().invoke(policy, ["sandbox", str(draft), "--as-of", AS_OF.isoformat(), "--budget", "200",
                                        "--points", "5", "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert "baoan_little_giant_reward" in r.output and "符合 eligible" in r.output and "新安街道" in r.output
        full = json.loads(out.read_text(encoding="utf-8"))
        assert full["eligible"] == len([x for x in full["enterprises"] if x["status"] == "eligible"])
        r = CliRunner().invoke(policy, ["sandbox", str(draft), "--as-of", AS_OF.isoformat(), "--points", "0", "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["policy_id"] == "baoan_little_giant_reward"
        r = CliRunner().invoke(policy, ["sandbox", str(draft), "--as-of", AS_OF.isoformat(), "--points", "0",
                                        "--by", "size", "--list", "小型"])
        assert r.exit_code == 0 and "size = 小型" in r.output
    finally:
        get_settings.cache_clear()
    assert _tree(lake.settings.lake_root) == before  # no table, no outbox, no lineage event


def test_draft_checks_and_loader_ignores_drafts(core):
    cat = get_settings().catalog_dir
    ids = {p.policy_id: p.version for p in load_policies(cat)}
    assert "baoan_little_giant_reward" not in ids and ids["little_giant"] == 2  # the draft is version 3
    bad = _reward()
    bad["clauses"] = [{"id": "x", "label_zh": "错字段", "rule": "revenue_y1 >= 1"}]
    with pytest.raises(CatalogError, match="clause x .*unknown field 'revenue_y1'"):
        load_draft(bad, cat, core)
    with pytest.raises(CatalogError, match="ranking"):
        load_draft({**_reward(), "ranking": {"by": "rd_expense_ratio_y1", "order": "up"}}, cat, core)
    with pytest.raises(CatalogError, match="ranking.*unknown field"):
        load_draft({**_reward(), "ranking": "no_such_field * 2"}, cat, core)


def test_sandbox_over_the_api_needs_a_grant_that_shows_what_the_draft_reads(shared, core):
    """POST /policies/sandbox: the CLI's report for a consumer granted the profile; refused without
    a grant, and refused when the draft names a field the grant masks (the curves would reveal it)."""
    from fastapi.testclient import TestClient

    from govlake import access
    from govlake.access.levels import hidden_profile_fields
    from govlake.api.app import create_app
    from govlake.products import get_product

    lake, _ = shared
    store = access.open_store(lake.settings)
    access.create_account(store, "admin", None, "admin")
    H = {c: {"Authorization": f"Bearer {access.issue_key(store, c, by='admin').token}"}
         for c in ("kcj_policy_portal", "gxj_enterprise_service", "zsj_data_portal")}
    client = TestClient(create_app(lake.settings))
    text = (DRAFTS / "baoan_little_giant_reward.yaml").read_text(encoding="utf-8")
    body = {"draft": text, "as_of": AS_OF.isoformat(), "budget_wan": 200, "points": 3}
    r = client.post("/policies/sandbox", json=body, headers=H["kcj_policy_portal"])
    assert r.status_code == 200, r.text
    want = run_sandbox(_doc("baoan_little_giant_reward"), lake=lake, as_of=AS_OF, budget_wan=200, points=3)
    assert (r.json()["eligible"], r.json()["near_miss"]) == (want.eligible, want.near_miss) and want.eligible > 0
    assert client.post("/policies/sandbox", json=body, headers=H["zsj_data_portal"]).status_code == 403  # no grant
    assert client.post("/policies/sandbox", json=body).status_code == 401
    # gxj_enterprise_service holds the profile without its 敏感 fields
    grant = access.active_grant(store, "gxj_enterprise_service", PROFILE)
    hidden = sorted(hidden_profile_fields(get_product(PROFILE, lake.settings), grant, lake.settings))
    assert hidden
    sneaky = {**body, "draft": text.replace("clauses:", f"# {hidden[0]}\nclauses:", 1)}
    r = client.post("/policies/sandbox", json=sneaky, headers=H["gxj_enterprise_service"])
    assert r.status_code == 403 and hidden[0] in r.json()["detail"]
    assert client.post("/policies/sandbox", json={**body, "draft": "- not a policy"},
                       headers=H["kcj_policy_portal"]).status_code == 400
    audit = access.query_audit(store, product=PROFILE)
    store.close()
    outcomes = {(a["actor"], a["outcome"]) for a in audit if a["action"] == "POST /policies/sandbox"}
    assert {("kcj_policy_portal", "allowed"), ("gxj_enterprise_service", "denied")} <= outcomes  # every try audited


def test_sandbox_portal_page(shared, core):
    """政策沙盘推演 in the portal: a KCJ officer runs an example draft and sees the same counts as
    the library; a department without a profile grant is told why; both runs are audited."""
    from fastapi.testclient import TestClient

    from govlake import access
    from govlake.api.app import create_app

    lake, _ = shared
    store = access.open_store(lake.settings)
    for name, dept in (("kcj_officer", "KCJ"), ("st_officer", "ST017")):
        if access.get_account(store, name) is None:
            access.create_account(store, name, "pw-123456789", "member", dept=dept)
    client = TestClient(create_app(lake.settings))
    client.post("/portal/login", data={"username": "kcj_officer", "password": "pw-123456789"})
    r = client.get("/portal/policy-sandbox", params={"example": "baoan_little_giant_reward", "budget": "200",
                                                     "points": "3"})
    assert r.status_code == 200, r.text
    want = run_sandbox(_doc("baoan_little_giant_reward"), lake=lake, budget_wan=200, points=3)
    assert f"符合 <b>{want.eligible:,}</b>" in r.text and "<svg" in r.text and "政策沙盘" in r.text
    client.cookies.clear()
    client.post("/portal/login", data={"username": "st_officer", "password": "pw-123456789"})
    r = client.get("/portal/policy-sandbox", params={"example": "baoan_little_giant_reward"})
    assert r.status_code == 200 and "全量授权" in r.text and "符合 <b>" not in r.text
    runs = [a for a in access.query_audit(store) if a["action"] == "portal.policy_sandbox"]
    store.close()
    assert {(a["actor"], a["outcome"]) for a in runs} >= {("kcj_officer", "allowed"), ("st_officer", "denied")}
