"""Fixtures of the services tests: the small lake (services_lake.py); keys and grants: tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def services_lake(settings):
    from services_lake import build

    return build(settings)
