"""The scoring contract (for the data sandbox, the CLI and the route): no Spark.

    score(table, settings) -> pyarrow.Table
        uscc, pd, credit_low_wan, credit_high_wan, reasons (list<string>), model_version

`table` holds the profile columns of features.FEATURE_IDS (and uscc); the published model
scores it. A missing input column is an error, a null value is the model's 缺失 bin."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from govlake.precredit import credit_line
from govlake.precredit.features import FEATURE_IDS, SCALE_FIELDS, matrix
from govlake.precredit.model import PrecreditModel, load

INPUT_COLUMNS = ["uscc", *dict.fromkeys([*FEATURE_IDS, *SCALE_FIELDS])]
OUTPUT_SCHEMA = pa.schema([("uscc", pa.string()), ("pd", pa.float64()), ("credit_low_wan", pa.float64()),
                           ("credit_high_wan", pa.float64()), ("reasons", pa.list_(pa.string())),
                           ("model_version", pa.string())])


def score(table: pa.Table, settings, model: PrecreditModel | None = None) -> pa.Table:
    m = model or load(settings)
    if "uscc" not in table.column_names:
        raise KeyError("the table needs a uscc column (缺少统一社会信用代码)")
    X = matrix(table)
    p = m.predict_pd(X) if len(X) else np.empty(0)
    col = {f: X[:, FEATURE_IDS.index(f)] for f in (*SCALE_FIELDS, "credit_dishonest_active")}
    low, high = credit_line.credit_range(p, col["revenue_y1_wan"], col["total_tax_y1_wan"],
                                         np.nan_to_num(col["credit_dishonest_active"]))
    reasons = m.reasons(X, settings.catalog_dir) if len(X) else []
    return pa.table({"uscc": table.column("uscc").cast(pa.string()), "pd": pa.array(np.round(p, 6), pa.float64()),
                     "credit_low_wan": pa.array(low, pa.float64()), "credit_high_wan": pa.array(high, pa.float64()),
                     "reasons": pa.array(reasons, pa.list_(pa.string())),
                     "model_version": pa.array([m.meta.get("version")] * len(p), pa.string())},
                    schema=OUTPUT_SCHEMA)


def read_profile(settings, uscc: str, columns: list[str] | None = None) -> pa.Table:
    """The enterprise's row of the released gold.enterprise_profile, through delta-rs."""
    from govlake import release
    from govlake.lakehouse import Lakehouse
    from govlake.policy.match import PROFILE

    lake = Lakehouse(None, settings)
    if not lake.exists(PROFILE):
        raise FileNotFoundError(f"no {PROFILE} in the lake at {lake.path(PROFILE)} (画像表不存在)")
    v = release.version_of(lake, PROFILE)
    have = set(lake.arrow_schema(PROFILE, version=v).names)
    cols = list(dict.fromkeys([*INPUT_COLUMNS, *(columns or [])]))
    missing = [c for c in cols if c not in have]
    if missing:
        raise KeyError(f"{PROFILE} v{v} lacks pre-credit input field(s) {missing} (画像缺少预授信所需字段)")
    return lake.to_arrow(PROFILE, version=v, columns=cols, where={"uscc": uscc})
