from __future__ import annotations

from govlake.petitions.category import CategoryMatcher

TREE = [
    ("劳动和社会保障", "劳动保障", "拖欠工资"),
    ("劳动和社会保障", "劳动保障", "劳动合同"),
    ("劳动和社会保障", "社会保险", "养老保险"),
    ("劳动和社会保障", "社会保险", "其他"),
    ("环境保护", "污染防治", "水污染"),
    ("环境保护", "污染防治", "噪声污染"),
]


def test_matches_under_given_level1():
    m = CategoryMatcher(TREE)
    p = m.predict("公司拖欠工资半年了", level1="劳动和社会保障")
    assert (p.level1, p.level2, p.level3) == ("劳动和社会保障", "劳动保障", "拖欠工资")
    assert "一级来自模型" in p.reason


def test_level1_is_respected_and_other_is_the_fallback():
    m = CategoryMatcher(TREE)
    p = m.predict("河里水污染严重", level1="劳动和社会保障")  # constrained: stays under level 1
    assert p.level1 == "劳动和社会保障"
    q = m.predict("河里水污染严重")  # free: name matching picks level 1 too
    assert (q.level1, q.level3) == ("环境保护", "水污染")


def test_real_tree(taidi_dir):
    m = CategoryMatcher.from_csv(taidi_dir / "category_tree.csv")
    assert len(m.level1) == 15
    p = m.predict("孩子小学入学学位不够，民办学校收费太高", level1="教育文体")
    assert p.level1 == "教育文体" and p.level2 and p.level3
