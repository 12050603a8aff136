"""Reader runs written off the request path (govlake.access.read_runs): queued while serving,
written by the background thread on its timer and on stop, each with the time of its read."""

from __future__ import annotations

import datetime as dt
import time

from govlake.access import read_runs
from govlake.lineage.emitter import read_events
from govlake.settings import Settings


def _runs(settings) -> list[dict]:
    return [e for e in read_events(settings.lineage_path) if e["job"]["name"].startswith("api.")]


def test_written_at_once_outside_a_serving_process(tmp_path):
    s = Settings(lake_root=tmp_path / "lake", lineage_file=tmp_path / "lineage.jsonl")
    read_runs.submit("api.a", "gold.enterprise_profile", 3, 1, s)
    (ev,) = _runs(s)
    assert ev["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 1


def test_queued_then_written_by_the_timer_and_on_stop(tmp_path):
    s = Settings(lake_root=tmp_path / "lake", lineage_file=tmp_path / "lineage.jsonl")
    read_runs.start()
    try:
        before = dt.datetime.now(dt.UTC)
        read_runs.submit("api.a", "gold.enterprise_profile", 3, 1, s)
        read_runs.submit("api.b", "gold.enterprise_tags", 5, 2, s)
        assert _runs(s) == [] and read_runs.pending() == 2  # not on the request path
        t = time.monotonic()
        while len(_runs(s)) < 2:
            assert time.monotonic() - t < read_runs.FLUSH_S * 10, "the timer did not write the runs"
            time.sleep(0.05)
        times = [dt.datetime.fromisoformat(e["eventTime"]) for e in _runs(s)]
        assert all(before <= x <= before + dt.timedelta(seconds=read_runs.FLUSH_S) for x in times)  # the read's time
        read_runs.submit("api.c", "gold.enterprise_profile", 3, 1, s)
    finally:
        read_runs.stop()  # the app's shutdown: nothing left behind
    assert read_runs.pending() == 0
    assert [e["job"]["name"] for e in _runs(s)] == ["api.a", "api.b", "api.c"]
