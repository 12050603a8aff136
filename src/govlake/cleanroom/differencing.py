"""The differencing check (差分攻击防护): may a new answer's cells leave, given the cells already
released to the same organisation?

Every released cell is a set of enterprises (per measure: the cell's enterprises for counts, the
enterprises with a value for a sum/avg). A consumer can add and subtract the figures of the cells
it holds; a combination whose enterprises number 1..k−1 is a small group's own figure. Three rules,
each a combination the new answer takes part in:

1. pairs: A − B (the difference of two cells) — refused when |A △ B| is 1..k−1;
2. three terms: ±A ± B ± C with one of them new — refused when the enterprises with a non-zero
   coefficient number 1..k−1. Only "one set ≈ the disjoint union of the other two" can be that
   small (X − Y − Z with Y, Z nearly inside X and nearly disjoint), which prunes the search;
3. a breakdown against its margin: a cell X and the cells of one answer lying inside X (disjoint
   cells of one GROUP BY): X − (their sum) is the suppressed remainder — refused when it holds
   1..k−1 enterprises, however many cells the breakdown has.

A difference of 0 (the same cells again, an exact partition) is no new information. Longer
combinations across answers (A − B − C − D from four answers) are not searched: docs/cleanroom.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    label: str          # how a refusal names it: "row 3 of this answer", "a cell of job 12"
    job: int | None     # None: the new answer
    members: frozenset


def _three(x: frozenset, y: frozenset, z: frozenset) -> int:
    """Enterprises with a non-zero coefficient in x − y − z."""
    return len((x | y | z) - ((x & y) - z) - ((x & z) - y))


def _pairs_and_triples(cell: Cell, pool: list[Cell], k: int) -> str | None:
    c = cell.members
    n = len(c)
    inside, around = [], []     # pool cells nearly inside c, cells nearly containing c
    for p in pool:
        m = p.members
        if abs(len(m) - n) < k:
            d = len(c ^ m)
            if 0 < d < k:
                return f"{cell.label} and {p.label} differ by {d} enterprise(s)"
        if m == c:
            continue
        if len(m) < n + k and len(m - c) < k and m & c:
            inside.append(p)
        if len(m) > n - k and len(c - m) < k:
            around.append(p)
    # c − a − b: a and b nearly partition c
    for i, a in enumerate(inside):
        for b in inside[i + 1:]:
            if abs(n - len(a.members) - len(b.members)) < 2 * k and a.members != b.members:
                s = _three(c, a.members, b.members)
                if 0 < s < k:
                    return f"{cell.label} − {a.label} − {b.label} leaves {s} enterprise(s)"
    # x − c − z: c and another cell z nearly partition x
    for x in around:
        want = len(x.members) - n
        for z in pool:
            if z is x or z.members in (x.members, c) or abs(len(z.members) - want) >= 2 * k:
                continue
            if len(z.members - x.members) < k:
                s = _three(x.members, c, z.members)
                if 0 < s < k:
                    return f"{x.label} − {cell.label} − {z.label} leaves {s} enterprise(s)"
    return None


def _breakdowns(new: list[Cell], pool: list[Cell], k: int) -> str | None:
    """Rule 3, for margins and breakdowns where at least one side is new."""
    by_job: dict[int | None, list[Cell]] = {}
    for p in pool + new:
        by_job.setdefault(p.job, []).append(p)
    new_ids = {id(c) for c in new}
    for x in pool + new:
        for job, cells in by_job.items():
            if id(x) not in new_ids and job is not None:
                continue  # a margin and a breakdown both already released were checked then
            parts = [c for c in cells if c is not x and c.members < x.members]
            if not parts:
                continue
            union = frozenset().union(*(c.members for c in parts))
            if len(union) != sum(len(c.members) for c in parts):
                continue  # overlapping cells: not a breakdown (rules 1 and 2 still apply)
            rest = len(x.members) - len(union)
            if 0 < rest < k:
                what = "this answer" if job is None else f"job {job}"
                return (f"{x.label} minus the {len(parts)} cell(s) of {what} inside it leaves {rest} "
                        f"enterprise(s) (the suppressed remainder)")
    return None


def find_clash(new: list[tuple[str, frozenset]], history: list[tuple[int, frozenset]], k: int) -> str | None:
    """The first combination (rules 1–3) of the new cells with each other and with the history
    that isolates 1..k−1 enterprises, described; None if there is none. One measure's sets only.
    new: (label, members) in answer order; history: (job id, members)."""
    pool = [Cell(f"a cell released by job {j}", j, m) for j, m in history]
    fresh: list[Cell] = []
    for label, members in new:
        cell = Cell(label, None, members)
        clash = _pairs_and_triples(cell, pool, k)
        if clash:
            return clash
        pool.append(cell)
        fresh.append(cell)
    return _breakdowns(fresh, pool[:len(pool) - len(fresh)], k)
