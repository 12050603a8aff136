"""Differencing beyond pairs (差分攻击防护：多项组合与合谋): three-way differences, a cell equal to
the union of earlier ones, a suppressed cell recovered from its margin, a breakdown of many cells
against its margin, and two consumers of one department or organisation combining their answers.
Every attack is first shown to pass the pairwise rule (so the test means something), then refused;
exact hierarchies (a margin and a breakdown with no small remainder) stay allowed."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from cleanroom_lake import OTHER, PARTY, PROFILE

from govlake import access, cleanroom
from govlake.cleanroom.differencing import find_clash

K = cleanroom.DEFAULT_K
STREET = "440306017"   # 26 enterprises


def _sql(where: str) -> str:
    return ("SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev FROM gold.enterprise_profile "
            f"WHERE street_code = '{STREET}' {where} GROUP BY street_code")


def _names(names) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names))


def _split(rows):
    """The street's enterprises, half of them (B), the rest but one (C) and that one (the target)."""
    street = [x for x in rows if x["street_code"] == STREET]
    half = {x["ent_name"] for x in street[:13]}
    target = street[-1]["ent_name"]
    rest = {x["ent_name"] for x in street} - half - {target}
    return {x["ent_name"] for x in street}, half, rest, target


def _pairwise_ok(*sets) -> None:
    for i, a in enumerate(sets):
        for b in sets[i + 1:]:
            assert not 0 < len(a ^ b) < K, "the attack must pass the pairwise rule to test anything"


def _refused(settings, store, sql, consumer=PARTY) -> cleanroom.JobRefused:
    with pytest.raises(cleanroom.JobRefused) as e:
        cleanroom.submit_sql(settings, consumer, sql, store=store)
    assert e.value.status == 403 and "differencing" in str(e.value) and "差分" in str(e.value)
    audit = access.query_audit(store, consumer=consumer, limit=1)[0]
    assert (audit["action"], audit["outcome"], audit["rows"]) == ("cleanroom.job", "denied", 0)
    return e.value


def test_three_way_difference_is_refused(settings, store, rows):
    """A (the street) − B (half of it) − C (the other half but one) = the one enterprise left out."""
    whole, half, rest, target = _split(rows)
    _pairwise_ok(whole, half, rest)
    cleanroom.submit_sql(settings, PARTY, _sql(""), store=store)
    cleanroom.submit_sql(settings, PARTY, _sql(f"AND ent_name IN ({_names(half)})"), store=store)
    e = _refused(settings, store, _sql(f"AND ent_name IN ({_names(rest)})"))
    assert "leaves 1 enterprise" in str(e) and "−" in str(e)
    # the same three in another order: the new cell is the whole this time
    access.add_consumer(store, "bank_c", "某银行（另一部门）", "GXJ", by="admin")
    a = access.apply(store, "bank_c", PROFILE, "融资风险评估（沙箱）", by="admin")
    access.approve(store, a.id, by="owner_zsj")
    cleanroom.submit_sql(settings, "bank_c", _sql(f"AND ent_name IN ({_names(half)})"), store=store)
    cleanroom.submit_sql(settings, "bank_c", _sql(f"AND ent_name IN ({_names(rest)})"), store=store)
    e = _refused(settings, store, _sql(""), consumer="bank_c")
    assert "leaves 1 enterprise" in str(e)


def test_union_of_earlier_cells_minus_one_is_refused(settings, store, rows):
    """B and C partition the street; a later cell "the street but one" is B ∪ C minus the target."""
    whole, half, rest, target = _split(rows)
    rest_all = rest | {target}
    _pairwise_ok(half, rest_all, whole - {target})
    cleanroom.submit_sql(settings, PARTY, _sql(f"AND ent_name IN ({_names(half)})"), store=store)
    cleanroom.submit_sql(settings, PARTY, _sql(f"AND ent_name IN ({_names(rest_all)})"), store=store)
    _refused(settings, store, _sql(f"AND ent_name <> '{target}'"))
    # the exact union is no new information: allowed
    r = cleanroom.submit_sql(settings, PARTY, _sql(""), store=store)
    assert r.rows[0]["n"] == len(whole)


def test_suppressed_cell_recovered_from_its_margin_is_refused(settings, store, rows, ledger):
    """k = 5: sizes overall are released, then street × size; 小型 in the third street (3
    enterprises) is suppressed, but 小型 − the two released 小型 cells would be it."""
    ledger.set_k(PARTY, 5, by="admin", at=dt.datetime.now(dt.timezone.utc).isoformat())
    cells = Counter((x["street_code"], x["enterprise_size"]) for x in rows)
    small = {c: n for c, n in cells.items() if n < 5}
    assert small == {("440306019", "小型"): 3}, "the generated rows changed: re-derive the case"
    r = cleanroom.submit_sql(settings, PARTY, "SELECT enterprise_size, count(*) AS n FROM gold.enterprise_profile "
                             "GROUP BY enterprise_size", store=store, ledger=ledger)
    assert r.cells_released == 3
    with pytest.raises(cleanroom.JobRefused) as e:
        cleanroom.submit_sql(settings, PARTY, "SELECT street_code, enterprise_size, count(*) AS n FROM "
                             "gold.enterprise_profile GROUP BY street_code, enterprise_size", store=store, ledger=ledger)
    assert e.value.status == 403 and "leaves 3 enterprise" in str(e.value)


def test_department_and_organisation_pool_the_history(settings, store, rows, ledger):
    """Two consumers of one department (a portal member acts for both) share one history, and so do
    consumers an admin put in one organisation; a consumer of another department does not."""
    whole, half, rest, target = _split(rows)
    a = access.apply(store, OTHER, PROFILE, "保险风险评估（沙箱）", by="admin")      # OTHER: ZSJ, as PARTY
    access.approve(store, a.id, by="owner_zsj")
    for c, dept in (("bank_c", "GXJ"), ("bank_d", "FGJ")):
        access.add_consumer(store, c, c, dept, by="admin")
        g = access.apply(store, c, PROFILE, "融资风险评估（沙箱）", by="admin")
        access.approve(store, g.id, by="owner_zsj")
    cleanroom.submit_sql(settings, PARTY, _sql(""), store=store, ledger=ledger)
    cleanroom.submit_sql(settings, PARTY, _sql(f"AND ent_name IN ({_names(half)})"), store=store, ledger=ledger)
    third = _sql(f"AND ent_name IN ({_names(rest)})")
    with pytest.raises(cleanroom.JobRefused, match="differencing"):
        cleanroom.submit_sql(settings, OTHER, third, store=store, ledger=ledger)          # same department
    assert cleanroom.submit_sql(settings, "bank_c", third, store=store, ledger=ledger).cells_released == 1
    ledger.set_organisation("bank_d", "某金融集团", by="admin", at="2026-12-06T00:00:00Z")
    ledger.set_organisation(PARTY, "某金融集团", by="admin", at="2026-12-06T00:00:00Z")
    with pytest.raises(cleanroom.JobRefused, match="differencing"):
        cleanroom.submit_sql(settings, "bank_d", third, store=store, ledger=ledger)       # same organisation


def _ids(r) -> frozenset:
    return frozenset(f"e{i}" for i in r)


def test_rules_on_sets():
    total = _ids(range(60))
    parts = [_ids(range(i, i + 12)) for i in range(0, 48, 12)]           # four cells of 12, 12 left over
    # a breakdown of four released cells against its margin: the remainder is 12 — allowed
    assert find_clash([(f"row {i}", p) for i, p in enumerate(parts)], [(1, total)], K) is None
    # the same margin with only 3 left over (four released cells, rule 3: no pair or triple shows it)
    short = _ids(range(51))
    hist = [(1, short)]
    new = [(f"row {i}", p) for i, p in enumerate(parts)]
    clash = find_clash(new, hist, K)
    assert clash and "suppressed remainder" in clash and "leaves 3" in clash
    # the breakdown first, the margin later: refused the same way
    assert "leaves 3" in find_clash([("row 1", short)], [(2, p) for p in parts], K)
    # exact partitions and the same cell again are no new information
    assert find_clash([("row 1", total)], [(1, total), (2, _ids(range(30))), (3, _ids(range(30, 60)))], K) is None
    # A − B − C with B, C from one earlier answer and A new; and with overlapping B, C (not a partition)
    a, b, c = _ids(range(40)), _ids(range(20)), _ids(range(20, 39))
    assert "leaves 1" in find_clash([("row 1", a)], [(1, b), (2, c)], K)
    assert find_clash([("row 1", a)], [(1, _ids(range(25))), (2, _ids(range(15, 40)))], K) is None
    # a three-way combination within one answer (a join puts an enterprise in several cells)
    assert "leaves 1" in find_clash([("row 1", b), ("row 2", c), ("row 3", a)], [], K)


def test_check_time_on_a_long_history():
    """About 300 released cells over 5,000 enterprises (street, street × industry, …) and a
    new breakdown of 100 cells: the check stays interactive."""
    import random

    rnd = random.Random(3)
    ents = [(f"e{i}", rnd.randrange(10), rnd.randrange(20), rnd.randrange(3)) for i in range(5000)]
    history = []
    for key in (lambda e: e[1], lambda e: (e[1], e[2]), lambda e: (e[1], e[3]), lambda e: (e[2], e[3])):
        groups: dict = {}
        for e in ents:
            groups.setdefault(key(e), set()).add(e[0])
        history += [(len(history) + 1, frozenset(g)) for g in groups.values() if len(g) >= K]
    groups = {}
    for e in ents:
        groups.setdefault((e[1], e[2] // 2), set()).add(e[0])
    new = [(f"row {i}", frozenset(g)) for i, g in enumerate(groups.values()) if len(g) >= K]
    assert len(history) > 250 and len(new) >= 90
    t0 = time.perf_counter()
    find_clash(new, history, K)
    assert time.perf_counter() - t0 < 20
