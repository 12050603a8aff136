"""A Spark driver on the cluster with its web UI on (the cluster test reads the application's executors
from the driver's REST API): govlake.spark.get_spark with the cluster's master and a UI port. The
pipeline's own drivers use get_spark with GOVLAKE_SPARK_MASTER and SPARK_CONF_DIR
(Layout.client_env), whose UI is off."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from govlake.cluster.layout import Layout, _free_port
from govlake.settings import Settings
from govlake.spark import get_spark


def cluster_spark(layout: Layout, settings: Settings, app_name: str = "govlake-cluster") -> tuple[SparkSession, int]:
    """The session and its UI port. SPARK_CONF_DIR must be set before the driver's JVM starts:
    spark-defaults.conf puts hadoop-aws on the driver's classpath."""
    os.environ.update(layout.client_env())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    ui_port = _free_port()
    s = settings.model_copy(update={"spark_master": layout.spark_master_url})
    return get_spark(s, app_name=app_name, ui_port=ui_port), ui_port
