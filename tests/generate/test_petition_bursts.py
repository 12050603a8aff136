"""Generated group petitions (群体诉求) are caught by the signals' group detector, and the
generator's background petitions never look like one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from govlake.catalog import load_departments
from govlake.generate import _population, _rng
from govlake.generate.tickets import burst_count, generate_petitions
from govlake.signals import detect
from govlake.signals.job import LOOKBACK_DAYS

D = dt.date(2026, 11, 21)
AS_OF = dt.datetime.combine(D, dt.time())


@pytest.fixture(scope="module")
def world():
    from govlake.settings import get_settings

    s = get_settings()
    return _population(s, 3000, 21, D), load_departments(s.catalog_dir)


def _year(world, seed: int, **kw) -> pd.DataFrame:
    pop, depts = world
    return generate_petitions(_rng(seed, 5), pop, depts, 3000, AS_OF - dt.timedelta(days=365), 365, AS_OF, **kw)


def _alerts(p: pd.DataFrame) -> pd.DataFrame:
    e = detect.enrich(p)
    return detect.group_alerts_from_edges(e, detect.blocked_edges(e, "group"))


def test_every_injected_burst_fires_one_alert(world):
    p = _year(world, 4)
    bursts = p.attrs["bursts"]
    assert len(bursts) == burst_count(3000) == 3
    alerts = _alerts(p)
    member = {t: g for g, ids in bursts.items() for t in ids}
    caught = {}
    for ids, n in zip(alerts["ticket_ids"], alerts["requester_count"]):
        groups = {member.get(t) for t in ids}
        assert groups != {None}, f"alert on background petitions only: {ids}"
        assert n >= detect.GROUP_MIN_REQUESTERS
        (g,) = groups - {None}  # one alert is one burst
        assert sum(t in member for t in ids) >= 0.8 * len(ids)  # mostly the burst's own tickets
        caught[g] = caught.get(g, 0) + 1
    assert caught == {g: 1 for g in bursts}


def test_latest_burst_is_inside_the_signals_lookback(world):
    """The pipeline's signals job reads LOOKBACK_DAYS before as_of: the latest extract must hold
    a live group petition there, or gold.group_petition_alerts stays empty."""
    p = _year(world, 5)
    recent = p[p["submit_time"] >= pd.Timestamp(AS_OF - dt.timedelta(days=LOOKBACK_DAYS - 1))].copy()
    recent.attrs = {}
    alerts = _alerts(recent)
    assert len(alerts) >= 1
    last = max(p.attrs["bursts"].values(), key=lambda ids: ids[0])
    assert any(len(set(ids) & set(last)) >= detect.GROUP_MIN_REQUESTERS for ids in alerts["ticket_ids"])


def test_background_noise_raises_no_group_alert(world):
    p = _year(world, 4, bursts=0)
    assert p.attrs["bursts"] == {}
    assert _alerts(p).empty
