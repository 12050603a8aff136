"""Signals tests: the divisions ship with the package (govlake.reference); the real taidi2020
messages (../shared/data) are outside data, and the tests that need them skip clearly without them."""

from __future__ import annotations

import pytest

from govlake.settings import get_settings


def _need(rel: str):
    p = get_settings().shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"shared data {p} is absent (set GOVLAKE_SHARED_DATA_DIR; see ../shared/data/README.md)")
    return p


@pytest.fixture(scope="session")
def divisions():
    from govlake.reference import divisions_csv

    return divisions_csv()


@pytest.fixture(scope="session")
def taidi_seeds(divisions):
    """synthetic_petitions() takes its texts from the real taidi messages (only three stock texts
    without them, too few for the tests that need distinct petitions)."""
    return _need("taidi2020/messages_with_votes.csv")


@pytest.fixture(scope="session")
def taidi(divisions):
    _need("taidi2020/messages_with_votes.csv")
    from govlake.signals import detect
    from govlake.signals.taidi import load_votes_messages

    return detect.enrich(load_votes_messages())
