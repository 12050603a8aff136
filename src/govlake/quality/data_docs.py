"""Great Expectations Data Docs (质量报告): one static site a person opens in a browser, whatever
engine checked the table.

A GX validation's page is made when it runs: the table's Checkpoint stores the result in the GX
project under `<lake>/quality/gx` and its action updates the site (quality/checkpoints.py). Every
validation is also recorded in ops.quality_results with each expectation's outcome; here each
recorded validation without a page (the Arrow engine's) becomes a GX
ExpectationSuiteValidationResult in the same project and GX renders it: one page per validation
(run id, time, expectations passed and failed, unexpected counts and examples), an index of all
of them. Rebuilding is idempotent: a validation's page is keyed by its table, run id and time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from govlake.quality.checkpoints import SITE, context, site_index
from govlake.quality.gate import RESULTS_TABLE


def _results(row: dict):
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    details = json.loads(row["details"] or "{}")
    # rows recorded before every outcome was kept hold only the failed ones
    outcomes = details.get("outcomes", details.get("failed", []))
    results = []
    for o in outcomes:
        result = {}
        if o.get("unexpected_count") is not None:
            rows = details.get("rows") or 0
            result = {"element_count": rows, "unexpected_count": o["unexpected_count"],
                      "unexpected_percent": 100.0 * o["unexpected_count"] / rows if rows else None,
                      "partial_unexpected_list": o.get("examples") or []}
        elif o.get("observed") is not None:
            result = {"observed_value": o["observed"]}
        meta = {k: v for k, v in (("label", o.get("label")), ("rule", o.get("rule")), ("engine", o.get("engine"))) if v}
        results.append(ExpectationValidationResult(
            success=bool(o["success"]), result=result,
            expectation_config=ExpectationConfiguration(type=o["type"], kwargs=o["kwargs"], meta=meta),
            exception_info={"raised_exception": bool(o.get("error")), "exception_message": o.get("error"),
                            "exception_traceback": None}))
    n, ok = len(results), sum(r.success for r in results)
    return ExpectationSuiteValidationResult(
        success=bool(row["success"]), results=results, suite_name=row["suite"],
        statistics={"evaluated_expectations": n, "successful_expectations": ok,
                    "unsuccessful_expectations": n - ok, "success_percent": 100.0 * ok / n if n else None},
        meta={"table": row["table"], "engine": details.get("engine"), "rows": details.get("rows"),
              "seconds": details.get("seconds")})


def build_data_docs(lake) -> tuple[Path, int]:
    """Render the validations in ops.quality_results not yet in the GX Data Docs site (each page
    once: the site grows by the day's validations) and its index. Returns (index.html, pages
    added); FileNotFoundError when nothing was validated yet."""
    if not lake.exists(RESULTS_TABLE):
        raise FileNotFoundError(f"no validations recorded yet (尚无质量校验记录): {RESULTS_TABLE} does not exist")
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    ctx = context(lake.settings)
    store = ctx.validation_results_store
    # a page per run: the Checkpoint's (GX validations, stored as they ran) or one made here before
    have = {k.run_id.run_name for k in store.list_keys()}

    def key(row: dict) -> ValidationResultIdentifier:
        return ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=row["suite"]),
            run_id=RunIdentifier(run_name=row["run_id"], run_time=row["validated_at"].replace(tzinfo=dt.timezone.utc)),
            batch_identifier=row["table"])

    # the keys first: the details (every outcome, large for the profile) only of new validations
    runs = lake.to_arrow(RESULTS_TABLE, columns=["run_id"]).column("run_id").to_pylist()
    todo = sorted({r for r in runs if r not in have})
    new = []
    if todo:
        for row in lake.to_arrow(RESULTS_TABLE, where={"run_id": todo}).to_pylist():
            k = key(row)
            store.set(k, _results(row))
            new.append(k)
    index = site_index(lake.settings)
    if new or not index.exists():
        ctx.build_data_docs(site_names=[SITE], resource_identifiers=new or None)
    return index, len(new)
