"""Small pandas frames (a job's rows computed on the driver) as Spark DataFrames of a given
schema, for the petitions and signals jobs that write them."""

from __future__ import annotations

import datetime as dt


def py_value(v):
    """A pandas / numpy cell as the plain Python value createDataFrame accepts (missing -> None)."""
    import numpy as np
    import pandas as pd

    if v is None or v is pd.NaT:
        return None
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple, dict)):
        return v
    if bool(pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v.item() if isinstance(v, np.generic) else v


def spark_frame(spark, pdf, schema, *, as_of: dt.date | None = None):
    """pdf's columns named in `schema` (a StructType), in its order, as a Spark DataFrame of that
    schema; `as_of`, when given, fills the as_of column."""
    if as_of is not None:
        pdf = pdf.assign(as_of=as_of)
    rows = [tuple(py_value(v) for v in r) for r in pdf[[f.name for f in schema.fields]].itertuples(index=False)]
    return spark.createDataFrame(rows, schema)
