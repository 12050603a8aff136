from __future__ import annotations

import pytest

from govlake.lakehouse import Lakehouse


@pytest.fixture
def small_lake(settings) -> Lakehouse:
    """A profile, its tags (deletion vectors on: the SQL read path) and a street report, a few rows each."""
    from small_lake import build

    return build(settings)
