from __future__ import annotations

import pytest

from govlake.precredit import model as M
from govlake.settings import get_settings

N, SEED = 5000, 7  # small enough to train in a few seconds, large enough to measure


@pytest.fixture(scope="session")
def trained() -> M.PrecreditModel:
    """Both models fitted on 5,000 generated loans, the chosen one returned (metrics in .meta)."""
    return M.train(N, SEED, get_settings().catalog_dir)


@pytest.fixture
def published(trained, settings) -> M.PrecreditModel:
    """The trained model saved and published under this test's lake."""
    out = M.save(trained, settings)
    M.publish(settings, out.name)
    return M.load(settings)
