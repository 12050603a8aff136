"""Online evaluation: all policies for one enterprise, without Spark.

The profile comes from a cached Arrow snapshot of gold.enterprise_profile (only the columns the
policies read, indexed by uscc) and the tags from gold.enterprise_tags; both are read once per
table version through the lakehouse (delta-rs) and kept in memory.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from pathlib import Path

from govlake.catalog.policies import Policy, load_policies
from govlake.policy.compile import CompiledPolicy, PolicyResult, compile_policies
from govlake.policy.fields import FieldInfo, field_catalog

PROFILE, TAGS = "gold.enterprise_profile", "gold.enterprise_tags"


class ProfileSnapshot:
    """uscc -> profile row (policy fields only) and uscc -> tag set, at fixed table versions."""

    def __init__(self, table, tags: dict[str, frozenset], versions: dict[str, int | None]):
        self.table = table
        self.versions = versions
        self._index = {u: i for i, u in enumerate(table.column("uscc").to_pylist())}
        self._cols = [c for c in table.column_names]
        self._tags = tags

    @classmethod
    def from_lake(cls, lake, columns: list[str], *, profile_version: int | None = None,
                  tags_version: int | None = None) -> "ProfileSnapshot":
        cols = sorted(set(columns) | {"uscc"})
        pv = lake.version(PROFILE) if profile_version is None else profile_version
        full = lake.to_arrow(PROFILE, version=pv)
        missing = [c for c in cols if c not in full.column_names]
        if missing:
            raise KeyError(f"{PROFILE} v{pv} lacks policy field(s) {missing}")
        table = full.select(cols).combine_chunks()
        tags: dict[str, set] = {}
        tv = None
        if lake.exists(TAGS):
            tv = lake.version(TAGS) if tags_version is None else tags_version
            t = lake.to_arrow(TAGS, version=tv).select(["uscc", "tag_id"])
            for u, tag in zip(t.column("uscc").to_pylist(), t.column("tag_id").to_pylist()):
                tags.setdefault(u, set()).add(tag)
        return cls(table, {u: frozenset(s) for u, s in tags.items()}, {PROFILE: pv, TAGS: tv})

    def __contains__(self, uscc: str) -> bool:
        return uscc in self._index

    def row(self, uscc: str) -> dict | None:
        i = self._index.get(uscc)
        if i is None:
            return None
        return {c: self.table.column(c)[i].as_py() for c in self._cols}

    def tags(self, uscc: str) -> frozenset:
        return self._tags.get(uscc, frozenset())


class PolicyEngine:
    """Policies + field catalog + (lazily) a profile snapshot, shared by API requests."""

    def __init__(self, policies: list[Policy], fields: dict[str, FieldInfo], lake=None):
        self.policies, self.fields, self.lake = policies, fields, lake
        self._snap: ProfileSnapshot | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_catalog(cls, catalog_dir: Path, lake=None) -> "PolicyEngine":
        fields = field_catalog(catalog_dir)
        return cls(load_policies(catalog_dir, {k: v.type for k, v in fields.items()}), fields, lake)

    def compiled(self, as_of: dt.date) -> list[CompiledPolicy]:
        return compile_policies(self.policies, as_of, self.fields)

    def snapshot(self, refresh: bool = False) -> ProfileSnapshot:
        with self._lock:
            if self._snap is None or refresh or (
                    self.lake is not None and self._snap.versions[PROFILE] != self.lake.version(PROFILE)):
                cols = sorted({f for p in self.policies for f in _fields_of(self, p)})
                self._snap = ProfileSnapshot.from_lake(self.lake, cols)
                # The snapshot lives until the next table version: keep the cyclic GC from
                # rescanning its ~1M index objects in a full collection during a request.
                gc.collect()
                gc.freeze()
            return self._snap

    def evaluate(self, enterprise: str | dict, as_of: dt.date | None = None,
                 tags: set[str] | None = None) -> list[PolicyResult]:
        return evaluate_enterprise(enterprise, self.compiled(as_of or dt.date.today()),
                                   snapshot=None if isinstance(enterprise, dict) else self.snapshot(), tags=tags)


def _fields_of(engine: PolicyEngine, p: Policy) -> list[str]:
    cps = compile_policies([p], p.effective_from, engine.fields)
    return cps[0].fields_read if cps else []


def evaluate_enterprise(enterprise: str | dict, policies: list[CompiledPolicy], *,
                        snapshot: ProfileSnapshot | None = None, tags: set[str] | None = None) -> list[PolicyResult]:
    """All compiled policies for one enterprise: a uscc (looked up in `snapshot`) or a profile dict.

    Missing fields count as null (数据缺失). Raises KeyError for an unknown uscc."""
    if isinstance(enterprise, dict):
        row = enterprise
        tag_set = frozenset(tags or enterprise.get("_tags") or ())
    else:
        if snapshot is None:
            raise ValueError("evaluate_enterprise(uscc) needs a ProfileSnapshot")
        row = snapshot.row(enterprise)
        if row is None:
            raise KeyError(f"enterprise {enterprise} is not in {PROFILE} (企业不在画像库中)")
        tag_set = snapshot.tags(enterprise) if tags is None else frozenset(tags)
    return policy_set(policies).evaluate(row, tag_set)


class PolicySet:
    """Compiled policies evaluated together: each distinct clause expression once per enterprise
    (342 synthetic policies have 1,762 clauses but 673 distinct ones: shared gates such as
    注册地在本区, and variants sharing thresholds)."""

    def __init__(self, policies: list[CompiledPolicy]):
        self.policies = policies
        slot: dict[str, int] = {}
        for cp in policies:
            for c in cp.clauses:
                slot.setdefault(c.sql, len(slot))
        fns = {c.sql: c.fn for cp in policies for c in cp.clauses}
        self._fns = [fns[sql] for sql in slot]
        self._slots = [[slot[c.sql] for c in cp.clauses] for cp in policies]

    def evaluate(self, row: dict, tags) -> list[PolicyResult]:
        vals = [fn(row, tags) for fn in self._fns]
        return [cp.result(row, tags, [vals[k] for k in ks]) for cp, ks in zip(self.policies, self._slots)]


_SETS: dict[tuple, PolicySet] = {}


def policy_set(policies: list[CompiledPolicy]) -> PolicySet:
    """The PolicySet of these compiled policies, kept (compiled policies are themselves cached)."""
    key = tuple(map(id, policies))
    ps = _SETS.get(key)
    if ps is None or ps.policies != policies:
        if len(_SETS) > 64:
            _SETS.clear()
        ps = _SETS[key] = PolicySet(list(policies))
    return ps
