"""政策问答: BM25, retrieval accuracy on the question set, an enterprise's own result clause by
clause (the online evaluator's), the CLI and POST /policy-qa authorised."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import write_deltalake
from fastapi.testclient import TestClient

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.policy.compile import compile_policies
from govlake.policy.evaluate import PolicyEngine
from govlake.policy.synth import random_profiles
from govlake.policy_qa.answer import ask
from govlake.policy_qa.bm25 import BM25
from govlake.policy_qa.evaluation import evaluate, load_questions
from govlake.policy_qa.passages import load_policy_texts
from govlake.policy_qa.tokens import tokens
from govlake.settings import Settings, get_settings

CATALOG = get_settings().catalog_dir
AS_OF = dt.date(2026, 6, 1)
ARROW = {"double": pa.float64(), "int": pa.int32(), "long": pa.int64(), "boolean": pa.bool_(), "string": pa.string(),
         "date": pa.date32()}


def test_bm25():
    docs = [["高新", "奖励", "奖励"], ["高新", "专利"], ["餐饮", "营业额", "增长", "奖励", "住宿", "零售"]]
    bm = BM25(docs)
    assert bm.idf["专利"] > bm.idf["高新"] > 0  # rarer terms weigh more
    s = bm.scores(["奖励"])
    assert s[1] == 0 and s[0] > s[2] > 0  # more occurrences, shorter document: higher
    assert bm.scores(["不存在"]) == [0, 0, 0]


def test_tokens_expand_what_enterprises_say():
    assert "高新技术企业" in tokens("高企奖励", expand=True) and "高新技术企业" not in tokens("高企奖励")
    assert "的" not in tokens("企业的研发费用") and "研发费用" in tokens("企业的研发费用")


def test_question_set_top3_accuracy():
    qs = load_questions()
    assert len(qs) >= 40
    labels = {p.label_zh for t in load_policy_texts(CATALOG) for p in t.passages
              if p.kind == "条件" and len(p.label_zh) >= 8}
    copied = [q["q"] for q in qs if any(lab in q["q"] for lab in labels)]
    assert not copied, f"questions copying clause labels: {copied}"
    r = evaluate(CATALOG, qs)
    assert r["questions"] == len(qs) and r["top3"] == len(qs) - len(r["misses"])
    assert r["top3_accuracy"] >= 0.9, r["misses"]
    assert r["top1_accuracy"] <= r["top3_accuracy"]


def test_answer_quotes_the_articles():
    r = ask("我们开餐厅的，今年营业额涨了不少，有奖励吗？", CATALOG)
    # the district's and the city's 住宿餐饮 growth items both answer it, each with its own articles
    ids = [p["policy_id"] for p in r["policies"]]
    assert set(ids[:2]) == {"sz_catering_revenue_growth_award", "baoan_catering_lodging_scale_growth_award"}
    top = r["policies"][ids.index("sz_catering_revenue_growth_award")]
    assert any(q["kind"] == "资助标准" and "1000万元奖励5万元" in q["text_zh"] for q in top["quotes"])
    assert "住宿餐饮企业营业额增长奖励" in r["answer_zh"]
    assert ask("今天天气怎么样", CATALOG)["policies"] == []
    with pytest.raises(ValueError):
        ask("  ", CATALOG)


@pytest.fixture(scope="module")
def qa_lake(tmp_path_factory):
    """A profile with every field the policies read (generated values) and no tags, by delta-rs."""
    settings = Settings(lake_root=tmp_path_factory.mktemp("policy_qa") / "lake")
    lake = Lakehouse(None, settings)
    engine = PolicyEngine.from_catalog(CATALOG, lake)
    cols = sorted({f for cp in compile_policies(engine.policies, AS_OF, engine.fields) for f in cp.fields_read})
    fields = {f: engine.fields[f] for f in cols}
    rows = random_profiles(fields, 12, seed=3, null_rate=0.05)
    schema = pa.schema([("uscc", pa.string())] + [(f, ARROW.get(engine.fields[f].type, pa.float64())) for f in cols])
    write_deltalake(str(lake.path("gold.enterprise_profile")), pa.Table.from_pylist(rows, schema=schema))
    return settings, engine, rows


def test_enterprise_result_clause_by_clause(qa_lake):
    _, engine, rows = qa_lake
    uscc = rows[0]["uscc"]
    r = ask("科技型中小企业评价对职工人数和销售收入有什么要求？", CATALOG, uscc=uscc, engine=engine, as_of=AS_OF)
    by_id = {x.policy_id: x for x in engine.evaluate(uscc, AS_OF)}
    assert r["policies"] and r["policies"][0]["policy_id"] == "tech_sme"
    for p in r["policies"]:
        e, ref = p["enterprise"], by_id[p["policy_id"]]
        assert [c["clause_id"] for c in e["clauses"]] == list(ref.clause_results)
        assert {c["clause_id"]: c["result"] for c in e["clauses"]} == ref.clause_results
        assert e["explanation_zh"] == ref.explanation_zh and e["eligible"] == ref.eligible
        for c in e["clauses"]:
            assert (c["detail_zh"] == "") == (c["result"] == "pass")
            assert c["result_zh"] == {"pass": "满足", "fail": "不满足", "unknown": "数据缺失"}[c["result"]]
    assert "贵企业" in r["answer_zh"]
    with pytest.raises(KeyError):
        ask("高企", CATALOG, uscc="914403069999999999", engine=engine, as_of=AS_OF)


def test_cli():
    from govlake.cli import main

    run = CliRunner().invoke(main, ["policy-qa", "evaluate"])
    assert run.exit_code == 0 and "top-3" in run.output
    run = CliRunner().invoke(main, ["policy-qa", "ask", "专利资助每件多少钱"])
    assert run.exit_code == 0 and "发明专利年费奖励" in run.output


def test_route_authorised(qa_lake):
    from govlake.api.app import create_app

    settings, _, rows = qa_lake
    app = create_app(settings)  # the app mounts POST /policy-qa
    store = app.state.store
    access.create_account(store, "admin", None, "admin")
    client = TestClient(app)

    def key(consumer):
        return {"Authorization": f"Bearer {access.issue_key(store, consumer, by='admin').token}"}

    q = {"question": "被认定为小巨人有什么支持？"}
    assert client.post("/policy-qa", json=q).status_code == 401
    h = key("street_grid")  # no grant on gold.policy_matches
    r = client.post("/policy-qa", json=q, headers=h)
    assert r.status_code == 200 and r.json()["policies"][0]["policy_id"] == "little_giant"
    mine = {**q, "uscc": rows[1]["uscc"], "as_of": AS_OF.isoformat()}
    r = client.post("/policy-qa", json=mine, headers=h)
    assert r.status_code == 403 and "未获授权" in r.json()["detail"]
    h = key("kcj_policy_portal")  # granted gold.policy_matches by the catalog
    r = client.post("/policy-qa", json=mine, headers=h)
    assert r.status_code == 200 and r.json()["policies"][0]["enterprise"]["clauses"]
    assert client.post("/policy-qa", json={**mine, "uscc": "914403069999999999"}, headers=h).status_code == 404
    assert client.post("/policy-qa", json={"question": ""}, headers=h).status_code == 422
