"""The enterprise profile's expectation suite, generated from the field catalog: every field
present with its type, the key (统一社会信用代码) unique and never null, counts and amounts of
money never negative where the catalog says so. Gates the publish in govlake.profile.build."""

from __future__ import annotations

from pathlib import Path

from govlake.catalog.enterprise import load_enterprise_fields
from govlake.quality import ColumnSpec, suite_from_columns

# Counts can never be negative. Amounts, days and years can (profits, added value, days to a
# certificate's expiry), so they get no floor.
COUNT_UNITS = {"个", "人", "次", "件", "条", "笔", "项", "份"}
SIGNED = ("change", "delta", "growth", "diff", "net")


def profile_columns(catalog_dir: Path) -> list[ColumnSpec]:
    specs = []
    for f in load_enterprise_fields(catalog_dir).fields:
        key = f.id == "uscc"
        count = f.type in {"int", "long", "double"} and f.unit in COUNT_UNITS
        floor = 0 if count and not any(w in f.id for w in SIGNED) else None
        specs.append(ColumnSpec(f.id, f.type, f.label, nullable=not key, unique=key, min=floor))
    return specs


def profile_suite(catalog_dir: Path) -> dict:
    return suite_from_columns("gold.enterprise_profile", profile_columns(catalog_dir), key=["uscc"])
