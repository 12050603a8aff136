from __future__ import annotations

import datetime as dt
import shutil

import pytest

from govlake.lineage.emitter import read_events
from govlake.products import get_product, load_catalog, load_products
from govlake.quality.gate import publish
from govlake.quality.suites import product_suite
from govlake.quality import QualityGateFailed

TAGS = "uscc string, tag_id string, tag_name string, since date, evidence string"


def test_catalog_loads_and_is_consistent(settings):
    products = load_products(settings)
    for name in ["gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_profile", "gold.policy_tags",
                 "gold.policy_matches", "gold.petition_dispatch"]:
        p = products[name]
        assert p.label and p.description and p.owner and p.refresh.cron and p.contract.key
    from govlake.access.levels import column_levels  # masking follows the field catalog's levels

    levels = column_levels(products["gold.enterprise_profile"], settings)
    assert (levels["contact_phone"], levels["reg_address"], levels["ent_name"]) == ("敏感", "敏感", "公开")
    # the profile's contract suite is used until the profile build writes its own suite file
    assert product_suite(products["gold.enterprise_profile"], settings)["name"] == "gold.enterprise_profile"
    with pytest.raises(KeyError, match="unknown data product"):
        get_product("gold.nope", settings)


def test_loader_rejects_bad_catalog(settings, tmp_path):
    cat = tmp_path / "catalog"
    shutil.copytree(settings.catalog_dir, cat)
    text = (cat / "products.yaml").read_text(encoding="utf-8")
    (cat / "products.yaml").write_text(text.replace("consumers: [mysb_platform, street_grid, leaders_cockpit]",
                                                    "consumers: [mysb_platform, ghost_app]", 1), encoding="utf-8")
    bad = settings.model_copy(update={"catalog_dir": cat})
    with pytest.raises(ValueError, match="ghost_app"):
        load_catalog(bad)
    (cat / "products.yaml").write_text(text.replace("classification: 内部", "classification: 机密", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="classification"):
        load_catalog(bad)


def test_failed_gate_writes_nothing_previous_version_serves(spark, lake, settings):
    good = spark.createDataFrame([("U1", "T01", "高新技术企业", dt.date(2024, 1, 1), "证书"),
                                  ("U2", "T01", "高新技术企业", dt.date(2024, 1, 1), "证书")], TAGS)
    c = publish(good, "gold.enterprise_tags", lake, app_id="publish.tags@2026-11-01")
    assert c.committed and c.version == 0 and c.rows_written == 2
    meta = lake.history("gold.enterprise_tags")[0]
    assert meta.get("product") == "gold.enterprise_tags" or "product" in str(meta)

    bad = spark.createDataFrame([("U1", "T01", "高新技术企业", dt.date(2024, 1, 1), "a"),
                                 ("U1", "T01", "高新技术企业", dt.date(2024, 2, 1), "b"),   # duplicate key
                                 ("U3", "T02", None, dt.date(2024, 1, 1), "c")], TAGS)     # tag_name required
    with pytest.raises(QualityGateFailed) as e:
        publish(bad, "gold.enterprise_tags", lake, app_id="publish.tags@2026-11-02")
    assert "标签名称" in str(e.value) and "统一社会信用代码 + 标签编号" in str(e.value)
    assert lake.version("gold.enterprise_tags") == 0
    assert sorted(r["uscc"] for r in lake.read("gold.enterprise_tags").collect()) == ["U1", "U2"]
    ok = [r["success"] for r in lake.read("ops.quality_results").orderBy("validated_at").collect()]
    assert ok == [True, False]
    assert any(ev["job"]["name"] == "quality.gold.enterprise_tags" for ev in read_events(settings.lineage_path))


def test_an_empty_notice_list_passes_its_gate_other_products_need_rows(settings):
    """gold.approval_notices may be empty (no approval yet: contract min_rows 0); every other
    product's gate still refuses an empty table."""
    from govlake.products import get_product
    from govlake.quality.suites import product_suite

    def min_rows(name):
        s = product_suite(get_product(name, settings), settings)
        return next(e["kwargs"]["min_value"] for e in s["expectations"]
                    if e["type"] == "expect_table_row_count_to_be_between")

    assert min_rows("gold.approval_notices") == 0
    assert min_rows("gold.policy_profile") == 1
