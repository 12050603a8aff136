"""`govlake petitions train|evaluate|score` (click group `petitions`)."""

from __future__ import annotations

import json
import sys

import click

from govlake.petitions.io import DataError, read_labeled


def _load_labeled(path, text_col, label_col, encoding):
    try:
        return read_labeled(path, text_col, label_col, encoding)
    except DataError as e:
        raise click.UsageError(str(e)) from None


@click.group("petitions")
def petitions():
    """智能分拨: petition dispatch text models."""


@petitions.command()
@click.option("--input", "input_", required=True, type=click.Path(), help="labelled CSV")
@click.option("--text-col", required=True)
@click.option("--label-col", required=True)
@click.option("--encoding", default="utf-8", show_default=True)
@click.option("--model-out", required=True, type=click.Path(file_okay=False))
@click.option("--extra-segmented", type=click.Path(), default=None,
              help="extra CSV whose text is already segmented (space separated tokens); rows "
                   "copying any --input message are dropped (no hold-out leakage)")
@click.option("--extra-text-col", default="text", show_default=True)
@click.option("--extra-label-col", default="label", show_default=True)
@click.option("--no-refit", is_flag=True, help="ship the model measured on the 80%% split")
@click.option("--C", "c", type=float, default=0.3, show_default=True, help="LinearSVC C")
@click.option("--max-chars", type=int, default=600, show_default=True,
              help="characters of each message used (speed/accuracy knob; 0 = all)")
@click.option("--no-hmm", is_flag=True, help="jieba without HMM: ~1.3x faster tokenising")
def train(input_, text_col, label_col, encoding, model_out, extra_segmented, extra_text_col,
          extra_label_col, no_refit, c, max_chars, no_hmm):
    """Train, measure on a stratified 80/20 (seed 42) hold-out, save a versioned model."""
    from govlake.petitions.model import save_model, sha256_file, train as train_model
    texts, labels, skipped = _load_labeled(input_, text_col, label_col, encoding)
    extra_texts, extra_labels, extra_info = [], [], None
    if extra_segmented:
        et, el, _ = _load_labeled(extra_segmented, extra_text_col, extra_label_col, "utf-8")
        extra_texts, extra_labels = et, el
        extra_info = {"path": str(extra_segmented), "sha256": sha256_file(extra_segmented), "rows": len(et)}
    try:
        model = train_model(texts, labels, extra_segmented=extra_texts, extra_labels=extra_labels,
                            refit=not no_refit, C=c, max_chars=max_chars or None, hmm=not no_hmm)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    meta = save_model(model, model_out, training_data={
        "path": str(input_), "sha256": sha256_file(input_), "rows": len(texts) + skipped,
        "rows_used": len(texts), "rows_skipped_empty": skipped, "text_col": text_col,
        "label_col": label_col, "encoding": encoding, "extra_segmented": extra_info,
    })
    click.echo(json.dumps({"model_dir": str(model_out), "version": meta["version"],
                           "holdout": {k: meta["holdout"]["metrics"][k] for k in ("n", "top1", "top3", "macro_f1")}},
                          ensure_ascii=False))


@petitions.command()
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False))
@click.option("--input", "input_", required=True, type=click.Path())
@click.option("--text-col", required=True)
@click.option("--label-col", required=True)
@click.option("--encoding", default="utf-8", show_default=True)
def evaluate(model_dir, input_, text_col, label_col, encoding):
    """Print one JSON object: n, top1, top3, macro_f1, per_class, model_version."""
    from govlake.petitions.model import evaluate as eval_model, load_model

    try:
        model = load_model(model_dir)
    except FileNotFoundError as e:
        raise click.UsageError(str(e)) from None
    texts, labels, skipped = _load_labeled(input_, text_col, label_col, encoding)
    res = eval_model(model, texts, labels)
    res = {**res, "n_skipped_empty": skipped, "model_version": model.meta.get("version")}
    click.echo(json.dumps(res, ensure_ascii=False))


@petitions.command()
@click.option("--model", "model_dir", type=click.Path(file_okay=False), default=None)
@click.option("-k", default=3, show_default=True)
@click.argument("text")
def score(model_dir, k, text):
    """Top-k departments for one message (debugging aid)."""
    from dataclasses import asdict

    from govlake.petitions.scoring import score_one

    recs = score_one(text, k=k, model_dir=model_dir)
    click.echo(json.dumps([asdict(r) for r in recs], ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(petitions())
