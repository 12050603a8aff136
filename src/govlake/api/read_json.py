"""The JSON answer of a read: rows go straight to json.dumps (FastAPI's jsonable_encoder walks
every value of every row in Python first, several times the cost of the read itself). Values a
row can hold that JSON has no type for are written as the encoder would: dates and times in ISO
8601, decimals as numbers, bytes as text; NaN was already made null by the read
(govlake.access.reads)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid

from starlette.responses import JSONResponse


def _default(v):
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and v.as_tuple().exponent >= 0 else float(v)
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def _finite(v):
    """A float JSON can carry (NaN and infinities as null), through lists and dicts."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list):
        return [_finite(x) for x in v]
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


class ReadJSON(JSONResponse):
    def render(self, content) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, default=_default, separators=(",", ":"))
        except ValueError:  # an infinity the read let through: null, as for NaN
            text = json.dumps(_finite(content), ensure_ascii=False, allow_nan=False, default=_default,
                              separators=(",", ":"))
        return text.encode("utf-8")
