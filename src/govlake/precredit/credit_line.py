"""The pre-credit line (预授信额度区间, 万元) from the default probability and the enterprise's scale.

    scale = min(REVENUE_MULTIPLE x revenue_y1_wan, TAX_MULTIPLE x total_tax_y1_wan)
            (one of them when the other is missing; no line when both are)
    high  = min(CAP_WAN, scale x max(0, 1 - pd / PD_DECLINE))
    low   = LOW_SHARE x high
Both are 0 at pd >= PD_DECLINE and for an enterprise on the dishonest list (失信名单): a bank
would decline. The line falls as pd rises and grows with scale up to the cap."""

from __future__ import annotations

import numpy as np

REVENUE_MULTIPLE = 0.2   # a working-capital line of at most a fifth of a year's revenue
TAX_MULTIPLE = 8.0       # 税易贷-style lines are a multiple of tax paid
CAP_WAN = 1000.0         # the pre-credit product's ceiling per enterprise
PD_DECLINE = 0.30
LOW_SHARE = 0.6


def credit_range(pd_: np.ndarray, revenue_wan: np.ndarray, tax_wan: np.ndarray,
                 dishonest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) in 万元, rounded to 0.1."""
    rev = np.where(np.asarray(revenue_wan, float) > 0, revenue_wan, np.nan) * REVENUE_MULTIPLE
    tax = np.where(np.asarray(tax_wan, float) > 0, tax_wan, np.nan) * TAX_MULTIPLE
    scale = np.nan_to_num(np.fmin(rev, tax), nan=0.0)  # fmin: the known one when the other is NaN
    high = np.minimum(CAP_WAN, scale * np.clip(1.0 - np.asarray(pd_, float) / PD_DECLINE, 0.0, 1.0))
    if dishonest is not None:
        high = np.where(np.asarray(dishonest, float) > 0, 0.0, high)
    high = np.floor(high * 10) / 10
    return np.floor(high * LOW_SHARE * 10) / 10, high
