"""Great Expectations Data Docs (质量报告) from ops.quality_results: one static site a person opens
in a browser, whatever engine checked the table (GX, the metrics engine, the Arrow engine).

Every validation is recorded in ops.quality_results with each expectation's outcome. Here each
recorded validation becomes a GX ExpectationSuiteValidationResult in a file-backed GX project
under `<lake>/quality/gx` and GX renders the site: one page per validation (run id, time,
expectations passed and failed, unexpected counts and examples), an index of all of them.
Rebuilding is idempotent: a validation's page is keyed by its table, run id and time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from govlake.quality.gate import RESULTS_TABLE

SITE = "local_site"


def project_dir(settings) -> Path:
    # GX's file context and data docs: process-local files (the lake's folder when it is local)
    return settings.local_dir / "quality" / "gx"


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
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    ctx = gx.get_context(mode="file", project_root_dir=str(project_dir(lake.settings)))
    store = ctx.validation_results_store
    have = {k.to_tuple() for k in store.list_keys()}

    def key(row: dict) -> ValidationResultIdentifier:
        return ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=row["suite"]),
            run_id=RunIdentifier(run_name=row["run_id"], run_time=row["validated_at"].replace(tzinfo=dt.timezone.utc)),
            batch_identifier=row["table"])

    # the keys first: the details (every outcome, large for the profile) only of new validations
    keys = lake.to_arrow(RESULTS_TABLE, columns=["table", "suite", "run_id", "validated_at"]).to_pylist()
    todo = sorted({r["run_id"] for r in keys if key(r).to_tuple() not in have})
    new = []
    if todo:
        for row in lake.to_arrow(RESULTS_TABLE, where={"run_id": todo}).to_pylist():
            k = key(row)
            if k.to_tuple() not in have:
                store.set(k, _results(row))
                new.append(k)
    index = project_dir(lake.settings) / "gx" / "uncommitted" / "data_docs" / SITE / "index.html"
    if new or not index.exists():
        ctx.build_data_docs(site_names=[SITE], resource_identifiers=new or None)
    return index, len(new)
