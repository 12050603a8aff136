"""CLI contract: train -> evaluate roundtrip, encodings, and clear errors on bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from govlake.petitions.cli import petitions


def _train(runner, csv, out, *extra):
    return runner.invoke(petitions, ["train", "--input", str(csv), "--text-col", "内容",
                                     "--label-col", "部门", "--model-out", str(out), *extra])


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_train_evaluate_roundtrip(tmp_path, synth_df, encoding):
    csv = tmp_path / f"in_{encoding}.csv"
    synth_df.to_csv(csv, index=False, encoding=encoding)
    runner = CliRunner()
    r = _train(runner, csv, tmp_path / "model", "--encoding", encoding)
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "model" / "model.json").read_text(encoding="utf-8"))
    assert meta["training_data"]["rows"] == len(synth_df)
    assert len(meta["training_data"]["sha256"]) == 64
    assert sorted(meta["labels"]) == sorted(synth_df["部门"].unique())
    assert {"n", "top1", "top3", "macro_f1"} <= set(meta["holdout"]["metrics"])

    r = runner.invoke(petitions, ["evaluate", "--model", str(tmp_path / "model"), "--input", str(csv),
                                  "--text-col", "内容", "--label-col", "部门", "--encoding", encoding])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)  # exactly one JSON object on stdout
    assert res["n"] == len(synth_df)
    assert res["top1"] >= 0.9 and res["top3"] == 1.0 and res["macro_f1"] >= 0.9
    assert res["model_version"] == meta["version"]


def test_missing_file(tmp_path):
    r = _train(CliRunner(), tmp_path / "nope.csv", tmp_path / "m")
    assert r.exit_code != 0 and "not found" in r.output


def test_wrong_encoding(tmp_path, synth_df):
    csv = tmp_path / "gbk.csv"
    synth_df.to_csv(csv, index=False, encoding="gb18030")
    r = _train(CliRunner(), csv, tmp_path / "m")  # default utf-8
    assert r.exit_code != 0 and "cannot decode" in r.output and "gb18030" in r.output


def test_empty_file(tmp_path):
    csv = tmp_path / "empty.csv"
    csv.write_text("", encoding="utf-8")
    r = _train(CliRunner(), csv, tmp_path / "m")
    assert r.exit_code != 0 and "empty" in r.output


def test_header_only(tmp_path):
    csv = tmp_path / "header.csv"
    csv.write_text("内容,部门\n", encoding="utf-8")
    r = _train(CliRunner(), csv, tmp_path / "m")
    assert r.exit_code != 0 and "no rows" in r.output


def test_missing_column_lists_available(tmp_path, synth_csv):
    r = CliRunner().invoke(petitions, ["train", "--input", str(synth_csv), "--text-col", "text",
                                       "--label-col", "部门", "--model-out", str(tmp_path / "m")])
    assert r.exit_code != 0
    assert "'text' not found" in r.output and "available columns: 内容, 部门" in r.output


def test_evaluate_without_model(tmp_path, synth_csv):
    r = CliRunner().invoke(petitions, ["evaluate", "--model", str(tmp_path / "none"), "--input",
                                       str(synth_csv), "--text-col", "内容", "--label-col", "部门"])
    assert r.exit_code != 0 and "no model" in r.output


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "govlake.petitions.cli", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "train" in r.stdout and "evaluate" in r.stdout
