"""Releases (发布版本, govlake.release): the tables a build publishes together are served together.

The kill test runs the profile's publish path (staged files committed by delta-rs, as a full
build commits them) in a child process and SIGKILLs it after the profile is committed and before
the release is recorded; readers (release.version_of, and the API through FastAPI's TestClient)
must still serve the previous release for both tables, and the next run's publish must make the
new build visible.

Run as a script (the child): python tests/test_release.py <lake_root> <build> <crash point>
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

from govlake import release
from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

PROFILE, TAGS = "gold.enterprise_profile", "gold.enterprise_tags"
U1, U2 = "914403000000000001", "914403000000000002"
PROFILE_SCHEMA = StructType([StructField("uscc", StringType()), StructField("ent_name", StringType()),
                             StructField("phone", StringType()), StructField("reg_capital_wan", DoubleType())])
TAGS_SCHEMA = StructType([StructField("uscc", StringType()), StructField("tag_id", StringType()),
                          StructField("tag_name", StringType()), StructField("since", DateType()),
                          StructField("evidence", StringType())])
CRASH_POINTS = ("after_profile", "before_release")


def _batch(schema: StructType, rows: list[tuple]) -> pa.RecordBatch:
    from pyspark.sql.pandas.types import to_arrow_schema

    s = to_arrow_schema(schema)
    return pa.RecordBatch.from_arrays([pa.array([r[i] for r in rows], s.field(i).type) for i in range(len(s))], schema=s)


def _commit(lake: Lakehouse, table: str, schema: StructType, rows: list[tuple], app_id: str) -> None:
    """Stage and commit by delta-rs (the profile build's full-build path); a re-run's commit of the
    same app id is skipped and its files discarded, as build_profile does."""
    staged = lake.stage_arrow([[_batch(schema, rows)]], table, schema)
    if not lake.commit(staged, app_id=app_id).committed:
        staged.discard()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def publish_build(lake: Lakehouse, build: int, crash: str | None = None) -> dict[str, int]:
    """Build `build`'s profile and tags: commit the profile, then the tags; crash (the child) at a
    point between. Returns the versions to release."""
    _commit(lake, PROFILE, PROFILE_SCHEMA, [(U1, f"甲科技 第{build}版", "13800000001", 100.0 + build),
                                            (U2, f"乙制造 第{build}版", None, 500.0)], f"test.profile@{build}")
    if crash == "after_profile":
        # the tags' files are written (uncommitted, in the table's folder) when the process dies
        lake.stage_arrow([[_batch(TAGS_SCHEMA, [(U1, "T01", f"标签 第{build}版", dt.date(2024, 1, 1), "证书")])]],
                         TAGS, TAGS_SCHEMA)
        _die()
    _commit(lake, TAGS, TAGS_SCHEMA, [(U1, "T01", f"标签 第{build}版", dt.date(2024, 1, 1), "证书"),
                                      (U2, "T01", f"标签 第{build}版", dt.date(2023, 1, 1), "证书")], f"test.tags@{build}")
    if crash == "before_release":
        _die()
    return {PROFILE: lake.version(PROFILE), TAGS: lake.version(TAGS)}


def _api(settings):
    from fastapi.testclient import TestClient

    from govlake.api.app import create_app

    from govlake import access

    key = access.issue_key(access.open_store(settings), "kcj_policy_portal", by="system")  # reads the 敏感 profile
    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {key.token}"})


def _served(client) -> dict:
    """What the API serves for U1: (profile version, ent_name), (tags version, tag_name)."""
    p = client.get(f"/enterprises/{U1}/profile").json()
    t = client.get(f"/enterprises/{U1}/tags").json()
    return {PROFILE: (p["version"], p["profile"]["ent_name"]), TAGS: (t["version"], t["tags"][0]["tag_name"])}


@pytest.mark.parametrize("crash", CRASH_POINTS)
def test_kill_between_publishes_serves_the_previous_release(lake, settings, crash):
    first = publish_build(lake, 1)
    r1 = release.publish(lake, "run-1", first, step="transform")
    client = _api(settings)
    before = {PROFILE: (first[PROFILE], "甲科技 第1版"), TAGS: (first[TAGS], "标签 第1版")}
    assert _served(client) == before

    child = subprocess.run([sys.executable, __file__, str(settings.lake_root), "2", crash],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert lake.version(PROFILE) == first[PROFILE] + 1  # the new profile is committed ...
    assert lake.version(TAGS) == first[TAGS] + (crash == "before_release")
    # ... and nobody serves it: both tables stay on the previous release
    assert release.current(lake) == r1
    assert {t: release.version_of(lake, t) for t in (PROFILE, TAGS)} == first
    assert _served(client) == before
    if crash == "after_profile":  # the dead writer's tag files: uncommitted, removed by the next upkeep
        from govlake.maintenance import remove_uncommitted

        assert remove_uncommitted(lake.path(TAGS), time.time() + 1) == 1
        assert lake.to_arrow(TAGS, version=first[TAGS]).num_rows == 2

    # The next run publishes the same build again (the profile's commit is skipped: same app id).
    second = publish_build(lake, 2)
    assert second == {PROFILE: first[PROFILE] + 1, TAGS: first[TAGS] + 1}
    r2 = release.publish(lake, "run-2", second, step="transform")
    assert (r2.seq, r2.previous_release, r2.run_id, r2.step) == (2, r1.release_id, "run-2", "transform")
    assert _served(client) == {PROFILE: (second[PROFILE], "甲科技 第2版"), TAGS: (second[TAGS], "标签 第2版")}
    listing = client.get("/products").json()
    assert listing["release"] == r2.release_id
    assert {p["name"]: p["version"] for p in listing["products"]}[PROFILE] == second[PROFILE]


def test_a_release_keeps_its_versions_after_a_later_commit(spark, lake, settings, monkeypatch):
    a, b = "silver.release_a", "silver.release_b"
    lake.write(spark.createDataFrame([(1, "a0")], "id int, v string"), a)
    lake.write(spark.createDataFrame([(1, "b0")], "id int, v string"), b)
    r1 = release.publish(lake, "run-1", [a, b], step="test")
    assert r1.tables == {a: 0, b: 0} and r1.previous_release is None and r1.published == (a, b)

    lake.write(spark.createDataFrame([(1, "a1")], "id int, v string"), a)  # committed, not released
    assert lake.version(a) == 1 and release.version_of(lake, a) == 0
    assert lake.to_arrow(a, version=release.version_of(lake, a)).column("v").to_pylist() == ["a0"]
    assert [r.v for r in lake.read(a, version=release.version_of(lake, a)).collect()] == ["a0"]  # Spark too
    assert release.publish(lake, "run-1", {a: 0, b: 0}, step="test") == r1  # nothing new: no second row

    # a step publishes some tables; the release carries the others' versions on
    r2 = release.publish(lake, "run-2", [a], step="test")
    assert r2.tables == {a: 1, b: 0} and r2.previous_release == r1.release_id and r2.run_id == "run-2"
    assert release.version_of(lake, a) == 1 and release.current(lake) == r2
    assert [r.release_id for r in release.history(lake)] == [r2.release_id, r1.release_id]
    with pytest.raises(ValueError, match="version 7"):
        release.publish(lake, "run-3", {a: 7}, step="test")

    # an auditor lists them: `govlake releases`
    from click.testing import CliRunner

    from govlake.cli import main
    from govlake.settings import get_settings

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(main, ["releases"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith(f"{r2.release_id} ") and "run run-2" in lines[0] and f"previous {r1.release_id}" in lines[0]
    assert lines[1].strip() == f"{a} @ v1" and lines[2].startswith(f"{r1.release_id} ")


def test_before_any_release_readers_take_each_tables_latest(spark, lake):
    assert release.current(lake) is None and release.version_of(lake, "silver.nothing") is None
    lake.write(spark.createDataFrame([(1,)], "id int"), "silver.t")
    lake.write(spark.createDataFrame([(2,)], "id int"), "silver.t")
    assert release.version_of(lake, "silver.t") == 1


@pytest.mark.slow  # keeps make test under 15 min on a fresh clone (make test-slow runs it)
def test_upkeep_moves_the_release_past_optimize_only(spark, lake):
    """OPTIMIZE changes no row: the release follows it (readers get the compacted files, VACUUM's
    window counts from there). A data commit after the release is never carried forward."""
    a, b = "silver.upkeep_a", "silver.upkeep_b"
    from govlake.lakehouse.spark_tables import OPTIMIZE_MIN_SMALL_FILES

    n = OPTIMIZE_MIN_SMALL_FILES + 1  # small files for OPTIMIZE to compact
    for i in range(n):
        lake.write(spark.createDataFrame([(i, f"a{i}")], "id int, v string"), a, mode="append")
    lake.write(spark.createDataFrame([(1, "b0")], "id int, v string"), b)
    r1 = release.publish(lake, "run-1", [a, b], step="transform")
    lake.write(spark.createDataFrame([(9, "b1")], "id int, v string"), b, mode="append")  # not released
    lake.maintain(a)
    lake.maintain(b)
    assert lake.version(a) > r1.tables[a]
    r2 = release.carry_forward(lake, "run-upkeep")
    assert r2.tables[a] == lake.version(a) and r2.step == "maintain" and r2.previous_release == r1.release_id
    assert r2.tables[b] == r1.tables[b]  # b's next commit holds new data: still the released one
    assert sorted(lake.to_arrow(a, version=r2.tables[a]).column("v").to_pylist()) == sorted(f"a{i}" for i in range(n))
    assert release.carry_forward(lake, "run-upkeep-again") == r2  # nothing moved: nothing recorded


if __name__ == "__main__":  # the child of the kill test: no Spark, delta-rs commits only
    root, build, crash = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    publish_build(Lakehouse(None, Settings(lake_root=Path(root))), build, crash)
    sys.exit(0)  # not reached at a crash point
