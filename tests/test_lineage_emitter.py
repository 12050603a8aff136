from __future__ import annotations

import pytest

from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import read_events


def test_start_complete_with_facets(settings):
    with job_run("ingest_petitions", settings, nominal_time="2026-11-01T00:00:00Z") as run:
        run.add_input("landing.petitions")
        run.add_output(DatasetRef("bronze.petitions", schema=[("ticket_id", "string", "工单编号")], rows=42,
                                  column_lineage={"ticket_id": [("landing.petitions", "ticket_id")]}))
    events = read_events(settings.lineage_path)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    out = events[1]["outputs"][0]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 42
    assert out["facets"]["schema"]["fields"][0]["description"] == "工单编号"
    assert out["facets"]["symlinks"]["identifiers"][0]["name"] == "bronze.petitions"
    cl = out["facets"]["columnLineage"]["fields"]["ticket_id"]["inputFields"][0]
    assert cl["field"] == "ticket_id" and cl["name"].endswith("landing/petitions")
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]


def test_fail_event_on_error(settings):
    with pytest.raises(RuntimeError):
        with job_run("broken_job", settings):
            raise RuntimeError("boom 出错")
    events = read_events(settings.lineage_path)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert "boom" in events[1]["run"]["facets"]["errorMessage"]["message"]


def test_http_transport_posts_events(settings):
    """GOVLAKE_LINEAGE_TRANSPORT=http: events are POSTed (as to Marquez) to a local receiver."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = settings.model_copy(update={"lineage_transport": "http",
                                        "lineage_url": f"http://127.0.0.1:{server.server_port}"})
        with job_run("http_job", s) as run:
            run.add_output(DatasetRef("gold.x", rows=1))
    finally:
        server.shutdown()
    assert [p for p, _ in received] == ["/api/v1/lineage"] * 2
    assert [e["eventType"] for _, e in received] == ["START", "COMPLETE"]
    assert not s.lineage_path.exists()
