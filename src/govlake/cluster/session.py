"""A Spark driver on the cluster with its web UI on (the cluster test reads the application's executors
from the driver's REST API): the project's Delta jars and lineage settings, the cluster master, s3a
through the cluster's spark-defaults.conf. The pipeline itself uses govlake.spark.get_spark with
GOVLAKE_SPARK_MASTER and SPARK_CONF_DIR (Layout.client_env), whose UI is off."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from govlake import jars
from govlake.cluster.layout import Layout, _free_port
from govlake.settings import Settings
from govlake.spark import lineage_conf


def cluster_spark(layout: Layout, settings: Settings, app_name: str = "govlake-cluster") -> tuple[SparkSession, int]:
    """The session and its UI port. SPARK_CONF_DIR must be set before the driver's JVM starts:
    spark-defaults.conf puts hadoop-aws on the driver's classpath."""
    os.environ.update(layout.client_env())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    ui_port = _free_port()
    builder = (
        SparkSession.builder.master(layout.spark_master_url).appName(app_name)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.ui.enabled", "true")
        .config("spark.ui.port", str(ui_port))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .config("spark.jars", ",".join(str(p) for p in jars.ensure(settings)))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.driver.extraJavaOptions", "--add-opens=java.base/java.security=ALL-UNNAMED")
    )
    for k, v in lineage_conf(settings).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, ui_port
