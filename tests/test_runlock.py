"""The lake's run lock (运行锁): a second run is refused, naming the first, before any Spark work;
the lock goes with its holder; a second run can wait for it. No Spark here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from govlake.runlock import LOCK_NAME, RunLockBusy, held_here, lock_path, read_holder, run_lock
from govlake.settings import Settings, get_settings

# argv: lake_root, seconds to hold (negative: until stdin closes)
HOLDER = """
import sys, time
from govlake.runlock import run_lock
from govlake.settings import Settings
with run_lock(Settings(lake_root=sys.argv[1]), load_date="2026-11-21", steps=["generate", "ingest"]):
    print("locked", flush=True)
    hold = float(sys.argv[2])
    sys.stdin.read() if hold < 0 else time.sleep(hold)
"""


def _start_holder(lake, hold: float = -1) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(lake), str(hold)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "locked", (line, p.stderr.read() if p.poll() is not None else "")
    return p


@pytest.fixture
def holder(tmp_path):
    p = _start_holder(tmp_path / "lake")
    yield p
    if p.poll() is None:
        p.stdin.close()
        p.wait(timeout=10)


def test_second_run_is_refused_naming_the_holder(tmp_path, holder):
    s = Settings(lake_root=tmp_path / "lake")
    assert lock_path(s) == tmp_path / "lake" / LOCK_NAME
    rec = read_holder(lock_path(s))
    assert rec["pid"] == holder.pid and rec["steps"] == ["generate", "ingest"] and rec["load_date"] == "2026-11-21"
    t0 = time.monotonic()
    with pytest.raises(RunLockBusy) as e:
        with run_lock(s, steps=["push"]):
            pytest.fail("took a lock another process holds")
    assert time.monotonic() - t0 < 2  # default wait 0: at once
    msg = e.value.format_message()
    assert "另一个运行正在进行" in msg and f"pid {holder.pid}" in msg and "generate,ingest" in msg
    assert rec["started"] in msg
    assert e.value.holder["pid"] == holder.pid and e.value.exit_code == 1
    assert not held_here(s)


def test_cli_run_refuses_cleanly_before_any_work(tmp_path, holder, monkeypatch):
    from govlake.cli import main

    lake = tmp_path / "lake"
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(lake))
    monkeypatch.setenv("GOVLAKE_RUN_LOCK_WAIT_SECONDS", "0")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["run", "--steps", "generate", "--load-date", "2026-11-22"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1, r.output
    assert "another govlake run holds the lake (另一个运行正在进行)" in r.output
    assert f"pid {holder.pid}" in r.output and "steps generate,ingest" in r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)  # a click error, not a crash
    assert "==> generate" not in r.output
    assert not (lake / "landing").exists()  # refused before the generator (and before Spark)


def test_lock_is_released_when_the_holder_exits(tmp_path, holder):
    s = Settings(lake_root=tmp_path / "lake")
    holder.stdin.close()
    assert holder.wait(timeout=10) == 0
    assert read_holder(lock_path(s)) is None  # released: the file names no one
    with run_lock(s, load_date="2026-11-23", steps=["match"]) as me:
        assert me["pid"] == os.getpid() and held_here(s)
        assert read_holder(lock_path(s)) == json.loads(json.dumps(me))
    assert not held_here(s) and read_holder(lock_path(s)) is None


def test_holder_killed_leaves_no_stale_lock(tmp_path):
    s = Settings(lake_root=tmp_path / "lake")
    p = _start_holder(tmp_path / "lake")
    p.kill()
    p.wait(timeout=10)
    assert read_holder(lock_path(s))["pid"] == p.pid  # its record is left behind...
    with run_lock(s) as me:  # ...but the kernel dropped its flock
        assert read_holder(lock_path(s))["pid"] == me["pid"] == os.getpid()


def test_second_run_waits_for_the_first(tmp_path):
    s = Settings(lake_root=tmp_path / "lake", run_lock_wait_seconds=30)
    p = _start_holder(tmp_path / "lake", hold=1.0)
    try:
        said = []
        t0 = time.monotonic()
        with run_lock(s, steps=["generate"], echo=said.append) as me:
            waited = time.monotonic() - t0
            assert me["pid"] == os.getpid()
        assert 0.2 < waited < 15, waited
        assert said and f"pid {p.pid}" in said[0]
    finally:
        p.wait(timeout=10)


def test_wait_too_short_still_refuses(tmp_path, holder):
    s = Settings(lake_root=tmp_path / "lake")
    t0 = time.monotonic()
    with pytest.raises(RunLockBusy, match=f"after waiting .*pid {holder.pid}"):
        with run_lock(s, wait_seconds=0.6):
            pass
    assert 0.5 < time.monotonic() - t0 < 5


def test_reentrant_in_process(tmp_path):
    """run_pipeline holds the lock and run_step re-enters it; a new open of the same file would not."""
    s = Settings(lake_root=tmp_path / "lake")
    with run_lock(s, steps=["generate", "ingest"]) as outer:
        with run_lock(s, steps=["generate"]) as inner:
            assert inner is outer
        assert held_here(s)  # the inner exit does not release the outer hold
        rec = read_holder(lock_path(s))
        assert rec["steps"] == ["generate", "ingest"]
        # another process sees it held
        r = subprocess.run([sys.executable, "-c", "import sys\nfrom govlake.runlock import run_lock\n"
                            "from govlake.settings import Settings\n"
                            "with run_lock(Settings(lake_root=sys.argv[1])): pass", str(tmp_path / "lake")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and f"pid {os.getpid()}" in r.stderr
    assert not held_here(s)


def test_object_store_lake_gets_a_local_lock_file():
    p = lock_path(Settings(lake_root="s3a://govlake/lake"))
    assert p.name.endswith(LOCK_NAME) and "s3a" not in str(p)


# -- the lock in PostgreSQL: runs on several machines against a lake in the bucket ----------------
PG_BIN = next(iter(sorted(__import__("pathlib").Path("/usr/lib/postgresql").glob("*/bin"))), None)


@pytest.fixture(scope="module")
def pg_url():
    """A throwaway PostgreSQL server (Debian's package; .ci/run installs it), as the cluster runs one."""
    import shutil
    import socket
    import tempfile

    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    root = tempfile.mkdtemp(prefix="govlake-pg-", dir="/tmp")  # the postgres account must reach it
    os.chmod(root, 0o755)
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    data = f"{root}/data"
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", data, "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", data, "-l", f"{root}/log", "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {root}", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


PG_HOLDER = """
import sys
from govlake.runlock import run_lock
from govlake.settings import Settings
with run_lock(Settings(lake_root=sys.argv[1], run_lock_url=sys.argv[2], work_dir=sys.argv[3]), load_date="2026-11-21",
              steps=["transform"]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_postgres_lock_spans_work_dirs(tmp_path, pg_url):
    """Two runs on a lake in the bucket from different machines (here: different work dirs, whose
    local lock files differ) exclude each other through PostgreSQL; the lock goes with a killed holder."""
    lake = "s3a://govlake/lake-pg-test"
    p = subprocess.Popen([sys.executable, "-c", PG_HOLDER, lake, pg_url, str(tmp_path / "machine1")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked", p.stderr.read() if p.poll() is not None else ""
        other = Settings(lake_root=lake, run_lock_url=pg_url, work_dir=tmp_path / "machine2")
        with pytest.raises(RunLockBusy) as e:
            with run_lock(other, steps=["push"]):
                pytest.fail("took a lock another machine holds")
        msg = e.value.format_message()
        assert "另一个运行正在进行" in msg and f"pid {p.pid}" in msg and "transform" in msg and "advisory lock" in msg
        # without the shared lock the two machines would not see each other: what the URL is for
        with run_lock(Settings(lake_root=lake, work_dir=tmp_path / "machine2")):
            pass
        # another lake is free
        with run_lock(Settings(lake_root="s3a://govlake/other-lake", run_lock_url=pg_url, work_dir=tmp_path / "m2")):
            pass
        p.kill()  # no clean exit: its connection ends, the server drops the lock
        p.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                with run_lock(other, steps=["push"]) as me:
                    assert held_here(other) and me["pid"] == os.getpid()
                break
            except RunLockBusy:
                assert time.monotonic() < deadline, "the killed holder's lock was not dropped"
                time.sleep(0.2)
        assert not held_here(other)
    finally:
        if p.poll() is None:
            p.kill()
