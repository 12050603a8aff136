"""Enterprise authorisations (企业授权): an enterprise allows one party to receive its own
per-enterprise results for one purpose, until an expiry, until revoked.

Kept as data, a Delta table `ops.enterprise_authorisations`, append-only: recording one appends
its row; revoking appends the same authorisation again with `revoked_at` set. The state of an
authorisation is its latest row (by `recorded_at`), so the table's history is the record of who
allowed what when. Written by delta-rs (no Spark: one small row per decision), each write
idempotent by its Delta transaction id and its row count reconciled with the log.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import pyarrow as pa

from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

TABLE = "ops.enterprise_authorisations"
USCC = re.compile(r"^[0-9A-Z]{18}$")
MAX_DAYS = 3 * 366
_TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    pa.field("authorisation_id", pa.string(), False, metadata={"comment": "授权编号"}),
    pa.field("uscc", pa.string(), False, metadata={"comment": "统一社会信用代码"}),
    pa.field("party", pa.string(), False, metadata={"comment": "被授权方（调用方编号）"}),
    pa.field("purpose", pa.string(), False, metadata={"comment": "用途"}),
    pa.field("granted_at", _TS, False, metadata={"comment": "授权时间"}),
    pa.field("expires_at", _TS, False, metadata={"comment": "到期时间"}),
    pa.field("revoked_at", _TS, True, metadata={"comment": "撤回时间"}),
    pa.field("recorded_by", pa.string(), False, metadata={"comment": "登记人"}),
    pa.field("recorded_at", _TS, False, metadata={"comment": "登记时间"}),
])


class AuthorisationError(ValueError):
    """A refused authorisation record (bad USCC, days, unknown authorisation)."""


@dataclass(frozen=True)
class Authorisation:
    authorisation_id: str
    uscc: str
    party: str
    purpose: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    recorded_by: str
    recorded_at: dt.datetime

    def active(self, at: dt.datetime | None = None) -> bool:
        t = at or dt.datetime.now(dt.timezone.utc)
        return self.revoked_at is None and self.granted_at <= t < self.expires_at


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _append(lake: Lakehouse, row: dict) -> None:
    """One row, one Delta commit, once: a retry of the same row (same transaction id) commits
    nothing; the table's row count is checked against the rows before plus one."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    from govlake.lakehouse import storage

    path = lake.path(TABLE)
    app_id = f"enterprise_authorisations@{row['authorisation_id']}@{row['recorded_at'].isoformat()}"
    before, exists = 0, lake.exists(TABLE)
    if exists:
        if storage.delta_table(path).transaction_version(app_id) is not None:
            return
        before = lake.row_count(TABLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    props = {k: v for k, v in lake.properties(TABLE).items() if k.startswith("delta.")}
    write_deltalake(storage.delta_uri(path), pa.Table.from_pylist([row], SCHEMA), mode="append",
                    storage_options=storage.delta_options(path),
                    configuration=None if exists else props,
                    commit_properties=CommitProperties(app_transactions=[Transaction(app_id, 0)],
                                                       custom_metadata={"authorisation_id": row["authorisation_id"]}))
    after = lake.row_count(TABLE)
    if after != before + 1:
        raise RuntimeError(f"{TABLE}: {after} rows after appending one to {before} (行数核对失败)")


def record(settings: Settings, uscc: str, party: str, purpose: str, *, days: int, by: str,
           at: dt.datetime | None = None) -> Authorisation:
    """Record that enterprise `uscc` authorises `party` (a consumer id) for `purpose`, `days` long."""
    uscc = uscc.strip().upper()
    if not USCC.match(uscc):
        raise AuthorisationError(f"{uscc!r} is not an 18-character USCC (统一社会信用代码格式错误)")
    if not party or not purpose.strip():
        raise AuthorisationError("party and purpose are required (被授权方与用途必填)")
    if not 1 <= int(days) <= MAX_DAYS:
        raise AuthorisationError(f"days must be 1..{MAX_DAYS} (授权期限越界)")
    t = (at or _now()).replace(microsecond=0)
    row = {"authorisation_id": f"EA-{uuid.uuid4().hex[:16]}", "uscc": uscc, "party": party,
           "purpose": purpose.strip(), "granted_at": t, "expires_at": t + dt.timedelta(days=int(days)),
           "revoked_at": None, "recorded_by": by, "recorded_at": t}
    _append(Lakehouse(None, settings), row)
    return Authorisation(**row)


def revoke(settings: Settings, authorisation_id: str, *, by: str) -> Authorisation:
    """The enterprise withdraws an authorisation: from now on nothing more leaves under it."""
    current = {a.authorisation_id: a for a in all_authorisations(settings)}.get(authorisation_id)
    if current is None:
        raise AuthorisationError(f"no authorisation {authorisation_id} (无此授权)")
    if current.revoked_at is not None:
        return current
    t = _now()
    row = {**current.__dict__, "revoked_at": t, "recorded_by": by, "recorded_at": t}
    _append(Lakehouse(None, settings), row)
    return Authorisation(**row)


def all_authorisations(settings: Settings) -> list[Authorisation]:
    """Every authorisation in its latest state, newest first."""
    lake = Lakehouse(None, settings)
    if not lake.exists(TABLE):
        return []
    latest: dict[str, dict] = {}
    for r in lake.to_arrow(TABLE).to_pylist():
        seen = latest.get(r["authorisation_id"])
        if seen is None or r["recorded_at"] >= seen["recorded_at"]:
            latest[r["authorisation_id"]] = r
    return sorted((Authorisation(**r) for r in latest.values()), key=lambda a: a.granted_at, reverse=True)


def authorised_usccs(settings: Settings, party: str, purpose: str, at: dt.datetime | None = None) -> set[str]:
    """The enterprises whose authorisation of `party` for `purpose` is in force now."""
    return {a.uscc for a in all_authorisations(settings)
            if a.party == party and a.purpose == purpose and a.active(at)}
