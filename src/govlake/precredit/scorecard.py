"""评分卡 (scorecard): per factor, monotone WoE bins; logistic regression on the WoE values; points
per bin on the usual scale (600 points at good:bad odds 50:1, 20 points to double the odds).

Binning: quantile cut points (at most MAX_BINS; a cut per value for a flag or a small count), then adjacent bins are merged until the bad
rate moves only in the factor's stated direction (features.FEATURES), so the points can only
move one way as a factor improves. Missing values are a bin of their own. WoE = ln(share of
goods / share of bads) with 0.5 smoothing, so a higher WoE is a safer bin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from govlake.precredit.features import DIRECTIONS, FEATURE_IDS

MAX_BINS = 6
MIN_BIN_SHARE = 0.02
PDO, BASE_SCORE, BASE_ODDS = 20.0, 600.0, 50.0
FACTOR = PDO / np.log(2)
OFFSET = BASE_SCORE - FACTOR * np.log(BASE_ODDS)


@dataclass
class Binning:
    edges: list[float]        # inner cut points; bin k = edges[k-1] <= x < edges[k]
    woe: list[float]          # per bin, then the missing bin last
    bad_rate: list[float]     # per bin, then the missing bin last
    counts: list[int]

    def index(self, x: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.edges), x, side="right")
        return np.where(np.isnan(x), len(self.edges) + 1, idx)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.woe)[self.index(x)]


def _stats(bins: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    bad = np.bincount(bins, weights=y, minlength=k)
    tot = np.bincount(bins, minlength=k).astype(float)
    return bad, tot


def fit_binning(x: np.ndarray, y: np.ndarray, direction: int) -> Binning:
    ok = ~np.isnan(x)
    xs, ys = x[ok], y[ok]
    distinct = np.unique(xs)
    if len(distinct) <= 2 * MAX_BINS:  # flags and small counts: a bin per value to start with
        edges = distinct[1:].tolist()
    else:
        edges = sorted(set(np.quantile(xs, np.linspace(0, 1, MAX_BINS + 1)[1:-1]).tolist()))
    while True:  # merge until every bin is big enough and the bad rate is monotone in `direction`
        k = len(edges) + 1
        bad, tot = _stats(np.searchsorted(edges, xs, side="right"), ys, k)
        rate = np.divide(bad, tot, out=np.zeros(k), where=tot > 0)
        small = np.flatnonzero(tot < MIN_BIN_SHARE * len(xs))
        wrong = np.flatnonzero(direction * np.diff(rate) < 0)
        if not len(edges) or (not len(small) and not len(wrong)):
            break
        j = int(small[0]) if len(small) else int(wrong[0]) + 1  # merge bin j into bin j-1
        del edges[max(j, 1) - 1]
    bad_all, good_all = y.sum(), (1 - y).sum()
    miss_bad, miss_tot = float(y[~ok].sum()), float((~ok).sum())
    bads = np.append(bad, miss_bad)
    tots = np.append(tot, miss_tot)
    goods = tots - bads
    woe = np.log(((goods + 0.5) / (good_all + 0.5)) / ((bads + 0.5) / (bad_all + 0.5)))
    rates = np.divide(bads, tots, out=np.full(len(tots), np.nan), where=tots > 0)
    return Binning(list(map(float, edges)), woe.tolist(), rates.tolist(), tots.astype(int).tolist())


@dataclass
class Scorecard:
    binnings: list[Binning]
    coef: np.ndarray       # logistic regression on WoE, predicting default
    intercept: float
    points: list[list[float]]  # per factor, per bin (missing last)
    base_points: float

    def woe_matrix(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([b.transform(X[:, j]) for j, b in enumerate(self.binnings)])

    def predict_pd(self, X: np.ndarray) -> np.ndarray:
        z = self.intercept + self.woe_matrix(X) @ self.coef
        return 1.0 / (1.0 + np.exp(-z))

    def bin_points(self, X: np.ndarray) -> np.ndarray:
        """(rows, factors) points of each row's bin."""
        return np.column_stack([np.asarray(self.points[j])[b.index(X[:, j])] for j, b in enumerate(self.binnings)])

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.base_points + self.bin_points(X).sum(axis=1)

    def shortfalls(self, X: np.ndarray) -> np.ndarray:
        """(rows, factors) points below the factor's best bin: what each factor costs."""
        best = np.array([max(p) for p in self.points])
        return best[None, :] - self.bin_points(X)


def fit_scorecard(X: np.ndarray, y: np.ndarray, C: float = 1.0) -> Scorecard:
    binnings = [fit_binning(X[:, j], y, int(DIRECTIONS[j])) for j in range(X.shape[1])]
    W = np.column_stack([b.transform(X[:, j]) for j, b in enumerate(binnings)])
    lr = LogisticRegression(C=C, max_iter=2000).fit(W, y)
    # A safer bin has a higher WoE, so a factor's coefficient on default must be <= 0; a positive
    # one (a factor the others already explain) would reverse its bins' points, so it is zeroed.
    coef = np.minimum(lr.coef_[0], 0.0)
    intercept = float(lr.intercept_[0])
    if (lr.coef_[0] > 0).any():
        keep = coef < 0
        lr2 = LogisticRegression(C=C, max_iter=2000).fit(W[:, keep], y)
        coef = np.zeros(W.shape[1])
        coef[keep] = np.minimum(lr2.coef_[0], 0.0)
        intercept = float(lr2.intercept_[0])
    points = [(-FACTOR * coef[j] * np.asarray(b.woe)).round(1).tolist() for j, b in enumerate(binnings)]
    return Scorecard(binnings, coef, intercept, points, round(float(OFFSET - FACTOR * intercept), 1))


def describe(sc: Scorecard) -> list[dict]:
    """The card as a table: factor, bin range, rows, bad rate, WoE, points."""
    out = []
    for fid, b, pts in zip(FEATURE_IDS, sc.binnings, sc.points):
        lo = [-np.inf, *b.edges]
        hi = [*b.edges, np.inf]
        for k in range(len(b.woe)):
            rng = "缺失 missing" if k == len(b.woe) - 1 else f"[{lo[k]:g}, {hi[k]:g})"
            out.append({"field": fid, "bin": rng, "n": b.counts[k],
                        "bad_rate": None if np.isnan(b.bad_rate[k]) else round(b.bad_rate[k], 4),
                        "woe": round(b.woe[k], 4), "points": pts[k]})
    return out
