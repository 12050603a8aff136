"""gold.policy_matches, the data product, built on read: the one way every reader (push, 秒批
intake, the API, tests) gets wide match rows.

Stored (govlake.policy.plan): gold.policy_match_keys (segment, uscc, keys int array) and
gold.policy_match_outcomes (segment, k -> policy version, eligible/near_miss, clause_results,
missing, explanation prefix, policy definition, the profile/tags versions matched and the keys
table version the outcomes belong to). A wide row is one (keys row, key) joined with its outcome
row; its explanation is the stored prefix, plus, for a near miss, the unmet clause's detail with
the enterprise's values, formatted in Python by `CompiledPolicy.unmet_detail` (the code the online
evaluator uses) from the profile at the version the match run read (Delta time travel).

Consistency: the outcomes table is committed after the keys table and names the keys version it
belongs to, so a reader sees either the old run or the new one; readers take the outcomes version
of the current release (govlake.release), so a run is served once its release is recorded. Keys of an older segment whose
outcome rows were replaced by a later partial run (a changed policy) have no outcome row and are
not visible.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govlake.catalog.policies import parse_policy
from govlake.policy.compile import UNKNOWN, CompiledPolicy, compile_policies
from govlake.policy.fields import FieldInfo
from govlake.policy.plan import key_bucket

KEYS, OUTCOMES, MATCHES = "gold.policy_match_keys", "gold.policy_match_outcomes", "gold.policy_matches"
PROFILE, TAGS = "gold.enterprise_profile", "gold.enterprise_tags"
WIDE_COLUMNS = ["policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "uscc", "as_of",
                "eligible", "near_miss", "n_failed", "clause_results", "missing", "explanation_zh"]
_DIM = ["policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "as_of",
        "eligible", "near_miss", "n_failed", "clause_results", "missing"]

# (profile_version, tags_version, usccs, fields, with_tags) -> {uscc: (row dict, tag set)}
ProfileLookup = Callable[[int | None, int | None, list[str], list[str], bool], dict]


@dataclass
class Pairs:
    """Kept (enterprise, policy) pairs as positions: row in the keys table, row in the outcomes."""

    key_row: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.outcome)

    def slice(self, offset: int, limit: int | None) -> "Pairs":
        end = None if limit is None else offset + limit
        return Pairs(self.key_row[offset:end], self.outcome[offset:end])


class MatchView:
    def __init__(self, keys: pa.Table, outcomes: pa.Table, lookup: ProfileLookup,
                 version: int | None = None):
        self.keys = keys.combine_chunks()
        self.outcomes = outcomes.combine_chunks()
        self.lookup = lookup
        self.version = version  # outcomes table version (the product's version)
        # profile fields the reader may not see: an unmet clause reading one is explained without values
        self.hidden_fields: frozenset[str] = frozenset()
        self._compiled: dict[tuple, CompiledPolicy] = {}

    # -- positions ------------------------------------------------------------------------
    def pairs(self, *, uscc: str | None = None, policy_ids: list[str] | None = None,
              eligible: bool | None = None, as_of: dt.date | None = None,
              policy_version: int | None = None) -> Pairs:
        """Every visible pair (filters optional), ordered by keys row then policy."""
        keys, out = self.keys, self.outcomes
        if not keys.num_rows or not out.num_rows:
            return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
        lists = keys.column("keys").combine_chunks()
        parent = pc.list_parent_indices(lists).to_numpy()
        flat = pc.list_flatten(lists).to_numpy().astype(np.int64)
        segs = sorted(set(out.column("segment").to_pylist()))
        seg_of = {s: i for i, s in enumerate(segs)}
        max_k = max(int(pc.max(out.column("k")).as_py()), int(flat.max(initial=0)))
        lut = np.full((len(segs) + 1, max_k + 1), -1, dtype=np.int64)  # last row: unknown segment
        o_seg = np.array([seg_of[s] for s in out.column("segment").to_pylist()], dtype=np.int64)
        o_ok = np.ones(out.num_rows, dtype=bool)
        if policy_ids is not None:
            o_ok &= pc.is_in(out.column("policy_id"), value_set=pa.array(list(policy_ids), pa.string())).to_numpy(zero_copy_only=False)
        if eligible is not None:
            o_ok &= out.column("eligible").to_numpy(zero_copy_only=False) == eligible
        if policy_version is not None:
            o_ok &= out.column("policy_version").to_numpy(zero_copy_only=False) == policy_version
        if as_of is not None:
            o_ok &= pc.equal(out.column("as_of"), pa.scalar(as_of, pa.date32())).to_numpy(zero_copy_only=False)
        rows = np.nonzero(o_ok)[0]
        lut[o_seg[rows], out.column("k").to_numpy()[rows]] = rows
        k_seg = np.array([seg_of.get(s, len(segs)) for s in keys.column("segment").to_pylist()], dtype=np.int64)
        if uscc is not None:
            hit = np.nonzero(pc.equal(keys.column("uscc"), uscc).to_numpy(zero_copy_only=False))[0]
            sel = np.isin(parent, hit)
            parent, flat = parent[sel], flat[sel]
        idx = lut[k_seg[parent], flat]
        vis = idx >= 0
        return Pairs(parent[vis], idx[vis])

    # -- wide rows ----------------------------------------------------------------------------
    def table(self, pairs: Pairs) -> pa.Table:
        """The wide columns of `pairs` (explanation included)."""
        cols = {c: self.outcomes.column(c).take(pa.array(pairs.outcome)) for c in _DIM}
        cols["uscc"] = self.keys.column("uscc").take(pa.array(pairs.key_row))
        cols["explanation_zh"] = self.explanations(pairs)
        return pa.table({c: cols[c] for c in WIDE_COLUMNS})

    def rows(self, pairs: Pairs | None = None, **filters) -> list[dict]:
        out = self.table(self.pairs(**filters) if pairs is None else pairs).to_pylist()
        for r in out:  # Arrow gives a map as (key, value) pairs
            r["clause_results"] = dict(r["clause_results"])
        return out

    @classmethod
    def in_memory(cls, keys: list[tuple[str, list[int]]], compiled: list[CompiledPolicy], as_of: dt.date,
                  profiles: dict[str, tuple[dict, frozenset]]) -> "MatchView":
        """A view over keys computed elsewhere (tests, inspection): outcomes built here, profile
        values from a dict uscc -> (row, tags)."""
        from govlake.policy.plan import outcome_rows, outcome_width

        rows = outcome_rows(compiled, outcome_width(compiled), as_of)
        names = ["k", "policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "as_of", "eligible",
                 "near_miss", "n_failed", "clause_results", "missing", "unmet_clause", "unmet_status",
                 "explanation_prefix", "policy_def"]
        cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        cols["clause_results"] = pa.array([list(d.items()) for d in cols["clause_results"]], pa.map_(pa.string(), pa.string()))
        cols["missing"] = pa.array(cols["missing"], pa.list_(pa.string()))
        n = len(rows)
        out = pa.table({"segment": ["local"] * n, **cols, "profile_version": pa.nulls(n, pa.int64()),
                        "tags_version": pa.nulls(n, pa.int64()), "keys_version": [0] * n})
        kt = pa.table({"segment": ["local"] * len(keys), "uscc": [u for u, _ in keys],
                       "keys": pa.array([list(k) for _, k in keys], pa.list_(pa.int32()))})
        return cls(kt, out, lambda pv, tv, usccs, fields, with_tags: {u: profiles[u] for u in usccs if u in profiles})

    def explanations(self, pairs: Pairs):
        """explanation_zh of each pair: the stored prefix (vectorised); for a near miss plus the
        unmet clause's detail, formatted from the profile row of the version the run matched."""
        out = self.outcomes
        texts = out.column("explanation_prefix").take(pa.array(pairs.outcome))
        unmet_rows = out.column("unmet_clause").is_valid().to_numpy(zero_copy_only=False)
        pos_all = np.nonzero(unmet_rows[pairs.outcome])[0] if len(pairs) else np.zeros(0, np.int64)
        if not len(pos_all):
            return texts
        texts = texts.to_pylist()
        unmet = out.column("unmet_clause").to_pylist()
        status = out.column("unmet_status").to_pylist()
        pv, tv = out.column("profile_version").to_pylist(), out.column("tags_version").to_pylist()
        usccs = self.keys.column("uscc").take(pa.array(pairs.key_row[pos_all])).to_pylist()
        need: dict[tuple, list[tuple[int, int, str]]] = {}  # (profile_version, tags_version) -> (position, outcome, uscc)
        for i, o, u in zip(pos_all.tolist(), pairs.outcome[pos_all].tolist(), usccs):
            need.setdefault((pv[o], tv[o]), []).append((i, o, u))
        for (p_ver, t_ver), items in need.items():
            cps = {o: self.compiled(o) for o in {o for _, o, _ in items}}
            fields = sorted({f for cp in cps.values() for f in cp.fields_read})
            with_tags = any(cp.tags_read for cp in cps.values())
            values = self.lookup(p_ver, t_ver, sorted({u for _, _, u in items}), fields, with_tags)
            clause = {o: next(c for c in cp.clauses if c.clause.id == unmet[o]) for o, cp in cps.items()}
            for i, o, u in items:
                if self.hidden_fields.intersection(clause[o].fields_read):
                    texts[i] += "（涉及脱敏字段，取值不予显示）"
                    continue
                row, tags = values.get(u, ({}, frozenset()))
                texts[i] += cps[o].unmet_detail(clause[o], row, tags, None if status[o] == UNKNOWN else False)
        return pa.array(texts, pa.string())

    def compiled(self, o: int) -> CompiledPolicy:
        """The policy as it was matched (definition and field labels stored with the outcome)."""
        raw = self.outcomes.column("policy_def")[o].as_py()
        as_of = self.outcomes.column("as_of")[o].as_py()
        key = (raw, as_of)
        if key not in self._compiled:
            d = json.loads(raw)
            fields = {f: FieldInfo(f, t, label) for f, (t, label) in d["fields"].items()}
            self._compiled[key] = compile_policies([parse_policy(d["policy"])], as_of, _interned(fields))[0]
        return self._compiled[key]


_FIELD_SETS: dict[str, dict] = {}


def _interned(fields: dict[str, FieldInfo]) -> dict[str, FieldInfo]:
    """One dict per distinct field set (compile_policies caches per id(fields))."""
    key = json.dumps(sorted((f.id, f.type, f.label) for f in fields.values()), ensure_ascii=False)
    return _FIELD_SETS.setdefault(key, fields)


# -- from the lake ----------------------------------------------------------------------------
def lake_lookup(lake) -> ProfileLookup:
    """Profile rows (and tags) of some enterprises at a table version, through delta-rs."""
    def lookup(profile_version, tags_version, usccs, fields, with_tags):
        flt = {"uscc": pa.array(usccs, pa.string())}
        prof = lake.to_arrow(PROFILE, profile_version, columns=["uscc", *fields], where=flt)
        rows = {r["uscc"]: r for r in prof.to_pylist()}
        tags: dict[str, set] = {}
        if with_tags and tags_version is not None:
            for r in lake.to_arrow(TAGS, tags_version, columns=["uscc", "tag_id"], where=flt).to_pylist():
                tags.setdefault(r["uscc"], set()).add(r["tag_id"])
        return {u: (r, frozenset(tags.get(u, ()))) for u, r in rows.items()}
    return lookup


_OUTCOMES_CACHE: dict[tuple, pa.Table] = {}


def open_view(lake, *, version: int | None = None, uscc: str | None = None) -> MatchView | None:
    """The matches view at an outcomes table version (default: the current release's, see
    govlake.release; latest before the first release); None before the first run.
    uscc: read only that enterprise's keys (filter pushed into the Parquet scan)."""
    import pyarrow.dataset as pads

    from govlake.lakehouse import storage

    from govlake import release

    if not lake.exists(OUTCOMES) or not lake.exists(KEYS):
        return None
    if version is None:
        version = release.version_of(lake, OUTCOMES)
    odt = storage.delta_table(lake.path(OUTCOMES), version)
    ckey = (str(lake.path(OUTCOMES)), odt.version())
    outcomes = _OUTCOMES_CACHE.get(ckey)
    if outcomes is None:  # small (rows per policy outcome) and immutable per version: kept per process
        if len(_OUTCOMES_CACHE) >= 8:
            _OUTCOMES_CACHE.clear()
        outcomes = _OUTCOMES_CACHE[ckey] = odt.to_pyarrow_table().combine_chunks()
    kv = outcomes.column("keys_version").to_pylist()
    keys_version = max(kv) if kv else None
    kds = storage.delta_table(lake.path(KEYS), keys_version).to_pyarrow_dataset()
    flt = None if uscc is None else (pads.field("bucket") == key_bucket(uscc)) & (pads.field("uscc") == uscc)
    keys = kds.to_table(columns=["segment", "uscc", "keys"], filter=flt)
    return MatchView(keys, outcomes, lake_lookup(lake), version=odt.version())


def read_matches(lake, *, uscc: str | None = None, policy_ids: list[str] | None = None,
                 eligible: bool | None = None, as_of: dt.date | None = None, policy_version: int | None = None,
                 offset: int = 0, limit: int | None = None, version: int | None = None,
                 hidden_fields: frozenset[str] = frozenset()) -> dict:
    """Wide gold.policy_matches rows: {"version", "total", "rows"} (explanations built for the
    returned page only, without the values of `hidden_fields`)."""
    view = open_view(lake, version=version, uscc=uscc)
    if view is None:
        return {"version": None, "total": 0, "rows": []}
    view.hidden_fields = frozenset(hidden_fields)
    pairs = view.pairs(uscc=uscc, policy_ids=policy_ids, eligible=eligible, as_of=as_of, policy_version=policy_version)
    return {"version": view.version, "total": len(pairs), "rows": view.rows(pairs.slice(offset, limit))}


def product_view(settings, filters: dict[str, str], *, limit: int = 100, offset: int = 0,
                 version: int | None = None, hidden_fields: frozenset[str] = frozenset()) -> dict:
    """The data product's read for the API (catalog/products.yaml `view:`): filters on the key
    columns policy_id, policy_version, uscc, as_of (strings from the query)."""
    from govlake.lakehouse import Lakehouse

    bad = set(filters) - {"policy_id", "policy_version", "uscc", "as_of"}
    if bad:
        raise ValueError(f"{MATCHES} can be filtered on policy_id, policy_version, uscc, as_of; not {sorted(bad)}")
    try:
        pver = int(filters["policy_version"]) if "policy_version" in filters else None
        as_of = dt.date.fromisoformat(filters["as_of"]) if "as_of" in filters else None
    except ValueError as e:
        raise ValueError(f"bad filter value: {e}") from None
    return read_matches(Lakehouse(None, settings), uscc=filters.get("uscc"),
                        policy_ids=[filters["policy_id"]] if "policy_id" in filters else None,
                        policy_version=pver, as_of=as_of, offset=offset, limit=limit, version=version,
                        hidden_fields=hidden_fields)
