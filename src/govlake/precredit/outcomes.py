"""Generated loan outcomes (生成的贷款结果) to train and measure the pre-credit models on.

NOT real lending data. Enterprises come from govlake.policy.synth.random_profiles (the
project's synthetic profiles: fields drawn independently, ~5% nulls); each one applies for one
loan, and whether it defaults is drawn from the stated latent model below, seeded. The true
coefficients are published (TRUE_TERMS, docs/precredit.md) so a reader can judge what a model
recovering them means; two terms are interactions an additive scorecard cannot represent.

    z  = INTERCEPT + sum of TRUE_TERMS (a missing input adds MISSING_PENALTY instead of its term)
         + 0.8 * [revenue growth < 0 and tax growth < 0]      (interaction: shrinking on both)
         + 0.5 * min(bank loans 2y / revenue y1, 4)           (interaction: leverage, a ratio;
                                                               MISSING_LEVERAGE when either is null)
         + noise ~ N(0, NOISE_SD^2)
    pd = 1 / (1 + exp(-z)),  defaulted ~ Bernoulli(pd)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from govlake.precredit.features import GRADE_RANK

INTERCEPT = -2.5
NOISE_SD = 0.5
MISSING_PENALTY = 0.2
MISSING_LEVERAGE = 2.0  # about the population's mean of min(leverage, 4): unknown debt is not safe debt
GRADE_EFFECT = {"A": -0.6, "B": -0.3, "M": 0.0, "C": 0.6, "D": 1.2}
# field -> (coefficient, transform name): the additive part of the latent logit
TRUE_TERMS: dict[str, tuple[float, str]] = {
    "revenue_y1_wan": (-0.6, "log10(x) - 2.9"),
    "revenue_growth_2y_avg": (-2.0, "x"),
    "total_tax_y1_wan": (-0.35, "log10(x) - 2.9"),
    "total_tax_growth_y1": (-1.5, "x"),
    "tax_credit_grade_y1": (1.0, "GRADE_EFFECT[x]"),
    "insured_headcount_y1": (-0.15, "ln(1 + x)"),
    "insured_headcount_growth_y1": (-1.2, "x"),
    "credit_serious_1y_count": (0.7, "x"),
    "credit_dishonest_active": (1.8, "x"),
    "admin_penalty_1y_count": (0.3, "x"),
    "ip_invention_valid_count": (-0.35, "ln(1 + x)"),
    "equity_financing_2y_wan": (-0.12, "log10(1 + x)"),
    "subsidy_total_3y_wan": (-0.1, "log10(1 + x)"),
    "years_since_registration": (0.5, "[x < 3]"),
}
INTERACTIONS = {"shrinking_revenue_and_tax": 0.8, "leverage_bank_loans_to_revenue_cap4": 0.5}
# Fields the generated profile has beyond the core fields of govlake.policy.fields.
EXTRA_FIELDS = ("total_tax_growth_y1", "insured_headcount_growth_y1", "financing_bank_loan_2y_wan")

_TRANSFORMS = {
    "x": lambda v: v,
    "log10(x) - 2.9": lambda v: np.log10(np.maximum(v, 1e-3)) - 2.9,
    "ln(1 + x)": lambda v: np.log1p(np.maximum(v, 0)),
    "log10(1 + x)": lambda v: np.log10(1 + np.maximum(v, 0)),
    "[x < 3]": lambda v: (v < 3).astype(float),
}


def profile_fields(catalog_dir: Path) -> dict:
    """The generated profile's fields: the core fields plus EXTRA_FIELDS, typed from the catalog."""
    from govlake.catalog.enterprise import load_enterprise_fields
    from govlake.policy.fields import FieldInfo, core_fields

    fields = core_fields(catalog_dir)
    by_id = load_enterprise_fields(catalog_dir).by_id()
    for fid in EXTRA_FIELDS:
        fields[fid] = FieldInfo(fid, by_id[fid].type, by_id[fid].label)
    return fields


def _col(rows: list[dict], fid: str) -> np.ndarray:
    if fid == "tax_credit_grade_y1":
        return np.array([np.nan if r[fid] is None else GRADE_RANK[r[fid]] for r in rows])
    return np.array([np.nan if r[fid] is None else float(r[fid]) for r in rows])


def latent_logit(rows: list[dict], rng: np.random.Generator | None = None) -> np.ndarray:
    """z for each profile row (with noise when rng is given)."""
    n = len(rows)
    z = np.full(n, INTERCEPT)
    for fid, (coef, tf) in TRUE_TERMS.items():
        if fid == "tax_credit_grade_y1":
            v = np.array([GRADE_EFFECT.get(r[fid], np.nan) if r[fid] is not None else np.nan for r in rows])
            term = coef * v
        else:
            v = _col(rows, fid)
            with np.errstate(invalid="ignore"):
                term = coef * _TRANSFORMS[tf](v)
        z += np.where(np.isnan(v), MISSING_PENALTY, term)
    rg, tg = _col(rows, "revenue_growth_2y_avg"), _col(rows, "total_tax_growth_y1")
    z += INTERACTIONS["shrinking_revenue_and_tax"] * ((rg < 0) & (tg < 0))
    loans, rev = _col(rows, "financing_bank_loan_2y_wan"), _col(rows, "revenue_y1_wan")
    with np.errstate(invalid="ignore", divide="ignore"):
        lev = np.minimum(np.nan_to_num(loans / np.maximum(rev, 1e-3), nan=MISSING_LEVERAGE), 4.0)
    z += INTERACTIONS["leverage_bank_loans_to_revenue_cap4"] * lev
    if rng is not None:
        z += rng.normal(0.0, NOISE_SD, n)
    return z


def generate_loans(n: int, seed: int = 7, catalog_dir: Path | None = None) -> pa.Table:
    """n loan applications (one per generated enterprise): the profile columns, true_pd and
    defaulted. The same (n, seed) gives the same table."""
    from govlake.policy.synth import random_profiles

    if catalog_dir is None:
        from govlake.settings import get_settings

        catalog_dir = get_settings().catalog_dir
    fields = profile_fields(Path(catalog_dir))
    rows = random_profiles(fields, n, seed=seed, null_rate=0.05)
    rng = np.random.default_rng(seed)
    pd_ = 1.0 / (1.0 + np.exp(-latent_logit(rows, rng)))
    defaulted = rng.random(n) < pd_
    arrow = {"string": pa.string(), "double": pa.float64(), "int": pa.int32(), "long": pa.int64(), "boolean": pa.bool_()}
    cols = {f.id: pa.array([r.get(f.id) for r in rows], arrow.get(f.type, pa.float64())) for f in fields.values()}
    cols["true_pd"] = pa.array(pd_, pa.float64())
    cols["defaulted"] = pa.array(defaulted, pa.bool_())
    return pa.table(cols)
