"""People (人员账号): local accounts with scrypt-hashed passwords and one role each.

admin (管理员) manages consumers and keys; owner (部门数据负责人) approves applications for the
products its department owns; member (部门成员) applies for its department's consumers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from govlake.access.audit import AuditEvent, append_audit
from govlake.access.database import AccessError, AccessStore, stamp

ROLES = {"admin": "管理员", "owner": "部门数据负责人", "member": "部门成员"}
# scrypt cost: ~50 ms per check on one core, memory 16 MiB (n * r * 128 bytes)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 10


@dataclass
class Account:
    username: str
    display_name: str
    role: str
    dept: str | None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    h = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${h.hex()}"


def _password_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, h = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(h)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), h)


_DUMMY = hash_password(secrets.token_hex(8))  # checked for unknown users so timing does not tell


def _account(row) -> Account:
    return Account(row["username"], row["display_name"], row["role"], row["dept"])


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"a password needs at least {MIN_PASSWORD} characters (密码至少{MIN_PASSWORD}位)")


def create_account(store: AccessStore, username: str, password: str | None, role: str, dept: str | None = None,
                   display_name: str | None = None, *, by: str = "system") -> Account:
    """A new account; password None leaves it unable to log in until set_password."""
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; roles: {', '.join(f'{k} ({v})' for k, v in ROLES.items())}")
    if role in {"owner", "member"} and not dept:
        raise AccessError(f"an {role} account belongs to a department (--dept)")
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AccessError(f"usernames are letters, digits, '_', '-', '.': got {username!r}")
    if password is not None:
        _check_password(password)
    with store.write() as db:
        if db.execute("SELECT 1 FROM accounts WHERE username = ?", (username,)).fetchone():
            raise AccessError(f"account {username!r} exists (账号已存在)")
        db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (username, display_name or username, hash_password(password) if password else None, role, dept,
                    stamp(), by))
    append_audit(store, AuditEvent("account.create", "allowed", "account" if by != "system" else "system", by,
                                   detail=f"{username} {role} {dept or ''}".strip()))
    return Account(username, display_name or username, role, dept)


def get_account(store: AccessStore, username: str) -> Account | None:
    rows = store.query("SELECT * FROM accounts WHERE username = ?", (username,))
    return _account(rows[0]) if rows else None


def list_accounts(store: AccessStore) -> list[Account]:
    return [_account(r) for r in store.query("SELECT * FROM accounts ORDER BY username")]


def verify_password(store: AccessStore, username: str, password: str) -> Account | None:
    """The account if the password is right, else None (same work either way)."""
    rows = store.query("SELECT * FROM accounts WHERE username = ?", (username,))
    stored = rows[0]["password_hash"] if rows and rows[0]["password_hash"] else _DUMMY
    ok = _password_matches(password, stored)
    return _account(rows[0]) if ok and rows and rows[0]["password_hash"] else None


def set_password(store: AccessStore, username: str, password: str, *, by: str = "system") -> None:
    _check_password(password)
    with store.write() as db:
        cur = db.execute("UPDATE accounts SET password_hash = ? WHERE username = ?", (hash_password(password), username))
        if cur.rowcount != 1:
            raise AccessError(f"no account {username!r} (无此账号)")
    append_audit(store, AuditEvent("account.password", "allowed", "account" if by != "system" else "system", by,
                                   detail=username))


def require_role(store: AccessStore, username: str, roles: set[str]) -> Account:
    """The acting account, refused unless it has one of `roles`."""
    acc = get_account(store, username)
    if acc is None:
        raise AccessError(f"no account {username!r} (无此账号)")
    if acc.role not in roles:
        raise AccessError(f"{username} ({ROLES[acc.role]}) may not do this; needs {'/'.join(sorted(roles))}")
    return acc
