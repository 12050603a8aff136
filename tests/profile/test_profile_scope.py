"""Incremental profile: the scope filter runs before staging's latest-row window, so only the
rows of the enterprises in scope are shuffled and sorted; the source aggregates of those
enterprises are the full build's, also for a record whose enterprise changed."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from govlake.catalog.profile import USCC_COLUMN, load_enterprise_fields
from govlake.profile import direct, sqlgen

D0, D1, AS_OF = dt.date(2025, 6, 28), dt.date(2025, 6, 29), dt.date(2025, 6, 30)


def _uscc(i: int) -> str:
    return f"91440306MA{i:08d}"  # synthetic.source_frame


def _kids(node) -> list:
    c = node.children()
    return [c.apply(i) for i in range(c.size())]


def _windows(plan) -> list:
    out, todo = [], [plan]
    while todo:
        n = todo.pop()
        if n.nodeName() == "Window":
            out.append(n)
        todo += _kids(n)
    return out


def _input(window):
    """The first operator under a window that is not a row-by-row one (Project, Filter)."""
    n = _kids(window)[0]
    while len(_kids(n)) == 1:
        n = _kids(n)[0]
    return n


def test_incremental_filters_staging_before_its_window(spark, lake, settings):
    from govlake.profile.synthetic import write_bronze

    write_bronze(spark, lake, 40, AS_OF, D0)
    ip = lake.read("bronze.ip_records")
    moved = ip.where(F.col("uscc") == _uscc(1)).orderBy("ip_id").limit(1).collect()[0]
    # D1: a record of enterprise 1 moves to enterprise 8 (before the incremental's loads)
    lake.write(ip.where(F.col("ip_id") == moved["ip_id"]).withColumn("uscc", F.lit(_uscc(8)))
               .withColumn("_load_date", F.lit(D1)), "bronze.ip_records", mode="append", partition_by=["_load_date"])
    # AS_OF: enterprise 1 re-registered (a new phone), enterprises 2..4 re-sent in every source
    reg = lake.read("bronze.enterprise_registry")
    lake.write(reg.where(F.col("uscc") == _uscc(1)).withColumn("phone", F.lit("0755-1"))
               .withColumn("_load_date", F.lit(AS_OF)), "bronze.enterprise_registry", mode="append",
               partition_by=["_load_date"])
    write_bronze(spark, lake, 40, AS_OF, AS_OF, seed=11, id_offset=2, id_count=3, mode="append")
    # AS_OF: a record of enterprise 5 is re-sent for enterprise 9 (a patent transferred): 5 lost it
    ip = lake.read("bronze.ip_records").where(F.col("_load_date") == D0)
    transferred = ip.where(F.col("uscc") == _uscc(5)).orderBy("ip_id").limit(1)
    lake.write(transferred.withColumn("uscc", F.lit(_uscc(9))).withColumn("_load_date", F.lit(AS_OF)),
               "bronze.ip_records", mode="append", partition_by=["_load_date"])

    catalog = load_enterprise_fields(settings.catalog_dir)
    sources = list(sqlgen.source_models(catalog))
    direct.register_staging(spark, lake, AS_OF)
    direct.profile_views(spark, settings, AS_OF, AS_OF)
    scope = {r.uscc for r in spark.table("int_enterprise_scope").collect()}
    assert scope == {_uscc(i) for i in (1, 2, 3, 4, 5, 9)}

    # Every staging window (source models, and the registry's in the scope) reads a semi join
    # with the scope (or with the keys of the enterprises in scope), broadcast.
    for view in ["int_enterprise_scope"] + [f"int_enterprise_src_{s}" for s in sources]:
        qe = spark.table(view)._jdf.queryExecution()
        windows = _windows(qe.optimizedPlan())
        assert windows, view
        for w in windows:
            below = _input(w)
            assert below.nodeName() == "Join" and below.joinType().toString() == "LeftSemi", (view, w.toString())
        physical = qe.executedPlan().toString()
        assert "SortMergeJoin" not in physical and "BroadcastHashJoin" in physical, view

    def rows(src):
        df = spark.table(f"int_enterprise_src_{src}").where(F.col("uscc").isin(*scope))
        return sorted((r.asDict() for r in df.collect()), key=lambda r: r["uscc"])

    inc = {s: rows(s) for s in sources}
    assert sum(r["ip_all_valid_count"] is not None for r in inc["ip_records"]) >= 1
    direct.profile_views(spark, settings, AS_OF)  # the full build's views
    for s in sources:
        assert inc[s] == rows(s), s
    # the moved record counts for enterprise 8, no longer for 1
    stg = spark.table("stg_ip_records").where(F.col("ip_id") == moved["ip_id"]).collect()
    assert [r.uscc for r in stg] == [_uscc(8)]


def test_scope_filter_is_on_the_staging_key(settings):
    """Sources keyed by their own id (ip_id, ...) filter on that key; uscc-keyed ones on uscc."""
    catalog = load_enterprise_fields(settings.catalog_dir)
    d = sqlgen.Dialect("spark", as_of=AS_OF, changed_since=AS_OF)
    for src in sqlgen.source_models(catalog):
        key = sqlgen.staging_key(src, settings.catalog_dir)
        sql = sqlgen.source_sql(src, catalog, d, key)
        col = USCC_COLUMN.get(src, "uscc")
        assert f"WHERE {col} IN (SELECT /*+ BROADCAST(scope) */ uscc FROM int_enterprise_scope scope)" in sql, src
        if col not in key:
            assert f"AND {key[0]} IN (SELECT /*+ BROADCAST(b) */ {key[0]} FROM bronze__{src} b" in sql, src
    full = sqlgen.Dialect("spark", as_of=AS_OF)
    assert "int_enterprise_scope" not in sqlgen.source_sql("ip_records", catalog, full)
    assert "bronze__" not in sqlgen.scope_sql(["enterprise_registry", "ip_records"], full)
