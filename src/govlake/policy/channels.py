"""Push channels behind one interface: send(notification, idempotency_key) -> SendResult.

Every channel must be idempotent on the key: the outbox may send the same notification again
after a crash between 'sent' and 'marked' (see push.py), and the key is what makes that second
send a no-op at the receiving end.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class Notification:
    key: str  # idempotency key: stable for (policy_id, policy_version, uscc, channel)
    policy_id: str
    policy_version: int
    uscc: str
    channel: str
    title: str
    body: str


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # a failure that retrying cannot fix (goes straight to dead)
    detail: str = ""


class Channel(Protocol):
    name: str

    def send(self, n: Notification) -> SendResult: ...


class InSiteChannel:
    """站内信: the enterprise's message centre on the service portal (a table keyed by the idempotency key)."""

    name = "inbox"

    def __init__(self, db_path):
        self.db_path = str(db_path)
        with sqlite3.connect(self.db_path) as c:
            c.execute("CREATE TABLE IF NOT EXISTS inbox (key TEXT PRIMARY KEY, uscc TEXT, policy_id TEXT, "
                      "title TEXT, body TEXT, created_at REAL)")

    def send(self, n: Notification) -> SendResult:
        with sqlite3.connect(self.db_path) as c:
            cur = c.execute("INSERT OR IGNORE INTO inbox VALUES (?,?,?,?,?,?)",
                            (n.key, n.uscc, n.policy_id, n.title, n.body, time.time()))
        return SendResult(True, detail="stored" if cur.rowcount else "duplicate ignored")


class SmsChannel:
    """短信: hands the text to the SMS gateway with the key as the client message id (gateways
    de-duplicate on it). Here the gateway is a local spool table; a real gateway adapter replaces
    `_submit` and keeps the same contract."""

    name = "sms"

    def __init__(self, db_path, max_chars: int = 300):
        self.db_path, self.max_chars = str(db_path), max_chars
        with sqlite3.connect(self.db_path) as c:
            c.execute("CREATE TABLE IF NOT EXISTS sms_spool (key TEXT PRIMARY KEY, uscc TEXT, text TEXT, created_at REAL)")

    def send(self, n: Notification) -> SendResult:
        text = f"【宝安惠企】{n.title}。{n.body}"[: self.max_chars]
        return self._submit(n.key, n.uscc, text)

    def _submit(self, key: str, uscc: str, text: str) -> SendResult:
        with sqlite3.connect(self.db_path) as c:
            c.execute("INSERT OR IGNORE INTO sms_spool VALUES (?,?,?,?)", (key, uscc, text, time.time()))
        return SendResult(True)


class WebhookChannel:
    """HTTP webhook: JSON POST with an Idempotency-Key header. 2xx and 409 (already have it) are
    success; 408/429/5xx and network errors are retried; other 4xx are permanent."""

    name = "webhook"

    def __init__(self, url: str, timeout_s: float = 5.0, client: httpx.Client | None = None):
        self.url = url
        self.client = client or httpx.Client(timeout=timeout_s)

    def send(self, n: Notification) -> SendResult:
        payload = {"key": n.key, "policy_id": n.policy_id, "policy_version": n.policy_version,
                   "uscc": n.uscc, "title": n.title, "body": n.body}
        try:
            r = self.client.post(self.url, json=payload, headers={"Idempotency-Key": n.key})
        except httpx.HTTPError as e:
            return SendResult(False, detail=f"{type(e).__name__}: {e}")
        if 200 <= r.status_code < 300 or r.status_code == 409:
            return SendResult(True, detail=str(r.status_code))
        permanent = 400 <= r.status_code < 500 and r.status_code not in (408, 429)
        return SendResult(False, permanent=permanent, detail=f"HTTP {r.status_code}")
