"""Cost of validating a wide frame: `python -m govlake.quality.bench --rows 20000 --cols 1500`.

Builds a rows x cols double frame (plus a string key), a suite from `suite_from_columns` (exists,
type, max null rate, range per column; key unique), and times the metrics engine on all columns
and GX on a slice of columns (GX on all 1,500 is extrapolated from the slice)."""

from __future__ import annotations

import time

import click


@click.command()
@click.option("--rows", type=int, default=20000)
@click.option("--cols", type=int, default=1500)
@click.option("--gx-cols", type=int, default=50)
def main(rows, cols, gx_cols):
    from pyspark.sql import functions as F

    from govlake.quality.engine import evaluate, table_metrics
    from govlake.quality.suites import ColumnSpec, suite_from_columns
    from govlake.settings import Settings
    from govlake.spark import get_spark

    spark = get_spark(Settings(spark_driver_memory="2g"), app_name="quality-bench")
    base = spark.range(rows).select(F.concat(F.lit("U"), F.col("id").cast("string")).alias("uscc"), "id")
    df = base.selectExpr("uscc", *[f"cast((id * {i + 1}) % 997 AS double) AS f{i}" for i in range(cols)]).cache()
    t = time.perf_counter(); df.count(); click.echo(f"build+cache {rows}x{cols}: {time.perf_counter() - t:.1f}s")

    def spec(n):
        return [ColumnSpec("uscc", "string", nullable=False)] + [
            ColumnSpec(f"f{i}", "double", min=0, max=1000, max_null_rate=0.05) for i in range(n)]

    suite = suite_from_columns("bench", spec(cols), ["uscc"])
    t = time.perf_counter(); out, used = evaluate(df, suite, "metrics"); m = time.perf_counter() - t
    click.echo(f"metrics engine: {len(out)} expectations, {cols} columns: {m:.1f}s ({used}, ok={all(o.success for o in out)})")
    t = time.perf_counter(); table_metrics(df); click.echo(f"row+null counts, {cols} columns: {time.perf_counter() - t:.1f}s")
    if not gx_cols:
        return
    small = suite_from_columns("bench", spec(gx_cols), ["uscc"])
    evaluate(df.select("uscc", "f0"), suite_from_columns("w", spec(1), ["uscc"]), "gx")  # warm GX up
    t = time.perf_counter(); out, _ = evaluate(df, small, "gx"); g = time.perf_counter() - t
    click.echo(f"GX: {len(out)} expectations, {gx_cols} columns: {g:.1f}s = {g / len(out):.2f}s/expectation; "
               f"x{len(suite['expectations'])} -> ~{g / len(out) * len(suite['expectations']) / 60:.0f} min extrapolated")
    t = time.perf_counter(); out, _ = evaluate(df, small, "metrics")
    click.echo(f"metrics engine on the same {gx_cols} columns: {time.perf_counter() - t:.1f}s")


if __name__ == "__main__":
    main()
