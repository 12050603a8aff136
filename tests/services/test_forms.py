from __future__ import annotations

import pytest

from govlake.catalog.departments import load_departments
from govlake.services.service_catalog import FormError, load_services


@pytest.fixture
def catalog(settings):
    return load_services(settings.catalog_dir)


def test_catalog_has_ten_categories_and_147_services_with_known_units(catalog, settings):
    assert len(catalog.categories) == 10 and len(catalog.services) == 147
    assert {"政策兑现", "融资服务", "人才服务", "产业空间", "知识产权", "市场监管", "规划国土", "用水用电", "法律服务", "其他"} \
        == set(catalog.categories.values())
    codes = {d.code for d in load_departments(settings.catalog_dir)}
    assert all(s.dept in codes and s.days >= 1 for s in catalog.services.values())


def test_missing_required_field_names_its_chinese_label(catalog):
    svc = catalog.service("space_01")  # 产业用房租赁申请
    with pytest.raises(FormError) as e:
        svc.validate({"contact_name": "王伟", "contact_phone": "13812345678", "description": "需要两千平方米厂房用于扩产",
                      "space_type": "厂房"})
    assert e.value.problems == ["面积需求（平方米） (area_sqm) is required (必填)"]
    assert "表单校验未通过" in str(e.value)


def test_bad_values_are_refused_and_good_form_passes(catalog):
    svc = catalog.service("space_01")
    good = {"contact_name": "王伟", "contact_phone": "13812345678", "description": "需要两千平方米厂房用于扩产",
            "area_sqm": 2000, "space_type": "厂房"}
    assert svc.validate(good) == good
    with pytest.raises(FormError) as e:
        svc.validate({**good, "contact_phone": "12345", "space_type": "商铺", "area_sqm": "很大", "color": "红"})
    text = str(e.value)
    assert "联系电话" in text and "空间类型" in text and "面积需求" in text and "unknown field 'color'" in text
    with pytest.raises(KeyError, match="未知服务事项"):
        catalog.service("nope_01")
