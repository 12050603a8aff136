"""Train both pre-credit models on generated loans, measure them on a held-out split, choose one,
and save / publish / load it like the dispatch models: models/precredit/<version>/ holds
model.joblib and model.json (version, training data, metrics); published.json names the
version the service scores with.

Split: random, stratified by outcome, 25% held out (seed SPLIT["seed"]). The generated loans
have no time order worth splitting on (each enterprise applies once). The shipped model is
the one measured (fit on the 75%), so `evaluate` reproduces the recorded figures."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.model_selection import train_test_split

from govlake.precredit import credit_line, outcomes
from govlake.precredit.features import FEATURE_IDS, labels, matrix
from govlake.precredit.gbm import PARAMS as GBM_PARAMS
from govlake.precredit.gbm import MonotoneGBM, fit_gbm
from govlake.precredit.metrics import measure
from govlake.precredit.scorecard import Scorecard, describe, fit_scorecard

MODEL_FILE, META_FILE, PUBLISHED = "model.joblib", "model.json", "published.json"
SPLIT = {"method": "random, stratified by outcome", "test_size": 0.25, "seed": 42}
# The GBM is served only if it beats the scorecard by this much held-out AUC with a Brier score
# no worse: otherwise the scorecard's transparency (points per bin a loan officer can read) wins.
GBM_MIN_AUC_GAIN = 0.02


@dataclass
class PrecreditModel:
    kind: str  # scorecard | gbm
    model: Scorecard | MonotoneGBM
    meta: dict = field(default_factory=dict)

    def predict_pd(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_pd(X)

    def reasons(self, X: np.ndarray, catalog_dir: Path, k: int = 3) -> list[list[str]]:
        """Per row, the k factors that cost it most (Chinese text naming the catalog field)."""
        lab = labels(catalog_dir)
        short = self.model.shortfalls(X)
        out = []
        for i in range(X.shape[0]):
            row = []
            for j in np.argsort(-short[i], kind="stable")[:k]:
                s = float(short[i, j])
                if s <= (0.5 if self.kind == "scorecard" else 0.0005):
                    break
                fid = FEATURE_IDS[j]
                where = "数据缺失" if np.isnan(X[i, j]) else "当前档位"
                if self.kind == "scorecard":
                    row.append(f"{lab[fid]}（{fid}）{where}比最优档少 {s:.0f} 分")
                else:
                    row.append(f"{lab[fid]}（{fid}）{where}使违约概率高出 {100 * s:.1f} 个百分点")
            out.append(row)
        return out


def split(n: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return train_test_split(np.arange(n), test_size=SPLIT["test_size"], random_state=SPLIT["seed"], stratify=y)


def loans_xy(n: int, seed: int, catalog_dir: Path | None = None):
    t = outcomes.generate_loans(n, seed, catalog_dir)
    return t, matrix(t), t.column("defaulted").to_numpy(zero_copy_only=False).astype(int)


def choose(metrics: dict) -> str:
    sc, gb = metrics["scorecard"], metrics["gbm"]
    return "gbm" if gb["auc"] - sc["auc"] >= GBM_MIN_AUC_GAIN and gb["brier"] <= sc["brier"] else "scorecard"


def train(n: int = 20000, seed: int = 7, catalog_dir: Path | None = None) -> PrecreditModel:
    t, X, y = loans_xy(n, seed, catalog_dir)
    tr, te = split(n, y)
    sc = fit_scorecard(X[tr], y[tr])
    gb = fit_gbm(X[tr], y[tr], seed=seed)
    metrics = {"scorecard": measure(y[te], sc.predict_pd(X[te])), "gbm": measure(y[te], gb.predict_pd(X[te])),
               # the generator's own pd: the ceiling any model can reach on this data
               "true_pd": measure(y[te], t.column("true_pd").to_numpy()[te])}
    kind = choose(metrics)
    m = PrecreditModel(kind, sc if kind == "scorecard" else gb)
    m.meta = {
        "kind": kind,
        "features": FEATURE_IDS,
        "training_data": {"generator": "govlake.precredit.outcomes.generate_loans (generated, not real loans)",
                          "n": n, "seed": seed, "default_rate": round(float(y.mean()), 4),
                          "intercept": outcomes.INTERCEPT, "true_terms": outcomes.TRUE_TERMS,
                          "interactions": outcomes.INTERACTIONS, "noise_sd": outcomes.NOISE_SD},
        "holdout": {**SPLIT, "n_train": int(len(tr)), "n_test": int(len(te)), "metrics": metrics},
        "choice": {"chosen": kind, "rule": f"gbm if its AUC exceeds the scorecard's by >= {GBM_MIN_AUC_GAIN} "
                                           "and its Brier score is no worse; else scorecard"},
        "params": {"gbm": GBM_PARAMS, "credit_line": {k: getattr(credit_line, k) for k in (
            "REVENUE_MULTIPLE", "TAX_MULTIPLE", "CAP_WAN", "PD_DECLINE", "LOW_SHARE")}},
        "scorecard": describe(sc),
    }
    return m


def evaluate(m: PrecreditModel, catalog_dir: Path | None = None) -> dict:
    """The model's measures on its own held-out split, regenerated from model.json."""
    td = m.meta["training_data"]
    _, X, y = loans_xy(int(td["n"]), int(td["seed"]), catalog_dir)
    _, te = split(len(y), y)
    return measure(y[te], m.predict_pd(X[te]))


# ---------------------------------------------------------------- versions

def models_root(settings) -> Path:
    return settings.state_dir / "models" / "precredit"


def save(m: PrecreditModel, settings) -> Path:
    """models/precredit/<version>/ (version = the model file's sha256 prefix)."""
    root = models_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
    os.close(fd)
    meta, m.meta = m.meta, {}  # metadata lives in model.json, not in the hashed blob
    try:
        joblib.dump(m, tmp, compress=3)
    finally:
        m.meta = meta
    import hashlib

    digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
    out = root / digest[:16]
    out.mkdir(exist_ok=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out / MODEL_FILE)
    m.meta = {"version": digest[:16], "model_sha256": digest,
              "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "sklearn_version": sklearn.__version__, **meta}
    (out / META_FILE).write_text(json.dumps(m.meta, ensure_ascii=False, indent=2, default=float), encoding="utf-8")
    return out


def publish(settings, version: str) -> None:
    root = models_root(settings)
    if not (root / version / META_FILE).is_file():
        raise FileNotFoundError(f"no pre-credit model version {version} under {root} (无此模型版本)")
    tmp = root / f".{PUBLISHED}.tmp"
    tmp.write_text(json.dumps({"version": version}), encoding="utf-8")
    os.replace(tmp, root / PUBLISHED)


def published_version(settings) -> str | None:
    p = models_root(settings) / PUBLISHED
    return json.loads(p.read_text(encoding="utf-8"))["version"] if p.is_file() else None


def load(settings, version: str | None = None) -> PrecreditModel:
    """The published model (or `version`); FileNotFoundError when none is trained."""
    version = version or published_version(settings)
    if version is None:
        raise FileNotFoundError(f"no published pre-credit model under {models_root(settings)}: "
                                "run `govlake precredit train` (尚未训练预授信模型)")
    d = models_root(settings) / version
    if not (d / MODEL_FILE).is_file():
        raise FileNotFoundError(f"pre-credit model {version} is missing {d / MODEL_FILE}")
    return _load(str(d), (d / META_FILE).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(d: str, _mtime: int) -> PrecreditModel:
    m = joblib.load(Path(d) / MODEL_FILE)
    m.meta = json.loads((Path(d) / META_FILE).read_text(encoding="utf-8"))
    return m
