"""`govlake precredit train | evaluate | score`: 融资预授信额测算."""

from __future__ import annotations

import json

import click


@click.group()
def precredit():
    """融资预授信额测算 (financing pre-credit estimate): train, evaluate, score."""


@precredit.command()
@click.option("--n", default=20000, show_default=True, help="generated loan applications")
@click.option("--seed", default=7, show_default=True)
@click.option("--no-publish", is_flag=True, help="save the version without publishing it")
def train(n, seed, no_publish):
    """Generate loans, fit the scorecard and the monotone GBM, measure, choose, save (and publish)."""
    from govlake.precredit import model as M
    from govlake.settings import get_settings

    s = get_settings()
    m = M.train(n, seed, s.catalog_dir)
    out = M.save(m, s)
    if not no_publish:
        M.publish(s, out.name)
    for name, r in m.meta["holdout"]["metrics"].items():
        click.echo(f"{name:10s} AUC {r['auc']:.4f}  KS {r['ks']:.4f}  Brier {r['brier']:.4f} "
                   f"(base rate {r['brier_base_rate']:.4f})  max calibration gap {r['calibration_max_gap']:.4f}")
    click.echo(f"chosen: {m.kind}  version {out.name}{'' if no_publish else ' (published)'}  -> {out}")


@precredit.command()
@click.option("--version", default=None, help="a saved version (default: the published one)")
def evaluate(version):
    """AUC, KS and calibration of the published model on its held-out split."""
    from govlake.precredit import model as M
    from govlake.settings import get_settings

    s = get_settings()
    m = M.load(s, version)
    r = M.evaluate(m, s.catalog_dir)
    click.echo(f"model {m.meta['version']} ({m.kind}), held-out n={r['n']}, default rate {r['default_rate']:.4f}")
    click.echo(f"AUC {r['auc']:.4f}  KS {r['ks']:.4f}  Brier {r['brier']:.4f} (base rate {r['brier_base_rate']:.4f})")
    click.echo("decile  n     predicted  observed")
    for b in r["reliability"]:
        click.echo(f"{b['bin']:>6}  {b['n']:<5} {b['predicted']:<10.4f} {b['observed']:.4f}")
    recorded = m.meta["holdout"]["metrics"][m.kind]
    if (recorded["auc"], recorded["ks"]) != (r["auc"], r["ks"]):
        raise click.ClickException(f"held-out figures differ from model.json: recorded AUC {recorded['auc']}, "
                                   f"KS {recorded['ks']}")


@precredit.command()
@click.option("--uscc", required=True, help="统一社会信用代码")
@click.option("--json", "as_json", is_flag=True)
def score(uscc, as_json):
    """The enterprise's pre-credit range and reasons from its released profile row."""
    from govlake.precredit.score import read_profile
    from govlake.precredit.score import score as score_table
    from govlake.settings import get_settings

    s = get_settings()
    t = read_profile(s, uscc)
    if t.num_rows == 0:
        raise click.ClickException(f"no profile row for {uscc} (无此企业画像)")
    r = score_table(t.slice(0, 1), s).to_pylist()[0]
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False))
        return
    click.echo(f"{uscc}  预授信额度 {r['credit_low_wan']:.1f}–{r['credit_high_wan']:.1f} 万元  "
               f"违约概率 pd {r['pd']:.4f}  model {r['model_version']}")
    for k, reason in enumerate(r["reasons"], 1):
        click.echo(f"  {k}. {reason}")
