"""Policy sandbox (政策沙盘推演): what a draft policy would do before it is launched.

A draft is a policy YAML in the catalog format (govlake.catalog.policies) that is not active — a new
policy, or a changed version of an active one (catalog/policies/drafts/ holds examples; the policy
loader reads only catalog/policies/*.yaml, never a subfolder). The sandbox evaluates it over the
PUBLISHED profile (the release version of gold.enterprise_profile and its tags, govlake.release),
in-process through delta-rs and Arrow, and reports:

  reach        eligible / near-miss (one clause short) counts by street, industry and size, and the
               enterprises behind each cell
  cost         each eligible enterprise's amount under the draft's `funding.cap_wan` formula, the
               total, and who is funded when a budget binds, in the order of the draft's `ranking:`
  sensitivity  reach and cost as each numeric parameter moves over a range
  diff         who enters and who leaves against the active version (or another draft)
  overlap      which policies in force the draft's eligible enterprises already meet, and their amounts

The evaluation is the matching engine's own: the clause statuses come from `plan.KeyKernel.statuses`
(the kernel the batch job runs in Spark's Python workers), and eligible / near-miss follow the
engine's outcome rule (no unmet clause / exactly one clause failed or unknown), so the counts are
the ones a match run with the draft active would store. A sensitivity point re-evaluates only the
clauses (and the amount formula) whose checked tree the moved parameter changes; the data is read once.

Nothing is written: no table, no outbox row, no lineage event (a report file only when asked).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govlake import release, yamlio
from govlake.catalog.policies import Policy, load_policies, parse_policy, validate_policy
from govlake.catalog.sources import CatalogError
from govlake import rulelang as E
from govlake.policy.compile import CompiledPolicy
from govlake.policy.fields import FieldInfo, field_catalog, tag_ids
from govlake.policy.matches import PROFILE, TAGS
from govlake.policy.plan import KeyKernel

AMOUNT = "amount"  # the enterprise's funding under the draft, usable in a ranking expression
ORDERS = {"desc": "descending", "asc": "ascending"}
# --by name -> (profile column, 中文)
DIMENSIONS = {"street": ("street_code", "街道"), "industry": ("industry_code", "行业门类"),
              "size": ("enterprise_size", "企业规模")}
UNKNOWN_CELL = "（未填报）"


# -- the draft ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    """Who is funded first when the budget binds: expressions of the rule language (numbers; the
    name `amount` is the enterprise's funding under the draft), the first one deciding, the next
    ones breaking ties; a missing value ranks last; a full tie goes to the lower uscc."""

    by: tuple[str, ...] = (AMOUNT,)
    order: str = "desc"

    def label(self) -> str:
        return ", ".join(self.by) + f" {self.order}"


def parse_ranking(doc: Any, where: str) -> Ranking:
    """`ranking:` of a draft: absent (by amount, descending), an expression, or
    {by: expression | [expressions], order: desc | asc}."""
    if doc is None:
        return Ranking()
    if isinstance(doc, str):
        doc = {"by": doc}
    if not isinstance(doc, dict) or set(doc) - {"by", "order"} or not doc.get("by"):
        raise CatalogError(f"{where}: ranking must be an expression or {{by: expression(s), order: desc|asc}}, got {doc!r}")
    by = doc["by"] if isinstance(doc["by"], list) else [doc["by"]]
    order = str(doc.get("order", "desc"))
    if order not in ORDERS:
        raise CatalogError(f"{where}: ranking order must be desc or asc, got {order!r}")
    return Ranking(tuple(str(b) for b in by), order)


@dataclass(frozen=True)
class Draft:
    policy: Policy
    ranking: Ranking
    source: str


def load_draft(path_or_doc: Path | str | dict, catalog_dir: Path, fields: dict[str, FieldInfo] | None = None) -> Draft:
    """Parse and check a draft like a catalog policy (fields, tags, departments, certificates),
    plus its ranking rule."""
    from govlake.catalog.departments import load_certificate_types, load_departments

    if isinstance(path_or_doc, dict):
        doc, source = path_or_doc, "draft"
    else:
        p = Path(path_or_doc)
        if not p.is_file():
            raise FileNotFoundError(f"draft {p} not found (草案文件不存在)")
        doc, source = yamlio.safe_load(p.read_text(encoding="utf-8")), str(p)
    fields = fields or field_catalog(catalog_dir)
    types = {k: v.type for k, v in fields.items()}
    all_depts = load_departments(catalog_dir)
    depts = {d.code for d in all_depts if d.issues_policies}
    city_depts = {d.code for d in all_depts if d.name.startswith("深圳市")}  # as load_policies: city bureaus
    certs = {c.key for c in load_certificate_types(catalog_dir)}
    tags = tag_ids(catalog_dir)
    policy = parse_policy(doc, source=source, dept_codes=depts, city_dept_codes=city_depts)
    where = f"policy {policy.policy_id} ({policy.name_zh})"
    try:
        validate_policy(policy, types, tags=tags, cert_keys=certs)
    except E.RuleError as e:
        raise CatalogError(f"{source}: {e}") from None
    ranking = parse_ranking(doc.get("ranking"), where)
    if AMOUNT in types:
        raise CatalogError(f"{where}: ranking name {AMOUNT!r} clashes with a profile field")
    for day in policy.param_dates():
        for text in ranking.by:
            try:
                E.parse(text, {**types, AMOUNT: "double"}, policy.params_on(day), where=f"{where} ranking",
                        want=E.NUM, tags=tags, cert_keys=certs)
            except E.RuleError as e:
                raise CatalogError(f"{source}: {e}") from None
    return Draft(policy, ranking, source)


# -- the report ---------------------------------------------------------------------------------
@dataclass
class Cell:
    key: str
    label: str
    eligible: int
    near_miss: int
    amount_wan: float | None  # total of the cell's eligible enterprises (None: the draft has no formula)
    funded: int | None  # within the budget (None: no budget)


@dataclass
class Point:
    value: Any
    eligible: int
    near_miss: int
    total_wan: float | None
    funded: int | None
    funded_wan: float | None


@dataclass
class Curve:
    param: str
    base_value: Any
    points: list[Point]
    clauses: list[str]  # clause ids the parameter moves
    in_amount: bool  # the parameter enters the funding formula
    note: str = ""


@dataclass
class Cost:
    standard_zh: str
    formula: str
    total_wan: float
    amount_unknown: int  # eligible enterprises whose amount cannot be computed (data missing)
    ranking: str
    budget_wan: float | None = None
    funded: int | None = None
    funded_wan: float | None = None
    cutoff: dict | None = None  # the first enterprise the budget no longer covers
    passed_unknown: int | None = None  # ranked before the cut-off, not funded: amount unknown


@dataclass
class Diff:
    against: str  # what the draft is compared with
    against_version: int | None
    entered: list[str]  # eligible under the draft, not under the other
    left: list[str]
    eligible_before: int
    near_miss_before: int
    note: str = ""


@dataclass
class Overlap:
    policy_id: str
    name_zh: str
    version: int
    enterprises: int  # of the draft's eligible enterprises, how many are eligible for this policy
    amount_wan: float | None  # their total under this policy's formula
    amount_unknown: int


@dataclass
class SandboxReport:
    policy_id: str
    name_zh: str
    version: int
    source: str
    as_of: dt.date
    profile_version: int | None
    tags_version: int | None
    release_id: str | None
    enterprises_evaluated: int
    eligible: int
    near_miss: int
    near_miss_by_clause: list[dict]
    reach: dict[str, list[Cell]]
    cost: Cost | None
    sensitivity: list[Curve]
    diff: Diff | None
    overlap: list[Overlap]
    overlap_any: int  # draft-eligible enterprises eligible for at least one policy in force
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    # one row per enterprise eligible or one clause short: uscc, ent_name, street_code, industry,
    # enterprise_size, status, unmet_clause, unmet_status, amount_wan, rank, funded,
    # active_matches, active_amount_wan (pyarrow.Table)
    rows: Any = field(default=None, repr=False)
    labels: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # by -> cell key -> 中文

    def enterprises(self, by: str | None = None, cell: str | None = None, status: str | None = None) -> list[dict]:
        """The enterprises behind a cell (by = street | industry | size; cell = its key or label),
        eligible ones first in ranking order, then the near misses; status: eligible | near_miss."""
        t = self.rows
        if by is not None:
            col = _dim_column(by)
            keys = t.column(col).to_pylist()
            labels = self.labels.get(by, {})
            want = {i for i, k in enumerate(keys) if cell in (k or UNKNOWN_CELL, labels.get(k or "", None))}
            t = t.take(pa.array(sorted(want), pa.int64()))
        if status is not None:
            t = t.filter(pc.equal(t.column("status"), status))
        out = t.to_pylist()
        out.sort(key=lambda r: (r["status"] != "eligible", r["rank"] if r["rank"] is not None else math.inf, r["uscc"]))
        return out

    def to_dict(self, list_limit: int | None = 20, full: bool = False) -> dict:
        """JSON-serialisable: every number, every cell with up to `list_limit` of its enterprises'
        uscc (None: all), the diff lists likewise; full=True adds every enterprise row."""
        def lim(xs):
            return list(xs) if list_limit is None else list(xs[:list_limit])

        reach, ranked = {}, self.enterprises()
        for by, cells in self.reach.items():
            col = _dim_column(by)
            members: dict[str, list[str]] = {}
            for r in ranked:
                members.setdefault(r[col] or UNKNOWN_CELL, []).append(r["uscc"])
            reach[by] = [{**dataclasses.asdict(c), "uscc": lim(members.get(c.key, []))} for c in cells]
        d = {
            "policy_id": self.policy_id, "name_zh": self.name_zh, "version": self.version, "source": self.source,
            "as_of": self.as_of.isoformat(), "profile_version": self.profile_version, "tags_version": self.tags_version,
            "release_id": self.release_id, "enterprises_evaluated": self.enterprises_evaluated,
            "eligible": self.eligible, "near_miss": self.near_miss, "near_miss_by_clause": self.near_miss_by_clause,
            "reach": reach, "cost": None if self.cost is None else dataclasses.asdict(self.cost),
            "sensitivity": [dataclasses.asdict(c) for c in self.sensitivity],
            "diff": None if self.diff is None else {**dataclasses.asdict(self.diff), "entered_count": len(self.diff.entered),
                                                    "left_count": len(self.diff.left), "entered": lim(self.diff.entered),
                                                    "left": lim(self.diff.left)},
            "overlap": [dataclasses.asdict(o) for o in self.overlap], "overlap_any": self.overlap_any,
            "seconds": self.seconds, "notes": self.notes,
        }
        if full:
            d["enterprises"] = ranked
        return json.loads(json.dumps(d, ensure_ascii=False, default=_json_default))


def _json_default(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _dim_column(by: str) -> str:
    if by not in DIMENSIONS:
        raise ValueError(f"--by must be one of {sorted(DIMENSIONS)}, got {by!r}")
    return "industry" if by == "industry" else DIMENSIONS[by][0]


# -- labels ---------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _street_names() -> dict[str, str]:
    from govlake.reference import divisions_csv

    with open(divisions_csv("shenzhen_streets.csv"), encoding="utf-8") as f:
        return {r["code"]: r["name"] for r in csv.DictReader(f)}


@lru_cache(maxsize=None)
def _industry_sections(catalog_dir: str) -> dict[str, str]:
    p = Path(catalog_dir) / "enterprise_fields" / "01_basic.yaml"
    if not p.is_file():
        return {}
    doc = yamlio.safe_load(p.read_text(encoding="utf-8")) or {}
    return {s["code"]: s["label"] for s in (doc.get("lists") or {}).get("industry_sections") or []}


def dimension_labels(by: str, catalog_dir: Path) -> dict[str, str]:
    """Cell key -> 中文 label: street code -> 街道 name, industry section letter -> 门类."""
    if by == "street":
        return _street_names()
    if by == "industry":
        return _industry_sections(str(catalog_dir))
    return {}


# -- reading ------------------------------------------------------------------------------------
@dataclass
class _Frame:
    batch: pa.RecordBatch  # uscc, dimensions, the fields read (numbers as float64), tags as a list
    profile_version: int | None
    tags_version: int | None

    @property
    def n(self) -> int:
        return self.batch.num_rows


def read_frame(lake, fields: dict[str, FieldInfo], columns: list[str], tag_set: set[str], rel=None) -> _Frame:
    """The released profile (release `rel`, default the current one), only `columns` (plus uscc and
    the dimensions present), through delta-rs;
    numeric fields as float64 (as the engine's kernel compares them); the tags the rules use."""
    if not lake.exists(PROFILE):
        raise FileNotFoundError(f"no {PROFILE} in the lake at {lake.path(PROFILE)} (画像表不存在)")
    pv = release.version_of(lake, PROFILE, rel)
    have = set(lake.arrow_schema(PROFILE, version=pv).names)
    missing = sorted(set(columns) - have)
    if missing:
        raise KeyError(f"{PROFILE} v{pv} lacks field(s) used by the draft or the policies in force: {missing}")
    optional = [c for c in ("ent_name", *(c for c, _ in DIMENSIONS.values())) if c in have]
    cols = list(dict.fromkeys(["uscc", *optional, *columns]))
    t = lake.to_arrow(PROFILE, version=pv, columns=cols)
    arrays, names = [], []
    for c in cols:
        a = t.column(c).combine_chunks()
        if c in columns and E.FIELD_TYPES.get(fields[c].type) == E.NUM:
            a = pc.cast(a, pa.float64())
        arrays.append(a)
        names.append(c)
    tv = None
    if tag_set:
        tv = release.version_of(lake, TAGS, rel) if lake.exists(TAGS) else None
        arrays.append(_tag_lists(lake, tv, arrays[0], sorted(tag_set)))
        names.append(E.TAGS_COL)
    industry = arrays[names.index("industry_code")] if "industry_code" in names else None
    if industry is not None:  # the 门类 (GB/T 4754 section letter) for the breakdown
        arrays.append(pc.utf8_slice_codeunits(industry, 0, 1))
        names.append("industry")
    return _Frame(pa.RecordBatch.from_arrays(arrays, names=names), pv, tv)


def _tag_lists(lake, version: int | None, uscc: pa.Array, tags: list[str]) -> pa.Array:
    """list<string> per profile row: the enterprise's tags among `tags` (what has_tag reads)."""
    n = len(uscc)
    if version is None:
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()))
    t = lake.to_arrow(TAGS, version=version, columns=["uscc", "tag_id"], where={"tag_id": tags})
    hits = np.zeros((n, len(tags)), dtype=bool)
    for j, tag in enumerate(tags):
        owners = pc.filter(t.column("uscc"), pc.equal(t.column("tag_id"), tag))
        hits[:, j] = pc.is_in(uscc, value_set=owners.combine_chunks()).to_numpy(zero_copy_only=False)
    rows, cols = np.nonzero(hits)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.array(tags, dtype=object)[cols], pa.string()))


# -- evaluating -----------------------------------------------------------------------------------
def _statuses(batch: pa.RecordBatch, nodes: list[E.Node]) -> tuple[np.ndarray, np.ndarray]:
    """(pass, unknown) per node x row, by the engine's kernel (plan.KeyKernel.statuses)."""
    kernel = KeyKernel([], 1, [])  # the frame's numbers are float64 already
    kernel.nodes = list(nodes)
    return kernel.statuses(batch)


def _policy_statuses(batch, compiled: list[CompiledPolicy]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per policy: (pass, unknown) clause x row; each distinct clause evaluated once."""
    if not compiled or batch.num_rows == 0:
        return [(np.ones((len(cp.clauses), batch.num_rows), bool), np.zeros((len(cp.clauses), batch.num_rows), bool))
                for cp in compiled]
    kernel = KeyKernel(compiled, 1, [])
    ok, unk = kernel.statuses(batch)
    return [(ok[ks], unk[ks]) for ks in kernel.slots]


@dataclass
class _Outcome:
    eligible: np.ndarray
    near_miss: np.ndarray
    unmet: np.ndarray  # clause index of a near miss's unmet clause (-1 otherwise)
    unmet_unknown: np.ndarray


def _outcome(ok: np.ndarray, unk: np.ndarray, manual: bool = False) -> _Outcome:
    """The engine's rule: eligible = every clause passes; near miss = exactly one does not.
    manual: the policy has a `manual: true` clause, so passing every clause is needs_review, not
    eligible (used for the policies in force; a draft's reach counts who could qualify before review)."""
    bad = ~ok
    nbad = bad.sum(axis=0)
    near = nbad == 1
    unmet = np.where(near, bad.argmax(axis=0), -1)
    cols = np.arange(ok.shape[1])
    unmet_unknown = near & unk[np.maximum(unmet, 0), cols] if ok.shape[0] else near
    return _Outcome((nbad == 0) & (not manual), near, unmet, unmet_unknown)


def _number(batch: pa.RecordBatch, node: E.Node) -> np.ndarray:
    """A number per row (NaN = null) of a checked numeric expression."""
    v = E.to_arrow(node)(batch)
    if isinstance(v, pa.Scalar):
        return np.full(batch.num_rows, np.nan if not v.is_valid else float(v.as_py()))
    return pc.cast(v, pa.float64()).to_numpy(zero_copy_only=False).astype(float)


def _amount_node(cp: CompiledPolicy, params: dict | None = None) -> E.Node | None:
    cap = cp.policy.funding.get("cap_wan")
    if cap is None:
        return None
    types = {k: v.type for k, v in cp.fields.items()}
    return E.parse(str(cap), types, params or cp.policy.params_on(cp.as_of), want=E.NUM,
                   where=f"policy {cp.policy.policy_id} funding.cap_wan").node


def _amounts(batch, node: E.Node | None) -> np.ndarray | None:
    """Funding per row under a cap_wan formula; a formula below zero grants nothing."""
    if node is None:
        return None
    a = _number(batch, node)
    return np.where(np.isnan(a), np.nan, np.maximum(a, 0.0))


def _rank(batch, uscc: pa.Array, amount: np.ndarray | None, nodes: list[E.Node], order: str) -> np.ndarray:
    """Positions of the rows in ranking order (missing values last, ties by uscc)."""
    amt = pa.array(np.full(batch.num_rows, np.nan) if amount is None else amount, pa.float64())
    amt = pc.if_else(pc.is_nan(amt), pa.scalar(None, pa.float64()), amt)
    b = pa.RecordBatch.from_arrays([*batch.columns, amt], names=[*batch.schema.names, AMOUNT])
    keys = {}
    for i, n in enumerate(nodes):
        v = _number(b, n)
        keys[f"k{i}"] = pa.array(v, pa.float64(), mask=np.isnan(v))
    keys["uscc"] = uscc
    t = pa.table(keys)
    sort = [(f"k{i}", ORDERS[order], "at_end") for i in range(len(nodes))] + [("uscc", "ascending", "at_end")]
    return pc.sort_indices(t, sort_keys=sort).to_numpy()


def _budget(order: np.ndarray, amount: np.ndarray, budget: float) -> tuple[np.ndarray, int | None, float]:
    """Funded rows walking the ranking: each in full while the budget lasts; the first that no
    longer fits ends the list (a lower-ranked enterprise never jumps ahead). Rows whose amount is
    unknown are passed over (nothing can be paid without the data). Returns (funded mask over
    the rows, position in `order` of the cut-off row or None, amount paid)."""
    a = amount[order]
    known = ~np.isnan(a)
    spent = np.cumsum(np.where(known, a, 0.0))
    over = np.nonzero(known & (spent > budget + 1e-9))[0]
    stop = int(over[0]) if len(over) else len(order)
    funded = np.zeros(len(amount), bool)
    funded[order[:stop][known[:stop]]] = True
    return funded, (stop if len(over) else None), float(spent[stop - 1]) if stop else 0.0


def _varied(cp: CompiledPolicy, name: str, value) -> CompiledPolicy:
    params = {**cp.policy.params_on(cp.as_of), name: value}
    return CompiledPolicy(dataclasses.replace(cp.policy, params=params), cp.as_of, cp.fields)


def _grid(v, points: int, spread: float) -> tuple[list, str]:
    """Parameter values over ±spread of v (ints: the distinct integers; lists: scaled as a whole)."""
    if isinstance(v, bool) or points < 1:
        return [], ""
    factors = [float(f) for f in (np.linspace(1 - spread, 1 + spread, points) if points > 1 else [1.0])]
    if isinstance(v, (int, float)):
        if v == 0:
            return [], "取值为 0，无相对区间 (value 0: no relative range)"
        vals = [float(v) * f for f in factors]
        if isinstance(v, int):
            vals = sorted({int(round(x)) for x in vals})
        else:
            vals = [round(x, 10) for x in vals]
        return vals, ""
    if isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return [[round(float(x) * f, 10) for x in v] for f in factors], "列表参数整体按比例缩放 (list scaled as a whole)"
    return [], ""


# -- the run ------------------------------------------------------------------------------------
def run_sandbox(draft: Draft | Path | str | dict, settings=None, *, lake=None, against: Draft | Path | str | dict | None = None,
                budget_wan: float | None = None, points: int = 20, spread: float = 0.5,
                as_of: dt.date | None = None, fields: dict[str, FieldInfo] | None = None,
                active: list[Policy] | None = None) -> SandboxReport:
    """Evaluate a draft over the published profile (see the module doc). lake: a Lakehouse (Spark
    not needed); fields: the field catalog (default: the catalog's); active: the policies in
    force (default: catalog/policies). as_of: default today, or the draft's effective_from when
    that is later."""
    from govlake.lakehouse import Lakehouse
    from govlake.settings import get_settings

    t0 = time.perf_counter()
    settings = settings or (lake.settings if lake is not None else get_settings())
    lake = lake or Lakehouse(None, settings)
    fields = fields or field_catalog(settings.catalog_dir)
    types = {k: v.type for k, v in fields.items()}
    if not isinstance(draft, Draft):
        draft = load_draft(draft, settings.catalog_dir, fields)
    if against is not None and not isinstance(against, Draft):
        against = load_draft(against, settings.catalog_dir, fields)
    p = draft.policy
    notes: list[str] = []
    if as_of is None:
        as_of = max(dt.date.today(), p.effective_from)
        if as_of == p.effective_from and as_of > dt.date.today():
            notes.append(f"草案 {as_of} 起生效，按生效日推演 (as_of = the draft's effective_from)")
    if not p.active_on(as_of):
        raise ValueError(f"draft {p.policy_id} is not in force on {as_of} (effective {p.effective_from} to "
                         f"{p.effective_to or 'open'}; 草案在基准日不生效)")
    if budget_wan is not None and p.funding.get("cap_wan") is None:
        raise ValueError(f"draft {p.policy_id} has no funding.cap_wan formula: no amounts to put against a budget "
                         f"(草案无资助金额公式)")
    cp = CompiledPolicy(p, as_of, fields)

    # what the draft is compared with, and the policies in force
    base_cp, diff_label, diff_note = None, "", ""
    if against is not None:
        diff_label = f"草案 {against.source}"
        if against.policy.active_on(as_of):
            base_cp = CompiledPolicy(against.policy, as_of, fields)
        else:
            diff_note = f"对比草案在 {as_of} 不生效 (not in force)"
    if active is None:
        active = load_policies(settings.catalog_dir, types)
    if against is None:
        current = next((a for a in active if a.policy_id == p.policy_id), None)
        diff_label = "现行版本 (active version)"
        if current is None:
            diff_note = "新政策：目录中无现行版本 (new policy: no active version)"
        elif not current.active_on(as_of):
            diff_note = f"现行版本 v{current.version} 在 {as_of} 不生效 (not in force)"
        else:
            base_cp = CompiledPolicy(current, as_of, fields)
    in_force = [CompiledPolicy(a, as_of, fields) for a in active if a.policy_id != p.policy_id and a.active_on(as_of)]

    rank_nodes = [E.parse(t, {**types, AMOUNT: "double"}, p.params_on(as_of), want=E.NUM).node for t in draft.ranking.by]
    amount_node = _amount_node(cp)
    nodes_read = [c.rule.node for c in cp.clauses] + rank_nodes + ([amount_node] if amount_node else [])
    columns = set(cp.fields_read) | {f for n in nodes_read for f in E.fields_of(n) if f != AMOUNT}
    tag_set = set(cp.tags_read) | {t for c in (base_cp, *in_force) if c for t in c.tags_read}
    for other in ([base_cp] if base_cp else []) + in_force:
        columns |= set(other.fields_read)
        n = _amount_node(other)
        columns |= set(E.fields_of(n)) if n else set()
    tag_set |= {n.tag for n in _walk(nodes_read) if isinstance(n, E.HasTag)}
    t_load = time.perf_counter()
    rel = release.current(lake)  # one release for the profile and the tags
    frame = read_frame(lake, fields, sorted(columns), tag_set, rel)
    batch, n_rows = frame.batch, frame.n
    if tag_set and frame.tags_version is None:
        notes.append(f"无 {TAGS}：has_tag 按无标签计 (no tags table: every has_tag is false)")
    t_read = time.perf_counter()

    ok, unk = _policy_statuses(batch, [cp])[0]  # reach
    out = _outcome(ok, unk)
    t_eval = time.perf_counter()

    elig_idx = np.nonzero(out.eligible)[0]
    elig_batch = batch.take(pa.array(elig_idx))
    cost, amount, funded, rank = _cost(draft, batch, elig_idx, elig_batch, amount_node, rank_nodes, budget_wan)
    t_cost = time.perf_counter()
    curves = _curves(cp, draft, batch, (ok, unk), amount_node, budget_wan, points, spread)
    t_sens = time.perf_counter()
    diff = _diff(batch, out, base_cp, diff_label, diff_note)
    t_diff = time.perf_counter()
    overlaps, act_n, act_amt = _overlap(in_force, elig_batch)
    t_over = time.perf_counter()

    rows = _rows(batch, out, cp, amount, rank, funded, elig_idx, act_n, act_amt)
    labels = {by: dimension_labels(by, settings.catalog_dir) for by in DIMENSIONS}
    reach = {by: _cells(rows, by, labels[by], amount is not None, funded is not None) for by in DIMENSIONS
             if _dim_column(by) in rows.column_names}
    near_by = []
    for k, c in enumerate(cp.clauses):
        sel = out.near_miss & (out.unmet == k)
        near_by.append({"clause": c.clause.id, "label_zh": c.clause.label_zh, "fail": int((sel & ~out.unmet_unknown).sum()),
                        "unknown": int((sel & out.unmet_unknown).sum())})
    t_end = time.perf_counter()
    return SandboxReport(
        p.policy_id, p.name_zh, p.version, draft.source, as_of, frame.profile_version, frame.tags_version,
        rel.release_id if rel else None, n_rows, int(out.eligible.sum()), int(out.near_miss.sum()), near_by, reach,
        cost, curves, diff, overlaps, int((act_n > 0).sum()),
        {"load_catalog": round(t_load - t0, 3), "read": round(t_read - t_load, 3),
         "evaluate": round(t_eval - t_read, 3), "cost": round(t_cost - t_eval, 3),
         "sensitivity": round(t_sens - t_cost, 3), "diff": round(t_diff - t_sens, 3),
         "overlap": round(t_over - t_diff, 3), "report": round(t_end - t_over, 3), "total": round(t_end - t0, 3)},
        notes, rows, labels)


def _cost(draft: Draft, batch, elig_idx, elig_batch, amount_node, rank_nodes, budget_wan):
    """(Cost or None, amount per row, funded per row or None, rank per row (-1: not ranked))."""
    p, n_rows, uscc = draft.policy, batch.num_rows, batch.column("uscc")
    cost, amount, funded, rank = None, None, None, np.full(n_rows, -1)
    if amount_node is not None:
        amount = np.full(n_rows, np.nan)
        amount[elig_idx] = _amounts(elig_batch, amount_node)
    order = _rank(elig_batch, elig_batch.column("uscc"), None if amount is None else amount[elig_idx],
                  rank_nodes, draft.ranking.order)
    rank[elig_idx[order]] = np.arange(1, len(order) + 1)
    if amount is None:
        return cost, amount, funded, rank
    ea = amount[elig_idx]
    cost = Cost(p.funding.get("standard_zh", ""), str(p.funding.get("cap_wan")), round(float(np.nansum(ea)), 4),
                int(np.isnan(ea).sum()), draft.ranking.label())
    if budget_wan is not None:
        f_e, stop, paid = _budget(order, ea, budget_wan)
        funded = np.zeros(n_rows, bool)
        funded[elig_idx] = f_e
        cost.budget_wan, cost.funded, cost.funded_wan = budget_wan, int(f_e.sum()), round(paid, 4)
        cost.passed_unknown = int(np.isnan(ea[order[:len(order) if stop is None else stop]]).sum())
        if stop is not None:
            i = int(elig_idx[order[stop]])
            cost.cutoff = {"uscc": uscc[i].as_py(), "rank": stop + 1, "amount_wan": round(float(amount[i]), 4),
                           "remaining_wan": round(budget_wan - paid, 4)}
    return cost, amount, funded, rank


def _curves(cp: CompiledPolicy, draft: Draft, batch, statuses, amount_node, budget_wan, points, spread) -> list[Curve]:
    """One curve per numeric parameter; at each point only the clauses and the amount formula
    whose checked tree the parameter changes are evaluated again, over the columns in memory."""
    ok, unk = statuses
    types = {k: v.type for k, v in cp.fields.items()}
    base_sql = [c.sql for c in cp.clauses]
    base_amount_sql = E.to_sql(amount_node) if amount_node is not None else None
    curves = []
    for name, value in cp.policy.params_on(cp.as_of).items():
        grid, note = _grid(value, points, spread)
        if not grid:
            if note:
                curves.append(Curve(name, value, [], [], False, note))
            continue
        probe = _varied(cp, name, grid[0] if grid[0] != value else grid[-1])
        pnode = _amount_node(probe)
        curve = Curve(name, value, [], [c.clause.id for c, q in zip(cp.clauses, probe.clauses) if q.sql != c.sql],
                      pnode is not None and E.to_sql(pnode) != base_amount_sql, note)
        for v in grid:
            vp = _varied(cp, name, v)
            ok2, unk2 = ok.copy(), unk.copy()
            changed = [k for k, c in enumerate(vp.clauses) if c.sql != base_sql[k]]
            if changed:
                ok2[changed], unk2[changed] = _statuses(batch, [vp.clauses[k].rule.node for k in changed])
            o2 = _outcome(ok2, unk2)
            total = funded_n = funded_wan = None
            if amount_node is not None:
                sub = batch.take(pa.array(np.nonzero(o2.eligible)[0]))
                a = _amounts(sub, _amount_node(vp))
                total = round(float(np.nansum(a)), 4)
                if budget_wan is not None:
                    ranks = [E.parse(t, {**types, AMOUNT: "double"}, vp.policy.params_on(cp.as_of), want=E.NUM).node
                             for t in draft.ranking.by]
                    f_e, _, paid = _budget(_rank(sub, sub.column("uscc"), a, ranks, draft.ranking.order), a, budget_wan)
                    funded_n, funded_wan = int(f_e.sum()), round(paid, 4)
            curve.points.append(Point(v, int(o2.eligible.sum()), int(o2.near_miss.sum()), total, funded_n, funded_wan))
        curves.append(curve)
    return curves


def _diff(batch, out: _Outcome, base_cp: CompiledPolicy | None, label: str, note: str) -> Diff:
    """Who enters and who leaves the eligible set against `base_cp` (None: nothing to compare
    with, every eligible enterprise enters)."""
    uscc = batch.column("uscc")
    if base_cp is None:
        return Diff(label, None, sorted(pc.filter(uscc, pa.array(out.eligible)).to_pylist()), [], 0, 0, note)
    bo = _outcome(*_policy_statuses(batch, [base_cp])[0])
    entered = pc.filter(uscc, pa.array(out.eligible & ~bo.eligible)).to_pylist()
    left = pc.filter(uscc, pa.array(bo.eligible & ~out.eligible)).to_pylist()
    return Diff(label, base_cp.policy.version, sorted(entered), sorted(left), int(bo.eligible.sum()),
                int(bo.near_miss.sum()), note)


def _overlap(in_force: list[CompiledPolicy], elig_batch) -> tuple[list[Overlap], np.ndarray, np.ndarray]:
    """Per policy in force: the draft-eligible enterprises it also finds eligible, and its amount
    for them; per such enterprise: how many policies, and their total amount."""
    overlaps, act_n, act_amt = [], np.zeros(elig_batch.num_rows, np.int32), np.zeros(elig_batch.num_rows)
    for other, (o_ok, o_unk) in zip(in_force, _policy_statuses(elig_batch, in_force)):
        m = _outcome(o_ok, o_unk, bool(other.policy.manual_clauses)).eligible
        if not m.any():
            continue
        act_n += m
        a = _amounts(elig_batch.filter(pa.array(m)), _amount_node(other))
        if a is not None:
            act_amt[np.nonzero(m)[0]] += np.nan_to_num(a)
        overlaps.append(Overlap(other.policy.policy_id, other.policy.name_zh, other.policy.version, int(m.sum()),
                                None if a is None else round(float(np.nansum(a)), 4),
                                0 if a is None else int(np.isnan(a).sum())))
    overlaps.sort(key=lambda o: (-o.enterprises, o.policy_id))
    return overlaps, act_n, act_amt


def _walk(nodes):
    for n in nodes:
        yield n
        for v in vars(n).values():
            if isinstance(v, E.Node):
                yield from _walk([v])
            elif isinstance(v, tuple):
                yield from _walk([i for i in v if isinstance(i, E.Node)])


def _rows(batch, out: _Outcome, cp: CompiledPolicy, amount, rank, funded, elig_idx, act_n, act_amt) -> pa.Table:
    keep = np.nonzero(out.eligible | out.near_miss)[0]
    take = pa.array(keep)
    ids = np.array([c.clause.id for c in cp.clauses] + [None], dtype=object)
    unmet = out.unmet[keep]
    pos = np.full(len(out.eligible), -1)
    pos[elig_idx] = np.arange(len(elig_idx))
    p = pos[keep]
    has = p >= 0
    cols = {"uscc": batch.column("uscc").take(take)}
    for c in ("ent_name", "street_code", "industry", "enterprise_size"):
        if c in batch.schema.names:
            cols[c] = batch.column(c).take(take)
    cols["status"] = pa.array(np.where(out.eligible[keep], "eligible", "near_miss").astype(object), pa.string())
    cols["unmet_clause"] = pa.array(ids[unmet], pa.string())
    cols["unmet_status"] = pa.array(np.where(unmet >= 0, np.where(out.unmet_unknown[keep], "unknown", "fail"), None)
                                    .astype(object), pa.string())
    a = np.full(len(keep), np.nan) if amount is None else amount[keep]
    cols["amount_wan"] = pa.array(a, pa.float64(), mask=np.isnan(a))
    r = rank[keep]
    cols["rank"] = pa.array(r, pa.int64(), mask=r < 0)
    cols["funded"] = pa.array(funded[keep] if funded is not None else np.zeros(len(keep), bool),
                              pa.bool_(), mask=None if funded is not None else np.ones(len(keep), bool))
    cols["active_matches"] = pa.array(np.where(has, act_n[np.maximum(p, 0)] if len(act_n) else 0, 0), pa.int32())
    aa = np.where(has, act_amt[np.maximum(p, 0)] if len(act_amt) else 0.0, 0.0)
    cols["active_amount_wan"] = pa.array(aa, pa.float64())
    return pa.table(cols)


def _cells(rows: pa.Table, by: str, labels: dict[str, str], with_amount: bool, with_budget: bool) -> list[Cell]:
    col = _dim_column(by)
    t = pa.table({
        "key": pc.fill_null(rows.column(col), UNKNOWN_CELL),
        "e": pc.cast(pc.equal(rows.column("status"), "eligible"), pa.int64()),
        "m": pc.cast(pc.equal(rows.column("status"), "near_miss"), pa.int64()),
        "a": pc.fill_null(rows.column("amount_wan"), 0.0),
        "f": pc.cast(pc.fill_null(rows.column("funded"), False), pa.int64()),
    })
    g = t.group_by("key").aggregate([("e", "sum"), ("m", "sum"), ("a", "sum"), ("f", "sum")]).to_pylist()
    cells = [Cell(r["key"], labels.get(r["key"], r["key"]), int(r["e_sum"]), int(r["m_sum"]),
                  round(float(r["a_sum"]), 4) if with_amount else None, int(r["f_sum"]) if with_budget else None)
             for r in g]
    cells.sort(key=lambda c: (-c.eligible, -c.near_miss, c.key))
    return cells


# -- human output (中文 + ids) ---------------------------------------------------------------------
def _wan(v: float | None) -> str:
    return "—" if v is None else f"{v:,.2f} 万元"


def render_zh(r: SandboxReport, *, by: list[str] | None = None, list_limit: int = 10) -> str:
    """The report as an officer reads it in a terminal."""
    L = [f"政策沙盘推演 policy sandbox：{r.policy_id} v{r.version}「{r.name_zh}」（{r.source}）",
         f"基准日 as_of {r.as_of} · 画像 {PROFILE} v{r.profile_version}"
         + (f" · 标签 {TAGS} v{r.tags_version}" if r.tags_version is not None else "")
         + (f" · 发布版本 release {r.release_id}" if r.release_id else "") + f" · 企业 {r.enterprises_evaluated:,} 家",
         "", f"覆盖 reach：符合 eligible {r.eligible:,} 家 · 仅差一项 near-miss {r.near_miss:,} 家"]
    for c in r.near_miss_by_clause:
        if c["fail"] or c["unknown"]:
            L.append(f"  仅差「{c['label_zh']}」({c['clause']})：不符合 {c['fail']:,} · 数据缺失 {c['unknown']:,}")
    for dim in by or list(r.reach):
        cells = r.reach.get(dim)
        if not cells:
            continue
        L.append(f"按{DIMENSIONS[dim][1]} by {dim}：")
        for c in cells:
            name = c.key if c.label == c.key else f"{c.key} {c.label}"
            extra = "" if c.amount_wan is None else f"  资助 {_wan(c.amount_wan)}"
            extra += "" if c.funded is None else f"  预算内 {c.funded:,} 家"
            L.append(f"  {name:<24} 符合 {c.eligible:>8,}  仅差一项 {c.near_miss:>8,}{extra}")
    L.append("")
    if r.cost is None:
        L.append("资金 cost：草案无资助金额公式 (no funding.cap_wan)")
    else:
        c = r.cost
        L.append(f"资金 cost：{c.standard_zh}（cap_wan = {c.formula}）")
        L.append(f"  符合企业资助合计 total {_wan(c.total_wan)}" + (f"（{c.amount_unknown:,} 家数据缺失，金额无法计算）" if c.amount_unknown else ""))
        if c.budget_wan is not None:
            L.append(f"  预算 budget {_wan(c.budget_wan)}，按排序 ranking「{c.ranking}」：资助 {c.funded:,} 家，合计 {_wan(c.funded_wan)}"
                     + (f"（其间 {c.passed_unknown:,} 家金额无法计算，未资助）" if c.passed_unknown else ""))
            if c.cutoff:
                L.append(f"  预算截止于第 {c.cutoff['rank']:,} 名 {c.cutoff['uscc']}（需 {_wan(c.cutoff['amount_wan'])}，"
                         f"余 {_wan(c.cutoff['remaining_wan'])}）")
            else:
                L.append("  预算未用尽：全部可计算金额的符合企业均获资助")
    L.append("")
    if r.sensitivity:
        L.append("敏感性 sensitivity（参数 → 符合 / 仅差一项 / 资助合计" + (" / 预算内" if r.cost and r.cost.budget_wan else "") + "）：")
    for cv in r.sensitivity:
        what = "、".join(cv.clauses + (["资助公式 funding"] if cv.in_amount else []))
        L.append(f"  {cv.param}（现值 {cv.base_value}；影响 {what or '无'}）{cv.note}")
        for pt in cv.points:
            tail = "" if pt.total_wan is None else f"  {_wan(pt.total_wan)}"
            tail += "" if pt.funded is None else f"  预算内 {pt.funded:,}"
            L.append(f"    {str(pt.value):<22} {pt.eligible:>9,} {pt.near_miss:>9,}{tail}")
    if r.diff is not None:
        d = r.diff
        L += ["", f"变化 diff（对比 {d.against}" + (f" v{d.against_version}" if d.against_version is not None else "") + "）："
              + f"新进入 entered {len(d.entered):,} 家 · 退出 left {len(d.left):,} 家" + (f"（{d.note}）" if d.note else "")]
        if d.against_version is not None:
            L.append(f"  对比版本：符合 {d.eligible_before:,} → {r.eligible:,}，仅差一项 {d.near_miss_before:,} → {r.near_miss:,}")
        for name, xs in (("新进入", d.entered), ("退出", d.left)):
            if xs:
                L.append(f"  {name}（前 {min(list_limit, len(xs))} 家）：" + "、".join(xs[:list_limit]))
    L += ["", f"与现行政策重叠 overlap：符合本草案的 {r.eligible:,} 家中 {r.overlap_any:,} 家已符合至少一项现行政策"]
    for o in r.overlap:
        L.append(f"  {o.policy_id:<32} {o.name_zh}：{o.enterprises:,} 家" + ("" if o.amount_wan is None else f"，资助 {_wan(o.amount_wan)}"))
    L.append("")
    L += [f"说明 note：{n}" for n in r.notes]
    L.append("用时 seconds：" + "，".join(f"{k} {v}" for k, v in r.seconds.items()))
    return "\n".join(L)


def render_list_zh(rows: list[dict], title: str) -> str:
    L = [f"{title}：{len(rows):,} 家", "  排名 rank  uscc                 企业名称 / 状态 / 未满足条件 / 资助"]
    for x in rows:
        if x["status"] == "eligible":
            status = "符合"
        elif x["status"] == "near_miss":
            status = f"仅差「{x['unmet_clause']}」（{'数据缺失' if x['unmet_status'] == 'unknown' else '不符合'}）"
        else:
            status = "不符合（差两项及以上）"
        funded = "" if x.get("funded") is None else ("  预算内" if x["funded"] else ("  预算外" if x["status"] == "eligible" else ""))
        L.append(f"  {x['rank'] if x['rank'] is not None else '-':>9}  {x['uscc']}  {x.get('ent_name') or ''}  {status}"
                 f"  {_wan(x['amount_wan']) if x['amount_wan'] is not None else ''}{funded}")
    return "\n".join(L)
