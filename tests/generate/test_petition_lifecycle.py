"""Generated petitions live the 民意速办 life cycle of catalog/petition_service.yaml: every
timestamp in order, 回退 exactly where the first rating fires the rule and 专项督办 exactly where
the re-rating fires it again. The rule is evaluated with the SQL the dbt marts and the profile
get (PetitionService.dissatisfied_sql, in DuckDB), not with the generator's own code."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from govlake.catalog import load_departments
from govlake.catalog.petition_service import load_petition_service
from govlake.generate import _population, _rng
from govlake.generate.tickets import generate_petitions
from govlake.settings import get_settings

AS_OF = dt.datetime(2026, 11, 1)


@pytest.fixture(scope="module")
def year():
    s = get_settings()
    svc = load_petition_service(s.catalog_dir)
    pop = _population(s, 2000, 21, AS_OF.date())
    df = generate_petitions(_rng(21, 5), pop, load_departments(s.catalog_dir), 8000,
                            AS_OF - dt.timedelta(days=365), 365, AS_OF)
    con = duckdb.connect()
    con.register("p", df)
    flags = con.execute(f"""
        select ticket_id, coalesce({svc.dissatisfied_sql()}, false) as fires,
               coalesce({svc.dissatisfied_sql(rerating=True)}, false) as refires
        from p""").df()
    return svc, df.merge(flags, on="ticket_id")


def test_timestamps_follow_the_life_cycle(year):
    _, df = year
    order = ["submit_time", "dispatched_time", "first_contact_time", "closed_time", "rated_time",
             "reclosed_time", "rerated_time"]
    for a, b in zip(order, order[1:]):
        both = df[a].notna() & df[b].notna()
        assert (df.loc[both, a] <= df.loc[both, b]).all(), (a, b)
        assert (df[b].isna() | df[a].notna()).all(), f"{b} without {a}"
    closed = df["closed_time"].notna()
    pre = closed & df["pre_eval_time"].notna()
    assert (df.loc[pre, "pre_eval_time"] <= df.loc[pre, "closed_time"]).all()
    assert pre.sum() > 0.9 * closed.sum()  # the pre-evaluation message is the norm, not universal
    assert (df[["closed_time", "rated_time", "rerated_time"]].max(axis=1).dropna() <= AS_OF).all()


def test_sent_back_exactly_when_the_first_rating_fires_the_rule(year):
    svc, df = year
    rated = df["satisfaction_effect"].notna()
    assert rated.sum() > 0.5 * df["closed_time"].notna().sum()
    # Re-handling starts only where the rule fired, and every firing rating was sent back.
    rehandled = df["reclosed_time"].notna() | (df["status"] == "已回退")
    assert (rehandled == (rated & df["fires"])).all()
    assert 0.03 < df.loc[rated, "fires"].mean() < 0.25
    # Bad scores on the dimensions the rule does not name alone do not send a ticket back.
    other = [d.column for d in svc.dimensions if d.id not in svc.return_dimensions]
    only_other = rated & ~df["fires"] & (df[other] <= svc.return_max_score).any(axis=1)
    assert only_other.any() and not rehandled[only_other].any()


def test_escalated_exactly_after_a_second_dissatisfaction(year):
    _, df = year
    rerated = df["resatisfaction_effect"].notna()
    assert (rerated <= df["fires"]).all()  # only returned tickets are re-rated
    escalated = df["status"] == "专项督办"
    assert (escalated == (rerated & df["refires"])).all()
    assert escalated.any() and (rerated & ~df["refires"]).any()
    assert set(df.loc[df["status"] == "已回退", "reclosed_time"].map(pd.isna)) <= {True}
