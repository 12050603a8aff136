"""Push outbox: exactly-once delivery across a crash, frequency cap, quiet hours, opt-out,
retries with backoff and dead letters. Real HTTP to a local receiver, real SQLite."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from govlake.policy.channels import InSiteChannel, SendResult, SmsChannel, WebhookChannel
from govlake.policy.push import TZ, OutboxStore, PushRules, publish_outbox, run_push

DAY_10AM = dt.datetime(2026, 5, 11, 10, 0, tzinfo=TZ).timestamp()


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 that de-duplicates on the Idempotency-Key header."""

    def __init__(self, fail_first: int = 0, status: int = 200):
        self.posts: list[str] = []
        self.delivered: dict[str, dict] = {}
        self.fail_first, self.status = fail_first, status
        recv = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                recv.posts.append(key)
                if recv.fail_first > 0:
                    recv.fail_first -= 1
                    code = 503
                elif recv.status != 200:
                    code = recv.status
                else:
                    code = 200
                    recv.delivered.setdefault(key, body)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Crash(Exception):
    """Stands for the process dying (not an error the sender handles)."""


class CrashAfter:
    """Wraps a channel: after k successful sends, the NEXT send reaches the receiver and then the
    sender 'dies' before it can mark the row sent — the worst moment for a crash."""

    def __init__(self, inner, k):
        self.inner, self.k, self.name = inner, k, inner.name

    def send(self, n):
        res = self.inner.send(n)
        self.k -= 1
        if self.k < 0:
            raise Crash("killed after send, before mark")
        return res


def _rows(n, channel="webhook", policies=1):
    return [{"policy_id": f"p{j}", "policy_version": 1, "uscc": f"U{i:04d}", "channel": channel,
             "title": "您可能符合政策", "body": "说明", "as_of": "2026-05-10"} for i in range(n) for j in range(policies)]


def test_exactly_once_across_a_crash_mid_batch(tmp_path, receiver):
    store = OutboxStore(tmp_path / "outbox.sqlite")
    assert store.enqueue(_rows(20)) == 20
    assert store.enqueue(_rows(20)) == 0  # same keys: nothing new
    hook = WebhookChannel(receiver.url)
    with pytest.raises(Crash):
        run_push(store, {"webhook": CrashAfter(hook, 7)}, now=DAY_10AM)
    counts = store.counts()
    assert counts == {"sent": 7, "sending": 1, "pending": 12}
    # Restart (a new sender) after the lease expired: the in-flight row is re-sent with the same key.
    rep = run_push(store, {"webhook": hook}, now=DAY_10AM + 600)
    assert rep.recovered == 1 and rep.sent == 13
    assert store.counts() == {"sent": 20}
    assert len(receiver.delivered) == 20  # every notification delivered exactly once
    assert len(receiver.posts) == 21 and len(set(receiver.posts)) == 20  # the one in-flight POST repeated
    # Re-running sends nothing more.
    assert run_push(store, {"webhook": hook}, now=DAY_10AM + 900).sent == 0
    assert len(receiver.posts) == 21


def test_restart_before_lease_expiry_does_not_double_send(tmp_path, receiver):
    store = OutboxStore(tmp_path / "o.sqlite")
    store.enqueue(_rows(3))
    hook = WebhookChannel(receiver.url)
    with pytest.raises(Crash):
        run_push(store, {"webhook": CrashAfter(hook, 0)}, now=DAY_10AM)
    rep = run_push(store, {"webhook": hook}, now=DAY_10AM + 10)  # lease (300 s) not expired yet
    assert rep.recovered == 0 and rep.sent == 2 and store.counts() == {"sent": 2, "sending": 1}


def test_in_site_and_sms_idempotent_on_key(tmp_path):
    store = OutboxStore(tmp_path / "o.sqlite")
    store.enqueue(_rows(4, "inbox") + _rows(4, "sms"))
    db = tmp_path / "portal.sqlite"
    chans = {"inbox": InSiteChannel(db), "sms": SmsChannel(db)}
    with pytest.raises(Crash):
        run_push(store, {"inbox": CrashAfter(chans["inbox"], 2), "sms": chans["sms"]}, now=DAY_10AM)
    run_push(store, chans, now=DAY_10AM + 600)
    import sqlite3
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*), count(DISTINCT key) FROM inbox").fetchone() == (4, 4)
        assert c.execute("SELECT count(*) FROM sms_spool").fetchone() == (4,)
    assert store.counts() == {"sent": 8}


def test_frequency_cap_quiet_hours_opt_out(tmp_path):
    store = OutboxStore(tmp_path / "o.sqlite")
    rules = PushRules(max_per_7d=2)
    store.enqueue(_rows(1, "inbox", policies=4) + _rows(2, "sms"))
    store.opt_out("U0001", "sms")
    db = tmp_path / "portal.sqlite"
    chans = {"inbox": InSiteChannel(db), "sms": SmsChannel(db)}
    night = dt.datetime(2026, 5, 11, 23, 30, tzinfo=TZ).timestamp()
    rep = run_push(store, chans, rules=rules, now=night)
    rows = {(r["policy_id"], r["uscc"], r["channel"]): r for r in store.rows()}
    # inbox at night is fine; the cap lets 2 distinct policies through for U0000 ...
    assert sorted(r["status"] for k, r in rows.items() if k[2] == "inbox") == ["sent", "sent", "suppressed", "suppressed"]
    assert {r["reason"] for k, r in rows.items() if k[2] == "inbox" and r["status"] == "suppressed"} == {"frequency_cap"}
    # ... SMS waits for 08:00 (U0000's p0 SMS is the same policy as a sent inbox push: not capped)
    assert rows[("p0", "U0000", "sms")]["status"] == "pending" and rows[("p0", "U0000", "sms")]["reason"] == "quiet_hours"
    assert rows[("p0", "U0001", "sms")]["status"] == "suppressed" and rows[("p0", "U0001", "sms")]["reason"] == "opt_out"
    assert rep.deferred == 1
    assert run_push(store, chans, rules=rules, now=night + 1800).sent == 0  # still night
    morning = dt.datetime(2026, 5, 12, 8, 0, 1, tzinfo=TZ).timestamp()
    assert run_push(store, chans, rules=rules, now=morning).sent == 1


def test_retries_back_off_then_dead(tmp_path):
    class Flaky:
        name = "webhook"

        def __init__(self):
            self.calls = 0

        def send(self, n):
            self.calls += 1
            return SendResult(False, detail="HTTP 503")

    store = OutboxStore(tmp_path / "o.sqlite")
    store.enqueue(_rows(1))
    ch = Flaky()
    rules = PushRules(max_attempts=3, backoff_base_s=60)
    t = DAY_10AM
    run_push(store, {"webhook": ch}, rules=rules, now=t)
    r = store.rows()[0]
    assert (r["status"], r["attempts"], r["next_attempt_at"]) == ("failed", 1, t + 60)
    assert run_push(store, {"webhook": ch}, rules=rules, now=t + 30).failed == 0  # not due yet
    run_push(store, {"webhook": ch}, rules=rules, now=t + 60)
    assert store.rows()[0]["next_attempt_at"] == t + 60 + 120  # exponential
    run_push(store, {"webhook": ch}, rules=rules, now=t + 180)
    r = store.rows()[0]
    assert (r["status"], r["reason"], ch.calls) == ("dead", "max_attempts", 3)


def test_webhook_permanent_error_and_transient_recovery(tmp_path):
    bad = Receiver(status=410)
    flaky = Receiver(fail_first=1)
    try:
        store = OutboxStore(tmp_path / "o.sqlite")
        store.enqueue(_rows(1))
        run_push(store, {"webhook": WebhookChannel(bad.url)}, now=DAY_10AM)
        assert store.rows()[0]["status"] == "dead" and store.rows()[0]["reason"] == "permanent_error"
        store2 = OutboxStore(tmp_path / "o2.sqlite")
        store2.enqueue(_rows(1))
        hook = WebhookChannel(flaky.url)
        run_push(store2, {"webhook": hook}, now=DAY_10AM)
        assert store2.rows()[0]["status"] == "failed"
        run_push(store2, {"webhook": hook}, now=DAY_10AM + 61)
        assert store2.rows()[0]["status"] == "sent" and len(flaky.delivered) == 1
    finally:
        bad.close()
        flaky.close()


def test_publish_outbox_to_delta(tmp_path, lake, settings):
    store = OutboxStore.for_settings(settings)
    store.enqueue(_rows(3, "inbox"))
    run_push(store, {"inbox": InSiteChannel(tmp_path / "p.sqlite")}, now=DAY_10AM)
    c = publish_outbox(lake, store)
    assert c.committed and c.rows_written == 3
    rows = lake.read("ops.push_outbox").collect()
    assert {r.status for r in rows} == {"sent"} and all(r.idempotency_key for r in rows)
    assert not publish_outbox(lake, store).committed  # same content: nothing new


# -- what the platform guarantees (docs/policy.md, "Delivery guarantees") ----------------------
_KILLED_SENDER = """
import os, signal, sys
from govlake.policy.channels import InSiteChannel, SmsChannel, WebhookChannel
from govlake.policy.push import OutboxStore, run_push

store, portal, url, now = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
hook = WebhookChannel(url)

class DiesAfterPost:
    name = "webhook"

    def send(self, n):
        res = hook.send(n)  # the receiver has the POST (200) ...
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the sender dies before marking the row sent

run_push(OutboxStore(store), {"inbox": InSiteChannel(portal), "sms": SmsChannel(portal), "webhook": DiesAfterPost()},
         now=now)
"""


def test_guarantees_across_a_killed_sender(tmp_path, receiver):
    """A sender process killed (SIGKILL) right after a webhook POST succeeded, before the outbox
    row is marked sent; a new sender after the lease: the inbox and the SMS ledger hold each
    notification once, and the webhook received the in-flight key twice, no key more often."""
    import collections
    import sqlite3
    import subprocess
    import sys

    store_path, portal = tmp_path / "outbox.sqlite", tmp_path / "portal.sqlite"
    store = OutboxStore(store_path)
    # webhook rows first in the queue (enqueued earlier), then inbox and SMS for the same enterprises
    store.enqueue(_rows(3, "webhook"), now=DAY_10AM - 60)
    store.enqueue(_rows(3, "inbox") + _rows(3, "sms"), now=DAY_10AM - 30)
    child = subprocess.run([sys.executable, "-c", _KILLED_SENDER, str(store_path), str(portal), receiver.url,
                            str(DAY_10AM)], capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    assert store.counts() == {"sending": 1, "pending": 8} and len(receiver.posts) == 1

    chans = {"inbox": InSiteChannel(portal), "sms": SmsChannel(portal), "webhook": WebhookChannel(receiver.url)}
    early = run_push(store, chans, now=DAY_10AM + 10)  # within the lease: the in-flight row waits
    assert early.recovered == 0 and store.counts() == {"sending": 1, "sent": 8}
    # a second crash, in-process this time, after an inbox write and before its mark
    store.enqueue(_rows(1, "inbox", policies=2)[1:], now=DAY_10AM + 20)
    with pytest.raises(Crash):
        run_push(store, {**chans, "inbox": CrashAfter(chans["inbox"], 0)}, now=DAY_10AM + 30)
    late = run_push(store, chans, now=DAY_10AM + 30 + PushRules().lease_s)
    assert late.recovered == 2 and store.counts() == {"sent": 10}

    with sqlite3.connect(portal) as c:  # exactly once into the inbox and the SMS ledger
        assert c.execute("SELECT count(*), count(DISTINCT key) FROM inbox").fetchone() == (4, 4)
        assert c.execute("SELECT count(*), count(DISTINCT key) FROM sms_spool").fetchone() == (3, 3)
    posts = collections.Counter(receiver.posts)  # at least once, same Idempotency-Key, at most twice
    assert len(posts) == 3 and sorted(posts.values()) == [1, 1, 2]
    assert len(receiver.delivered) == 3  # a receiver that keys on it takes each notification once
    assert run_push(store, chans, now=DAY_10AM + 3600).sent == 0 and len(receiver.posts) == 4
