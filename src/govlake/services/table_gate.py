"""The quality gate of the enterprise-services and space tables: each table's staged rows are
validated by Great Expectations against its product's suite (expectations/<layer>/<name>.json,
generated from catalog/products.yaml) before its commit, traced as `quality.<table>` like every
other gate, and the validations recorded in ops.quality_results (one append for the step's tables,
at its end or at the first failure). A failure raises QualityGateFailed: the staged files are
removed, nothing of that table is committed and the step releases nothing (govlake.release)."""

from __future__ import annotations

import hashlib

from govlake.lakehouse import Lakehouse

# every table the enterprise_services step writes, in the order it writes them
TABLES = ("gold.industrial_parks", "gold.space_needs", "gold.space_matches", "ops.service_officials",
          "ops.key_enterprises", "ops.enterprise_visits", "ops.enterprise_requests", "ops.enterprise_request_events",
          "ops.relocation_warnings")


class TableGate:
    """gate(staged, table, app_id) for govlake.lakehouse.arrow_writes.replace_table; `flush()`
    records the validations made so far (call it before the release). Needs Spark (GX validates a
    Spark frame of the staged files): a lake opened without one gets the shared session.
    engine: the quality engine (govlake.quality.engine.evaluate): "auto" is GX for these suites
    (tens of expectations each); "arrow" counts the same suite from the staged files."""

    def __init__(self, lake: Lakehouse, *, parent_run=None, engine: str = "auto"):
        if lake.spark is None:
            from govlake.spark import get_spark

            lake.spark = get_spark(lake.settings)
        self.lake, self.parent_run, self.engine = lake, parent_run, engine
        self.pending: list[tuple[object, str]] = []  # (ValidationResult, the write's app_id)

    def __call__(self, staged, table: str, app_id: str):
        from govlake.products import get_product
        from govlake.quality import QualityGateFailed, validate
        from govlake.quality.suites import product_suite

        suite = product_suite(get_product(table, self.lake.settings), self.lake.settings)
        result = validate(staged.frame(self.lake.spark), table, suite, engine=self.engine, lake=self.lake,
                          parent_run=self.parent_run, record=False,
                          arrow=staged.dataset() if self.engine == "arrow" else None)
        self.pending.append((result, app_id))
        if not result.success:
            self.flush()  # the refusal is on record like every gate's
            raise QualityGateFailed(result)
        return result

    def flush(self) -> int:
        """Record the pending validations in one append, keyed on the writes they gated (a retry
        records once); the number recorded."""
        from govlake.quality.gate import record_results

        done, self.pending = self.pending, []
        if done:
            key = hashlib.sha256("|".join(f"{r.table}@{k}" for r, k in done).encode()).hexdigest()[:16]
            record_results(self.lake, [r for r, _ in done], f"services@{key}")
        return len(done)

