"""Generated loans, the two models measured on the held-out split, the scorecard's bins, the
credit-line rule and the reasons."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

from govlake.catalog.enterprise import load_enterprise_fields
from govlake.precredit import credit_line, outcomes
from govlake.precredit import model as M
from govlake.precredit.features import DIRECTIONS, FEATURE_IDS, matrix
from govlake.precredit.gbm import fit_gbm
from govlake.settings import get_settings

CATALOG = get_settings().catalog_dir


def test_generator_is_reproducible_and_follows_its_stated_model():
    a, b = outcomes.generate_loans(400, 3), outcomes.generate_loans(400, 3)
    assert a.equals(b)
    assert not a.column("defaulted").equals(outcomes.generate_loans(400, 4).column("defaulted"))
    rate = np.mean(a.column("defaulted").to_numpy(zero_copy_only=False))
    assert 0.05 < rate < 0.3
    # one enterprise computed by hand from the documented coefficients (no noise)
    row = {f: None for f in outcomes.TRUE_TERMS} | {
        "revenue_y1_wan": 1000.0, "revenue_growth_2y_avg": -0.1, "total_tax_y1_wan": 100.0,
        "total_tax_growth_y1": -0.05, "tax_credit_grade_y1": "C", "insured_headcount_y1": 20,
        "insured_headcount_growth_y1": 0.1, "credit_serious_1y_count": 1, "credit_dishonest_active": False,
        "admin_penalty_1y_count": 0, "ip_invention_valid_count": 3, "financing_bank_loan_2y_wan": 500.0,
        "equity_financing_2y_wan": 0.0, "subsidy_total_3y_wan": None, "years_since_registration": 2.0}
    z = (outcomes.INTERCEPT - 0.6 * (3 - 2.9) - 2.0 * -0.1 - 0.35 * (2 - 2.9) - 1.5 * -0.05 + 0.6
         - 0.15 * np.log(21) - 1.2 * 0.1 + 0.7 - 0.35 * np.log(4) + outcomes.MISSING_PENALTY + 0.5
         + 0.8 + 0.5 * 0.5)
    assert outcomes.latent_logit([row])[0] == pytest.approx(z)


def test_both_models_beat_the_trivial_baseline_and_the_chosen_one_is_in_bounds(trained):
    m = trained.meta["holdout"]["metrics"]
    ceiling = m["true_pd"]["auc"]
    for name in ("scorecard", "gbm"):
        r = m[name]
        # a constant prediction has AUC 0.5, KS 0 and Brier = base rate x (1 - base rate)
        assert r["auc"] > 0.5 + 0.2 and r["ks"] > 0.35, (name, r)
        assert r["brier"] < r["brier_base_rate"] - 0.015, (name, r)
        assert r["auc"] <= ceiling + 0.01  # no model beats the generator's own pd by more than noise
    chosen = m[trained.kind]
    assert trained.kind == M.choose(m)
    assert 0.78 <= chosen["auc"] <= 0.88 and 0.42 <= chosen["ks"] <= 0.62, chosen
    assert chosen["calibration_max_gap"] < 0.1
    assert sum(b["n"] for b in chosen["reliability"]) == chosen["n"] == trained.meta["holdout"]["n_test"]


def test_choice_rule():
    base = {"auc": 0.85, "brier": 0.09}
    assert M.choose({"scorecard": base, "gbm": {"auc": 0.86, "brier": 0.085}}) == "scorecard"
    assert M.choose({"scorecard": base, "gbm": {"auc": 0.875, "brier": 0.085}}) == "gbm"
    assert M.choose({"scorecard": base, "gbm": {"auc": 0.9, "brier": 0.095}}) == "scorecard"


def test_scorecard_is_monotone_in_its_bins():
    t, X, y = M.loans_xy(3000, 11)
    from govlake.precredit.scorecard import fit_scorecard

    sc = fit_scorecard(X, y)
    assert (sc.coef <= 0).all() and (sc.coef < 0).sum() >= 10
    for j, (b, pts) in enumerate(zip(sc.binnings, sc.points)):
        rates, p = np.asarray(b.bad_rate[:-1]), np.asarray(pts[:-1])  # the missing bin is last, unordered
        assert (DIRECTIONS[j] * np.diff(rates) >= 0).all(), (FEATURE_IDS[j], rates)
        assert (-DIRECTIONS[j] * np.diff(p) >= 0).all(), (FEATURE_IDS[j], p)
    grade = sc.binnings[FEATURE_IDS.index("tax_credit_grade_y1")]
    assert len(grade.edges) >= 2  # the grades are not pooled into one bin
    # the card's points add up to its pd: score = OFFSET + FACTOR x ln(odds good), up to rounding
    from govlake.precredit.scorecard import FACTOR, OFFSET

    s, p = sc.score(X), sc.predict_pd(X)
    assert np.abs(s - (OFFSET + FACTOR * np.log((1 - p) / p))).max() < 0.05 * (len(FEATURE_IDS) + 1)


def test_credit_line_bounds():
    rng = np.random.default_rng(0)
    pd_ = rng.uniform(0, 1, 2000)
    rev = np.where(rng.random(2000) < 0.1, np.nan, 10 ** rng.uniform(0, 5, 2000))
    tax = np.where(rng.random(2000) < 0.1, np.nan, 10 ** rng.uniform(-1, 4, 2000))
    low, high = credit_line.credit_range(pd_, rev, tax)
    assert (0 <= low).all() and (low <= high).all() and (high <= credit_line.CAP_WAN).all()
    assert (high[pd_ >= credit_line.PD_DECLINE] == 0).all()
    assert (high[np.isnan(rev) & np.isnan(tax)] == 0).all()
    scale = np.nan_to_num(np.fmin(rev * credit_line.REVENUE_MULTIPLE, tax * credit_line.TAX_MULTIPLE))
    assert (high <= scale + 1e-9).all()
    # falls as pd rises, grows with scale, capped; the dishonest list declines
    lo2, hi2 = credit_line.credit_range(np.array([0.0, 0.1, 0.2, 0.29]), np.full(4, 5000.0), np.full(4, 1000.0))
    assert list(hi2) == sorted(hi2, reverse=True) and hi2[0] == 1000.0 and hi2[1] < 1000.0
    _, h3 = credit_line.credit_range(np.full(3, 0.05), np.array([100.0, 1000.0, 1e6]), np.array([np.nan] * 3))
    assert h3[0] < h3[1] < h3[2] == credit_line.CAP_WAN
    _, h4 = credit_line.credit_range(np.array([0.01, 0.01]), np.array([1e4, 1e4]), np.array([1e3, 1e3]),
                                     np.array([1.0, 0.0]))
    assert h4[0] == 0 and h4[1] > 0


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_reasons_name_real_catalog_fields(kind):
    from govlake.precredit.scorecard import fit_scorecard

    t, X, y = M.loans_xy(1500, 5)
    model = M.PrecreditModel(kind, fit_gbm(X, y) if kind == "gbm" else fit_scorecard(X, y))
    by_id = load_enterprise_fields(CATALOG).by_id()
    reasons = model.reasons(X[:200], CATALOG)
    assert len(reasons) == 200 and all(len(r) <= 3 for r in reasons)
    assert sum(len(r) == 3 for r in reasons) > 150
    seen = set()
    for rs in reasons:
        for text in rs:
            label, fid = re.match(r"^(.+?)（([a-z0-9_]+)）", text).groups()
            assert fid in FEATURE_IDS and by_id[fid].label == label
            seen.add(fid)
    assert len(seen) >= 4
    # the worst reason really is the factor that costs most
    short = model.model.shortfalls(X[:200])
    first = [re.search(r"（([a-z0-9_]+)）", r[0]).group(1) for r in reasons if r]
    assert first == [FEATURE_IDS[int(np.argmax(s))] for s, r in zip(short, reasons) if r]


def test_gbm_respects_its_monotone_directions():
    _, X, y = M.loans_xy(2000, 9)
    g = fit_gbm(X, y)
    base = np.nanmedian(X, axis=0)
    for j, d in enumerate(DIRECTIONS):
        grid = np.unique(np.nanpercentile(X[:, j], np.linspace(1, 99, 15)))
        Xg = np.tile(np.where(np.isnan(base), 0, base), (len(grid), 1))
        Xg[:, j] = grid
        assert (d * np.diff(g.predict_pd(Xg)) >= -1e-12).all(), FEATURE_IDS[j]


def test_matrix_refuses_a_table_without_an_input():
    t = outcomes.generate_loans(10, 1).drop(["tax_credit_grade_y1"])
    with pytest.raises(KeyError, match="tax_credit_grade_y1"):
        matrix(t)
    assert matrix(pa.table({f: pa.array([], pa.float64()) for f in FEATURE_IDS})).shape == (0, len(FEATURE_IDS))
