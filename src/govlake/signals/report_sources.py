"""The signal tables the dbt reports read (群体诉求 in 日报/周报/月报), exposed to dbt like bronze:
`global_temp.gold__<table>` in the session target (dbt/models/marts/petitions/_signals_sources.yml).

The pipeline runs the signals step before transform, so the day's alerts exist when the reports
are built. A lake where signals never ran gets an empty view with the table's schema, so the
reports still build (with no group petitions) instead of failing on a missing relation.
"""

from __future__ import annotations

# gold tables of the signals step that dbt declares as the `signals` source
REPORT_TABLES = ("gold.group_petition_alerts",)


def view_name(table: str) -> str:
    return "gold__" + table.split(".", 1)[1]


def register_signal_views(spark, settings) -> dict[str, int | None]:
    """Expose each REPORT_TABLES Delta snapshot as a global temp view. -> table -> version (None: empty)."""
    from govlake.lakehouse import Lakehouse
    from govlake.signals.job import SCHEMAS

    lake = Lakehouse(spark, settings)
    return {table: lake.expose_view(table, view_name(table), lambda table=table: SCHEMAS[table])
            for table in REPORT_TABLES}
