"""Which engine checks a suite, one result shape (`Outcome`):

* `gx`    the table's Great Expectations Checkpoint on the Spark frame (quality/checkpoints.py):
          GX stores the validation and renders its Data Docs page.
* `arrow` the same expectation JSON counted by Arrow compute (quality/arrow_engine.py) over a
          pyarrow dataset of the same rows: a table's staged Parquet files, a Delta snapshot
          read by delta-rs, or the frame's rows brought to the driver as Arrow. GX resolves its
          metrics expectation by expectation, several Spark jobs each; a 1,500-column profile's
          3,000+ expectations would take an hour (docs/quality.md, "Engines").

`evaluate(..., engine="auto")`: GX up to AUTO_ARROW_ABOVE expectations, Arrow above.
"""

from __future__ import annotations

from govlake.quality.arrow_engine import run_arrow
from govlake.quality.checkpoints import run_checkpoint
from govlake.quality.outcome import METRIC_TYPES, Outcome

AUTO_ARROW_ABOVE = 150
ENGINES = ("auto", "gx", "arrow")


def frame_dataset(df):
    """A Spark frame's rows as an in-memory pyarrow dataset (collected to the driver: for frames
    that fit there; a table in the lake is better read as its Delta snapshot)."""
    import pyarrow.dataset as pads

    return pads.dataset(df.toArrow())


def spark_types(df) -> dict[str, str]:
    return {f.name: type(f.dataType).__name__ for f in df.schema.fields}


def choose(suite: dict, engine: str = "auto") -> str:
    """The engine that checks the suite: gx | arrow. auto: arrow above AUTO_ARROW_ABOVE
    expectations when Arrow can count every one of them (METRIC_TYPES), else gx."""
    if engine not in ENGINES:
        raise ValueError(f"unknown quality engine {engine!r} ({' | '.join(ENGINES)})")
    exps = suite["expectations"]
    countable = all(e["type"] in METRIC_TYPES for e in exps)
    if engine == "arrow" and not countable:
        raise ValueError(f"the arrow engine cannot evaluate {sorted({e['type'] for e in exps} - METRIC_TYPES)}")
    return "arrow" if engine == "arrow" or (engine == "auto" and countable and len(exps) > AUTO_ARROW_ABOVE) else "gx"


def evaluate(df, table: str, suite: dict, engine: str = "auto", *, settings, run_name: str, run_time,
             null_counts: dict | None = None, arrow=None) -> tuple[list[Outcome], str]:
    """Run a suite; returns (outcomes in suite order, engine used: gx | arrow). With a null_counts
    dict, the arrow engine fills it with every column's null count. arrow: the same rows as a
    pyarrow dataset (default for the arrow engine: the frame's rows, `frame_dataset`)."""
    if choose(suite, engine) == "arrow":
        out = run_arrow(arrow if arrow is not None else frame_dataset(df), spark_types(df), suite["expectations"],
                        null_counts)
        return out, "arrow"
    return run_checkpoint(df, table, suite, settings, run_name=run_name, run_time=run_time), "gx"
