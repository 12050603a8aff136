"""Held-out measures of a default-probability model: AUC, KS, Brier score and a reliability table."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """max |TPR - FPR| over thresholds (the two-sample KS between defaulters' and others' scores)."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Deciles of predicted pd: rows, mean predicted, observed default rate."""
    order = np.argsort(p, kind="stable")
    out = []
    for k, idx in enumerate(np.array_split(order, bins)):
        if len(idx):
            out.append({"bin": k + 1, "n": int(len(idx)), "predicted": round(float(p[idx].mean()), 4),
                        "observed": round(float(y[idx].mean()), 4)})
    return out


def measure(y: np.ndarray, p: np.ndarray) -> dict:
    y = np.asarray(y, dtype=int)
    table = reliability(y, p)
    return {
        "n": int(len(y)),
        "default_rate": round(float(y.mean()), 4),
        "auc": round(float(roc_auc_score(y, p)), 4),
        "ks": round(ks_statistic(y, p), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        # Brier of always predicting the base rate: the trivial model a useful one must beat
        "brier_base_rate": round(float(y.mean() * (1 - y.mean())), 4),
        # largest |predicted - observed| over the deciles
        "calibration_max_gap": round(max(abs(r["predicted"] - r["observed"]) for r in table), 4),
        "reliability": table,
    }
