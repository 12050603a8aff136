"""智能填单: the form a work order gets from its text."""

from __future__ import annotations

from govlake.petitions.form import category_tree, fill_form

WAGES = ("我在宝安区西乡街道固戍社区的一家电子厂上班，公司已经拖欠我们三个月工资了，老板现在联系不上，"
         "社保也没有给我们交，请劳动部门帮帮我们。")


def test_form_of_a_wage_complaint():
    f = fill_form(WAGES, title="工厂拖欠工资", requester_id="U123")
    assert (f.category_l1, f.category_l2, f.category_l3) == ("劳动和社会保障", "工资福利", "拖欠工资")
    assert f.request_type == "投诉"
    assert (f.street_code, f.community_code, f.community_name) == ("440306018", "440306018001", "固戍社区")
    assert f.address_standard == "宝安区西乡街道固戍社区" and f.address_level == "community"
    assert f.address_confidence >= 0.9
    assert f.requester == "员工" and f.requester_id == "U123" and f.subject == "电子厂"
    assert f.keywords and not any(w in ("西乡", "固戍", "宝安区") for w in f.keywords)  # places are the address's


def test_address_field_wins_over_a_vague_text():
    f = fill_form("楼上邻居天天很晚还在剁东西，希望社区工作站出面调解。", address="宝安区沙井街道蚝一社区蚝一花园7栋")
    assert f.community_name == "蚝一社区" and f.street_name == "沙井街道" and f.requester == "居民"
    none = fill_form("想咨询一下相关政策，谁来负责？")
    assert none.address_level == "none" and none.address_standard is None and none.request_type == "咨询"


def test_subject_is_the_named_unit_without_the_place():
    f = fill_form("工伤认定咨询。我上个月在车间操作机器时手受伤了，公司（深圳市信恒电脑有限公司）不肯给申报工伤")
    assert f.subject == "深圳市信恒电脑有限公司"
    assert fill_form("宝安区帝堂路361号有一家小诊所没有资质在给人打针输液").subject == "小诊所"


def test_category_tree_has_three_levels():
    tree = category_tree()
    assert len(tree) > 40 and all(len(p) == 3 and all(p) for p in tree)
