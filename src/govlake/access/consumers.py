"""Consumers (调用方: apps and departments) and their API keys (接口密钥).

A key is `glk_<key_id>_<secret>`: key_id (public, 12 hex) finds the row, the secret (256 random
bits) is shown once and stored only as its sha256 — a hash of a 256-bit random value needs no
salt or stretching — and compared in constant time. Keys expire and can be revoked; nothing is
deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from govlake.access.accounts import require_role
from govlake.access.audit import AuditEvent, append_audit
from govlake.access.database import AccessError, AccessStore, now, parse_stamp, stamp
from govlake.access.lookup_cache import cached, changed

PREFIX = "glk"
_TOKEN = re.compile(r"^glk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_CONSUMER_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_KEY_DAYS = 3 * 366


class AuthError(Exception):
    """No valid key: missing, malformed, unknown, expired or revoked (401)."""


@dataclass
class Consumer:
    id: str
    name: str
    dept: str


@dataclass
class IssuedKey:
    key_id: str
    consumer_id: str
    token: str          # the whole secret key: shown once, never stored
    expires_at: str


@dataclass
class KeyIdentity:
    consumer_id: str
    key_id: str
    expires_at: str


def _audit(store, action, by, detail, outcome="allowed"):
    append_audit(store, AuditEvent(action, outcome, "system" if by in {"system", "catalog"} else "account", by,
                                   detail=detail))


def _acting_admin(store: AccessStore, by: str) -> None:
    if by not in {"system", "catalog"}:
        require_role(store, by, {"admin"})


def add_consumer(store: AccessStore, consumer_id: str, name: str, dept: str, *, by: str) -> Consumer:
    """Register an app or department that calls the API (admin only)."""
    _acting_admin(store, by)
    if not _CONSUMER_ID.match(consumer_id):
        raise AccessError(f"consumer ids are lower-case letters, digits and '_': got {consumer_id!r}")
    from govlake.catalog.departments import load_departments

    depts = {d.code for d in load_departments(store.settings.catalog_dir)}
    if dept not in depts:
        raise AccessError(f"department {dept!r} is not in catalog/departments.yaml (部门目录)")
    with store.write() as db:
        if db.execute("SELECT 1 FROM consumers WHERE id = ?", (consumer_id,)).fetchone():
            raise AccessError(f"consumer {consumer_id!r} exists (调用方已存在)")
        db.execute("INSERT INTO consumers VALUES (?, ?, ?, ?, ?)", (consumer_id, name, dept, stamp(), by))
    _audit(store, "consumer.add", by, f"{consumer_id} {name} {dept}")
    return Consumer(consumer_id, name, dept)


def get_consumer(store: AccessStore, consumer_id: str) -> Consumer | None:
    rows = store.query("SELECT id, name, dept FROM consumers WHERE id = ?", (consumer_id,))
    return Consumer(**dict(rows[0])) if rows else None


def list_consumers(store: AccessStore) -> list[Consumer]:
    return [Consumer(**dict(r)) for r in store.query("SELECT id, name, dept FROM consumers ORDER BY id")]


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_key(store: AccessStore, consumer_id: str, *, by: str, days: int = 365) -> IssuedKey:
    """A new key for a consumer (admin only). The token is returned once and not kept."""
    _acting_admin(store, by)
    if not 1 <= days <= MAX_KEY_DAYS:
        raise AccessError(f"a key is valid 1..{MAX_KEY_DAYS} days, not {days}")
    if get_consumer(store, consumer_id) is None:
        raise AccessError(f"unknown consumer {consumer_id!r} (未登记的调用方)")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    created = now()
    expires = stamp(created + dt.timedelta(days=days))
    with store.write() as db:
        db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                   (key_id, consumer_id, _secret_hash(secret), stamp(created), by, expires))
    changed()
    _audit(store, "key.issue", by, f"{consumer_id} {key_id} expires {expires}")
    return IssuedKey(key_id, consumer_id, f"{PREFIX}_{key_id}_{secret}", expires)


def revoke_key(store: AccessStore, key_id: str, *, by: str) -> None:
    _acting_admin(store, by)
    with store.write() as db:
        cur = db.execute("UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ? AND revoked_at IS NULL",
                         (stamp(), by, key_id))
        if cur.rowcount != 1:
            raise AccessError(f"no active key {key_id!r} (无此有效密钥)")
    changed()
    _audit(store, "key.revoke", by, key_id)


def list_keys(store: AccessStore, consumer_id: str | None = None) -> list[dict]:
    sql = "SELECT key_id, consumer_id, created_at, created_by, expires_at, revoked_at, revoked_by FROM api_keys"
    rows = store.query(sql + (" WHERE consumer_id = ?" if consumer_id else "") + " ORDER BY created_at",
                       (consumer_id,) if consumer_id else ())
    return [dict(r) for r in rows]


def key_id_of(token: str) -> str | None:
    """The public part of a presented token (for the audit row of a refused one)."""
    m = _TOKEN.match(token or "")
    return m.group(1) if m else None


def verify_key(store: AccessStore, token: str) -> KeyIdentity:
    """The consumer a bearer token belongs to; AuthError unless it is known, unexpired, unrevoked."""
    m = _TOKEN.match(token or "")
    if not m:
        raise AuthError("malformed API key (密钥格式错误)")
    key_id, secret = m.groups()
    rows = cached(store, "key", key_id, lambda: [dict(r) for r in store.query(
        "SELECT consumer_id, secret_hash, expires_at, revoked_at FROM api_keys WHERE key_id = ?", (key_id,))])
    stored = rows[0]["secret_hash"] if rows else "0" * 64
    if not hmac.compare_digest(_secret_hash(secret), stored) or not rows:
        raise AuthError("unknown API key (密钥无效)")
    r = rows[0]
    if r["revoked_at"] is not None:
        raise AuthError("API key revoked (密钥已吊销)")
    if parse_stamp(r["expires_at"]) <= now():
        raise AuthError("API key expired (密钥已过期)")
    return KeyIdentity(r["consumer_id"], key_id, r["expires_at"])
