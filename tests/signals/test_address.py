import random

from govlake.signals.address import REVIEW_THRESHOLD, address_tree, format_address, standardise


def test_tree_is_real_top_and_deterministic(divisions):
    tree = address_tree()
    assert len(tree) == 141 and len({c.street_code for c in tree}) == 11
    assert all(not c.name.endswith("居委会") for c in tree)
    gushu = next(c for c in tree if c.short == "固戍")
    assert gushu.street_name == "西乡街道" and "固戍一路" in gushu.roads and "宝安大道" in gushu.roads
    # names used by two streets get street-prefixed buildings, so a building is never ambiguous
    buildings = [b for c in tree for b in c.buildings]
    assert len(buildings) == len(set(buildings))


def test_generated_addresses_match_at_street_level(divisions):
    tree, rnd = address_tree(), random.Random(3)
    ok_street = ok_comm = 0
    n = 1500
    for _ in range(n):
        c = rnd.choice(tree)
        m = standardise(format_address(c, rnd.randint(1, 3000), rnd.randint(0, 3), rnd.randint(1, 30)))
        ok_street += m.street_code == c.street_code
        ok_comm += m.community_code == c.code
    assert ok_street / n >= 0.95 and ok_comm / n >= 0.95


def test_generator_example_and_colloquial_forms(divisions):
    m = standardise("宝安区西乡街道固戍社区宝安大道1234号固戍大厦5楼")
    assert (m.street_name, m.community_name, m.road, m.building) == ("西乡街道", "固戍社区", "宝安大道1234号", "固戍大厦")
    assert m.confidence >= 0.95
    m = standardise("西乡固戍那边有工地半夜施工")
    assert m.community_name == "固戍社区" and m.confidence >= 0.7
    m = standardise("福永那边")  # street and community share the name: colloquial means the street
    assert m.level == "street" and m.street_name == "福永街道" and m.confidence >= REVIEW_THRESHOLD


def test_ambiguous_or_missing_goes_below_review_threshold(divisions):
    assert standardise("宝安大道1234号").confidence < REVIEW_THRESHOLD     # arterial through many streets
    assert standardise("麻布社区").confidence < REVIEW_THRESHOLD            # 西乡 and 石岩 both have one
    assert standardise("石岩街道麻布社区").community_code == "440306026018"  # the street resolves it
    assert standardise("路灯坏了").confidence == 0.0
