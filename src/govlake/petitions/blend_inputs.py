"""The catalog side of 智能分拨: what dispatch.blend() mixes with the text model.

From catalog/departments.yaml (权责清单 keywords per department, street offices by street code)
and catalog/dispatch.yaml (blend weights), plus the history prior the model carries (share of
tickets per department in its training window). The online route and the batch step both take
their signals from here, so the same ticket gets the same top-3 in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake import yamlio
from govlake.petitions.dispatch import BlendWeights, Department
from govlake.petitions.handling_roles import STREET_OFFICE, CoHandling, SharedMatter

DISPATCH_FILE = "dispatch.yaml"
DEFAULT_K = 3
DEFAULT_TRAIN_WINDOW_DAYS = 365


@dataclass(frozen=True)
class DispatchConfig:
    """catalog/dispatch.yaml (分拨配置)."""

    weights: BlendWeights
    k: int = DEFAULT_K
    train_window_days: int = DEFAULT_TRAIN_WINDOW_DAYS
    max_assisting: int = 2              # 主协办: assisting departments per ticket at most
    min_assist_probability: float = 0.1
    returns: dict | None = None         # 退单 / 快速裁决 rules (petitions.handling_events.ReturnRules)


def _mtime(p: Path) -> int:
    return p.stat().st_mtime_ns if p.is_file() else 0


def load_dispatch_config(catalog_dir: str | Path) -> DispatchConfig:
    p = Path(catalog_dir) / DISPATCH_FILE
    return _config(str(p), _mtime(p))


@lru_cache(maxsize=4)
def _config(path: str, _mtime_ns: int) -> DispatchConfig:
    if not _mtime_ns:
        return DispatchConfig(BlendWeights())
    doc = yamlio.safe_load(open(path, encoding="utf-8")) or {}
    w = doc.get("weights") or {}
    known = set(BlendWeights.__dataclass_fields__)
    bad = set(w) - known
    if bad:
        raise ValueError(f"{path}: unknown blend weights {sorted(bad)}; known: {sorted(known)}")
    if any(float(v) < 0 for v in w.values()):
        raise ValueError(f"{path}: blend weights must be >= 0, got {w}")
    co = doc.get("co_handling") or {}
    k = int(doc.get("k", DEFAULT_K))
    max_assisting = int(co.get("max_assisting", 2))
    if not 0 <= max_assisting < k:
        raise ValueError(f"{path}: co_handling.max_assisting must lie in [0, k) = [0, {k}), got {max_assisting}")
    return DispatchConfig(BlendWeights(**{k: float(v) for k, v in w.items()}), k=k,
                          train_window_days=int(doc.get("train_window_days", DEFAULT_TRAIN_WINDOW_DAYS)),
                          max_assisting=max_assisting,
                          min_assist_probability=float(co.get("min_probability", 0.1)),
                          returns=doc.get("returns"))


@lru_cache(maxsize=4)
def _catalog_signals(catalog_dir: str, _mtime_ns: int) -> dict:
    from govlake.catalog import load_departments
    from govlake.signals.address import address_tree

    depts = load_departments(Path(catalog_dir))
    departments = [Department(d.code, d.name, tuple(k for r in d.responsibilities for k in r.keywords))
                   for d in depts]
    street_names = {c.street_code: c.street_name for c in address_tree()}
    # 属地: the standard street name (西乡街道) -> that street's office; the address matcher
    # returns exactly these names, so a ticket is matched by its standard address, not by text.
    jurisdiction = {street_names[d.street_code]: d.code for d in depts
                    if d.kind == "街道" and d.street_code in street_names}
    return {"departments": departments, "jurisdiction": jurisdiction,
            "shared_matters": shared_matters(Path(catalog_dir), {d.code for d in depts}),
            "names": {d.code: d.name for d in depts}}


def shared_matters(catalog_dir: Path, codes: set[str]) -> tuple[SharedMatter, ...]:
    """共管事项: the responsibilities of catalog/departments.yaml with `shared_with` (department
    codes or 属地街道). The catalog loader keeps only matter and keywords, so this reads the key."""
    doc = yamlio.safe_load(open(catalog_dir / "departments.yaml", encoding="utf-8")) or {}
    out = []
    for d in doc.get("departments") or []:
        for r in d.get("responsibilities") or []:
            shared = tuple(r.get("shared_with") or ())
            if not shared:
                continue
            bad = [c for c in shared if c != STREET_OFFICE and c not in codes]
            if bad:
                raise ValueError(f"departments.yaml: {d['code']} matter {r.get('matter')!r} shared_with unknown "
                                 f"departments {bad} (共管部门不存在); use codes or {STREET_OFFICE}")
            out.append(SharedMatter(r["matter"], d["code"], tuple(r.get("keywords") or ()), shared))
    return tuple(out)


def blend_inputs(catalog_dir: str | Path, model=None) -> dict:
    """Keyword arguments for scoring.score_texts' signals: departments (with 权责清单 keywords),
    jurisdiction, weights, co_handling (主协办), and history_prior when the model carries label
    counts."""
    p = Path(catalog_dir) / "departments.yaml"
    out = dict(_catalog_signals(str(Path(catalog_dir)), _mtime(p)))
    cfg = load_dispatch_config(catalog_dir)
    out["weights"] = cfg.weights
    # 主协办: score_texts takes it out of the blend's arguments and gives each department its role
    out["co_handling"] = CoHandling(out.pop("shared_matters"), cfg.max_assisting, cfg.min_assist_probability,
                                    out.pop("names"))
    counts = (getattr(model, "meta", None) or {}).get("label_counts")
    if counts:
        out["history_prior"] = {str(k): float(v) for k, v in counts.items()}
    return out
