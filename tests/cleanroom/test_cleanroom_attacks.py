"""Attacks on the data sandbox (数据沙箱攻击测试): each must be refused (or its cells suppressed)
and audited; the expected figures are computed here from the generated rows, not by the sandbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from cleanroom_lake import OTHER, PARTY, PROFILE

from govlake import access, cleanroom
from govlake.cleanroom.authorisations import record

K = cleanroom.DEFAULT_K


def _refused(settings, store, sql, consumer=PARTY) -> cleanroom.JobRefused:
    before = len(access.query_audit(store, consumer=consumer, limit=10_000))
    with pytest.raises(cleanroom.JobRefused) as err:
        cleanroom.submit_sql(settings, consumer, sql, store=store)
    e = err.value
    rows = access.query_audit(store, consumer=consumer, limit=10_000)
    assert len(rows) == before + 1, "a refused job appends exactly one audit row"
    last = rows[0]
    assert (last["action"], last["outcome"], last["status"]) == ("cleanroom.job", "denied", e.status)
    assert last["id"] == e.audit_id and last["filters"]["job_id"] == e.job_id and last["rows"] == 0
    assert last["filters"]["code_sha256"] == __import__("hashlib").sha256(sql.encode()).hexdigest()
    return e


RAW_ROWS = [  # (query, what the refusal names)
    ("SELECT * FROM gold.enterprise_profile", "SELECT *"),
    ("SELECT uscc, revenue_y1_wan FROM gold.enterprise_profile", "GROUP BY"),
    ("SELECT uscc, count(*) FROM gold.enterprise_profile GROUP BY uscc", "uscc"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile WHERE uscc = '914403000000000001' GROUP BY 1", "uscc"),
    ("SELECT street_code, revenue_y1_wan FROM gold.enterprise_profile GROUP BY street_code", "neither grouped"),
    ("SELECT street_code, count(*) AS n FROM gold.enterprise_profile", "GROUP BY"),
    ("SELECT street_code, list(ent_name) FROM gold.enterprise_profile GROUP BY street_code", "list()"),
    ("SELECT street_code, max(revenue_y1_wan) FROM gold.enterprise_profile GROUP BY street_code", "max()"),
    ("SELECT street_code, arg_max(ent_name, revenue_y1_wan) FROM gold.enterprise_profile GROUP BY 1", "arg_max()"),
    ("SELECT street_code, sum(CASE WHEN ent_name = '企业1' THEN revenue_y1_wan END) FROM gold.enterprise_profile "
     "GROUP BY 1", "plain column"),
    ("SELECT street_code, sum(revenue_y1_wan) FILTER (WHERE ent_name = '企业1') FROM gold.enterprise_profile "
     "GROUP BY 1", "FILTER"),
    ("SELECT street_code, count(*) OVER () FROM gold.enterprise_profile GROUP BY street_code", "window"),
    ("SELECT street_code, count(*) FROM (SELECT * FROM gold.enterprise_profile) GROUP BY street_code", "subquer"),
    ("WITH t AS (SELECT * FROM gold.enterprise_profile) SELECT street_code, count(*) FROM t GROUP BY 1", "WITH"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY 1 UNION ALL "
     "SELECT uscc, 1 FROM gold.enterprise_profile", "UNION"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY ALL", "GROUP BY ALL"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY ROLLUP (street_code)", "ROLLUP"),
    ("SELECT DISTINCT street_code, count(*) FROM gold.enterprise_profile GROUP BY street_code", "DISTINCT"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY street_code LIMIT 1", "LIMIT"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile WHERE revenue_y1_wan > "
     "(SELECT avg(revenue_y1_wan) FROM gold.enterprise_profile) GROUP BY street_code", "subquer"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY street_code HAVING count(*) < 3", "HAVING"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile AT (VERSION => 0) GROUP BY street_code", "released"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY street_code USING SAMPLE 5", "SAMPLE"),
]


@pytest.mark.parametrize("sql,named", RAW_ROWS)
def test_row_level_sql_is_refused(shared, sql, named):
    e = _refused(*shared, sql)
    assert e.status == 400 and named in str(e), e


FILES_AND_STATEMENTS = [
    ("SELECT street_code, count(*) FROM read_csv('/etc/passwd') GROUP BY 1", "read_csv"),
    ("SELECT count(*) AS n, a FROM read_parquet('/tmp/*.parquet') GROUP BY a", "read_parquet"),
    ("SELECT content, count(*) FROM read_text('/etc/hostname') GROUP BY content", "read_text"),
    ("SELECT street_code, count(*) FROM 'lake/tables/gold/enterprise_profile/x.parquet' GROUP BY 1", "layer.table"),
    ("SELECT street_code, count(*) FROM delta_scan('lake/tables/gold/enterprise_profile') GROUP BY 1", "delta_scan"),
    ("SELECT street_code, count(*) FROM query('SELECT * FROM gold.enterprise_profile') GROUP BY 1", "query()"),
    ("SELECT street_code, count(*) FROM glob('/*') GROUP BY 1", "glob"),
    ("SELECT street_code, count(*), getenv('HOME') FROM gold.enterprise_profile GROUP BY 1", "getenv"),
    ("COPY (SELECT * FROM gold.enterprise_profile) TO '/tmp/out.csv'", "only a SELECT"),
    ("ATTACH '/tmp/x.db' AS x", "only a SELECT"),
    ("INSTALL httpfs", "only a SELECT"),
    ("LOAD httpfs", "only a SELECT"),
    ("CREATE TABLE t AS SELECT 1", "only a SELECT"),
    ("DROP TABLE gold.enterprise_profile", "only a SELECT"),
    ("PRAGMA database_list", "only a SELECT"),
    ("SET enable_external_access = true", "only a SELECT"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY 1; SELECT * FROM gold.enterprise_profile",
     "one statement"),
    ("SELECT street_code, count(*) FROM other.enterprise_profile GROUP BY 1", "unknown data product"),
    ("SELECT street_code, count(*) FROM gold.enterprise_profile WHERE error(ent_name) IS NULL GROUP BY 1", "error()"),
]


@pytest.mark.parametrize("sql,named", FILES_AND_STATEMENTS)
def test_files_functions_and_other_statements_are_refused(shared, sql, named):
    e = _refused(*shared, sql)
    assert e.status in (400, 404) and named in str(e), e


def test_quasi_identifier_cells_are_suppressed(settings, store, rows):
    """street + industry + size isolates a few enterprises: those cells never leave."""
    r = cleanroom.submit_sql(settings, PARTY, "SELECT street_code, industry_code, enterprise_size, count(*) AS n "
                             "FROM gold.enterprise_profile GROUP BY street_code, industry_code, enterprise_size", store=store)
    cells = Counter((x["street_code"], x["industry_code"], x["enterprise_size"]) for x in rows)
    big = {c: n for c, n in cells.items() if n >= K}
    assert len(cells) - len(big) >= 5, "the data must have small cells for the test to mean anything"
    assert r.cells_suppressed == len(cells) - len(big)
    assert {(x["street_code"], x["industry_code"], x["enterprise_size"]): x["n"] for x in r.rows} == big
    assert all(x["n"] >= K for x in r.rows)
    audit = access.query_audit(store, consumer=PARTY, limit=1)[0]
    assert audit["outcome"] == "allowed" and f"suppressed {r.cells_suppressed}" in audit["detail"]


def test_tiny_cells_and_null_heavy_measures_are_suppressed(settings, store, rows):
    """One enterprise per cell (by name) and a measure only few enterprises of a cell have."""
    r = cleanroom.submit_sql(settings, PARTY, "SELECT ent_name, count(*) FROM gold.enterprise_profile GROUP BY ent_name",
                             store=store)
    assert r.rows == [] and r.cells_suppressed == len(rows)
    r = cleanroom.submit_sql(settings, PARTY, "SELECT street_code, count(*) AS n FROM gold.enterprise_profile "
                             "WHERE revenue_y1_wan > 4000 GROUP BY street_code", store=store)
    small = Counter(x["street_code"] for x in rows if x["revenue_y1_wan"] is not None and x["revenue_y1_wan"] > 4000)
    assert {x["street_code"]: x["n"] for x in r.rows} == {s: n for s, n in small.items() if n >= K}
    assert r.cells_suppressed == sum(1 for n in small.values() if n < K)


def test_differencing_pair_is_refused(settings, store, rows):
    """Two answers whose cells differ by one enterprise would give that enterprise's figures."""
    first = cleanroom.submit_sql(settings, PARTY, "SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev "
                                 "FROM gold.enterprise_profile GROUP BY street_code", store=store)
    assert first.cells_released == 3
    target = rows[4]
    e = _refused(settings, store, "SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev FROM "
                 f"gold.enterprise_profile WHERE ent_name <> '{target['ent_name']}' GROUP BY street_code")
    assert e.status == 403 and "differencing" in str(e) and "差分" in str(e)
    # the same by a range that leaves out a handful (fewer than k) of one street's enterprises
    cut = sorted(x["insured_headcount_y1"] for x in rows if x["street_code"] == target["street_code"])[3]
    e = _refused(settings, store, "SELECT street_code, count(*) AS n FROM gold.enterprise_profile "
                 f"WHERE insured_headcount_y1 > {cut} OR street_code <> '{target['street_code']}' GROUP BY street_code")
    assert e.status == 403
    # the first answer again is no new information: allowed; history is unchanged by refusals
    again = cleanroom.submit_sql(settings, PARTY, "SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev "
                                 "FROM gold.enterprise_profile GROUP BY street_code", store=store)
    assert sorted(again.rows, key=str) == sorted(first.rows, key=str)  # no ORDER BY: cells in any order


def test_differencing_within_one_answer_is_refused(settings, store, tags):
    """Two cells of one answer may not differ by fewer than k enterprises either: a table with
    several rows per enterprise puts one enterprise in several cells (tag A: a street's
    enterprises, tag B: the same but one)."""
    e = _refused(settings, store, "SELECT tag_id, count(*) AS n FROM gold.enterprise_tags GROUP BY tag_id")
    assert e.status == 403 and "of this answer" in str(e)


def test_differencing_is_per_measure(ledger):
    """The history keeps, per aggregated column, the enterprises with a value in it: a sum over
    a set one enterprise away from an earlier sum's set is refused even if the cells' whole
    enterprise sets differ by more."""
    a = frozenset(f"e{i}" for i in range(30))
    with ledger.write() as db:
        ledger.record_cells(db, PARTY, 1, [(1, "*", a), (1, "revenue_y1_wan", a - {"e0"})])
        assert ledger.differencing(db, PARTY, [(1, "revenue_y1_wan", a - {"e0", "e1"})], 10) is not None
        assert ledger.differencing(db, PARTY, [(1, "insured_headcount_y1", a - {"e0", "e1"})], 10) is None
        assert ledger.differencing(db, PARTY, [(1, "*", a)], 10) is None            # the same set: nothing new
        assert ledger.differencing(db, PARTY, [(1, "*", a - {f"e{i}" for i in range(10)})], 10) is None
        assert ledger.differencing(db, OTHER, [(1, "*", a - {"e0"})], 10) is None   # another consumer's history


def test_no_grant_and_masked_columns_are_refused(settings, store):
    e = _refused(settings, store, "SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY 1", consumer=OTHER)
    assert e.status == 403 and "no grant" in str(e)
    e = _refused(settings, store, "SELECT street_code, count(contact_phone) FROM gold.enterprise_profile GROUP BY 1")
    assert e.status == 403 and "contact_phone" in str(e)


def _authorise(settings, uscc, party=PARTY, purpose="融资预授信", **kw):
    return record(settings, uscc, party, purpose, days=kw.pop("days", 30), by="admin", **kw)


def test_scores_only_for_enterprises_that_authorised(settings, store, rows):
    u = [x["uscc"] for x in rows]
    ok1, ok2 = _authorise(settings, u[0]), _authorise(settings, u[1])
    _authorise(settings, u[2], party=OTHER)                     # authorised another party
    _authorise(settings, u[3], purpose="保险核保")                # another purpose
    _authorise(settings, u[4], at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40))  # expired
    cleanroom.revoke_authorisation(settings, _authorise(settings, u[5]).authorisation_id, by="admin")
    a = access.apply(store, OTHER, PROFILE, "保险风险评估（沙箱）", by="admin")
    access.approve(store, a.id, by="owner_zsj")

    r = cleanroom.submit_model(settings, PARTY, "tiny_score", store=store)
    assert {x["uscc"] for x in r.rows} == {ok1.uscc, ok2.uscc}
    assert r.columns == ["uscc", "score"], "input columns echoed by the model never leave"
    by = {x["uscc"]: x for x in rows}
    for x in r.rows:
        src = by[x["uscc"]]
        assert x["score"] == pytest.approx((src["revenue_y1_wan"] or 0.0) / 100 + src["insured_headcount_y1"])

    for who, usccs in ((PARTY, [u[0], u[6]]), (PARTY, [u[2]]), (PARTY, [u[3]]), (PARTY, [u[4]]), (PARTY, [u[5]]),
                       (OTHER, [u[0]])):
        before = len(access.query_audit(store, consumer=who, limit=10_000))
        with pytest.raises(cleanroom.JobRefused) as err:
            cleanroom.submit_model(settings, who, "tiny_score", usccs=usccs, store=store)
        assert err.value.status == 403 and "not authorised" in str(err.value)
        last = access.query_audit(store, consumer=who, limit=10_000)
        assert len(last) == before + 1 and last[0]["outcome"] == "denied"
        assert last[0]["filters"]["model"] == "tiny_score"
    r = cleanroom.submit_model(settings, OTHER, "tiny_score", store=store)
    assert [x["uscc"] for x in r.rows] == [u[2]]


def test_every_refusal_is_a_job_and_the_chain_holds(settings, store, ledger):
    for sql, _ in RAW_ROWS[:3]:
        with pytest.raises(cleanroom.JobRefused):
            cleanroom.submit_sql(settings, PARTY, sql, store=store, ledger=ledger)
    jobs = ledger.jobs(PARTY)
    assert [j["outcome"] for j in jobs] == ["denied"] * 3 and all(j["audit_id"] for j in jobs)
    assert access.verify_audit(store).ok


def test_a_failing_model_is_an_error_and_nothing_leaves(settings, store, rows, monkeypatch):
    import cleanroom_tiny_model

    def broken(table, settings):
        raise RuntimeError("boom")

    monkeypatch.setattr(cleanroom_tiny_model, "score", broken)
    _authorise(settings, rows[0]["uscc"])
    with pytest.raises(cleanroom.JobRefused) as err:
        cleanroom.submit_model(settings, PARTY, "tiny_score", store=store)
    assert err.value.status == 500 and "boom" not in str(err.value)   # internals stay inside
    last = access.query_audit(store, consumer=PARTY, limit=1)[0]
    assert (last["outcome"], last["product"], last["rows"]) == ("error", PROFILE, 0) and "boom" in last["detail"]


@pytest.mark.parametrize("where", ["CAST(ent_name AS INTEGER) > 0", "ent_name::DATE > DATE '2020-01-01'",
                                   "CAST(ent_name AS DOUBLE) > 0 OR street_code = 'x'"])
def test_error_messages_do_not_carry_values_out(shared, where):
    """A failing cast's message quotes the value it met: the consumer gets the kind of error only,
    the audit keeps the message."""
    e = _refused(*shared, f"SELECT street_code, count(*) FROM gold.enterprise_profile WHERE {where} GROUP BY 1")
    assert e.status == 400 and "企业" not in str(e) and "Exception" in str(e), e
    assert "企业" in access.query_audit(shared[1], consumer=PARTY, limit=1)[0]["detail"]
