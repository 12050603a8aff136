"""Push outbox: matched policies -> enterprises, through in-site message, SMS and webhook.

Why SQLite (settings.state_dir/push/outbox.sqlite) as the operational store, not a Delta table:
every message moves through several states (pending -> sending -> sent ...), each move must be
atomic and durable before the next step, and a Delta commit per transition costs ~100 ms and
conflicts between concurrent senders. SQLite gives row-level atomic updates in microseconds on one
machine. After each run the whole outbox is published as the Delta table ops.push_outbox
(`publish_outbox`) for the API, lineage and audit.

State machine (one row per (policy_id, policy_version, uscc, channel) — the contract key):
  pending|failed --claim--> sending --send ok--> sent
                        |----send fails--> failed (retried at next_attempt_at = now + base * 2^(attempts-1))
                        |----attempts >= max or permanent--> dead
  pending --rules--> suppressed (reason: opt_out | frequency_cap | window_closed)
  pending (SMS in quiet hours 22:00-08:00 Asia/Shanghai) stays pending, deferred to 08:00.
What the platform guarantees (docs/policy.md, "Delivery guarantees"; tests/policy/test_push.py):
- inbox (站内信) and SMS ledger: exactly once. Their writes are keyed by the idempotency key
  (INSERT OR IGNORE), so a re-send after a crash writes nothing.
- webhook: at least once, every attempt with the same Idempotency-Key header. The claim commits
  BEFORE the send and the key never changes between attempts; if the sender dies after a POST
  succeeded and before marking the row, the row stays 'sending' and, after the lease, is POSTed
  again with the same key. The receiver must drop a key it already has: one crash, one repeat.
Enqueued from gold.policy_matches as the current release serves it (govlake.release).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from govlake.policy.channels import Channel, Notification, SendResult

TZ = ZoneInfo("Asia/Shanghai")
OUTBOX = "ops.push_outbox"
STATUSES = ("pending", "sending", "sent", "failed", "dead", "suppressed")


@dataclass(frozen=True)
class PushRules:
    max_per_7d: int = 3          # distinct policies pushed to one enterprise per 7 days
    quiet_start_hour: int = 22   # no SMS from 22:00 ...
    quiet_end_hour: int = 8      # ... to 08:00 Asia/Shanghai
    max_attempts: int = 5
    backoff_base_s: float = 60.0
    lease_s: float = 300.0       # a 'sending' row older than this is taken to be from a dead sender


def notification_key(policy_id: str, policy_version: int, uscc: str, channel: str) -> str:
    return hashlib.sha256(f"{policy_id}|{policy_version}|{uscc}|{channel}".encode()).hexdigest()[:32]


class OutboxStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.executescript("""
            CREATE TABLE IF NOT EXISTS outbox (
              policy_id TEXT, policy_version INTEGER, uscc TEXT, channel TEXT,
              key TEXT UNIQUE, title TEXT, body TEXT, status TEXT, reason TEXT,
              attempts INTEGER DEFAULT 0, next_attempt_at REAL, claim_token TEXT, claimed_at REAL,
              last_error TEXT, created_at REAL, sent_at REAL, as_of TEXT,
              PRIMARY KEY (policy_id, policy_version, uscc, channel));
            CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
            CREATE INDEX IF NOT EXISTS outbox_uscc ON outbox(uscc, status, sent_at);
            CREATE TABLE IF NOT EXISTS opt_out (uscc TEXT, channel TEXT, created_at REAL, PRIMARY KEY (uscc, channel));
            """)

    @classmethod
    def for_settings(cls, settings) -> "OutboxStore":
        return cls(settings.state_dir / "push" / "outbox.sqlite")

    def _conn(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit; explicit BEGIN
        c.execute("PRAGMA journal_mode=WAL")
        c.row_factory = sqlite3.Row
        return c

    # -- intake ---------------------------------------------------------------------------
    def enqueue(self, rows: list[dict], now: float | None = None) -> int:
        """rows: {policy_id, policy_version, uscc, channel, title, body, as_of}. Existing keys are kept."""
        now = time.time() if now is None else now
        with self._conn() as c:
            c.execute("BEGIN")
            n = 0
            for r in rows:
                cur = c.execute(
                    "INSERT OR IGNORE INTO outbox (policy_id, policy_version, uscc, channel, key, title, body, "
                    "status, attempts, next_attempt_at, created_at, as_of) VALUES (?,?,?,?,?,?,?,'pending',0,0,?,?)",
                    (r["policy_id"], int(r["policy_version"]), r["uscc"], r["channel"],
                     notification_key(r["policy_id"], int(r["policy_version"]), r["uscc"], r["channel"]),
                     r["title"], r["body"], now, str(r.get("as_of") or "")))
                n += cur.rowcount
            c.execute("COMMIT")
        return n

    def opt_out(self, uscc: str, channel: str = "*") -> None:
        with self._conn() as c:
            c.execute("INSERT OR IGNORE INTO opt_out VALUES (?,?,?)", (uscc, channel, time.time()))

    def rows(self) -> list[dict]:
        with self._conn() as c:
            return [dict(r) for r in c.execute("SELECT * FROM outbox ORDER BY created_at, key")]

    def counts(self) -> dict[str, int]:
        with self._conn() as c:
            return {r[0]: r[1] for r in c.execute("SELECT status, count(*) FROM outbox GROUP BY status")}

    # -- state transitions (each one atomic) -----------------------------------------------------
    def recover(self, now: float, lease_s: float) -> int:
        """Rows left 'sending' by a sender that died: back to pending (same key, resent)."""
        with self._conn() as c:
            return c.execute("UPDATE outbox SET status='pending', claim_token=NULL, reason='recovered_after_crash' "
                             "WHERE status='sending' AND claimed_at <= ?", (now - lease_s,)).rowcount

    def due(self, now: float, limit: int) -> list[dict]:
        with self._conn() as c:
            return [dict(r) for r in c.execute(
                "SELECT * FROM outbox WHERE status IN ('pending','failed') AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, created_at LIMIT ?", (now, limit))]

    def set_state(self, key: str, status: str, *, reason: str | None = None, **cols) -> None:
        sets = ", ".join(f"{k}=?" for k in cols)
        with self._conn() as c:
            c.execute(f"UPDATE outbox SET status=?, reason=?{', ' + sets if sets else ''} WHERE key=?",
                      (status, reason, *cols.values(), key))

    def claim(self, key: str, now: float) -> str | None:
        token = uuid.uuid4().hex
        with self._conn() as c:
            n = c.execute("UPDATE outbox SET status='sending', claim_token=?, claimed_at=?, attempts=attempts+1 "
                          "WHERE key=? AND status IN ('pending','failed')", (token, now, key)).rowcount
        return token if n == 1 else None

    def mark(self, key: str, token: str, status: str, **cols) -> bool:
        """Only the claim holder may mark (a recovered row may have been re-claimed)."""
        sets = ", ".join(f"{k}=?" for k in cols)
        with self._conn() as c:
            return c.execute(f"UPDATE outbox SET status=?{', ' + sets if sets else ''} WHERE key=? AND claim_token=?",
                             (status, *cols.values(), key, token)).rowcount == 1

    def opted_out(self, uscc: str, channel: str) -> bool:
        with self._conn() as c:
            return c.execute("SELECT 1 FROM opt_out WHERE uscc=? AND channel IN (?, '*')", (uscc, channel)).fetchone() is not None

    def pushed_policies_7d(self, uscc: str, now: float) -> set[str]:
        with self._conn() as c:
            return {r[0] for r in c.execute(
                "SELECT DISTINCT policy_id FROM outbox WHERE uscc=? AND status IN ('sent','sending') "
                "AND coalesce(sent_at, claimed_at) >= ?", (uscc, now - 7 * 86400))}


def in_quiet_hours(now: float, rules: PushRules) -> bool:
    h = dt.datetime.fromtimestamp(now, TZ).hour
    return h >= rules.quiet_start_hour or h < rules.quiet_end_hour


def quiet_hours_end(now: float, rules: PushRules) -> float:
    local = dt.datetime.fromtimestamp(now, TZ)
    end = local.replace(hour=rules.quiet_end_hour, minute=0, second=0, microsecond=0)
    if local.hour >= rules.quiet_end_hour:
        end += dt.timedelta(days=1)
    return end.timestamp()


@dataclass
class PushReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    suppressed: int = 0
    deferred: int = 0
    recovered: int = 0


def run_push(store: OutboxStore, channels: dict[str, Channel], *, rules: PushRules = PushRules(),
             now: float | None = None, limit: int = 10_000) -> PushReport:
    """One sender pass over due notifications. Safe to run again at any time, or after a crash."""
    now = time.time() if now is None else now
    rep = PushReport(recovered=store.recover(now, rules.lease_s))
    for row in store.due(now, limit):
        key, ch = row["key"], row["channel"]
        if ch not in channels:
            store.set_state(key, "dead", reason="no_such_channel", last_error=f"channel {ch!r} is not configured")
            rep.dead += 1
            continue
        if store.opted_out(row["uscc"], ch):
            store.set_state(key, "suppressed", reason="opt_out")
            rep.suppressed += 1
            continue
        pushed = store.pushed_policies_7d(row["uscc"], now)
        if row["policy_id"] not in pushed and len(pushed) >= rules.max_per_7d:
            store.set_state(key, "suppressed", reason="frequency_cap")
            rep.suppressed += 1
            continue
        if ch == "sms" and in_quiet_hours(now, rules):
            store.set_state(key, "pending", reason="quiet_hours", next_attempt_at=quiet_hours_end(now, rules))
            rep.deferred += 1
            continue
        token = store.claim(key, now)
        if token is None:  # another sender took it
            continue
        n = Notification(key, row["policy_id"], row["policy_version"], row["uscc"], ch, row["title"], row["body"])
        try:
            res = channels[ch].send(n)
        except (OSError, ValueError) as e:  # a channel bug or I/O error counts as a failed attempt
            res = SendResult(False, detail=f"{type(e).__name__}: {e}")
        attempts = row["attempts"] + 1
        if res.ok:
            store.mark(key, token, "sent", sent_at=now, last_error=None, reason=None)
            rep.sent += 1
        elif res.permanent or attempts >= rules.max_attempts:
            store.mark(key, token, "dead", last_error=res.detail, reason="permanent_error" if res.permanent else "max_attempts")
            rep.dead += 1
        else:
            store.mark(key, token, "failed", last_error=res.detail, reason="retry",
                       next_attempt_at=now + rules.backoff_base_s * 2 ** (attempts - 1))
            rep.failed += 1
    return rep


def notifications_from_matches(rows: list[dict], channels: list[str]) -> list[dict]:
    """Outbox rows for eligible matches: one per channel."""
    out = []
    for m in rows:
        if not m.get("eligible"):
            continue
        title = f"您可能符合《{m['policy_name_zh']}》申报条件"
        body = f"{m['explanation_zh']}。请登录企业服务平台查看详情并申报。"
        for ch in channels:
            out.append({"policy_id": m["policy_id"], "policy_version": m["policy_version"], "uscc": m["uscc"],
                        "channel": ch, "title": title, "body": body, "as_of": m.get("as_of")})
    return out


def enqueue_matches(lake, store: OutboxStore, as_of: dt.date, channels: list[str] = ("inbox", "sms", "webhook")) -> int:
    """Eligible rows of gold.policy_matches for as_of (the matches view: delta-rs, no Spark) into the outbox."""
    from govlake.policy.matches import read_matches

    rows = read_matches(lake, eligible=True, as_of=as_of)["rows"]
    return store.enqueue(notifications_from_matches(rows, list(channels)))


def publish_outbox(lake, store: OutboxStore, *, parent_run=None):
    """Merge a snapshot of the outbox into the Delta table ops.push_outbox (a message's changed
    state updates its row, new messages come in) and return the Commit."""
    from pyspark.sql import types as T

    from govlake.lineage import DatasetRef, job_run
    from govlake.lineage.emitter import schema_of

    schema = T.StructType([
        T.StructField("policy_id", T.StringType(), metadata={"comment": "政策编号"}),
        T.StructField("policy_version", T.IntegerType(), metadata={"comment": "政策版本"}),
        T.StructField("uscc", T.StringType(), metadata={"comment": "统一社会信用代码"}),
        T.StructField("channel", T.StringType(), metadata={"comment": "推送渠道（inbox站内信/sms短信/webhook）"}),
        T.StructField("idempotency_key", T.StringType(), metadata={"comment": "幂等键"}),
        T.StructField("status", T.StringType(), metadata={"comment": "状态 " + "/".join(STATUSES)}),
        T.StructField("reason", T.StringType(), metadata={"comment": "原因（opt_out/frequency_cap/quiet_hours/...）"}),
        T.StructField("attempts", T.IntegerType(), metadata={"comment": "发送次数"}),
        T.StructField("last_error", T.StringType(), metadata={"comment": "最近错误"}),
        T.StructField("created_at", T.TimestampType(), metadata={"comment": "入队时间"}),
        T.StructField("sent_at", T.TimestampType(), metadata={"comment": "发送成功时间"}),
        T.StructField("title", T.StringType(), metadata={"comment": "标题"}),
    ])

    def ts(v):  # aware: PySpark reads a naive datetime in the process's zone, not Asia/Shanghai
        return None if v is None else dt.datetime.fromtimestamp(v, TZ)
    data = [(r["policy_id"], r["policy_version"], r["uscc"], r["channel"], r["key"], r["status"], r["reason"],
             r["attempts"], r["last_error"], ts(r["created_at"]), ts(r["sent_at"]), r["title"]) for r in store.rows()]
    df = lake.spark.createDataFrame(data, schema)
    digest = hashlib.sha256(json.dumps([d[:8] for d in data], default=str).encode()).hexdigest()[:16]
    with job_run("push_outbox_publish", lake.settings, parent=parent_run) as run:
        # MERGE by idempotency key: a message's new state updates its row, new messages come in.
        commit = lake.write(df, OUTBOX, mode="merge", keys=["idempotency_key"], app_id=f"push_outbox@{digest}")
        run.add_output(DatasetRef(OUTBOX, schema=schema_of(df), rows=len(data), version=commit.version))
    return commit


def default_channels(settings, webhook_url: str | None = None) -> dict[str, Channel]:
    """In-site messages and the SMS spool live next to the outbox; the webhook only when configured."""
    from govlake.policy.channels import InSiteChannel, SmsChannel, WebhookChannel

    portal = settings.state_dir / "push" / "portal.sqlite"
    portal.parent.mkdir(parents=True, exist_ok=True)
    chans: dict[str, Channel] = {"inbox": InSiteChannel(portal), "sms": SmsChannel(portal)}
    if webhook_url:
        chans["webhook"] = WebhookChannel(webhook_url)
    return chans


def push_run(lake, as_of: dt.date, channels: dict[str, Channel], *, rules: PushRules = PushRules(),
             parent_run=None) -> dict:
    """The push job: enqueue eligible matches of as_of for the configured channels, send, publish."""
    store = OutboxStore.for_settings(lake.settings)
    queued = enqueue_matches(lake, store, as_of, list(channels))
    rep = run_push(store, channels, rules=rules)
    commit = publish_outbox(lake, store, parent_run=parent_run)
    return {"queued": queued, **vars(rep), "outbox": store.counts(), "outbox_version": commit.version}
