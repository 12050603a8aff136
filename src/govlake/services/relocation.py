"""外迁预警 (relocation risk): a model of which enterprises move out of the district next quarter,
trained on a generated history of moves and validated on a held-out later period.

The generator (seeded): each enterprise has a latent pressure to leave that drifts quarter to
quarter (a random walk around its own level). Each quarter shows signals of that pressure, each
with its own noise: headcount falls (参保人数下降), its space need goes unmet (产业空间诉求未解决),
rent rises (租金上涨), it registers branches outside the district (区外设立分支机构) and complains
more (涉企投诉). One signal is unrelated to the pressure (政策咨询次数), so a reason naming it would
be a fault. An enterprise moves out next quarter with a probability rising steeply with its
pressure; once moved it leaves the history.

The model: logistic regression on the quarter's signals, trained on the first TRAIN_QUARTERS,
scored on the later quarters (AUC, precision at the top k) against a baseline that ranks by the
headcount fall alone. A warning's reasons are the signals that raise its risk most (coefficient ×
standardised value)."""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pyarrow as pa
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from govlake.lakehouse import Lakehouse
from govlake.release import version_of
from govlake.services import key_enterprises as ke
from govlake.lakehouse.arrow_writes import content_digest, replace_table

WARNINGS = "ops.relocation_warnings"
QUARTERS, TRAIN_QUARTERS = 12, 8
SIGNALS = {  # id -> (中文名, how a value reads in a reason)
    "headcount_change": ("参保人数下降", lambda v: f"参保人数近一季变化 {v:+.0%}"),
    "space_unmet": ("产业空间需求未解决", lambda v: "有未解决的产业空间诉求" if v else "无"),
    "rent_change": ("租金上涨", lambda v: f"租金近一季变化 {v:+.0%}"),
    "branch_outside": ("区外设立分支机构", lambda v: f"近一季区外新设分支机构 {int(v)} 家"),
    "complaints": ("涉企投诉增多", lambda v: f"近一季涉企投诉 {int(v)} 件"),
    "policy_queries": ("政策咨询次数", lambda v: f"近一季政策咨询 {int(v)} 次"),
}
FEATURES = list(SIGNALS)
REAL_SIGNALS = frozenset(FEATURES) - {"policy_queries"}
WARN_SHARE = 0.02  # the share of enterprises warned each quarter (the officials' queue)


def generate_history(usccs: list[str], seed: int = 28) -> dict:
    """{"uscc": [...], "quarter": int array, "X": signals (rows × FEATURES), "moved_next": bool}
    for every enterprise-quarter an enterprise is still in the district."""
    rng = np.random.default_rng(seed)
    n = len(usccs)
    level = rng.normal(0, 1, n)
    pressure = level + rng.normal(0, 0.5, n)
    present = np.ones(n, bool)
    rows_u, rows_q, rows_x, rows_y = [], [], [], []
    for q in range(QUARTERS):
        pressure = 0.7 * pressure + 0.3 * level + rng.normal(0, 0.45, n)
        x = np.column_stack([
            -0.06 * pressure + rng.normal(0, 0.08, n),                                  # headcount_change
            (rng.random(n) < 1 / (1 + np.exp(-(1.3 * pressure - 2.0)))).astype(float),  # space_unmet
            0.02 + 0.03 * pressure + rng.normal(0, 0.05, n),                            # rent_change
            rng.poisson(np.exp(0.9 * pressure - 2.5)).astype(float),                    # branch_outside
            rng.poisson(np.exp(0.4 * pressure - 0.3)).astype(float),                    # complaints
            rng.poisson(1.5, n).astype(float),                                          # policy_queries
        ])
        moved = rng.random(n) < 1 / (1 + np.exp(-(1.6 * pressure - 5.0)))
        idx = np.flatnonzero(present)
        rows_u += [usccs[i] for i in idx]
        rows_q.append(np.full(len(idx), q))
        rows_x.append(x[idx])
        rows_y.append(moved[idx])
        present &= ~moved
    return {"uscc": rows_u, "quarter": np.concatenate(rows_q), "X": np.vstack(rows_x), "moved_next": np.concatenate(rows_y)}


def precision_at(y: np.ndarray, score: np.ndarray, k: int) -> float:
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean()) if k else 0.0


class RelocationModel:
    def __init__(self):
        self.clf = LogisticRegression(max_iter=1000)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "RelocationModel":
        self.mean, self.std = X.mean(0), X.std(0) + 1e-9
        self.clf.fit((X - self.mean) / self.std, y)
        return self

    def risk(self, X: np.ndarray) -> np.ndarray:
        return self.clf.predict_proba((X - self.mean) / self.std)[:, 1]

    def reasons(self, x: np.ndarray, top: int = 3) -> list[str]:
        """The signals raising this enterprise's risk most, with their values, in Chinese."""
        contrib = self.clf.coef_[0] * (x - self.mean) / self.std
        order = [j for j in np.argsort(-contrib) if contrib[j] > 0][:top]
        return [f"{SIGNALS[FEATURES[j]][0]}（{SIGNALS[FEATURES[j]][1](x[j])}）" for j in order]


def train_and_validate(history: dict) -> tuple[RelocationModel, dict]:
    """Fit on the first TRAIN_QUARTERS, measure on the later ones (held out by time)."""
    q, X, y = history["quarter"], history["X"], history["moved_next"]
    tr, te = q < TRAIN_QUARTERS, q >= TRAIN_QUARTERS
    model = RelocationModel().fit(X[tr], y[tr])
    score, base = model.risk(X[te]), -X[te][:, FEATURES.index("headcount_change")]
    k = max(1, int(round(te.sum() * WARN_SHARE)))
    return model, {"train_rows": int(tr.sum()), "test_rows": int(te.sum()), "test_moves": int(y[te].sum()),
                   "auc": round(float(roc_auc_score(y[te], score)), 4),
                   "baseline_auc": round(float(roc_auc_score(y[te], base)), 4), "k": k,
                   "precision_at_k": round(precision_at(y[te], score, k), 4),
                   "baseline_precision_at_k": round(precision_at(y[te], base, k), 4),
                   "base_rate": round(float(y[te].mean()), 4)}


WARNINGS_SCHEMA = pa.schema([("uscc", pa.string()), ("official", pa.string()), ("risk", pa.float64()),
                             ("reasons", pa.string()), ("as_of", pa.date32())])


def warnings_for(lake: Lakehouse, history: dict, model: RelocationModel, as_of: dt.date,
                 key_version: int | None = None) -> list[dict]:
    """The latest quarter's riskiest WARN_SHARE of enterprises, each in its official's queue: its
    服务专员 if it is a key enterprise, else one of its street's (by a hash of the uscc)."""
    q = history["quarter"]
    last = np.flatnonzero(q == q.max())
    risk = model.risk(history["X"][last])
    k = max(1, int(round(len(last) * WARN_SHARE)))
    profile = {r["uscc"]: r for r in ke.read_profile(lake, ["uscc", "street_code"]).to_pylist()}
    key = {}
    if lake.exists(ke.KEY):
        # the key enterprises the step has just written (key_version), else the released ones
        v = version_of(lake, ke.KEY) if key_version is None else key_version
        key = {r["uscc"]: r["specialist_id"]
               for r in lake.to_arrow(ke.KEY, version=v, columns=["uscc", "specialist_id"]).to_pylist()}
    street: dict[str, list[str]] = {}
    for o in ke.officials(lake.settings.catalog_dir):
        if o["role"] == "服务专员":
            street.setdefault(o["street_code"], []).append(o["official_id"])
    everyone = sorted(x for v in street.values() for x in v)
    out = []
    for j in np.argsort(-risk, kind="stable")[:k]:
        i = last[j]
        u = history["uscc"][i]
        pool = street.get((profile.get(u) or {}).get("street_code")) or everyone
        official = key.get(u) or pool[zlib.crc32(u.encode()) % len(pool)]
        out.append({"uscc": u, "official": official, "risk": round(float(risk[j]), 4),
                    "reasons": "；".join(model.reasons(history["X"][i])), "as_of": as_of})
    return out


def run_relocation(lake: Lakehouse, as_of: dt.date, seed: int = 28, *, key_version: int | None = None,
                   gate=None) -> dict:
    """Train on the generated history of the profile's enterprises, validate on the held-out
    quarters, write the latest quarter's warnings to ops.relocation_warnings (gated: gate, see
    govlake.services.table_gate; reconciled). key_version: ops.key_enterprises as the daily step
    has just written it (before its release)."""
    usccs = sorted(ke.read_profile(lake, ["uscc"])["uscc"].to_pylist())
    history = generate_history(usccs, seed)
    model, metrics = train_and_validate(history)
    warns = warnings_for(lake, history, model, as_of, key_version)
    table = pa.Table.from_pylist(warns, WARNINGS_SCHEMA)
    written = replace_table(lake, WARNINGS, table, f"relocation@{as_of.isoformat()}-{content_digest(table)}",
                            gate=gate)
    return {"as_of": as_of.isoformat(), "enterprises": len(usccs), "warnings": len(warns), "validation": metrics,
            "tables": [written]}
