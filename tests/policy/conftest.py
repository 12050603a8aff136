"""Shared fixtures for the policy tests: the real field catalog and policy catalog."""

from __future__ import annotations

import pytest

from govlake.settings import get_settings


@pytest.fixture(scope="session")
def fields():
    from govlake.policy.fields import field_catalog

    return field_catalog(get_settings().catalog_dir)


@pytest.fixture(scope="session")
def core(fields):
    """Core contract fields only, with the full catalog's types and labels (small test profiles)."""
    from govlake.policy.fields import core_fields

    return {k: fields.get(k, v) for k, v in core_fields(get_settings().catalog_dir).items()}


@pytest.fixture(scope="session")
def policies(fields):
    from govlake.catalog.policies import load_policies

    return load_policies(get_settings().catalog_dir, {k: v.type for k, v in fields.items()})
