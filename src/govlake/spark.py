"""The one way to get a SparkSession, tuned for wide tables on small machines."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from govlake.settings import Settings, get_settings


def get_spark(settings: Settings | None = None, app_name: str = "govlake") -> SparkSession:
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
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Strict date parsing: an impossible date (2023-02-30) is a quarantined row, not a guess.
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.sql.warehouse.dir", str(s.lake_root / "spark-warehouse"))
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
        .config("spark.driver.extraJavaOptions", "-Dderby.system.home=" + str(s.lake_root / "derby"))
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
