"""The pipeline's pre-credit step (预授信模型日常刷新): make sure a published model matches the
code's inputs and generator, then score the released profile once, so that
`GET /enterprises/{uscc}/pre-credit` and the sandbox's `precredit` model answer after `make run`.

Training reads generated loans (govlake.precredit.outcomes), not the lake: a new profile
release does not change what a model would learn. What does is the training recipe — the input
fields, the generator's constants, n and seed — so the step trains only when no published model
carries the recipe's fingerprint; a re-run (the same day or the next) trains nothing. Scoring
reads the released gold.enterprise_profile (delta-rs), checks that the release carries every
input field (a KeyError naming them otherwise: the route would answer 503), and records what it
saw in models/precredit/scored.json: model version, profile version, enterprises scored, how
many get a line, the nulls per input (the model's 缺失 bin)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from govlake.precredit import model as M
from govlake.precredit import outcomes
from govlake.precredit.features import FEATURE_IDS

PROFILE = "gold.enterprise_profile"
# the recipe `govlake precredit train` uses by default, measured in docs/precredit.md and ADR 0005
TRAIN_N, TRAIN_SEED = 20000, 7
SCORED = "scored.json"


def recipe(n: int = TRAIN_N, seed: int = TRAIN_SEED) -> dict:
    """What a trained model depends on: inputs, generator constants, n, seed."""
    return {"features": FEATURE_IDS, "n": n, "seed": seed, "intercept": outcomes.INTERCEPT,
            "true_terms": {k: list(v) for k, v in outcomes.TRUE_TERMS.items()},
            "interactions": outcomes.INTERACTIONS, "noise_sd": outcomes.NOISE_SD,
            "missing_penalty": outcomes.MISSING_PENALTY, "missing_leverage": outcomes.MISSING_LEVERAGE,
            "grade_effect": outcomes.GRADE_EFFECT, "split": M.SPLIT, "gbm_min_auc_gain": M.GBM_MIN_AUC_GAIN}


def fingerprint(n: int = TRAIN_N, seed: int = TRAIN_SEED) -> str:
    return hashlib.sha256(json.dumps(recipe(n, seed), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _published_fingerprint(settings) -> str | None:
    version = M.published_version(settings)
    meta = M.models_root(settings) / (version or "-") / M.META_FILE
    if version is None or not meta.is_file() or not (meta.parent / M.MODEL_FILE).is_file():
        return None
    return json.loads(meta.read_text(encoding="utf-8")).get("recipe_fingerprint")


def ensure_model(settings, n: int = TRAIN_N, seed: int = TRAIN_SEED) -> dict:
    """Train, save and publish unless the published model already has this recipe."""
    fp = fingerprint(n, seed)
    if _published_fingerprint(settings) == fp:
        return {"trained": False, "version": M.published_version(settings), "fingerprint": fp}
    t0 = time.perf_counter()
    m = M.train(n, seed, settings.catalog_dir)
    m.meta["recipe_fingerprint"] = fp
    out = M.save(m, settings)
    M.publish(settings, out.name)
    chosen = m.meta["holdout"]["metrics"][m.kind]
    return {"trained": True, "version": out.name, "fingerprint": fp, "kind": m.kind,
            "auc": round(chosen["auc"], 4), "ks": round(chosen["ks"], 4), "seconds": round(time.perf_counter() - t0, 1)}


def score_release(settings, lake=None, run=None) -> dict:
    """Score every enterprise of the released profile with the published model (in memory)."""
    from govlake import release
    from govlake.lakehouse import Lakehouse
    from govlake.lineage.emitter import DatasetRef
    from govlake.precredit.score import INPUT_COLUMNS, score

    lake = lake or Lakehouse(None, settings)
    if not lake.exists(PROFILE):
        raise FileNotFoundError(f"no {PROFILE} in the lake at {lake.path(PROFILE)}: run the transform step first "
                                "(画像表不存在)")
    version = release.version_of(lake, PROFILE)
    have = set(lake.arrow_schema(PROFILE, version).names)
    missing = [c for c in INPUT_COLUMNS if c not in have]
    if missing:
        raise KeyError(f"{PROFILE} v{version} lacks pre-credit input field(s) {missing} (画像缺少预授信所需字段)")
    t0 = time.perf_counter()
    table = lake.to_arrow(PROFILE, version, columns=INPUT_COLUMNS)
    if run is not None:
        run.add_input(DatasetRef(PROFILE, version=version, rows=table.num_rows))
    m = M.load(settings)
    out = score(table, settings, m)
    high = out.column("credit_high_wan").to_numpy(zero_copy_only=False)
    pd_ = out.column("pd").to_numpy(zero_copy_only=False)
    summary = {"model_version": m.meta.get("version"), "model_kind": m.kind, "profile_version": version,
               "enterprises": out.num_rows, "with_line": int((high > 0).sum()),
               "median_high_wan": round(float(np.median(high[high > 0])), 1) if (high > 0).any() else None,
               "mean_pd": round(float(pd_.mean()), 4) if len(pd_) else None,
               "nulls": {c: table.column(c).null_count for c in FEATURE_IDS if table.column(c).null_count},
               "seconds": round(time.perf_counter() - t0, 2)}
    _write_json(M.models_root(settings) / SCORED, summary)
    return summary


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def refresh(settings, lake=None, run=None) -> dict:
    """The step: ensure the model, then score the release. Returns both figures and a Chinese
    summary line for the run's output."""
    model = ensure_model(settings)
    scored = score_release(settings, lake, run)
    line = (f"预授信模型 {model['version']}（{'本次训练' if model['trained'] else '沿用已发布版本'}）"
            f"评分画像 v{scored['profile_version']}：{scored['enterprises']:,} 家，"
            f"{scored['with_line']:,} 家有预授信额度")
    return {"model": model, "scored": scored, "summary_zh": [line]}
