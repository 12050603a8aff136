"""A broken contract and a failing dbt test each fail the run, naming what failed."""

from __future__ import annotations

import shutil

import pytest
import yaml

from govlake.lakehouse import Lakehouse
from govlake.settings import Settings, get_settings
from govlake.transform.runner import DbtRunFailed, run_dbt


def _project_copy(dst):
    """The dbt project with only our layers (staging + marts/core), to break on purpose."""
    src = get_settings().dbt_dir
    dst.mkdir(parents=True)
    for name in ["dbt_project.yml", "profiles.yml"]:
        shutil.copy(src / name, dst / name)
    shutil.copytree(src / "macros", dst / "macros")
    shutil.copytree(src / "models" / "staging", dst / "models" / "staging")
    shutil.copytree(src / "models" / "marts" / "core", dst / "models" / "marts" / "core")
    return dst


@pytest.fixture
def lake_with(spark, tmp_path, tb):
    def make(departments, dbt_dir=None):
        s = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4,
                     **({"dbt_dir": dbt_dir} if dbt_dir else {}))
        Lakehouse(spark, s).write(tb.departments_df(spark, s, departments), "bronze.departments")
        return s
    return make


def test_broken_contract_fails_clearly(spark, tmp_path, lake_with, tb):
    dbt_dir = _project_copy(tmp_path / "dbt")
    yml = dbt_dir / "models" / "marts" / "core" / "dim_departments.yml"
    doc = yaml.safe_load(yml.read_text(encoding="utf-8"))
    for col in doc["models"][0]["columns"]:
        if col["name"] == "issues_policies":
            col["data_type"] = "int"  # the SQL yields boolean
    yml.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    s = lake_with(tb.DEPARTMENTS, dbt_dir=dbt_dir)

    with pytest.raises(DbtRunFailed) as err:
        run_dbt(spark, s, ["run", "--select", "+dim_departments"])
    msg = str(err.value)
    assert "model dim_departments" in msg and "contract" in msg.lower()
    assert err.value.result.node("dim_departments").status == "error"
    assert err.value.result.node("stg_departments").status == "success"


def test_failing_dbt_test_fails_the_build(spark, lake_with, tb):
    s = lake_with(tb.DEPARTMENTS + [("FGJ", "重复的部门", "职能部门", None, True)])  # duplicate key
    with pytest.raises(DbtRunFailed) as err:
        run_dbt(spark, s, ["build", "--select", "+dim_departments"])
    msg = str(err.value)
    assert msg.startswith("dbt build failed")
    assert "test unique_stg_departments_code" in msg and "failing rows" in msg
    # dbt build skips the mart downstream of the failed test: nothing to publish.
    assert err.value.result.node("dim_departments").status == "skipped"
