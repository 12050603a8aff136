"""POST /sql: read-only SQL over granted products. Normal queries are served with the grant's
masking and row scope; every attack is refused, audited, and no protected value reaches the
response. Tables are written with delta-rs (no Spark), a few rows each."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from govlake import access
from govlake.api import sql_reads
from govlake.api.app import create_app

from small_lake import ADDRESS, EQUITY, MY_STREET, OTHER_STREET, PHONE, U1, U2


@pytest.fixture
def client(small_lake, settings, store):
    return TestClient(create_app(settings))


def _sql(client, H, consumer: str, sql: str):
    return client.post("/sql", json={"sql": sql}, headers=H(consumer))


def _last_audit(store) -> dict:
    return access.query_audit(store, limit=1)[0]


def test_aggregate_over_a_granted_product(client, store, H):
    sql = "SELECT count(*) AS n, sum(reg_capital_wan) AS capital FROM gold.enterprise_profile"
    r = _sql(client, H, "kcj_policy_portal", sql)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["n", "capital"] and body["rows"] == [{"n": 2, "capital": 600.0}]
    assert body["truncated"] is False and body["products"] == ["gold.enterprise_profile"]
    a = _last_audit(store)
    assert a["outcome"] == "allowed" and a["action"] == "POST /sql" and a["actor"] == "kcj_policy_portal"
    assert a["product"] == "gold.enterprise_profile" and a["rows"] == 1 and a["grant_id"]
    assert a["version"] == body["versions"]["gold.enterprise_profile"]
    assert a["filters"]["sql"] == sql and a["filters"]["sql_sha256"] == hashlib.sha256(sql.encode()).hexdigest()


def test_join_of_two_granted_products(client, store, H):
    sql = ("SELECT p.ent_name, t.tag_id FROM gold.enterprise_profile p JOIN gold.enterprise_tags t USING (uscc) "
           "ORDER BY t.tag_id")
    r = _sql(client, H, "kcj_policy_portal", sql)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [{"ent_name": "甲科技", "tag_id": "T_PLAIN"}, {"ent_name": "甲科技", "tag_id": "equity_3y_ge_1000"}]
    rows = access.query_audit(store, consumer="kcj_policy_portal", outcome="allowed", limit=10)
    assert {a["product"] for a in rows} == {"gold.enterprise_profile", "gold.enterprise_tags"}  # one row each
    assert all(a["rows"] == 2 and a["filters"]["sql"] == sql for a in rows)


def test_masked_columns_are_absent_and_unusable(client, store, H):
    # gxj's grant has no 敏感 columns: contact_phone, reg_address, legal_rep, equity_financing_3y_wan
    r = _sql(client, H, "gxj_enterprise_service", "SELECT * FROM gold.enterprise_profile ORDER BY uscc")
    assert r.status_code == 200, r.text
    assert "contact_phone" not in r.json()["columns"] and "ent_name" in r.json()["columns"]
    assert not [s for s in (PHONE, ADDRESS, "张三", str(EQUITY)) if s in r.text]
    for sql in (f"SELECT uscc FROM gold.enterprise_profile WHERE contact_phone = '{PHONE}'",
                "SELECT contact_phone IS NULL AS empty, count(*) FROM gold.enterprise_profile GROUP BY contact_phone",
                "SELECT p.uscc FROM gold.enterprise_profile p JOIN gold.enterprise_tags t "
                "ON t.evidence LIKE '%' || p.equity_financing_3y_wan || '%'",
                "SELECT count(*) FROM gold.enterprise_profile WHERE equity_financing_3y_wan > 1000"):
        r = _sql(client, H, "gxj_enterprise_service", sql)
        assert r.status_code == 403 and "masked" in r.json()["detail"], (sql, r.text)
        a = _last_audit(store)
        assert a["outcome"] == "denied" and a["status"] == 403 and a["filters"]["sql"] == sql
    # the same statement under a sensitive grant is served
    r = _sql(client, H, "kcj_policy_portal", f"SELECT uscc FROM gold.enterprise_profile WHERE contact_phone = '{PHONE}'")
    assert r.status_code == 200 and r.json()["rows"] == [{"uscc": U1}]


def test_row_scope_cannot_be_escaped(client, store, H):
    # street_grid's catalog grant on the daily report: street 440306017 only (3 + 2 tickets of 12)
    for sql in ("SELECT sum(tickets) AS t FROM gold.rpt_petition_sla_daily",
                f"SELECT sum(tickets) AS t FROM (SELECT tickets FROM gold.rpt_petition_sla_daily WHERE street_code = "
                f"'{OTHER_STREET}' UNION ALL SELECT tickets FROM gold.rpt_petition_sla_daily)",
                "SELECT sum(tickets) AS t FROM gold.rpt_petition_sla_daily WHERE street_code IN "
                "(SELECT street_code FROM gold.rpt_petition_sla_daily) OR true"):
        r = _sql(client, H, "street_grid", sql)
        assert r.status_code == 200 and r.json()["rows"] == [{"t": 5}], (sql, r.text)
    r = _sql(client, H, "street_grid", "SELECT DISTINCT street_code FROM gold.rpt_petition_sla_daily")
    assert r.json()["rows"] == [{"street_code": MY_STREET}]
    r = _sql(client, H, "leaders_cockpit", "SELECT sum(tickets) AS t FROM gold.rpt_petition_sla_daily")
    assert r.json()["rows"] == [{"t": 12}]  # an unscoped grant sees every street


ATTACKS = [
    "CREATE TABLE stolen AS SELECT * FROM gold.enterprise_profile",
    "DROP VIEW gold.enterprise_profile",
    "INSERT INTO gold.enterprise_profile (uscc) VALUES ('x')",
    "UPDATE gold.enterprise_profile SET ent_name = 'x'",
    "COPY gold.enterprise_profile TO '/tmp/govlake-stolen.csv'",
    "COPY (SELECT * FROM gold.enterprise_profile) TO '/tmp/govlake-stolen.parquet' (FORMAT parquet)",
    "ATTACH '/tmp/govlake-attack.duckdb' AS x",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM gold.enterprise_profile, read_parquet('/tmp/*.parquet')",
    "SELECT (SELECT count(*) FROM read_csv_auto('/etc/passwd')) FROM gold.enterprise_profile",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM information_schema.tables",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "SELECT 1 FROM gold.enterprise_profile; DROP VIEW gold.enterprise_profile",
    "SELECT 1 FROM gold.enterprise_profile; SELECT 2 FROM gold.enterprise_profile",
    "EXPLAIN SELECT * FROM gold.enterprise_profile",
    "SELECT * FROM memory.main._product_0",
    "SELECT * FROM _product_0",
    "SELECT 1",
    "",
]


def test_every_attack_is_refused_and_audited(client, store, H):
    for sql in ATTACKS:
        r = _sql(client, H, "kcj_policy_portal", sql)
        assert r.status_code in (400, 422) and "detail" in r.json(), (sql, r.status_code, r.text)
        assert not [s for s in (PHONE, "root:", "甲科技") if s in r.text], sql
        a = _last_audit(store)
        assert a["action"] == "POST /sql" and a["outcome"] == "denied" and a["actor"] == "kcj_policy_portal", sql
        if sql:
            assert a["filters"]["sql"] == sql and a["filters"]["sql_sha256"] == hashlib.sha256(sql.encode()).hexdigest()
    assert not any(p.exists() for p in map(__import__("pathlib").Path, ("/tmp/govlake-stolen.csv",
                                                                        "/tmp/govlake-attack.duckdb")))
    r = client.post("/sql", json={"sql": "SELECT 1 FROM gold.enterprise_profile" + " " * sql_reads.MAX_SQL_CHARS},
                    headers=H("kcj_policy_portal"))
    assert r.status_code == 422 and _last_audit(store)["outcome"] == "denied"


def test_ungranted_product_and_no_key(client, store, H):
    r = _sql(client, H, "street_grid", "SELECT count(*) FROM gold.enterprise_profile")
    assert r.status_code == 403 and "no grant" in r.json()["detail"]
    a = _last_audit(store)
    assert a["outcome"] == "denied" and a["product"] == "gold.enterprise_profile"
    # one ungranted product in a join refuses the whole statement
    r = _sql(client, H, "street_grid", "SELECT * FROM gold.rpt_petition_sla_daily, gold.enterprise_profile")
    assert r.status_code == 403 and "甲科技" not in r.text
    r = client.post("/sql", json={"sql": "SELECT count(*) FROM gold.enterprise_profile"})
    assert r.status_code == 401 and _last_audit(store)["status"] == 401


def test_result_rows_are_capped(client, store, H, grant, monkeypatch):
    monkeypatch.setattr(sql_reads, "MAX_ROWS", 50)
    many = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100) "
            "SELECT p.uscc, r.i FROM gold.enterprise_profile p, r")
    r = _sql(client, H, "kcj_policy_portal", many)
    assert r.status_code == 200 and r.json()["count"] == 50 and r.json()["truncated"] is True
    assert _last_audit(store)["rows"] == 50
    # the grant's rows per day bound a statement too, and count what it returned
    grant("zsj_data_portal", "gold.rpt_petition_sla_daily", daily_rows=4)
    sql = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 10) "
           "SELECT street_code, r.i FROM gold.rpt_petition_sla_daily, r")
    r = _sql(client, H, "zsj_data_portal", sql)
    assert r.status_code == 200 and r.json()["count"] == 4 and r.json()["truncated"] is True
    r = _sql(client, H, "zsj_data_portal", sql)
    assert r.status_code == 429 and _last_audit(store)["status"] == 429


def test_long_running_statement_is_cancelled(client, store, H, monkeypatch):
    monkeypatch.setattr(sql_reads, "TIMEOUT_S", 0.5)
    slow = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000000000) "
            "SELECT count(*) FROM r, gold.enterprise_profile")
    r = _sql(client, H, "kcj_policy_portal", slow)
    assert r.status_code == 408 and "cancelled" in r.json()["detail"]
    a = _last_audit(store)
    assert a["outcome"] == "denied" and a["status"] == 408 and a["filters"]["sql"] == slow


def test_lineage_downstream_lists_the_readers(client, H, settings, monkeypatch):
    """`govlake lineage PRODUCT --downstream`: every consumer that read it, by path (api., sql.)."""
    from govlake.lineage.cli import lineage
    from govlake.settings import get_settings

    assert client.get(f"/enterprises/{U2}/profile", headers=H("gxj_enterprise_service")).status_code == 200
    assert _sql(client, H, "kcj_policy_portal", "SELECT count(*) FROM gold.enterprise_profile").status_code == 200
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(lineage, ["gold.enterprise_profile", "--downstream"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert "used by api.gxj_enterprise_service" in r.output and "used by sql.kcj_policy_portal" in r.output
    assert "upstream" not in r.output


def test_awkward_values_come_back_as_json(client, H):
    sql = ("SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, '\\xFF'::BLOB AS c, [1.5, 'nan'::DOUBLE] AS d, "
           "DATE '2026-11-01' AS e, 12345678901234567890::HUGEINT AS f, 1.25::DECIMAL(10, 2) AS g "
           "FROM gold.enterprise_profile LIMIT 1")
    r = _sql(client, H, "kcj_policy_portal", sql)
    assert r.status_code == 200, r.text
    row = r.json()["rows"][0]
    assert row["a"] is None and row["b"] is None and row["c"] == "ff" and row["d"] == [1.5, None]
    assert row["e"] == "2026-11-01" and row["f"] == 12345678901234567890 and float(row["g"]) == 1.25


def test_a_table_too_large_to_hold_is_scanned_in_place_with_the_same_rules(client, H, monkeypatch):
    """Past SNAPSHOT_MAX_PARQUET_BYTES a product is not materialised: DuckDB reads a lazy scan (a
    pyarrow dataset, or with deletion vectors DataFusion's stream), with the same answers, row
    scope and masking as the tables held in memory."""
    from govlake.access import reads
    from govlake.lakehouse import arrow_reads

    queries = [("kcj_policy_portal", "SELECT count(*) AS n, sum(reg_capital_wan) AS c FROM gold.enterprise_profile"),
               ("kcj_policy_portal", "SELECT p.uscc, t.tag_id FROM gold.enterprise_profile p "
                                     "JOIN gold.enterprise_tags t USING (uscc) ORDER BY 1, 2"),
               ("street_grid", "SELECT street_code, sum(tickets) AS t FROM gold.rpt_petition_sla_daily GROUP BY 1")]
    held = [_sql(client, H, who, sql).json()["rows"] for who, sql in queries]
    scans = []
    real = arrow_reads.lazy_scan
    monkeypatch.setattr(arrow_reads, "lazy_scan", lambda *a, **k: scans.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(reads, "SNAPSHOT_MAX_PARQUET_BYTES", 10)  # every table here is larger
    for (who, sql), rows in zip(queries, held):
        r = _sql(client, H, who, sql)
        assert r.status_code == 200 and r.json()["rows"] == rows, (sql, r.text)
    assert len(scans) == 4  # profile, profile + tags, the report: all scanned in place
    assert held[2] == [{"street_code": MY_STREET, "t": 5}]  # the row scope applies in the scan too
    r = _sql(client, H, "gxj_enterprise_service", "SELECT count(*) FROM gold.enterprise_profile "
                                                  f"WHERE contact_phone = '{PHONE}'")
    assert r.status_code == 403 and "masked" in r.json()["detail"]  # a masked column is not in the view
    # a stream is read once: naming the product twice gets a way to write it, once materialised works
    twice = "SELECT count(*) AS n FROM gold.enterprise_profile a JOIN gold.enterprise_profile b USING (uscc)"
    r = _sql(client, H, "kcj_policy_portal", twice)
    assert r.status_code == 400 and "MATERIALIZED" in r.json()["detail"]
    once = ("WITH p AS MATERIALIZED (SELECT uscc FROM gold.enterprise_profile) "
            "SELECT count(*) AS n FROM p a JOIN p b USING (uscc)")
    assert _sql(client, H, "kcj_policy_portal", once).json()["rows"] == [{"n": 2}]


