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

DISPATCH_FILE = "dispatch.yaml"
DEFAULT_K = 3
DEFAULT_TRAIN_WINDOW_DAYS = 365


@dataclass(frozen=True)
class DispatchConfig:
    """catalog/dispatch.yaml (分拨配置)."""

    weights: BlendWeights
    k: int = DEFAULT_K
    train_window_days: int = DEFAULT_TRAIN_WINDOW_DAYS


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
    return DispatchConfig(BlendWeights(**{k: float(v) for k, v in w.items()}),
                          k=int(doc.get("k", DEFAULT_K)),
                          train_window_days=int(doc.get("train_window_days", DEFAULT_TRAIN_WINDOW_DAYS)))


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
    return {"departments": departments, "jurisdiction": jurisdiction}


def blend_inputs(catalog_dir: str | Path, model=None) -> dict:
    """Keyword arguments for dispatch.blend(): departments (with 权责清单 keywords),
    jurisdiction, weights, and history_prior when the model carries label counts."""
    p = Path(catalog_dir) / "departments.yaml"
    out = dict(_catalog_signals(str(Path(catalog_dir)), _mtime(p)))
    out["weights"] = load_dispatch_config(catalog_dir).weights
    counts = (getattr(model, "meta", None) or {}).get("label_counts")
    if counts:
        out["history_prior"] = {str(k): float(v) for k, v in counts.items()}
    return out
