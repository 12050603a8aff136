"""Emit OpenLineage run events, valid against the spec (see govlake.lineage.spec).

Events are built from the client's typed classes (openlineage.client.event_v2 / facet_v2) and
sent through the client's own transports, chosen by the settings' `lineage_transport`:
  file        the events file (`lineage_path`), one JSON event per line, appended (default)
  http        POST to `lineage_url` (Marquez: /api/v1/lineage)
  console     the client's console transport (the `openlineage.client` logger, INFO)
  noop        nothing is sent
  openlineage the client's own configuration (openlineage.yml, OPENLINEAGE__*, OPENLINEAGE_URL)
OPENLINEAGE_DISABLED=true turns every transport off, as it does for the client.

Naming (OpenLineage naming spec): a lake table is a file dataset, namespace `file` and the
absolute path as name, or for an object-store lake the bucket URI as namespace (`s3a://bucket`)
and the key as name; every dataset carries a symlink to its logical table name (`bronze.petitions`),
which is what `govlake lineage` and people use. Every event and facet has one producer, PRODUCER.

Parent runs: a run started inside another JobRun names it in a ParentRunFacet, with the root of
the chain as `root`. A run without a parent in this process takes it from the environment:
OPENLINEAGE_PARENT_ID="namespace/job/runId" (the Airflow task; the provider's
`lineage_parent_id` macro gives this value) and OPENLINEAGE_ROOT_PARENT_ID (the DAG run;
`lineage_root_parent_id`), as dbt-ol and openlineage-spark read them, so the project's step
events, dbt's and Spark's own all join under the Airflow task that ran them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    BaseFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
    symlinks_dataset,
    tags_run,
)
from openlineage.client.naming.dataset import LocalFileSystem

from govlake.settings import Settings, get_settings

PRODUCER = "https://github.com/govlake/govlake"  # the one producer URI of every event and facet
PARENT_ENV = "OPENLINEAGE_PARENT_ID"
ROOT_PARENT_ENV = "OPENLINEAGE_ROOT_PARENT_ID"
# object stores: namespace scheme://bucket, name = the key without a leading slash
_OBJECT_STORES = {"s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "wasb", "wasbs", "oss", "cos"}


@dataclass
class DatasetRef:
    """A table a run read or wrote. column_lineage: output column -> [(table, column), ...].

    transformations: output column -> how it is derived, either a text (a DIRECT TRANSFORMATION
    with that description) or a dict of the spec's transformation fields (type DIRECT|INDIRECT,
    subtype IDENTITY|TRANSFORMATION|AGGREGATION|JOIN|FILTER|..., description, masking). A column
    with one source and no entry is DIRECT IDENTITY.
    assertions: data-quality checks {"assertion", "success", "column"?, ...}; on an input they are
    its dataQualityAssertions facet; on an output they are reported by a check run
    (`quality.<table>`, child of this run) that reads the output, as the spec puts them on inputs.
    rows: outputStatistics on an output (COMPLETE), inputStatistics on an input.
    """

    table: str
    schema: list[tuple[str, str, str | None]] | None = None  # (name, type, description)
    rows: int | None = None
    version: int | None = None
    column_lineage: dict[str, list[tuple[str, str]]] | None = None
    transformations: dict[str, str | dict] | None = None
    assertions: list[dict] | None = None


@dataclass(frozen=True)
class RunRef:
    """A run by namespace, job name and run id (a parent or root run)."""

    namespace: str
    job: str
    run_id: str

    @classmethod
    def parse(cls, value: str) -> RunRef:
        """'namespace/job/runId' (the Airflow provider's lineage_parent_id); the namespace may
        itself contain slashes."""
        parts = value.strip().rsplit("/", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"expected 'namespace/job/runId', got {value!r}")
        ns, job, run_id = parts
        uuid.UUID(run_id)  # the spec wants a UUID
        return cls(ns, job, run_id)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.job}/{self.run_id}"


def parent_from_env(environ=None) -> tuple[RunRef | None, RunRef | None]:
    """(parent, root) from OPENLINEAGE_PARENT_ID / OPENLINEAGE_ROOT_PARENT_ID; a malformed value
    is an error (a silently detached run would be lost in the lineage graph)."""
    env = os.environ if environ is None else environ
    raw_parent, raw_root = env.get(PARENT_ENV, "").strip(), env.get(ROOT_PARENT_ENV, "").strip()
    try:
        parent = RunRef.parse(raw_parent) if raw_parent else None
        root = RunRef.parse(raw_root) if raw_root else None
    except ValueError as e:
        raise ValueError(f"{PARENT_ENV}/{ROOT_PARENT_ENV}: {e}") from None
    return parent, root


def schema_of(df) -> list[tuple[str, str, str | None]]:
    """Schema facet fields from a Spark DataFrame, with the Chinese label as description."""
    return [(f.name, f.dataType.simpleString(), f.metadata.get("comment")) for f in df.schema.fields]


def location_dataset(location: Path | str) -> tuple[str, str]:
    """(namespace, name) of a file or folder by the OpenLineage naming spec: local paths are
    namespace `file` with the absolute path; object stores `scheme://bucket` with the key; other
    URIs `scheme://authority` with the path. `s3a:/b/k` (a URI folded by pathlib) reads as s3a://b/k."""
    s = str(location)
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$", s)
    if m:
        scheme, rest = m.group(1).lower(), m.group(2)
        if scheme == "file":
            return "file", "/" + rest.lstrip("/")
        authority, _, key = rest.partition("/")
        if scheme in _OBJECT_STORES:
            # the spec names S3 datasets s3://bucket whichever client wrote them (s3a: Spark's,
            # as openlineage-spark names them too), so both writers' events meet in one graph
            return f"{'s3' if scheme in ('s3a', 's3n') else scheme}://{authority}", key.strip("/")
        return f"{scheme}://{authority}", "/" + key
    naming = LocalFileSystem(path=str(Path(s).absolute()))
    return naming.get_namespace(), naming.get_name()


# -- transport: the client's own, configured from the settings ------------------------------------
_CLIENTS: dict[tuple, object] = {}
_CLIENTS_LOCK = threading.Lock()


def transport_config(settings: Settings) -> dict | None:
    """The client's transport config for the settings; None: the client configures itself."""
    kind = (settings.lineage_transport or "file").lower()
    if kind == "file":
        return {"type": "file", "log_file_path": str(settings.lineage_path), "append": True}
    if kind == "http":
        if not settings.lineage_url:
            raise ValueError("GOVLAKE_LINEAGE_TRANSPORT=http needs GOVLAKE_LINEAGE_URL (e.g. http://marquez:5000)")
        return {"type": "http", "url": settings.lineage_url}
    if kind in ("console", "noop"):
        return {"type": kind}
    if kind == "openlineage":
        return None
    raise ValueError(f"unknown lineage_transport {settings.lineage_transport!r} "
                     "(file, http, console, noop or openlineage)")


def client_for(settings: Settings):
    """One OpenLineageClient per transport configuration (built once, reused by every run)."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport import get_default_factory

    cfg = transport_config(settings)
    key = json.dumps(cfg, sort_keys=True)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = (OpenLineageClient(transport=get_default_factory().create(dict(cfg)))
                      if cfg is not None else OpenLineageClient())
            _CLIENTS[key] = client
    return client


def _is_local(path: Path) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", str(path)) is None


class _Sink:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = client_for(settings)

    def emit(self, event: RunEvent) -> None:
        if (self.settings.lineage_transport or "file").lower() == "file" and _is_local(self.settings.lineage_path):
            self.settings.lineage_path.parent.mkdir(parents=True, exist_ok=True)
        self.client.emit(event)


def _own(event: RunEvent) -> RunEvent:
    """Every facet of the event under the project's producer (facets added by subclasses too)."""
    groups = [event.run.facets, event.job.facets]
    for ds in [*(event.inputs or []), *(event.outputs or [])]:
        groups += [ds.facets, getattr(ds, "inputFacets", None), getattr(ds, "outputFacets", None)]
    for g in groups:
        for f in (g or {}).values():
            if isinstance(f, BaseFacet):
                f._producer = PRODUCER
    return event


# -- runs ---------------------------------------------------------------------------------------
class JobRun:
    """One run of one job. Use through `job_run(...)`; add inputs/outputs as they are known.

    parent: the JobRun this one runs inside, or a RunRef / 'namespace/job/runId' of another
    system's run; None reads OPENLINEAGE_PARENT_ID (and OPENLINEAGE_ROOT_PARENT_ID) from the
    environment. job_kind is the jobType facet's jobType (JOB, MODEL, TEST, ...)."""

    def __init__(self, job: str, settings: Settings | None = None, *, job_type: str = "BATCH",
                 integration: str = "SPARK", nominal_time: str | None = None,
                 parent: JobRun | RunRef | str | None = None, run_id: str | None = None,
                 job_kind: str = "JOB"):
        self.settings = settings or get_settings()
        self.job = job
        self.run_id = run_id or str(uuid.uuid4())
        self.job_type = job_type
        self.job_kind = job_kind
        self.integration = integration
        self.nominal_time = nominal_time
        self.root: RunRef | None = None
        if parent is None:
            parent, self.root = parent_from_env()
        elif isinstance(parent, str):
            parent = RunRef.parse(parent)
            self.root = parent_from_env()[1]
        if isinstance(parent, JobRun):
            self.root = parent.root or parent.ref
        elif parent is not None and self.root is None:
            self.root = parent
        self.parent = parent
        self.inputs: list[DatasetRef] = []
        self.outputs: list[DatasetRef] = []
        self._sink = _Sink(self.settings)

    @property
    def namespace(self) -> str:
        return self.settings.lineage_namespace

    @property
    def ref(self) -> RunRef:
        return RunRef(self.namespace, self.job, self.run_id)

    @property
    def parent_ref(self) -> RunRef | None:
        return self.parent.ref if isinstance(self.parent, JobRun) else self.parent

    # -- datasets -------------------------------------------------------------
    def dataset_name(self, table: str) -> tuple[str, str]:
        """(namespace, name) of a logical table: landing.x and layer.x are lake folders,
        catalog.x the catalog's YAML file, a name without a layer the job namespace's."""
        layer, _, name = table.partition(".")
        if not name:
            return self.namespace, table
        if layer == "landing":
            return location_dataset(self.settings.landing_dir / name)
        if layer == "catalog":
            return location_dataset(self.settings.catalog_dir / f"{name}.yaml")
        return location_dataset(self.settings.tables_dir / layer / name)

    def _dataset_facets(self, ref: DatasetRef) -> dict:
        facets: dict = {
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=[
                symlinks_dataset.Identifier(namespace=self.namespace, name=ref.table, type="TABLE")
            ])
        }
        if ref.schema:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t, description=d or None,
                                                        ordinal_position=i, fields=None)
                for i, (n, t, d) in enumerate(ref.schema, 1)
            ])
        if ref.version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(ref.version))
        if ref.column_lineage:
            facets["columnLineage"] = self._column_lineage(ref)
        return facets

    def _column_lineage(self, ref: DatasetRef) -> column_lineage_dataset.ColumnLineageDatasetFacet:
        names: dict[str, tuple[str, str]] = {}
        fields = {}
        for col, sources in ref.column_lineage.items():
            how = (ref.transformations or {}).get(col)
            fields[col] = column_lineage_dataset.Fields(inputFields=[
                column_lineage_dataset.InputField(
                    namespace=ns, name=nm, field=c, transformations=[_transformation(how, len(sources))])
                for t, c in sources for ns, nm in [names.get(t) or names.setdefault(t, self.dataset_name(t))]
            ])
        return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)

    def add_input(self, ref: DatasetRef | str) -> DatasetRef:
        ref = DatasetRef(ref) if isinstance(ref, str) else ref
        self.inputs.append(ref)
        return ref

    def add_output(self, ref: DatasetRef | str) -> DatasetRef:
        ref = DatasetRef(ref) if isinstance(ref, str) else ref
        self.outputs.append(ref)
        return ref

    # -- events ---------------------------------------------------------------
    def _run_facets(self, error: BaseException | None) -> dict:
        facets: dict = {"tags": tags_run.TagsRunFacet(tags=[])}  # the client adds its version tag here
        if self.nominal_time:
            facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(nominalStartTime=self.nominal_time)
        parent = self.parent_ref
        if parent is not None:
            root = self.root or parent
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=parent.run_id, facets=None),
                job=parent_run.Job(namespace=parent.namespace, name=parent.job, facets=None),
                root=parent_run.Root(run=parent_run.RootRun(runId=root.run_id, facets=None),
                                     job=parent_run.RootJob(namespace=root.namespace, name=root.job, facets=None)),
            )
        if error is not None:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=str(error)[:2000] or type(error).__name__, programmingLanguage="python",
                stackTrace="".join(traceback.format_exception(error))[-8000:],
            )
        return facets

    def _event(self, state: RunState, error: BaseException | None = None) -> RunEvent:
        inputs = []
        for r in self.inputs:
            ns, nm = self.dataset_name(r.table)
            in_facets: dict = {}
            if r.assertions:
                in_facets["dataQualityAssertions"] = _assertions_facet(r.assertions)
            if r.rows is not None:
                in_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(rowCount=r.rows)
            inputs.append(InputDataset(namespace=ns, name=nm, facets=self._dataset_facets(r), inputFacets=in_facets))
        outputs = []
        for r in self.outputs:
            ns, nm = self.dataset_name(r.table)
            out_facets: dict = {}
            if r.rows is not None and state == RunState.COMPLETE:
                out_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=r.rows)
            outputs.append(OutputDataset(namespace=ns, name=nm, facets=self._dataset_facets(r), outputFacets=out_facets))
        return RunEvent(
            eventType=state,
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=Run(runId=self.run_id, facets=self._run_facets(error)),
            job=Job(namespace=self.namespace, name=self.job, facets={
                "jobType": job_type_job.JobTypeJobFacet(processingType=self.job_type, integration=self.integration,
                                                        jobType=self.job_kind),
            }),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )

    def emit(self, state: RunState, error: BaseException | None = None) -> None:
        self._sink.emit(_own(self._event(state, error)))

    def start(self) -> None:
        self.emit(RunState.START)

    def complete(self) -> None:
        self.emit(RunState.COMPLETE)
        self._emit_checks()

    def fail(self, error: BaseException) -> None:
        self.emit(RunState.FAIL, error)
        self._emit_checks()

    # -- check runs: assertions on what this run wrote --------------------------------------------
    def check_run(self, ref: DatasetRef) -> JobRun:
        """The run reporting an output's assertions: `quality.<table>`, child of this run, reading
        the table (dataQualityAssertions is an input facet in the spec)."""
        run = type(self)(f"quality.{ref.table}", self.settings, job_type=self.job_type,
                         integration=self.integration, nominal_time=self.nominal_time, parent=self,
                         job_kind="TEST")
        run.add_input(DatasetRef(ref.table, version=ref.version, assertions=ref.assertions))
        return run

    def _emit_checks(self) -> None:
        for ref in self.outputs:
            if ref.assertions:
                check = self.check_run(ref)
                check.start()
                check.complete()


def _transformation(how, n_sources: int) -> column_lineage_dataset.Transformation:
    if isinstance(how, dict):
        return column_lineage_dataset.Transformation(
            type=how.get("type", "DIRECT"), subtype=how.get("subtype"),
            description=how.get("description"), masking=how.get("masking"))
    if how:
        return column_lineage_dataset.Transformation(type="DIRECT", subtype="TRANSFORMATION", description=str(how))
    if n_sources == 1:
        return column_lineage_dataset.Transformation(type="DIRECT", subtype="IDENTITY", masking=False)
    return column_lineage_dataset.Transformation(type="DIRECT", subtype="TRANSFORMATION")


_ASSERTION_FIELDS = ("assertion", "success", "column", "severity", "name", "description", "expected",
                     "actual", "content", "contentType", "params")


def _assertions_facet(assertions: list[dict]) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    items = []
    for a in assertions:
        kw = {k: a[k] for k in _ASSERTION_FIELDS if a.get(k) is not None}
        for k in ("column", "severity", "name", "description", "expected", "actual", "content", "contentType"):
            if k in kw:
                kw[k] = str(kw[k])
        kw["success"] = bool(kw.get("success"))
        items.append(data_quality_assertions_dataset.Assertion(**kw))
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=items)


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
