"""A correction reaches the profile (issue 25, "nothing lost at the edges"): the registry extract
of a date already loaded and built is re-landed with one enterprise's name and registered capital
corrected; `govlake ingest` restates the partition, and the next profile build for the same day
publishes the corrected values for that enterprise and the same values for the others, as a
consumer reads them (the release, through the API). A second correction of that day, restated
after it was built, reaches the next day's incremental build too, though its rows are older than
the incremental's load date."""

from __future__ import annotations

import pytest

import csv
import datetime as dt
import io

from click.testing import CliRunner
from fastapi.testclient import TestClient

from govlake import release
from govlake.api.app import create_app
from govlake.generate import generate_all
from govlake.ingest import cli as ingest_cli
from govlake.ingest import ingest_all, ingest_source
from govlake.profile import build_profile

D = dt.date(2026, 11, 21)
SCALE = 300
# The registry and the yearly sources that the derived fields read (enterprise size: headcount
# and revenue); the other sources are empty for the build, which keeps the test to a few minutes.
SOURCES = ["enterprise_registry", "tax_annual", "social_insurance"]
PROFILE = "gold.enterprise_profile"
def reader_key(settings) -> dict:  # a key of kcj_policy_portal: may read the 敏感 profile, unmasked
    from govlake import access

    return {"Authorization": f"Bearer {access.issue_key(access.open_store(settings), 'kcj_policy_portal', by='system').token}"}


def _build_and_release(spark, lake, run_id: str, as_of: dt.date = D, incremental: bool = False) -> dict:
    """A profile build, its versions released (as the pipeline does; a no-op when the build has
    released them itself)."""
    out = build_profile(spark, lake, as_of, incremental=incremental, engine="direct")
    out["release"] = release.publish(lake, run_id, out["versions"], step="transform").release_id
    return out


def _served(client, uscc: str) -> dict:
    r = client.get(f"/enterprises/{uscc}/profile")  # the client carries the reader's key
    assert r.status_code == 200, r.text
    return r.json()["profile"]


def _reland_registry(settings, uscc: str, **new: str) -> None:
    """Rewrite the registry's landing file of D with `new` values in the row of `uscc`."""
    path = settings.landing_dir / "enterprise_registry" / D.isoformat() / "part-00000.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    hit = [r for r in rows if r["uscc"] == uscc]
    assert len(hit) == 1
    hit[0].update(new)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


@pytest.mark.slow  # about 2 minutes: three profile builds (make test-slow, run by CI)
def test_restated_registry_value_reaches_the_profile_on_the_next_build(spark, lake, settings, monkeypatch):
    generate_all(settings, SCALE, 25, D, bad_share=0)
    ingest_all(spark, lake, D, SOURCES)
    first = _build_and_release(spark, lake, "run-1")
    client = TestClient(create_app(settings), headers=reader_key(settings))

    reg = lake.to_arrow("bronze.enterprise_registry", columns=["uscc", "name", "reg_capital_wan"]).sort_by("uscc")
    fixed, other = reg.slice(0, 1).to_pylist()[0], reg.slice(1, 1).to_pylist()[0]
    before = _served(client, fixed["uscc"]), _served(client, other["uscc"])
    assert (before[0]["ent_name"], before[0]["reg_capital_wan"]) == (fixed["name"], fixed["reg_capital_wan"])

    corrected_name, corrected_capital = fixed["name"] + "（更正）", fixed["reg_capital_wan"] + 1234.5
    _reland_registry(settings, fixed["uscc"], name=corrected_name, reg_capital_wan=str(corrected_capital))
    monkeypatch.setattr(ingest_cli, "get_settings", lambda: settings)
    res = CliRunner().invoke(ingest_cli.ingest, ["--load-date", D.isoformat(), "--source", "enterprise_registry"])
    assert res.exit_code == 0, res.output
    assert "restated" in res.output
    run = max(lake.to_arrow("ops.ingest_runs").to_pylist(), key=lambda r: r["recorded_at"])
    assert (run["source"], run["status"], run["committed"]) == ("enterprise_registry", "restated", True)
    (restated,) = lake.to_arrow("ops.restatements").to_pylist()
    assert (restated["source"], restated["load_date"]) == ("enterprise_registry", D)
    assert restated["changed_keys"] == [fixed["uscc"]]
    assert (restated["rows_added"], restated["rows_removed"], restated["rows_changed"]) == (0, 0, 1)

    second = _build_and_release(spark, lake, "run-2")
    assert second["profile_version"] > first["profile_version"] and second["release"] != first["release"]
    assert release.version_of(lake, PROFILE) == second["profile_version"]
    after = _served(client, fixed["uscc"]), _served(client, other["uscc"])
    assert (after[0]["ent_name"], after[0]["reg_capital_wan"]) == (corrected_name, corrected_capital)
    assert after[1] == before[1]
    assert lake.row_count(PROFILE, version=second["profile_version"]) == reg.num_rows

    _reland_registry(settings, fixed["uscc"], reg_capital_wan=str(corrected_capital + 1))
    assert ingest_source(spark, lake, "enterprise_registry", D).status == "restated"
    third = _build_and_release(spark, lake, "run-3", as_of=D + dt.timedelta(days=1), incremental=True)
    assert third["changed_since"] == D.isoformat()  # not only the rows loaded on or after the next day
    assert third["profile_version"] > second["profile_version"]
    assert _served(client, fixed["uscc"])["reg_capital_wan"] == corrected_capital + 1
    kept = _served(client, other["uscc"])  # (its as_of-dependent fields moved on a day)
    assert (kept["ent_name"], kept["reg_capital_wan"]) == (before[1]["ent_name"], before[1]["reg_capital_wan"])
