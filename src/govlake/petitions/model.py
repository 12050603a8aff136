"""Train, evaluate, save and load the petition classifier (智能分拨 / 一级分类).

Model = TextFeatures -> LinearSVC, calibrated with CalibratedClassifierCV (sigmoid, 3 folds) so
that the top-3 probabilities mean something to a dispatcher. LinearSVC beat logistic
regression, ridge, SGD and complement NB on the taidi split (docs/petitions.md) and trains in
seconds; calibration keeps its ranking and adds probabilities.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

from govlake.petitions.features import TextFeatures
from govlake.petitions.text import HMM, MAX_CHARS, overlap_mask, segmented_to_docs, to_doc, to_docs

MODEL_FILE = "model.joblib"
META_FILE = "model.json"
MIN_ROWS_PER_LABEL = 2  # fewer cannot be split 80/20 (stratified)
# The minimum before the long-tail calibration; still kept where that calibration cannot run
# (two labels or fewer), and as the long-tail measurement's "before" model.
MIN_ROWS_PER_LABEL_BEFORE_LONG_TAIL = 5
# A label needs this many rows for its own sigmoid (a positive in each of the 3 calibration
# folds); rarer labels share one sigmoid fitted on every label's out-of-fold scores (long tail).
MIN_ROWS_OWN_CALIBRATION = 3
SPLIT = {"method": "stratified", "test_size": 0.2, "seed": 42}


@dataclass
class PetitionModel:
    """Fitted with sklearn, stored as plain arrays: the SVC weights and the per-class sigmoid
    calibrators CalibratedClassifierCV learned. predict_proba reproduces sklearn's numbers
    (tested) without its per-call validation overhead."""

    features: TextFeatures
    classes: list[str]
    Wt: np.ndarray  # (n_features, n_classes) or (n_features, 1) for two classes; C order so
    #                that sparse X @ Wt needs no copy of the weights per call
    b: np.ndarray
    cal_a: np.ndarray  # sigmoid calibration p = 1 / (1 + exp(a * f + b)) per column of Wt
    cal_b: np.ndarray
    meta: dict = field(default_factory=dict)
    # Tokenisation travels with the model, so scoring always matches how it was trained.
    text_params: dict = field(default_factory=lambda: {"max_chars": MAX_CHARS, "hmm": HMM})

    def docs(self, texts: Sequence[str]) -> list[str]:
        return to_docs(texts, **self.text_params)

    def vectorize(self, docs: Sequence[str]):
        return self.features.transform(docs)

    def predict_proba_X(self, X) -> np.ndarray:
        f = np.asarray(X @ self.Wt, dtype=np.float64) + self.b
        p = expit(-(self.cal_a * f + self.cal_b))
        if len(self.classes) == 2:
            return np.hstack([1.0 - p, p])
        s = p.sum(axis=1, keepdims=True)
        return np.divide(p, s, out=np.full_like(p, 1.0 / p.shape[1]), where=s != 0)

    def predict_proba_docs(self, docs: Sequence[str]) -> np.ndarray:
        return self.predict_proba_X(self.vectorize(docs))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_docs(self.docs(texts))

    def top_k(self, texts: Sequence[str], k: int = 3, with_terms: int = 3, terms_for: int = 3):
        """-> per text, k tuples (label, probability, [key words]) by falling probability.
        Key words only for the first `terms_for` entries (they cost a little per label)."""
        return self.top_k_docs(self.docs(texts), k, with_terms, terms_for)

    def top_k_docs(self, docs: Sequence[str], k: int = 3, with_terms: int = 3, terms_for: int = 3):
        X = self.vectorize(docs)
        return _top_k(self, X, self.predict_proba_X(X), k, with_terms, terms_for)


    def _terms(self, indices, data, class_idx: int, n: int) -> list[str]:
        # word features come first in the stacked matrix and indices are sorted
        cut = int(np.searchsorted(indices, self.features.n_word_))
        idx, val = indices[:cut], data[:cut]
        if not cut:
            return []
        if len(self.classes) == 2:  # one weight column, for the second class
            w = self.Wt[idx, 0] * (1 if class_idx == 1 else -1)
        else:
            w = self.Wt[idx, class_idx]
        contrib = val * w
        top = np.argpartition(-contrib, min(n * 4, cut) - 1)[: n * 4] if cut > n * 4 else np.arange(cut)
        top = top[np.argsort(-contrib[top], kind="stable")]
        out: list[str] = []
        for o in top:
            if contrib[o] <= 0 or len(out) >= n:
                break
            term = self.features.word_names_[idx[o]]
            if _readable(term) and not any(term in t or t in term for t in out):
                out.append(term)  # 拖欠 + 拖欠工资 -> keep one
        return out


def _getstate(self):
    state = dict(self.__dict__)
    state.pop("_sklearn_clf", None)
    return state


PetitionModel.__getstate__ = _getstate


def _readable(term: str) -> bool:
    """A reason a person can read: 2+ characters and at least one Chinese character
    (drops 交/元 and masked codes like d0)."""
    return len(term) >= 2 and any("\u4e00" <= ch <= "\u9fff" for ch in term)


def _top_k(model, X, P, k, with_terms, terms_for):
    k = min(k, P.shape[1])
    order = np.argsort(-P, axis=1, kind="stable")[:, :k]
    X = X.tocsr()
    X.sort_indices()
    ind, dat, ptr = X.indices, X.data, X.indptr
    res = []
    for i in range(P.shape[0]):
        a, b = ptr[i], ptr[i + 1]
        res.append([
            (model.classes[j], float(P[i, j]),
             model._terms(ind[a:b], dat[a:b], j, with_terms) if with_terms and r < terms_for else [])
            for r, j in enumerate(order[i])
        ])
    return res


def _export(clf: CalibratedClassifierCV) -> dict:
    (cc,) = clf.calibrated_classifiers_  # ensemble=False: one SVC + its calibrators
    assert list(cc.estimator.classes_) == list(clf.classes_)
    return {
        "Wt": np.ascontiguousarray(cc.estimator.coef_.T, dtype=np.float32),
        "b": cc.estimator.intercept_.astype(np.float64),
        "cal_a": np.array([c.a_ for c in cc.calibrators], dtype=np.float64),
        "cal_b": np.array([c.b_ for c in cc.calibrators], dtype=np.float64),
    }


def _fit_long_tail(X, y: np.ndarray, C: float, seed: int) -> dict:
    """One LinearSVC on all rows, sigmoid calibrators from out-of-fold scores (3 folds, the same
    folds as CalibratedClassifierCV): a label with MIN_ROWS_OWN_CALIBRATION rows gets its own
    sigmoid, a rarer one the sigmoid shared by all labels (fitted on every label's out-of-fold
    scores). A label missing from a fold's training part has no score for that fold's rows.
    -> the arrays of PetitionModel."""
    import warnings

    from sklearn.calibration import _SigmoidCalibration

    svc = LinearSVC(C=C, random_state=seed).fit(X, y)
    classes = svc.classes_
    oof = np.full((X.shape[0], len(classes)), np.nan)
    with warnings.catch_warnings():  # "least populated class has only 1 member": expected here
        warnings.simplefilter("ignore", UserWarning)
        folds = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(X, y))
    for tr, te in folds:
        f = LinearSVC(C=C, random_state=seed).fit(X[tr], y[tr])
        cols = np.searchsorted(classes, f.classes_)
        oof[np.ix_(te, cols)] = f.decision_function(X[te])
    Y = y[:, None] == classes[None, :]
    seen = ~np.isnan(oof)
    shared = _SigmoidCalibration().fit(oof[seen], Y[seen])
    a, b = np.full(len(classes), shared.a_, dtype=np.float64), np.full(len(classes), shared.b_, dtype=np.float64)
    counts = Y.sum(axis=0)
    for j in np.flatnonzero(counts >= MIN_ROWS_OWN_CALIBRATION):
        col = seen[:, j]
        cal = _SigmoidCalibration().fit(oof[col, j], Y[col, j])
        a[j], b[j] = cal.a_, cal.b_
    return {"classes": [str(c) for c in classes],
            "Wt": np.ascontiguousarray(svc.coef_.T, dtype=np.float32), "b": svc.intercept_.astype(np.float64),
            "cal_a": a, "cal_b": b}


def fit_docs(docs: Sequence[str], labels: Sequence[str], *, C: float = 0.3, seed: int = 0,
             feature_params: dict | None = None, text_params: dict | None = None,
             long_tail: bool = True) -> PetitionModel:
    """Features + calibrated LinearSVC. Labels with fewer than MIN_ROWS_OWN_CALIBRATION rows
    (and more than two labels) take the long-tail path (_fit_long_tail) unless long_tail=False;
    otherwise sklearn's CalibratedClassifierCV, whose numbers predict_proba reproduces."""
    features = TextFeatures(**(feature_params or {}))
    X = features.fit(docs).transform(docs)
    y = np.asarray(labels, dtype=object)
    tp = dict(text_params or {"max_chars": MAX_CHARS, "hmm": HMM})
    _, counts = np.unique(y, return_counts=True)
    if long_tail and len(counts) > 2 and counts.min() < MIN_ROWS_OWN_CALIBRATION:
        return PetitionModel(features, **_fit_long_tail(X, y, C, seed), text_params=tp)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    # ensemble=False: one SVC on all rows + sigmoid calibrators from out-of-fold scores.
    # Keeps the model to one weight matrix (it grows with departments x features).
    clf = CalibratedClassifierCV(LinearSVC(C=C, random_state=seed), method="sigmoid", cv=folds,
                                 ensemble=False)
    clf.fit(X, y)
    m = PetitionModel(features, [str(c) for c in clf.classes_], **_export(clf), text_params=tp)
    m._sklearn_clf = clf  # for the equivalence test only; not pickled (see __getstate__)
    return m


def _filter_extra(extra_full, extra_docs, extra_labels, protected_full):
    """Drop extra rows that copy a protected message (compared on full, untruncated tokens,
    so a long message cannot slip through because only its head was compared); dedupe."""
    if not extra_docs:
        return [], [], 0
    leak = overlap_mask(extra_full, protected_full)
    seen: set[str] = set()
    docs, labels = [], []
    for d, lab, bad in zip(extra_docs, extra_labels, leak):
        if bad or not d or d in seen:
            continue
        seen.add(d)
        docs.append(d)
        labels.append(lab)
    return docs, labels, len(extra_docs) - len(docs)


def drop_rare(texts, labels, min_rows=MIN_ROWS_PER_LABEL):
    values, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    rare = {str(v): int(c) for v, c in zip(values, counts) if c < min_rows}
    keep = [i for i, lab in enumerate(labels) if lab not in rare]
    return [texts[i] for i in keep], [labels[i] for i in keep], rare


def split_holdout(texts, labels, test_size=SPLIT["test_size"], seed=SPLIT["seed"]):
    """The fixed evaluation split: stratified, 80/20, seed 42 (documented, reproducible)."""
    idx = np.arange(len(texts))
    tr, te = train_test_split(idx, test_size=test_size, stratify=labels, random_state=seed)
    return sorted(tr), sorted(te)


def train(texts: Sequence[str], labels: Sequence[str], *, extra_segmented: Sequence[str] = (),
          extra_labels: Sequence[str] = (), refit: bool = True, C: float = 0.3,
          feature_params: dict | None = None, max_chars: int | None = MAX_CHARS,
          hmm: bool = HMM) -> PetitionModel:
    """Fit on the 80% split, measure on the 20% hold-out, then (refit) fit again on all rows.

    extra_segmented: extra training texts already segmented (tokens separated by spaces).
    Rows that copy any of `texts` are dropped before fitting: copies of held-out messages
    would leak into the measured fit, copies of training rows would count twice.
    """
    texts, labels, rare = drop_rare(list(texts), [str(x) for x in labels])
    if len(set(labels)) <= 2:  # the long-tail calibration needs 3+ labels: two keep the old minimum
        texts, labels, more = drop_rare(texts, labels, min_rows=MIN_ROWS_PER_LABEL_BEFORE_LONG_TAIL)
        rare.update(more)
    if len(set(labels)) < 2:
        raise ValueError("need at least two labels with >= %d rows each" % MIN_ROWS_PER_LABEL)
    tp = {"max_chars": max_chars, "hmm": hmm}
    full = to_docs(texts, max_chars=None, hmm=hmm)  # for the overlap check only
    docs = [f if max_chars is None or len(t) <= max_chars else to_doc(t, **tp)
            for t, f in zip(texts, full)]
    known = set(labels)
    keep = [i for i, lab in enumerate(extra_labels) if str(lab) in known]
    extra_segmented = [extra_segmented[i] for i in keep]
    extra_labels = [str(extra_labels[i]) for i in keep]

    tr, te = split_holdout(docs, labels)
    ex_d, ex_l, n_drop = _filter_extra(segmented_to_docs(extra_segmented, max_chars=None),
                                       segmented_to_docs(extra_segmented, max_chars), extra_labels, full)
    m = fit_docs([docs[i] for i in tr] + ex_d, [labels[i] for i in tr] + ex_l, C=C,
                 feature_params=feature_params, text_params=tp)
    holdout = evaluate_docs(m, [docs[i] for i in te], [labels[i] for i in te])
    if refit:
        m = fit_docs(docs + ex_d, labels + ex_l, C=C, feature_params=feature_params, text_params=tp)
    m.meta = {
        "labels": m.classes,
        # tickets per label in the training data: the history prior of the dispatch blend
        "label_counts": {lab: labels.count(lab) for lab in m.classes},
        "dropped_labels": rare,
        "rows_train": len(docs),
        "extra_rows_used": len(ex_d),
        "extra_rows_dropped_overlap_or_dup": n_drop,
        "holdout": {**SPLIT, "n_train": len(tr), "n_test": len(te),
                    "shipped_model": "refit on all rows" if refit else "the measured 80% model",
                    "metrics": holdout},
        "params": {"C": C, "text": tp, "calibration": "sigmoid, 3-fold, ensemble=False; labels under "
                   f"{MIN_ROWS_OWN_CALIBRATION} rows share one sigmoid",
                   "features": m.features.get_params()},
    }
    return m


def evaluate_docs(model: PetitionModel, docs: Sequence[str], labels: Sequence[str]) -> dict:
    labels = [str(x) for x in labels]
    P = model.predict_proba_docs(docs)
    order = np.argsort(-P, axis=1, kind="stable")
    cls = np.asarray(model.classes, dtype=object)
    pred = cls[order[:, 0]]
    top3 = [lab in set(cls[o[:3]]) for lab, o in zip(labels, order)]
    present = sorted(set(labels) | set(pred))
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=present, zero_division=0)
    return {
        "n": len(labels),
        "top1": round(float(np.mean(pred == np.asarray(labels, dtype=object))), 4),
        "top3": round(float(np.mean(top3)), 4),
        # macro over the labels that occur in the evaluation data (true labels)
        "macro_f1": round(float(f1_score(labels, pred, labels=sorted(set(labels)), average="macro",
                                         zero_division=0)), 4),
        "unknown_labels": sorted(set(labels) - set(model.classes)),
        "per_class": {lab: {"precision": round(float(a), 4), "recall": round(float(b), 4),
                            "f1": round(float(c), 4), "support": int(d)}
                      for lab, a, b, c, d in zip(present, p, r, f, s) if d > 0},
    }


def evaluate(model: PetitionModel, texts: Sequence[str], labels: Sequence[str]) -> dict:
    return evaluate_docs(model, model.docs(texts), labels)


# ---------------------------------------------------------------- persistence

def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model: PetitionModel, out_dir: str | Path, training_data: dict | None = None) -> dict:
    """Write model.joblib + model.json atomically-enough (tmp file then rename)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta, model.meta = model.meta, {}  # metadata lives in model.json, not in the hashed blob
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(model, tmp, compress=3)
    finally:
        model.meta = meta
    digest = sha256_file(tmp)
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; workers and the API may run as other users
    os.replace(tmp, out / MODEL_FILE)
    import jieba

    full = {
        "version": digest[:16],
        "model_sha256": digest,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "jieba_version": getattr(jieba, "__version__", "unknown"),
        "training_data": training_data or {},
        **meta,
    }
    (out / META_FILE).write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    model.meta = full
    return full


def load_model(model_dir: str | Path) -> PetitionModel:
    """Load once per (dir, model.json mtime): a retrained model is picked up, others cached."""
    d = Path(model_dir).resolve()
    meta_path = d / META_FILE
    if not meta_path.is_file() or not (d / MODEL_FILE).is_file():
        raise FileNotFoundError(f"no model in {d} (expected {MODEL_FILE} and {META_FILE})")
    return _load(str(d), meta_path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(model_dir: str, _mtime: int) -> PetitionModel:
    meta = json.loads((Path(model_dir) / META_FILE).read_text(encoding="utf-8"))
    model = load_model_bytes((Path(model_dir) / MODEL_FILE).read_bytes())
    model.meta = meta
    return model


def load_model_bytes(blob: bytes) -> PetitionModel:
    import io

    return joblib.load(io.BytesIO(blob))
