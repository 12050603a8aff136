"""`govlake petitions train|evaluate|score|show|return|arbitrate` (click group `petitions`)."""

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
@click.option("--address", default=None, help="事发地址 (for 属地)")
@click.option("--model-only", is_flag=True, help="the text model alone, without the catalog blend and roles")
@click.argument("text")
def score(model_dir, k, address, model_only, text):
    """Top-k departments for one message, with their roles (主办 / 协办 / 备选) and reasons, as the
    online route scores it (catalog blend of catalog/dispatch.yaml and departments.yaml)."""
    from dataclasses import asdict

    from govlake.petitions.blend_inputs import blend_inputs
    from govlake.petitions.scoring import get_model, score_one
    from govlake.settings import get_settings

    model = get_model(model_dir)
    signals = {} if model_only else blend_inputs(get_settings().catalog_dir, model)
    recs = score_one(text, k=k, model=model, address=address, **signals)
    click.echo(json.dumps([asdict(r) for r in recs], ensure_ascii=False))


def _handling(fn, *args, **kw):
    from govlake.petitions.handling_events import HandlingError

    try:
        st = fn(*args, **kw)
    except HandlingError as e:
        click.echo(f"refused ({e.status}): {e}", err=True)
        sys.exit(1)
    click.echo(json.dumps(st.as_dict(), ensure_ascii=False, default=str))


@petitions.command("return")
@click.argument("ticket_id")
@click.option("--dept", required=True, help="the department returning the ticket (退单部门代码)")
@click.option("--reason", required=True, help="退单理由")
@click.option("--by", default="cli", show_default=True, help="who records it")
def return_cmd(ticket_id, dept, reason, by):
    """退单: a department hands back a ticket it was sent; re-dispatched without it, or sent to
    快速裁决 at the second return. Prints the ticket's state."""
    from govlake.petitions.handling_events import return_ticket
    from govlake.settings import get_settings

    _handling(return_ticket, get_settings(), ticket_id, dept, reason, by=by)


@petitions.command()
@click.argument("ticket_id")
@click.option("--dept", required=True, help="the department that handles it (裁决承办部门代码)")
@click.option("--by", required=True, help="who decided (裁决人)")
@click.option("--reason", default="", help="裁决理由")
@click.option("--assist", "assisting", multiple=True, help="assisting department (协办), repeatable")
def arbitrate(ticket_id, dept, by, reason, assisting):
    """快速裁决 by the district centre: final; prints the ticket's state."""
    from govlake.petitions.handling_events import arbitrate as do_arbitrate
    from govlake.settings import get_settings

    _handling(do_arbitrate, get_settings(), ticket_id, dept, by=by, reason=reason, assisting=list(assisting))


@petitions.command()
@click.argument("ticket_id")
def show(ticket_id):
    """A ticket's dispatch: its departments with roles (主办 / 协办 / 备选), then its 退单 / 快速裁决
    events and where it stands."""
    from govlake.lakehouse import Lakehouse
    from govlake.petitions.handling_events import dispatch_rows, ticket_state
    from govlake.settings import get_settings

    lake = Lakehouse(None, get_settings())
    try:
        st = ticket_state(lake, ticket_id)
    except KeyError as e:
        raise click.UsageError(str(e.args[0])) from None
    rows = [{k: r.get(k) for k in ("as_of", "rank", "dept_code", "dept_name", "role", "role_label", "probability",
                                   "reason", "role_reason")} for r in dispatch_rows(lake, ticket_id)]
    click.echo(json.dumps({"departments": rows, **st.as_dict()}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    sys.exit(petitions())
