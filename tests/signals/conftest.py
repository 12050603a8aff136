"""Signals tests: the real data (divisions, taidi) is needed for most of them; skip clearly without it."""

from __future__ import annotations

import pytest

from govlake.settings import get_settings


def _need(rel: str):
    p = get_settings().shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"shared data {p} is absent (see /work/shared/data/README.md)")
    return p


@pytest.fixture(scope="session")
def divisions():
    return _need("divisions/baoan_communities_2021.csv")


@pytest.fixture(scope="session")
def taidi(divisions):
    _need("taidi2020/messages_with_votes.csv")
    from govlake.signals import detect
    from govlake.signals.taidi import load_votes_messages

    return detect.enrich(load_votes_messages())
