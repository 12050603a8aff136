"""The Great Expectations project a person opens (质量报告): file-backed, under `<lake>/quality/gx`.

It holds, per validated table, the table's suite, a ValidationDefinition (the Spark datasource
`govlake`, a dataframe asset named after the table, a batch definition taking the frame as the
`dataframe` batch parameter) and a Checkpoint named after the table whose action updates the Data
Docs site. The GX gate runs that Checkpoint, so GX stores every GX validation and renders its page
as it ran; validations by the Arrow engine are rendered from ops.quality_results (data_docs.py).

Two passes keep GX affordable: the Checkpoint validates every expectation with
`result_format="BOOLEAN_ONLY"` (no unexpected-value samples: about half the Spark jobs of
SUMMARY, docs/quality.md), and only when some fail are those validated again with SUMMARY; their
counts and samples replace the bare verdicts in the stored result and its page is rendered again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from govlake.quality.outcome import Outcome

SITE = "local_site"
DATASOURCE = "govlake"
BATCH = "whole_frame"
DOCS_ACTION = "update_data_docs"

# The site's index links the latest validations only: GX reads every listed validation result to
# build it, on each Checkpoint run, so an unbounded index grows the cost of every gate with the
# history (the daily chain validates ~33 tables: about nine days). Every page stays in the site.
INDEX_LIMIT = 300
# One context per project folder per process: opening one reads its YAML and stores.
_contexts: dict[str, object] = {}


def project_dir(settings) -> Path:
    # GX's file context and data docs: process-local files (the lake's folder when it is local)
    return settings.local_dir / "quality" / "gx"


def site_index(settings) -> Path:
    return project_dir(settings) / "gx" / "uncommitted" / "data_docs" / SITE / "index.html"


def context(settings):
    """The project's GX context, made current: GX's actions (the Data Docs update) act on the
    process's current project, not on the context that holds the Checkpoint."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = str(project_dir(settings))
    ctx = _contexts.get(root)
    if ctx is None:
        ctx = _contexts[root] = gx.get_context(mode="file", project_root_dir=root)
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        sites = ctx.variables.data_docs_sites
        sites[SITE].setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})[
            "validation_results_limit"] = INDEX_LIMIT
        ctx.variables.data_docs_sites = sites
    project_manager.set_project(ctx)
    return ctx


def _tagged(suite: dict) -> list[dict]:
    # our index in each expectation's meta: results map back to the suite's order whatever GX does
    return [{**e, "meta": {**e.get("meta", {}), "_i": i}} for i, e in enumerate(suite["expectations"])]


def _digest(expectations: list[dict]) -> str:
    return hashlib.sha256(json.dumps(expectations, sort_keys=True, default=str).encode()).hexdigest()[:16]


def checkpoint(ctx, table: str, suite: dict):
    """The table's Checkpoint; its suite, ValidationDefinition and Checkpoint are (re)made when
    the table has none yet or its suite changed (the suite's digest is kept in the suite's meta)."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.exceptions import DataContextError

    expectations = _tagged(suite)
    digest = _digest(expectations)
    try:
        cp = ctx.checkpoints.get(table)
        if cp.validation_definitions[0].suite.meta.get("govlake_digest") == digest:
            return cp
    except (DataContextError, IndexError, KeyError, ValueError):
        pass
    for factory in (ctx.checkpoints, ctx.validation_definitions, ctx.suites):
        try:
            factory.delete(table)
        except (DataContextError, ValueError):
            pass
    try:
        source = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError):
        source = ctx.data_sources.add_spark(name=DATASOURCE)
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(name=table)
    try:
        batch = asset.get_batch_definition(BATCH)
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe(BATCH)
    gx_suite = ctx.suites.add(gx.ExpectationSuite(name=table, expectations=expectations,
                                                  meta={"govlake_digest": digest, "suite": suite.get("name", table)}))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=table, data=batch, suite=gx_suite))
    return ctx.checkpoints.add(gx.Checkpoint(
        name=table, validation_definitions=[vd], result_format="BOOLEAN_ONLY",
        actions=[UpdateDataDocsAction(name=DOCS_ACTION, site_names=[SITE])]))


def run_checkpoint(df, table: str, suite: dict, settings, *, run_name: str,
                   run_time: dt.datetime) -> list[Outcome]:
    """Validate `df` through the table's Checkpoint (GX stores the result and updates the Data
    Docs); the outcomes in suite order. run_name/run_time: the quality run's id and time, so the
    page and the ops.quality_results row name the same run."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    if not suite["expectations"]:
        return []
    ctx = context(settings)
    cp = checkpoint(ctx, table, suite)
    res = cp.run(batch_parameters={"dataframe": df}, run_id=RunIdentifier(run_name=run_name, run_time=run_time))
    (key, validation), = res.run_results.items()
    results = {r.expectation_config.meta["_i"]: r for r in validation.results}
    failed = sorted(i for i, r in results.items() if not r.success)
    if failed:
        tagged = _tagged(suite)
        batch = cp.validation_definitions[0].batch_definition.get_batch(batch_parameters={"dataframe": df})
        detail = batch.validate(gx.ExpectationSuite(name=f"{table}.failed", expectations=[tagged[i] for i in failed]),
                                result_format="SUMMARY")
        results.update({r.expectation_config.meta["_i"]: r for r in detail.results})
        validation.results = [results[i] for i in sorted(results)]
        ctx.validation_results_store.set(key, validation)
        ctx.build_data_docs(site_names=[SITE], resource_identifiers=[key])
    return [_outcome(e, results[i].to_json_dict()) for i, e in enumerate(suite["expectations"])]


def _outcome(e: dict, r: dict) -> Outcome:
    detail = r.get("result") or {}
    exc = r.get("exception_info") or {}
    err = exc.get("exception_message") if exc.get("raised_exception") else None
    return Outcome(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}), success=bool(r["success"]),
                   unexpected_count=detail.get("unexpected_count"), observed=detail.get("observed_value"),
                   examples=list(detail.get("partial_unexpected_list") or [])[:5],
                   error=(err.splitlines()[0][:300] if err else None), engine="gx")
