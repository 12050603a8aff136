"""主协办 without Spark: the lead and assisting departments a dispatch proposes from the catalog's
shared matters (departments.yaml `shared_with`) and from the text, and exclusion after 退单."""

from __future__ import annotations

import pytest

from govlake.petitions.blend_inputs import blend_inputs, load_dispatch_config
from govlake.petitions.dispatch import blend
from govlake.petitions.handling_roles import CoHandling, SharedMatter, assign_roles
from govlake.settings import get_settings


@pytest.fixture(scope="module")
def sig():
    return blend_inputs(get_settings().catalog_dir)


def _roles(recs):
    return {r.dept_code: r.role for r in recs}


def test_shared_matter_gives_assisting_departments_with_reasons(sig):
    co = sig["co_handling"]
    assert any(m.matter == "餐饮油烟扰民" and m.shared_with == ("CGJ", "属地街道") for m in co.shared_matters)
    kw = {k: v for k, v in sig.items() if k not in ("co_handling", "jurisdiction")}
    text = "楼下餐馆油烟直排，熏得没法开窗"
    # the model says HBJ; CGJ is far down the ranking, the street office not in it at all
    top = [("HBJ", 0.8, ["油烟"]), ("SJJ", 0.1, []), ("ZJJ", 0.06, []), ("CGJ", 0.04, [])]
    ranked = blend(top, text, k=6, **kw)
    recs = assign_roles(ranked, text, 3, co, street_office="ST018")
    assert [r.rank for r in recs] == [1, 2, 3]
    assert _roles(recs) == {"HBJ": "lead", "CGJ": "assist", "ST018": "assist"}
    by = {r.dept_code: r for r in recs}
    assert by["HBJ"].role_label == "主办" and "餐饮油烟扰民" in by["HBJ"].role_reason
    assert by["CGJ"].role_label == "协办" and "共管事项「餐饮油烟扰民」" in by["CGJ"].role_reason
    assert by["ST018"].dept_name == "西乡街道办事处" and "属地街道" in by["ST018"].role_reason
    # probabilities stay ordered after the lead
    assert by["CGJ"].probability >= by["ST018"].probability


def test_text_touching_another_departments_responsibility_makes_it_assist(sig):
    co = sig["co_handling"]
    kw = {k: v for k, v in sig.items() if k not in ("co_handling", "jurisdiction")}
    text = "小区施工工地夜间噪音扰民"  # ZJJ's 施工/工地 and HBJ's 噪音
    top = [("ZJJ", 0.6, []), ("HBJ", 0.3, []), ("JTJ", 0.1, [])]
    recs = assign_roles(blend(top, text, k=6, **kw), text, 3, co)
    assert _roles(recs)["ZJJ"] == "lead" and _roles(recs)["HBJ"] == "assist"
    assert "权责清单: 噪音" in next(r for r in recs if r.dept_code == "HBJ").role_reason
    # a department with no responsibility named in the text stays a candidate
    assert _roles(recs)["JTJ"] == "candidate"
    # no co-handling configured: one lead, the rest candidates
    plain = assign_roles(blend(top, text, k=6, **kw), text, 3, None)
    assert [r.role for r in plain] == ["lead", "candidate", "candidate"]


def test_excluded_department_gets_no_role_and_caps_hold():
    co = CoHandling((SharedMatter("欠薪处置", "RLJ", ("欠薪",), ("属地街道", "ZJJ", "SJJ")),), max_assisting=1,
                    names={"ST018": "西乡街道办事处"})
    top = [("RLJ", 0.7, []), ("ZJJ", 0.2, []), ("SJJ", 0.1, [])]
    ranked = blend(top, "工地老板欠薪", k=5)
    recs = assign_roles(ranked, "工地老板欠薪", 3, co, street_office="ST018", exclude=frozenset({"ST018"}))
    assert sum(r.role == "assist" for r in recs) == 1 and _roles(recs)["ZJJ"] == "assist"
    assert "ST018" not in _roles(recs)


def test_catalog_config_is_validated(tmp_path):
    import shutil

    cat = tmp_path / "catalog"
    shutil.copytree(get_settings().catalog_dir, cat)
    p = cat / "dispatch.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("max_assisting: 2", "max_assisting: 3"), encoding="utf-8")
    with pytest.raises(ValueError, match="max_assisting"):
        load_dispatch_config(cat)
    d = cat / "departments.yaml"
    d.write_text(d.read_text(encoding="utf-8").replace("shared_with: [CGJ, 属地街道]", "shared_with: [NOPE]"),
                 encoding="utf-8")
    with pytest.raises(ValueError, match="NOPE"):
        blend_inputs(cat)
