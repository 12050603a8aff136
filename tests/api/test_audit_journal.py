"""The audit journal (govlake.access.audit_journal): a served request's audit row is in its
worker's journal before the answer, in the audit table within VISIBLE_WITHIN_S (raw SQL, no fold
on read), seen at once by query_audit; the daily cap counts rows not yet folded; a process killed
outright loses no record it wrote; processes folding at once fold each record exactly once; the
folding is done by a process of its own (govlake.access.audit_folder), not the serving one,
replaced when it dies and gone with its server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from fastapi.testclient import TestClient

from govlake import access
from govlake.access import audit_fold, audit_folder, audit_journal
from govlake.access.audit_chain import AuditEvent, append_audit
from govlake.api.app import create_app

from small_lake import U1

PROFILE = "gold.enterprise_profile"


def _raw_count(store, action: str) -> int:
    """Rows in the audit table itself, read on a connection of its own (no fold on read)."""
    db = sqlite3.connect(str(store.path))
    try:
        return db.execute("SELECT count(*) FROM audit WHERE action = ?", (action,)).fetchone()[0]
    finally:
        db.close()


def _eventually(cond, within: float) -> bool:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_served_request_is_journaled_before_the_answer_and_folded_within_the_bound(small_lake, settings, store, H,
                                                                                   grant):
    grant("kcj_policy_portal", PROFILE)
    action = f"GET /enterprises/{U1}/profile"
    with TestClient(create_app(settings)) as client:  # the lifespan starts the journal
        r = client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal"))
        answered = time.monotonic()
        assert r.status_code == 200
        journals = list(audit_journal.journal_dir(store).glob("*.jsonl"))
        assert any(action in p.read_text(encoding="utf-8") for p in journals), "not in the journal at the answer"
        while _raw_count(store, action) == 0:
            assert time.monotonic() - answered < audit_journal.VISIBLE_WITHIN_S, "not folded within the bound"
            time.sleep(0.02)
        # a refusal is journaled and folded the same way
        assert client.get(f"/enterprises/{U1}/profile", headers=H("zsj_data_portal")).status_code == 403
        rows = access.query_audit(store, limit=5)  # folds first: seen at once
        assert (rows[0]["action"], rows[0]["outcome"], rows[0]["actor"]) == (action, "denied", "zsj_data_portal")
        assert any(x["outcome"] == "allowed" and x["actor"] == "kcj_policy_portal" and x["rows"] == 1 for x in rows)
    assert access.verify_audit(store).ok


def test_daily_cap_counts_rows_not_yet_folded(small_lake, settings, store, H, grant, monkeypatch):
    monkeypatch.setattr(audit_journal, "FOLD_S", 3600.0)  # nothing folded in the background
    grant("kcj_policy_portal", PROFILE, daily_rows=2)
    action = f"GET /enterprises/{U1}/profile"
    with TestClient(create_app(settings)) as client:
        codes = [client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]
        assert _raw_count(store, action) == 0  # still in the journal only
        assert access.audit.rows_served_today(store, "kcj_policy_portal", PROFILE) == 2
        assert len(access.query_audit(store, consumer="kcj_policy_portal")) == 3  # folded now
        assert _raw_count(store, action) == 3
        # folded rows are counted once: from usage, no longer from the journal
        assert access.audit.rows_served_today(store, "kcj_policy_portal", PROFILE) == 2
        assert client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code == 429
    usage = store.query("SELECT rows FROM usage WHERE consumer_id = 'kcj_policy_portal' AND product = ?", (PROFILE,))
    assert usage[0]["rows"] == 2


def _journaling_process(lake_root, n: int, *, fold_s: float, kill: bool) -> str:
    return textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from govlake import access
        from govlake.access import audit_journal
        from govlake.access.audit import AuditEvent, record
        from govlake.settings import Settings
        audit_journal.FOLD_S = {fold_s}
        s = access.open_store(Settings(lake_root=Path({str(lake_root)!r})))
        audit_journal.start(s)
        for i in range({n}):
            record(s, AuditEvent("GET /journal-test", "allowed", "consumer", "c{{}}".format(os.getpid()),
                                 product="p", rows=1, status=200, detail=str(i)), usage_rows=1)
        print("written", flush=True)
        if {kill}:
            os.kill(os.getpid(), signal.SIGKILL)  # no shutdown, no last fold, no sync
        audit_journal.stop(s)
    """)


def test_a_killed_process_loses_no_record_and_its_journal_is_removed_once_folded(settings, store):
    out = subprocess.run([sys.executable, "-c", _journaling_process(settings.lake_root, 300, fold_s=3600, kill=True)],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "written" and out.returncode == -9, out.stderr
    # its fold process goes with it (without folding: what it leaves is the next fold's)
    assert _eventually(lambda: not audit_folder.alive(audit_journal.journal_dir(store)), 10)
    journals = list(audit_journal.journal_dir(store).glob("*.jsonl"))
    assert len(journals) == 1 and _raw_count(store, "GET /journal-test") == 0
    rows = access.query_audit(store, limit=1000)  # folds the dead process's journal
    mine = [r for r in rows if r["action"] == "GET /journal-test"]
    assert sorted(int(r["detail"]) for r in mine) == list(range(300))
    assert access.verify_audit(store).ok
    assert not journals[0].exists()  # its owner gone and every record folded
    assert access.query_audit(store, limit=1000) == rows  # folding again adds nothing
    # the deleted journal's offset row goes in the next fold's transaction, not before
    gone = "SELECT count(*) AS n FROM journal_folds WHERE file = ?"
    assert store.query(gone, (journals[0].name,))[0]["n"] == 1
    out = subprocess.run([sys.executable, "-c", _journaling_process(settings.lake_root, 1, fold_s=3600, kill=True)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == -9, out.stderr
    assert len(access.query_audit(store, limit=1000)) == len(rows) + 1
    assert store.query(gone, (journals[0].name,))[0]["n"] == 0


def test_processes_folding_at_once_fold_each_record_once(settings, store):
    procs = [subprocess.Popen([sys.executable, "-c", _journaling_process(settings.lake_root, 400, fold_s=0.005,
                                                                          kill=False)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "written", err
    assert _raw_count(store, "GET /journal-test") == 1200  # each process's stop folded what was left
    check = access.verify_audit(store)
    assert check.ok, check
    per_actor = store.query("SELECT actor, count(*) AS n, count(DISTINCT detail) AS d FROM audit "
                            "WHERE action = 'GET /journal-test' GROUP BY actor")
    assert [(r["n"], r["d"]) for r in per_actor] == [(400, 400)] * 3
    usage = store.query("SELECT sum(rows) AS n FROM usage WHERE product = 'p'")
    assert usage[0]["n"] == 1200
    assert list(audit_journal.journal_dir(store).glob("*.jsonl")) == []


def test_the_fold_runs_in_a_process_of_its_own_replaced_when_it_dies(small_lake, settings, store, H, grant,
                                                                     monkeypatch):
    folded_here = []
    real = audit_fold._fold_locked
    monkeypatch.setattr(audit_fold, "_fold_locked", lambda *a: folded_here.append(1) or real(*a))
    grant("kcj_policy_portal", PROFILE)
    action = f"GET /enterprises/{U1}/profile"
    d = audit_journal.journal_dir(store)
    with TestClient(create_app(settings)) as client:
        j = audit_journal.active(store)
        assert audit_folder.alive(d) and len(j.folders) == 1 and j.folders[0].pid != os.getpid()
        assert client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code == 200
        assert _eventually(lambda: _raw_count(store, action) == 1, audit_journal.VISIBLE_WITHIN_S)
        # a reader in the serving process has the folder fold, and sees the request answered last
        assert client.get(f"/enterprises/{U1}/profile", headers=H("zsj_data_portal")).status_code == 403
        assert access.query_audit(store, limit=1)[0]["actor"] == "zsj_data_portal"
        # a folder that dies is replaced by the serving process's watch
        first = j.folders[0]
        os.kill(first.pid, signal.SIGKILL)
        assert _eventually(lambda: bool(j.folders) and j.folders[-1] is not first and audit_folder.alive(d), 30)
        assert client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code == 200
        assert _eventually(lambda: _raw_count(store, action) == 3, 30)
        assert folded_here == [], "the serving process folded"
        second = j.folders[-1]
    assert second.poll() is not None and not audit_folder.alive(d)  # stopped with the app
    assert access.verify_audit(store).ok


def test_daily_cap_sees_other_processes_usage_within_the_bound(small_lake, settings, store, H, grant):
    grant("kcj_policy_portal", PROFILE, daily_rows=4)
    url, h = f"/enterprises/{U1}/profile", H("kcj_policy_portal")
    with TestClient(create_app(settings)) as client:
        assert client.get(url, headers=h).status_code == 200
        # a row this process appends to usage directly (e.g. the portal's) counts at once
        append_audit(store, AuditEvent("portal.read", "allowed", "consumer", "kcj_policy_portal", product=PROFILE,
                                       rows=1), usage_rows=1)
        assert access.audit.rows_served_today(store, "kcj_policy_portal", PROFILE) == 2
        # another process's rows count within VISIBLE_WITHIN_S (its own direct append here)
        code = textwrap.dedent(f"""
            from pathlib import Path
            from govlake import access
            from govlake.access.audit_chain import AuditEvent, append_audit
            from govlake.settings import Settings
            s = access.open_store(Settings(lake_root=Path({str(settings.lake_root)!r})))
            append_audit(s, AuditEvent("portal.read", "allowed", "consumer", "kcj_policy_portal",
                                       product={PROFILE!r}, rows=2), usage_rows=2)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        seen = time.monotonic()
        assert _eventually(lambda: access.audit.rows_served_today(store, "kcj_policy_portal", PROFILE) == 4,
                           audit_journal.VISIBLE_WITHIN_S)
        assert time.monotonic() - seen < audit_journal.VISIBLE_WITHIN_S
        assert client.get(url, headers=h).status_code == 429



def test_journal_lines_of_either_format_fold_to_the_same_row(settings, store):
    """A journal left by the version before (filters and columns already stored text) folds as
    this version's raw lines do."""
    import json

    from govlake.access.audit_chain import raw_row, row_of

    ev = AuditEvent("GET /x", "allowed", "consumer", "kcj_policy_portal", product=PROFILE, rows=1, status=200,
                    filters={"uscc": U1, "a": "中"}, columns=["b", "a"], ts="2026-12-08T00:00:00.000001Z")
    d = audit_journal.journal_dir(store)
    d.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**row_of(ev), "usage_rows": 1}), json.dumps({**raw_row(ev), "usage_rows": 1})]
    (d / "1-old.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audit_fold.fold(store) == 2
    rows = [r for r in access.query_audit(store, limit=10) if r["action"] == "GET /x"]
    assert [(r["filters"], r["columns"]) for r in rows] == [({"a": "中", "uscc": U1}, ["b", "a"])] * 2
    assert access.verify_audit(store).ok and not (d / "1-old.jsonl").exists()
