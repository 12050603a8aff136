"""Access control and audit for the data-product API (访问控制与审计).

Who may read which data product, which columns, which rows, for what purpose; and a tamper-evident
record of every request. Everything lives in one SQLite file under the lake root
(`<work dir>/_platform/access.db`, WAL; docs/adr/0004-access-store.md). Decisions are never
updated in place: an application moves once from `pending` to `approved`/`rejected`, a grant or a
key only gains a `revoked_at`; triggers refuse anything else (and every DELETE).

Python API (the portal builds on this; every function takes the `AccessStore` first):

    from govlake import access
    store = access.open_store(settings)          # AccessStore; creates the schema on first use

Accounts (人员账号), roles `admin` (管理员) | `owner` (部门数据负责人) | `member` (部门成员):
    access.create_account(store, username, password, role, dept=None, display_name=None) -> Account
    access.verify_password(store, username, password) -> Account | None     # scrypt, constant time
    access.set_password(store, username, password) -> None
    access.get_account(store, username) -> Account | None
    access.list_accounts(store) -> list[Account]

Consumers (调用方: apps, departments) and API keys (接口密钥):
    access.add_consumer(store, consumer_id, name, dept, by=...) -> Consumer
    access.get_consumer(store, consumer_id) -> Consumer | None
    access.list_consumers(store) -> list[Consumer]
    access.issue_key(store, consumer_id, days=365, by=...) -> IssuedKey   # .token shown once
    access.revoke_key(store, key_id, by=...) -> None
    access.list_keys(store, consumer_id=None) -> list[dict]             # never the secret
    access.verify_key(store, token) -> KeyIdentity    # raises AuthError (expired/revoked/unknown)

Applications (数据使用申请) and grants (授权):
    access.apply(store, consumer_id, product, purpose, by=..., columns=None, row_scope=None,
                 days=365, sensitive=False, export=False, daily_rows=None,
                 rate_per_s=None, rate_burst=None) -> Application   # 限流: default product's/platform's
    access.approve(store, application_id, by=..., rate_per_s=None, rate_burst=None) -> Grant
                                                                # owner of the product's dept
                                                                # (admin too unless sensitive)
    access.reject(store, application_id, by=..., reason="") -> Application
    access.get_application(store, application_id) / access.get_grant(store, grant_id)
    access.list_applications(store, status=None, product=None, consumer=None) -> list[Application]
    access.list_grants(store, consumer=None, product=None, active_only=True) -> list[Grant]
    access.active_grant(store, consumer_id, product) -> Grant | None
    access.revoke_grant(store, grant_id, by=..., reason="") -> Grant
    access.expire_grants(store, at=None) -> list[Grant]    # mark (once) grants past valid_to

Column levels and masking (字段分级与脱敏), derived from the catalog, not hand lists:
    access.column_levels(product, settings) -> dict[column, "公开"|"内部"|"敏感"]
    access.masked_columns(product, grant, columns, settings) -> list[str]

Audit (审计), hash-chained (sha256(prev_hash + canonical row)):
    access.append_audit(store, AuditEvent(...)) -> int           # the row id (committed now)
    access.audit.record(store, AuditEvent(...), usage_rows=0)    # a served request's row: the worker's
                                                                 # journal, folded within 1 s (audit_journal)
    access.query_audit(store, product=None, consumer=None, since=None, outcome=None, limit=100) -> list[dict]
    access.verify_audit(store) -> AuditCheck                     # .ok, .rows, .first_broken

Rate limits (限流): govlake.access.rate_limits (buckets shared by the API's worker processes),
enforced for every read by govlake.access.reads.admit, and for the routes that are not product
reads by govlake.access.reads.admit_route (per consumer and route class). Key and grant lookups are reused for at
most lookup_cache.REVOCATION_BOUND_S (1 s) when a decision is made in another process.

Bootstrap: access.bootstrap(store, settings) turns the `consumers:` of catalog/products.yaml into
consumers and their grants (granted by `catalog`), idempotently. CLI: `govlake access ...`,
`govlake audit list|verify` (govlake.access.cli).
"""

from govlake.access.accounts import (ROLES, Account, create_account, get_account, list_accounts, set_password,
                                     verify_password)
from govlake.access.audit import AuditCheck, AuditEvent, append_audit, query_audit, verify_audit
from govlake.access.bootstrap import bootstrap, import_catalog
from govlake.access.consumers import (AuthError, Consumer, IssuedKey, KeyIdentity, add_consumer, get_consumer,
                                      issue_key, list_consumers, list_keys, revoke_key, verify_key)
from govlake.access.database import AccessError, AccessStore, store_path
from govlake.access.grants import (Application, Grant, active_grant, apply, approve, expire_grants, get_application,
                                   get_grant, list_applications, list_grants, reject, revoke_grant)
from govlake.access.levels import column_levels, masked_columns
from govlake.access.store import open_store

__all__ = [
    "ROLES", "Account", "create_account", "get_account", "list_accounts", "set_password", "verify_password",
    "AuditCheck", "AuditEvent", "append_audit", "query_audit", "verify_audit", "bootstrap", "import_catalog",
    "AuthError", "Consumer", "IssuedKey", "KeyIdentity", "add_consumer", "get_consumer", "issue_key",
    "list_consumers", "list_keys", "revoke_key", "verify_key", "AccessError", "AccessStore", "store_path",
    "Application", "Grant", "active_grant", "apply", "approve", "expire_grants", "get_application", "get_grant",
    "list_applications", "list_grants", "reject", "revoke_grant", "column_levels", "masked_columns", "open_store",
]
