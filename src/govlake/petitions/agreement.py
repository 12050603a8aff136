"""Dispatch quality as the district reports it (分拨准确率): top-1 and top-3 agreement of the
recommended departments with the department that finally handled the ticket, overall and per
department, for the model alone and for the catalog blend the pipeline and API use.

`python -m govlake.petitions.agreement` measures it on generated petitions split by time (train on
the tickets submitted before the last `--test-days`, score those after), the way the batch step
trains only on tickets before the day it scores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import defaultdict
from typing import Sequence

from govlake.petitions.dispatch import Recommendation


def agreement(recs: Sequence[Sequence[Recommendation]], labels: Sequence[str]) -> dict:
    """-> {n, top1, top3, per_department: {code: {n, top1, top3}}} (labels: final handling dept)."""
    per = defaultdict(lambda: [0, 0, 0])
    for r, lab in zip(recs, labels):
        codes = [x.dept_code for x in r]
        s = per[lab]
        s[0] += 1
        s[1] += bool(codes[:1] == [lab])
        s[2] += lab in codes[:3]
    n = sum(s[0] for s in per.values())
    tot1, tot3 = sum(s[1] for s in per.values()), sum(s[2] for s in per.values())
    return {"n": n, "top1": round(tot1 / n, 4) if n else None, "top3": round(tot3 / n, 4) if n else None,
            "per_department": {k: {"n": s[0], "top1": round(s[1] / s[0], 3), "top3": round(s[2] / s[0], 3)}
                               for k, s in sorted(per.items(), key=lambda kv: -kv[1][0])}}


def generated_split(n: int = 3000, test_days: int = 60, seed: int = 21):
    """Generated petitions of a `make run`-sized year, split by submit time."""
    from govlake.generate import labelled_sample
    from govlake.settings import get_settings

    as_of = dt.datetime(2026, 11, 1)
    df = labelled_sample(get_settings(), n=n, seed=seed, as_of=as_of)
    cut = as_of - dt.timedelta(days=test_days)
    return df[df["submit_time"] < cut], df[df["submit_time"] >= cut]


def holdout_agreement(model_dir, path, text_col: str, label_col: str) -> dict:
    """Top-1/top-3 per label on the fixed hold-out split `petitions train` measured on (the model
    must be the measured one: trained with --no-refit)."""
    from govlake.petitions.io import read_labeled
    from govlake.petitions.model import drop_rare, load_model, split_holdout
    from govlake.petitions.scoring import score_texts

    model = load_model(model_dir)
    texts, labels, _ = read_labeled(path, text_col, label_col)
    texts, labels, _ = drop_rare(texts, labels)
    _, te = split_holdout(texts, labels)
    recs = score_texts(model, [texts[i] for i in te])
    return {"model_version": model.meta.get("version"), **agreement(recs, [labels[i] for i in te])}


def category_agreement(n: int = 3000, test_days: int = 60, seed: int = 21) -> dict:
    """Share of tickets whose form category equals the filed one, per level, on the same time
    split: the category model the pipeline trains vs the matter tree's names."""
    from govlake.petitions.form import CATEGORY_SEP, default_matcher, model_categories
    from govlake.petitions.model import train

    tr, te = generated_split(n, test_days, seed)
    tr, te = tr[tr["category_l3"] != ""], te[te["category_l3"] != ""]
    paths = lambda d: (d["category_l1"] + CATEGORY_SEP + d["category_l2"] + CATEGORY_SEP + d["category_l3"]).tolist()  # noqa: E731
    model = train(tr["text"].tolist(), paths(tr))
    truth = [p.split(CATEGORY_SEP) for p in paths(te)]

    def levels(cats):
        got = [(c.level1, c.level2, c.level3) for c in cats]
        return {f"l{k}": round(sum(g[:k] == tuple(t[:k]) for g, t in zip(got, truth)) / len(truth), 4)
                for k in (1, 2, 3)}

    m = default_matcher()
    return {"n_train": len(tr), "n_test": len(te),
            "category_model": levels(model_categories(model, te["text"].tolist())),
            "tree_names": levels([m.predict(t) for t in te["text"]])}


def main(argv=None) -> dict:
    from govlake.petitions.blend_inputs import blend_inputs
    from govlake.petitions.model import train
    from govlake.petitions.scoring import score_texts
    from govlake.settings import get_settings

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=3000, help="generated petitions (make run: 3000 a year)")
    ap.add_argument("--test-days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--model", help="a model trained with `petitions train --no-refit`: measure it on "
                                    "the hold-out 20%% of --input (the split train used)")
    ap.add_argument("--input", help="labelled CSV (with --model)")
    ap.add_argument("--text-col", default="text")
    ap.add_argument("--label-col", default="label")
    ap.add_argument("--categories", action="store_true",
                    help="measure 智能填单's category (model on filed categories vs the tree's names) instead")
    a = ap.parse_args(argv)
    if a.categories:
        out = category_agreement(a.n, a.test_days, a.seed)
        print(json.dumps(out, ensure_ascii=False))
        return out
    if a.model:
        out = holdout_agreement(a.model, a.input, a.text_col, a.label_col)
        print(json.dumps(out, ensure_ascii=False))
        return out
    tr, te = generated_split(a.n, a.test_days, a.seed)
    model = train(tr["text"].tolist(), tr["handling_dept_code"].tolist())
    texts, addrs, labels = te["text"].tolist(), te["address_text"].tolist(), te["handling_dept_code"].tolist()
    out = {"n_train": len(tr), "n_test": len(te),
           "model_only": agreement(score_texts(model, texts, addresses=addrs), labels),
           "blend": agreement(score_texts(model, texts, addresses=addrs,
                                          signals=blend_inputs(get_settings().catalog_dir, model)), labels)}
    print(json.dumps(out, ensure_ascii=False))
    return out


if __name__ == "__main__":
    main()
