"""The store's first content: the consumers and grants catalog/products.yaml lists today.

Each product's `consumers:` become approved applications and grants decided by `catalog`, for the
product's purpose (its label and description), 敏感 columns included for its `sensitive_readers`,
rows limited per `row_scopes:`. Idempotent: a consumer or a (consumer, product) already imported
is left alone, so a grant revoked later is not silently given back.
"""

from __future__ import annotations

import json

from govlake.access.accounts import create_account, get_account, set_password
from govlake.access.audit import AuditEvent, append_audit
from govlake.access.database import AccessStore, stamp
from govlake.access.grants import CATALOG, DAILY_ROWS, approve, record_application
from govlake.settings import Settings

CATALOG_GRANT_DAYS = 366


def import_catalog(store: AccessStore, settings: Settings) -> dict[str, int]:
    """Consumers and grants from catalog/products.yaml not imported yet; counts of each."""
    from govlake.products import load_catalog

    cat = load_catalog(settings)
    added = {"consumers": 0, "grants": 0}
    with store.write() as db:
        have = {r["id"] for r in db.execute("SELECT id FROM consumers")}
        for c in cat.consumers:
            if c.id not in have:
                db.execute("INSERT INTO consumers VALUES (?, ?, ?, ?, ?)", (c.id, c.name, c.dept, stamp(), CATALOG))
                added["consumers"] += 1
        imported = {(r["consumer_id"], r["product"]) for r in
                    db.execute("SELECT consumer_id, product FROM applications WHERE applied_by = ?", (CATALOG,))}
    for p in cat.products:
        purpose = f"{p.label}：{p.description}"[:500]
        for c in p.consumers:
            if (c, p.name) in imported:
                continue
            scope = p.row_scopes.get(c)
            app = record_application(store, c, p.name, purpose, None, scope, CATALOG_GRANT_DAYS,
                                      c in p.sensitive_readers, False, DAILY_ROWS, CATALOG, decided=True)
            approve(store, app.id, by=CATALOG)
            added["grants"] += 1
    if any(added.values()):
        append_audit(store, AuditEvent("catalog.import", "allowed", "system", CATALOG, detail=json.dumps(added)))
    return added


def bootstrap(store: AccessStore, settings: Settings, admin_password: str | None = None) -> dict:
    """Catalog import (again, idempotent) and an `admin` account; the password is set when given
    and the account has none yet."""
    added = import_catalog(store, settings)
    admin = get_account(store, "admin")
    created = admin is None
    if created:
        create_account(store, "admin", admin_password, "admin", display_name="平台管理员")
    elif admin_password and not store.query("SELECT password_hash FROM accounts WHERE username = 'admin'")[0][0]:
        set_password(store, "admin", admin_password)
    has_password = bool(store.query("SELECT password_hash FROM accounts WHERE username = 'admin'")[0][0])
    return {**added, "admin_created": created, "admin_has_password": has_password}
