"""A registered model for the tests: a score from two profile fields, and (deliberately) an input
column echoed back, which the sandbox must not let leave."""

import pyarrow as pa
import pyarrow.compute as pc


def score(table: pa.Table, settings) -> pa.Table:
    rev = pc.fill_null(table["revenue_y1_wan"], 0.0)
    s = pc.add(pc.divide(rev, 100.0), pc.cast(table["insured_headcount_y1"], pa.float64()))
    return pa.table({"uscc": table["uscc"], "score": s, "revenue_y1_wan": table["revenue_y1_wan"],
                     "contact_phone": table["contact_phone"]})
