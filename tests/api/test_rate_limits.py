"""Requests per second per grant (限流), through the API: the grant's rate as data (apply, approve,
the CLI, a migrated store), 429 with Retry-After and a clear message for REST, SQL and portal
reads, each refusal audited with reason rate_limited, buckets shared across processes; and the
bound within which a revocation made in another process takes effect."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from fastapi.testclient import TestClient

from govlake import access
from govlake.access import lookup_cache, rate_limits
from govlake.access.rate_limits import RateLimited, RateLimiter
from govlake.api.app import create_app

from small_lake import U1

PROFILE = "gold.enterprise_profile"


@pytest.fixture
def client(small_lake, settings, store):
    return TestClient(create_app(settings))


def _limited(grant, store, rate=0.5, burst=3) -> access.Grant:
    """A grant with a rate slow enough that a loaded test machine cannot refill it by accident."""
    g = grant("kcj_policy_portal", PROFILE, rate_per_s=rate, rate_burst=burst)
    assert (g.rate_per_s, g.rate_burst) == (rate, burst)
    return g


def test_gcra_bucket_admits_the_burst_then_the_rate(tmp_path):
    lim = RateLimiter(tmp_path / "buckets")
    t = 1_000_000.0
    for _ in range(3):
        lim.take("g", 2.0, 3, now=t)            # the burst, at one instant
    with pytest.raises(RateLimited) as e:
        lim.take("g", 2.0, 3, now=t)
    assert e.value.retry_after == pytest.approx(0.5)  # one interval at 2/s
    lim.take("g", 2.0, 3, now=t + 0.5)          # one more after one interval
    with pytest.raises(RateLimited):
        lim.take("g", 2.0, 3, now=t + 0.5)
    lim.take("other", 2.0, 3, now=t)            # buckets are per key
    for _ in range(3):
        lim.take("g", 2.0, 3, now=t + 10)       # refilled after a pause


def test_rest_reads_past_the_rate_are_429_with_retry_after_and_audited(client, store, H, grant):
    g = _limited(grant, store)
    url = f"/enterprises/{U1}/profile"
    codes = [client.get(url, headers=H("kcj_policy_portal")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get(url, headers=H("kcj_policy_portal"))
    assert r.status_code == 429 and r.headers["retry-after"] in {"1", "2"}  # whole seconds (one interval: 2 s)
    detail = r.json()["detail"]
    assert detail.startswith("rate_limited:") and "0.5 requests per second" in detail and "限流" in detail
    assert "13800000001" not in r.text
    row = access.query_audit(store, limit=1)[0]
    assert (row["outcome"], row["status"], row["grant_id"], row["rows"]) == ("denied", 429, g.id, None)
    assert row["detail"].startswith("rate_limited") and row["product"] == PROFILE
    # the daily cap counts served rows only
    assert access.audit.rows_served_today(store, "kcj_policy_portal", PROFILE) == 3
    time.sleep(float(r.headers["retry-after"]) + 0.05)  # as the answer said
    assert client.get(url, headers=H("kcj_policy_portal")).status_code == 200
    # another consumer's grant has its own bucket
    assert client.get(url, headers=H("gxj_enterprise_service")).status_code == 200


def test_sql_and_rest_share_the_grants_bucket(client, store, H, grant):
    _limited(grant, store, rate=0.2, burst=2)
    sql = {"sql": "SELECT count(*) AS n FROM gold.enterprise_profile"}
    assert client.post("/sql", json=sql, headers=H("kcj_policy_portal")).status_code == 200
    assert client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code == 200
    r = client.post("/sql", json=sql, headers=H("kcj_policy_portal"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "限流" in r.json()["detail"]
    row = access.query_audit(store, limit=1)[0]
    assert row["action"] == "POST /sql" and row["outcome"] == "denied" and row["detail"].startswith("rate_limited")


def test_portal_reads_obey_the_same_rate(small_lake, store, settings, grant):
    from govlake.portal import grant_reads
    from govlake.products import get_product

    _limited(grant, store, rate=0.2, burst=1)
    access.create_account(store, "kcj_member", None, "member", "KCJ")
    member = access.get_account(store, "kcj_member")
    p = get_product(PROFILE, settings)
    assert grant_reads.read(store, small_lake, member, p, filters={"uscc": U1}).rows
    with pytest.raises(grant_reads.ReadRefused, match="限流"):
        grant_reads.read(store, small_lake, member, p, filters={"uscc": U1})
    row = access.query_audit(store, limit=1)[0]
    assert (row["action"], row["outcome"], row["status"]) == ("portal.read", "denied", 429)
    assert row["detail"].startswith("rate_limited")


def test_buckets_are_shared_by_processes(client, store, H, grant, settings):
    """Another process (as another API worker would) spends the grant's burst: this one is refused."""
    g = _limited(grant, store, rate=0.5, burst=3)
    code = textwrap.dedent(f"""
        from pathlib import Path
        from govlake.access.rate_limits import RateLimiter, RateLimited
        lim = RateLimiter(Path({str(settings.local_dir / "_platform" / "rate_buckets")!r}))
        for _ in range(3):
            lim.take("grant:{g.id}", 0.5, 3)
        try:
            lim.take("grant:{g.id}", 0.5, 3)
            print("admitted")
        except RateLimited:
            print("limited")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "limited", out.stderr
    r = client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal"))
    assert r.status_code == 429 and r.headers["retry-after"] == "2"  # 0.5/s: two seconds per request


def test_rate_as_data_defaults_bounds_and_approvers_override(store, settings, grant):
    from govlake.access.grants import apply, approve
    from govlake.products import get_product

    g = grant("gxj_enterprise_service", "gold.enterprise_tags")  # no rate asked: the platform's default
    assert (g.rate_per_s, g.rate_burst) == (rate_limits.RATE_PER_S, rate_limits.RATE_BURST)
    a = apply(store, "gxj_enterprise_service", PROFILE, "测试用途：限流申请", by="admin", rate_per_s=20, rate_burst=5)
    assert (a.rate_per_s, a.rate_burst) == (20, 5)
    owner = "owner_" + get_product(PROFILE, settings).owner.lower()  # made by the grant fixture
    g = approve(store, a.id, by=owner, rate_per_s=5)  # the approver lowers the rate, the burst as applied
    assert (g.rate_per_s, g.rate_burst) == (5, 5)
    with pytest.raises(access.AccessError, match="requests per second"):
        apply(store, "gxj_enterprise_service", PROFILE, "测试用途：限流申请", by="admin", rate_per_s=0)
    with pytest.raises(access.AccessError, match="burst"):
        apply(store, "gxj_enterprise_service", PROFILE, "测试用途：限流申请", by="admin", rate_burst=0)
    # a grant's rate is never edited in place
    with pytest.raises(Exception, match="only gains its revocation"):
        with store.write() as db:
            db.execute("UPDATE grants SET rate_per_s = 1000 WHERE id = ?", (g.id,))


def test_a_store_made_before_rates_is_migrated(settings):
    """Columns added, the triggers renewed to freeze them, old grants served at the default rate."""
    s = access.open_store(settings)
    g = access.list_grants(s, consumer="kcj_policy_portal", product=PROFILE)[0]
    with s.lock:  # back to the first schema: no rate columns
        for t in ("applications_decided_once", "grants_revoked_once"):
            s.db.execute(f"DROP TRIGGER {t}")
        for table in ("applications", "grants"):
            s.db.execute(f"ALTER TABLE {table} DROP COLUMN rate_per_s")
            s.db.execute(f"ALTER TABLE {table} DROP COLUMN rate_burst")
        s.db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    s.close()
    s = access.open_store(settings)
    assert s.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0] == "2"
    old = access.get_grant(s, g.id)
    assert old.rate_per_s is None
    from govlake.access.reads import grant_rate
    from govlake.products import get_product

    assert grant_rate(get_product(PROFILE, settings), old) == (rate_limits.RATE_PER_S, rate_limits.RATE_BURST)
    with pytest.raises(Exception, match="only gains its revocation"):
        with s.write() as db:
            db.execute("UPDATE grants SET rate_per_s = 1 WHERE id = ?", (g.id,))
    s.close()


def test_revocation_takes_effect_within_the_stated_bound(client, store, H, grant):
    url = f"/enterprises/{U1}/profile"
    g = grant("zsj_data_portal", PROFILE)  # its only grant on the profile
    assert client.get(url, headers=H("zsj_data_portal")).status_code == 200
    access.revoke_grant(store, g.id, by="admin")  # in this process: at once
    assert client.get(url, headers=H("zsj_data_portal")).status_code == 403
    # a revocation written by another process (the CLI, another worker): no in-process signal
    k = access.issue_key(store, "gxj_enterprise_service", by="admin")
    auth = {"Authorization": f"Bearer {k.token}"}
    assert client.get(url, headers=auth).status_code == 200
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from pathlib import Path
        from govlake import access
        from govlake.settings import Settings
        s = access.open_store(Settings(lake_root=Path({str(store.settings.lake_root)!r})))
        access.revoke_key(s, {k.key_id!r}, by="admin")
    """)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    t = time.monotonic()
    while client.get(url, headers=auth).status_code == 200:
        assert time.monotonic() - t < lookup_cache.REVOCATION_BOUND_S + 0.2, "revocation not seen in time"
        time.sleep(0.05)
    assert client.get(url, headers=auth).status_code == 401


@pytest.mark.slow
def test_two_worker_processes_share_one_rate(small_lake, store, settings, grant, H):
    """`govlake api serve --workers 2`: reads spread over both processes are limited in total."""
    import os
    import socket

    import httpx

    g = grant("kcj_policy_portal", PROFILE, rate_per_s=0.2, rate_burst=5)
    headers = H("kcj_policy_portal")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GOVLAKE_LAKE_ROOT": str(settings.lake_root),
           "GOVLAKE_LINEAGE_FILE": str(settings.lineage_path)}
    proc = subprocess.Popen([sys.executable, "-m", "govlake.cli", "api", "serve", "--port", str(port),
                             "--workers", "2"], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        t = time.monotonic()
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() - t < 180, "the server did not start"
            time.sleep(0.3)
        time.sleep(3)  # both workers up
        codes = []
        for _ in range(16):  # a new connection each: the kernel hands them to either worker
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                codes.append(c.get(f"/enterprises/{U1}/profile").status_code)
        # the burst of 5 in total (+1 if 5 s pass), not 5 per worker
        assert codes[:5] == [200] * 5 and codes.count(200) <= 6 and codes.count(429) >= 10, codes
        denied = access.query_audit(store, outcome="denied", limit=100)
        assert len([r for r in denied if r["grant_id"] == g.id and r["status"] == 429]) == codes.count(429)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
