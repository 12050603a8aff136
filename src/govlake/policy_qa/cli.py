"""`govlake policy-qa`: 政策问答 from the command line."""

from __future__ import annotations

import datetime as dt
import json

import click


@click.group("policy-qa")
def policy_qa() -> None:
    """政策问答: answer an enterprise's question with the policy articles (and its own result)."""


@policy_qa.command("ask")
@click.argument("question")
@click.option("--uscc", default=None, help="the enterprise asking: its own result clause by clause")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
@click.option("--json", "as_json", is_flag=True)
def ask_cmd(question, uscc, as_of, as_json) -> None:
    """Answer QUESTION (Chinese) from catalog/policies."""
    from govlake.policy_qa.answer import ask
    from govlake.settings import get_settings

    s = get_settings()
    engine = None
    if uscc:
        from govlake.lakehouse import Lakehouse
        from govlake.policy.evaluate import PolicyEngine

        engine = PolicyEngine.from_catalog(s.catalog_dir, Lakehouse(None, s))
    try:
        r = ask(question, s.catalog_dir, uscc=uscc, engine=engine,
                as_of=dt.date.fromisoformat(as_of) if as_of else None)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e))
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False, indent=1))
        return
    click.echo(r["answer_zh"])
    for p in r["policies"]:
        click.echo(f"\n{p['policy_id']} {p['name_zh']}（相关度 {p['score']:g}）{p['title_zh']}")
        for q in p["quotes"]:
            click.echo(f"  · {q['label_zh']}：{q['text_zh'] or '（条文见原文）'}")
        for c in (p.get("enterprise") or {}).get("clauses", []):
            click.echo(f"  [{c['result_zh']}] {c['label_zh']}{c['detail_zh']}")


@policy_qa.command("evaluate")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False), default=None,
              help="question set (default tests/policy_qa/questions.yaml)")
def evaluate_cmd(questions) -> None:
    """Top-1 and top-3 retrieval accuracy on the question set."""
    from pathlib import Path

    from govlake.policy_qa.evaluation import QUESTIONS, evaluate, load_questions
    from govlake.settings import get_settings

    r = evaluate(get_settings().catalog_dir, load_questions(Path(questions) if questions else QUESTIONS))
    click.echo(f"questions {r['questions']}  top-1 {r['top1']} ({r['top1_accuracy']:.1%})  "
               f"top-3 {r['top3']} ({r['top3_accuracy']:.1%})")
    for m in r["misses"]:
        click.echo(f"  miss: {m['q']} expect {m['expect']} got {m['got']}")
