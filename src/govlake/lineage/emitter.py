"""Emit OpenLineage run events. Datasets are named by their lake path (OpenLineage naming:
namespace `file`, name = absolute path) with a symlink to the logical table name
(`bronze.petitions`), which is what `govlake lineage` and people use."""

from __future__ import annotations

import datetime as dt
import json
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)

from govlake.settings import Settings, get_settings

PRODUCER = "https://github.com/govlake/govlake"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@dataclass
class DatasetRef:
    """A table a run read or wrote. column_lineage: output column -> [(table, column), ...]."""

    table: str
    schema: list[tuple[str, str, str | None]] | None = None  # (name, type, description)
    rows: int | None = None
    version: int | None = None
    column_lineage: dict[str, list[tuple[str, str]]] | None = None
    transformations: dict[str, str] | None = None  # output column -> how it is derived
    assertions: list[dict] | None = None  # {"assertion", "success", "column"?}


def schema_of(df) -> list[tuple[str, str, str | None]]:
    """Schema facet fields from a Spark DataFrame, with the Chinese label as description."""
    return [(f.name, f.dataType.simpleString(), f.metadata.get("comment")) for f in df.schema.fields]


class _Sink:
    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.lineage_transport == "http":
            from openlineage.client import OpenLineageClient
            from openlineage.client.transport.http import HttpConfig, HttpTransport

            self.client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=settings.lineage_url)))
        else:
            self.client = None

    def emit(self, event: RunEvent) -> None:
        if self.client is not None:
            self.client.emit(event)
            return
        # File transport: one JSON event per line, appended (the client's file transport
        # writes one file per event, which is awkward to read back).
        from openlineage.client.serde import Serde

        path = self.settings.lineage_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(Serde.to_json(event) + "\n")


class JobRun:
    """One run of one job. Use through `job_run(...)`; add inputs/outputs as they are known."""

    def __init__(self, job: str, settings: Settings | None = None, *, job_type: str = "BATCH",
                 integration: str = "SPARK", nominal_time: str | None = None,
                 parent: "JobRun | None" = None, run_id: str | None = None):
        self.settings = settings or get_settings()
        self.job = job
        self.run_id = run_id or str(uuid.uuid4())
        self.job_type = job_type
        self.integration = integration
        self.nominal_time = nominal_time
        self.parent = parent
        self.inputs: list[DatasetRef] = []
        self.outputs: list[DatasetRef] = []
        self._sink = _Sink(self.settings)

    # -- datasets -------------------------------------------------------------
    def dataset_name(self, table: str) -> tuple[str, str]:
        layer, _, name = table.partition(".")
        if name and layer in {"landing"}:
            return "file", str(self.settings.landing_dir / name)
        if name:
            return "file", str(self.settings.tables_dir / layer / name)
        return self.settings.lineage_namespace, table

    def _facets(self, ref: DatasetRef) -> dict:
        facets: dict = {
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=[
                symlinks_dataset.Identifier(namespace=self.settings.lineage_namespace, name=ref.table, type="TABLE")
            ])
        }
        if ref.schema:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t, description=d) for n, t, d in ref.schema
            ])
        if ref.column_lineage:
            fields = {}
            for col, sources in ref.column_lineage.items():
                fields[col] = column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(namespace=ns, name=nm, field=c)
                        for t, c in sources for ns, nm in [self.dataset_name(t)]
                    ],
                    transformationDescription=(ref.transformations or {}).get(col),
                    transformationType="IDENTITY" if len(sources) == 1 and not (ref.transformations or {}).get(col) else "AGGREGATION",
                )
            facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)
        if ref.assertions:
            facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[data_quality_assertions_dataset.Assertion(**a) for a in ref.assertions]
            )
        return facets

    def add_input(self, ref: DatasetRef | str) -> DatasetRef:
        ref = DatasetRef(ref) if isinstance(ref, str) else ref
        self.inputs.append(ref)
        return ref

    def add_output(self, ref: DatasetRef | str) -> DatasetRef:
        ref = DatasetRef(ref) if isinstance(ref, str) else ref
        self.outputs.append(ref)
        return ref

    # -- events ---------------------------------------------------------------
    def _event(self, state: RunState, error: BaseException | None = None) -> RunEvent:
        run_facets: dict = {}
        if self.nominal_time:
            run_facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(nominalStartTime=self.nominal_time)
        if self.parent is not None:
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.parent.run_id),
                job=parent_run.Job(namespace=self.settings.lineage_namespace, name=self.parent.job),
            )
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=str(error)[:2000], programmingLanguage="python",
                stackTrace="".join(traceback.format_exception(error))[-8000:],
            )
        inputs = [InputDataset(namespace=ns, name=nm, facets=self._facets(r))
                  for r in self.inputs for ns, nm in [self.dataset_name(r.table)]]
        outputs = []
        for r in self.outputs:
            ns, nm = self.dataset_name(r.table)
            out_facets = {}
            if r.rows is not None and state == RunState.COMPLETE:
                out_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=r.rows)
            outputs.append(OutputDataset(namespace=ns, name=nm, facets=self._facets(r), outputFacets=out_facets))
        return RunEvent(
            eventType=state,
            eventTime=dt.datetime.now(dt.timezone.utc).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.settings.lineage_namespace, name=self.job, facets={
                "jobType": job_type_job.JobTypeJobFacet(processingType=self.job_type, integration=self.integration, jobType="JOB"),
            }),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )

    def start(self) -> None:
        self._sink.emit(self._event(RunState.START))

    def complete(self) -> None:
        self._sink.emit(self._event(RunState.COMPLETE))

    def fail(self, error: BaseException) -> None:
        self._sink.emit(self._event(RunState.FAIL, error))


@contextmanager
def job_run(job: str, settings: Settings | None = None, **kwargs):
    """START now; COMPLETE on normal exit; FAIL (and re-raise) on an exception."""
    run = JobRun(job, settings, **kwargs)
    run.start()
    try:
        yield run
    except BaseException as e:
        run.fail(e)
        raise
    run.complete()


def read_events(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
