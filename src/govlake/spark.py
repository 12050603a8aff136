"""The one way to get a SparkSession, tuned for wide tables on small machines."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from govlake import jars
from govlake.settings import Settings, get_settings


def lineage_conf(s: Settings) -> dict[str, str]:
    """openlineage-spark's settings: Spark's own dataset and column lineage, to the same place
    as the project's events (the file's sibling `spark-events.jsonl`, or the HTTP endpoint), under
    the Airflow task's run when one is given (OPENLINEAGE_PARENT_ID = namespace/job/runId)."""
    conf = {
        "spark.extraListeners": "io.openlineage.spark.agent.OpenLineageSparkListener",
        "spark.openlineage.namespace": s.lineage_namespace,
        # its dataSource facet names a local lake "file", which the spec's uri format refuses;
        # the dataset's namespace and name already say where it lives
        "spark.openlineage.facets.dataSource.disabled": "true",
        "spark.openlineage.columnLineage.datasetLineageEnabled": "true",
    }
    if s.lineage_transport == "http" and s.lineage_url:
        conf |= {"spark.openlineage.transport.type": "http", "spark.openlineage.transport.url": s.lineage_url}
    else:
        path = s.lineage_path.parent / "spark-events.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        conf |= {"spark.openlineage.transport.type": "file", "spark.openlineage.transport.location": str(path)}
    from govlake.lineage.emitter import parent_from_env

    for ref, prefix in zip(parent_from_env(), ("parent", "rootParent")):
        if ref is not None:
            conf |= {f"spark.openlineage.{prefix}JobNamespace": ref.namespace,
                     f"spark.openlineage.{prefix}JobName": ref.job, f"spark.openlineage.{prefix}RunId": ref.run_id}
    return conf


def lake_conf(s: Settings) -> dict[str, str]:
    """A lake in the bucket: s3a's settings (govlake.lakehouse.storage) and hadoop-aws with the
    AWS SDK on the driver's and executors' class path (the same jars at the same path on every
    node, as the cluster's spark-defaults.conf puts them). A local lake: nothing."""
    from govlake.lakehouse import storage

    conf = storage.spark_conf(s)
    if conf:
        from govlake.cluster import s3a_jars

        cp = ":".join(str(p) for p in s3a_jars.ensure(s))
        conf |= {"spark.driver.extraClassPath": cp, "spark.executor.extraClassPath": cp}
    return conf


def get_spark(settings: Settings | None = None, app_name: str = "govlake", ui_port: int | None = None) -> SparkSession:
    """The project's session. ui_port: the driver's web UI (and its REST API) on that port; off by
    default."""
    s = settings or get_settings()
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(s.spark_master)
        .appName(app_name)
        # DESIGN.md: 1 GB driver ran out of heap writing 200k x 1,500 doubles.
        .config("spark.driver.memory", s.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(s.spark_shuffle_partitions))
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false" if ui_port is None else "true")
        .config("spark.ui.showConsoleProgress", "false")
        # Strict date parsing: an impossible date (2023-02-30) is a quarantined row, not a guess.
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        # process-local: the warehouse and Derby's files are not the lake's (Settings.work_dir)
        .config("spark.sql.warehouse.dir", str(s.local_dir / "spark-warehouse"))
        # Wide numeric outputs: dictionary encoding costs 4x on write (DESIGN.md).
        .config("spark.hadoop.parquet.enable.dictionary", "false")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.codegen.maxFields", "4000")
        # Rows handed to Python as Arrow batches (the wide profile's write pass): Spark 4 checks a
        # batch's byte size after every row (64 MB cap), walking all its vectors: at 1,500 columns
        # 9 % of the profile's final stage (JFR). Int.MaxValue turns the check off; batches stay
        # capped at maxRecordsPerBatch (10,000 rows, ~120 MB of profile rows).
        .config("spark.sql.execution.arrow.maxBytesPerBatch", str(2**31 - 1))
        .config("spark.sql.debug.maxToStringFields", "2000")
        # java.security opened for openlineage-spark's extension loader (else a warning per session)
        .config("spark.driver.extraJavaOptions", "-Dderby.system.home=" + str(s.local_dir / "derby")
                + " --add-opens=java.base/java.security=ALL-UNNAMED")
        # Delta through delta-spark (jvm/pom.xml): format("delta"), MERGE, OPTIMIZE, VACUUM.
        .config("spark.jars", ",".join(str(p) for p in jars.ensure(s)))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        # Delta rebuilds a snapshot from its log in this many tasks (default 50: 50 tiny tasks per
        # table read on 2 cores).
        .config("spark.databricks.delta.snapshotPartitions", "2")
    )
    if ui_port is not None:
        builder = builder.config("spark.ui.port", str(ui_port))
    for k, v in {**lineage_conf(s), **lake_conf(s)}.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # openlineage-spark logs an ERROR for each internal execution it has no plan for (Delta's
    # log reads, MERGE's sub-queries): those are not lineage, and not errors of ours.
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "io.openlineage.spark.agent.lifecycle.ContextFactory", jvm.org.apache.logging.log4j.Level.OFF)
    return spark
