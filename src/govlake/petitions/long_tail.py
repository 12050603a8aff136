"""The long tail of departments: our dispatch model against a plain character TF-IDF (1-3 grams)
+ LinearSVC baseline on a fixed split with many classes and few examples each.

Real hotline work orders with their handling units (hundreds of departments, most with fewer
than ten examples) are not in the repo. The closest honest proxy built from the shared taidi2020
data (`long_tail_proxy`):

* messages: `messages_labeled_raw.csv` (1,842 real citizen messages, title + body, 一级分类 label);
* proxy handling unit (承办单位) = 一级分类 x the first place the message names: a county-level unit
  (`A3区`, `K8县`, `C4市`), else a prefecture (`A市`), else 市本级 — the way a city's 12345 routes
  a school complaint in K8县 to K8县's education bureau, and one without a place to the city's;
* the data provider masked place names as letter + digits; a real message carries the name, so
  every masked code is rewritten to a fixed pseudo-name (A3区 -> 甲三区) in the text both models
  read (our normalisation maps digits to 0 and would otherwise erase what the unit depends on);
* units with at least MIN_PER_UNIT (3) messages are kept (201 units, 1,337 messages, 178 units
  under ten messages); fixed split: stratified 80/20, random_state 42.

`python -m govlake.petitions.long_tail` prints one JSON object: for each model top-1, top-3,
macro-F1 (over the units in the test set) and accuracy per frequency bucket (units by their
number of training messages).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

MIN_PER_UNIT = 3
BUCKETS = [(1, 4), (5, 9), (10, 19), (20, 49), (50, None)]
_CODE = re.compile(r"([A-Z])(\d{1,2})?([市区县])")
_UNIT = re.compile(r"[A-Z]\d{1,2}[区县市]")
_PREF = re.compile(r"[A-Z]市")
_LETTERS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥金木水火"
_DIGITS = "零一二三四五六七八九"


def _num(s: str) -> str:
    n = int(s)
    if n < 10:
        return _DIGITS[n]
    return ("" if n < 20 else _DIGITS[n // 10]) + "十" + ("" if n % 10 == 0 else _DIGITS[n % 10])


def unmask(text: str) -> str:
    """Masked place codes -> fixed pseudo-names: A3区 -> 甲三区, K市 -> 戌市."""
    return _CODE.sub(lambda m: _LETTERS[ord(m.group(1)) - 65] + (_num(m.group(2)) if m.group(2) else "")
                     + m.group(3), text)


def unit_of(text: str, label: str) -> str:
    m = _UNIT.search(text) or _PREF.search(text)
    return f"{label}|{unmask(m.group(0)) if m else '市本级'}"


def long_tail_proxy(path: str | Path | None = None, min_per_unit: int = MIN_PER_UNIT):
    """-> (texts, units, description). FileNotFoundError when the shared data is absent."""
    from govlake.petitions.io import read_labeled

    if path is None:
        from govlake.settings import get_settings

        path = get_settings().shared_data_dir / "taidi2020" / "messages_labeled_raw.csv"
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is absent (the shared taidi2020 data; see ../shared/data/README.md)")
    raw, labels, _ = read_labeled(path, "text", "label")
    units = [unit_of(t, lab) for t, lab in zip(raw, labels)]
    counts = Counter(units)
    keep = [i for i, u in enumerate(units) if counts[u] >= min_per_unit]
    texts = [unmask(raw[i]) for i in keep]
    units = [units[i] for i in keep]
    c = Counter(units)
    desc = {"source": str(path), "messages": len(texts), "units": len(c),
            "units_under_10": sum(v < 10 for v in c.values()), "min_per_unit": min_per_unit,
            "unit": "一级分类 x first county-level place (else prefecture, else 市本级); place codes unmasked"}
    return texts, units, desc


def fixed_split(units, seed: int = 42):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(units))
    tr, te = train_test_split(idx, test_size=0.2, stratify=units, random_state=seed)
    return sorted(tr), sorted(te)


def scores(ranked: list[list[str]], truth: list[str], train_counts: Counter) -> dict:
    """ranked: per test message, labels best first."""
    from sklearn.metrics import f1_score

    pred = [r[0] if r else "" for r in ranked]
    top1 = np.array([p == t for p, t in zip(pred, truth)])
    top3 = np.array([t in r[:3] for r, t in zip(ranked, truth)])
    buckets = {}
    for lo, hi in BUCKETS:
        sel = np.array([train_counts[t] >= lo and (hi is None or train_counts[t] <= hi) for t in truth])
        name = f"{lo}-{hi}" if hi else f"{lo}+"
        buckets[name] = {"n": int(sel.sum()), "top1": round(float(top1[sel].mean()), 4) if sel.any() else None,
                         "top3": round(float(top3[sel].mean()), 4) if sel.any() else None}
    return {"n": len(truth), "top1": round(float(top1.mean()), 4), "top3": round(float(top3.mean()), 4),
            "macro_f1": round(float(f1_score(truth, pred, labels=sorted(set(truth)), average="macro",
                                             zero_division=0)), 4),
            "by_training_examples": buckets}


def baseline_ranked(train_texts, train_units, test_texts, C: float = 1.0) -> list[list[str]]:
    """The issue's baseline: TfidfVectorizer(analyzer=char, 1-3) + LinearSVC, ranked by decision value."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    clf = LinearSVC(C=C, random_state=0).fit(vec.fit_transform(train_texts), train_units)
    d = clf.decision_function(vec.transform(test_texts))
    order = np.argsort(-d, axis=1, kind="stable")
    return [[str(clf.classes_[j]) for j in row] for row in order]


def model_ranked(model, test_texts) -> list[list[str]]:
    P = model.predict_proba(test_texts)
    order = np.argsort(-P, axis=1, kind="stable")
    return [[model.classes[j] for j in row[:10]] for row in order]


def online_latency(model, texts) -> dict:
    """Top-3 of one message at a time, model loaded (the API's path): p50 / p99 in ms, wall clock
    and this process's CPU time (on a shared machine the wall clock includes waiting for a core)."""
    from govlake.petitions.scoring import score_texts

    score_texts(model, texts[:5])  # warm: jieba's dictionary
    wall, cpu = [], []
    for t in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        score_texts(model, [t], k=3)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    pct = lambda xs, q: round(float(np.percentile(xs, q)), 2)  # noqa: E731
    return {"n": len(wall), "p50": pct(wall, 50), "p99": pct(wall, 99), "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99)}


def measure(path=None, *, previous: bool = True) -> dict:
    """Our model (petitions.model.train's fit on the training part, no refit) vs the baseline.
    previous: also the model as it was before the long-tail changes (labels under 5 rows dropped,
    per-class calibration on 3 folds, no class weights)."""
    from govlake.petitions.model import fit_docs, to_docs

    texts, units, desc = long_tail_proxy(path)
    tr, te = fixed_split(units)
    tr_t, tr_u = [texts[i] for i in tr], [units[i] for i in tr]
    te_t, te_u = [texts[i] for i in te], [units[i] for i in te]
    counts = Counter(tr_u)
    out = {"data": {**desc, "n_train": len(tr), "n_test": len(te),
                    "split": "stratified 80/20, random_state 42"}}
    t0 = time.perf_counter()
    out["baseline_char_tfidf_linearsvc"] = {**scores(baseline_ranked(tr_t, tr_u, te_t), te_u, counts),
                                            "fit_seconds": round(time.perf_counter() - t0, 1)}
    docs = to_docs(tr_t)
    t0 = time.perf_counter()
    model = fit_docs(docs, tr_u)
    out["govlake_model"] = {**scores(model_ranked(model, te_t), te_u, counts),
                            "fit_seconds": round(time.perf_counter() - t0, 1), "labels": len(model.classes),
                            "online_ms": online_latency(model, te_t)}
    if previous:
        from govlake.petitions.model import MIN_ROWS_PER_LABEL, MIN_ROWS_PER_LABEL_BEFORE_LONG_TAIL, drop_rare

        d2, u2, rare = drop_rare(docs, tr_u, min_rows=MIN_ROWS_PER_LABEL_BEFORE_LONG_TAIL)
        t0 = time.perf_counter()
        old = fit_docs(d2, u2, long_tail=False)
        out["govlake_model_before"] = {**scores(model_ranked(old, te_t), te_u, counts),
                                       "fit_seconds": round(time.perf_counter() - t0, 1),
                                       "labels": len(old.classes), "labels_dropped": len(rare),
                                       "note": f"labels under {MIN_ROWS_PER_LABEL_BEFORE_LONG_TAIL} rows dropped "
                                               f"(now {MIN_ROWS_PER_LABEL}), per-class "
                                               "sigmoid on 3 folds, no class weights"}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", default=None, help="messages_labeled_raw.csv (default: shared taidi2020)")
    ap.add_argument("--no-previous", action="store_true", help="skip the model as it was before")
    a = ap.parse_args(argv)
    try:
        res = measure(a.input, previous=not a.no_previous)
    except FileNotFoundError as e:
        raise SystemExit(f"error: {e}")
    print(json.dumps(res, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
