"""The profile fields the pre-credit models read, their monotone direction, and the numeric matrix.

Every input is a field id of catalog/enterprise_fields (labels come from there). direction +1:
a higher value may only raise the default probability; -1: only lower it (the GBM's
monotonic_cst and the scorecard's bin order both follow it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GRADE_RANK = {"D": 0.0, "C": 1.0, "M": 2.0, "B": 3.0, "A": 4.0}  # 纳税信用等级, worst to best


@dataclass(frozen=True)
class Feature:
    id: str
    direction: int  # +1 riskier as it grows, -1 safer as it grows


FEATURES: tuple[Feature, ...] = (
    Feature("revenue_y1_wan", -1),
    Feature("revenue_growth_2y_avg", -1),
    Feature("total_tax_y1_wan", -1),
    Feature("total_tax_growth_y1", -1),
    Feature("tax_credit_grade_y1", -1),
    Feature("insured_headcount_y1", -1),
    Feature("insured_headcount_growth_y1", -1),
    Feature("credit_serious_1y_count", +1),
    Feature("credit_dishonest_active", +1),
    Feature("admin_penalty_1y_count", +1),
    Feature("ip_invention_valid_count", -1),
    Feature("financing_bank_loan_2y_wan", +1),
    Feature("equity_financing_2y_wan", -1),
    Feature("subsidy_total_3y_wan", -1),
    Feature("years_since_registration", -1),
)
FEATURE_IDS = [f.id for f in FEATURES]
DIRECTIONS = np.array([f.direction for f in FEATURES])
# The scale of the credit line (credit_line.py) reads these two besides the model's inputs.
SCALE_FIELDS = ("revenue_y1_wan", "total_tax_y1_wan")


def _numeric(col: pa.ChunkedArray | pa.Array, fid: str) -> np.ndarray:
    if fid == "tax_credit_grade_y1":
        vals = col.to_pylist()
        return np.array([GRADE_RANK.get(v, np.nan) if v is not None else np.nan for v in vals], dtype=float)
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int8())
    return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def matrix(table: pa.Table) -> np.ndarray:
    """(rows, len(FEATURES)) float64, NaN where the profile has no value. A missing column is an
    error: scoring an enterprise on columns the profile does not have would be a guess."""
    missing = [f for f in FEATURE_IDS if f not in table.column_names]
    if missing:
        raise KeyError(f"the table lacks pre-credit input field(s) {missing} (画像缺少预授信所需字段)")
    return np.column_stack([_numeric(table.column(f), f) for f in FEATURE_IDS]) if table.num_rows else \
        np.empty((0, len(FEATURES)))


@lru_cache(maxsize=4)
def _labels(catalog_dir: str) -> dict[str, str]:
    from govlake.catalog.enterprise import load_enterprise_fields

    by_id = load_enterprise_fields(Path(catalog_dir)).by_id()
    return {f: by_id[f].label for f in (*FEATURE_IDS, *SCALE_FIELDS)}


def labels(catalog_dir: Path) -> dict[str, str]:
    """field id -> 中文 label from the enterprise field catalog (KeyError if a field left it)."""
    return _labels(str(Path(catalog_dir).resolve()))
