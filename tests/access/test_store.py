"""The access store: accounts, keys, applications and grants with their history, the catalog
bootstrap, column levels and the audit chain. SQLite in the test's own lake; no Spark."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from govlake import access
from govlake.access.database import AccessError
from govlake.products import get_product, load_catalog


@pytest.fixture
def store(settings):
    s = access.open_store(settings)
    access.create_account(s, "admin", "admin-password-1", "admin")
    access.create_account(s, "zsj_owner", "owner-password-1", "owner", "ZSJ")
    access.create_account(s, "gxj_owner", "owner-password-2", "owner", "GXJ")
    access.create_account(s, "gxj_member", "member-password", "member", "GXJ")
    yield s
    s.close()


def test_passwords_are_scrypt_hashed_and_checked(store):
    assert access.verify_password(store, "gxj_member", "member-password").role == "member"
    assert access.verify_password(store, "gxj_member", "member-passwore") is None
    assert access.verify_password(store, "nobody", "member-password") is None
    stored = store.query("SELECT password_hash FROM accounts WHERE username = 'gxj_member'")[0][0]
    assert stored.startswith("scrypt$") and "member-password" not in stored
    with pytest.raises(AccessError, match="at least"):
        access.create_account(store, "short", "abc", "member", "GXJ")
    with pytest.raises(AccessError, match="department"):
        access.create_account(store, "nodept", "long-enough-pw", "owner")
    with pytest.raises(AccessError, match="exists"):
        access.create_account(store, "admin", "long-enough-pw", "admin")
    access.set_password(store, "gxj_member", "a-new-password")
    assert access.verify_password(store, "gxj_member", "member-password") is None
    assert access.verify_password(store, "gxj_member", "a-new-password")


def test_keys_issue_verify_expire_revoke(store):
    with pytest.raises(AccessError, match="may not"):
        access.issue_key(store, "gxj_enterprise_service", by="gxj_member")
    k = access.issue_key(store, "gxj_enterprise_service", by="admin", days=30)
    assert access.verify_key(store, k.token).consumer_id == "gxj_enterprise_service"
    row = dict(store.query("SELECT * FROM api_keys WHERE key_id = ?", (k.key_id,))[0])
    assert k.token.split("_")[-1] not in str(row) and len(row["secret_hash"]) == 64  # only the hash is kept
    for bad in (k.token[:-1] + ("A" if k.token[-1] != "A" else "B"), k.token + "x", "", "glk_" + k.key_id):
        with pytest.raises(access.AuthError):
            access.verify_key(store, bad)
    access.revoke_key(store, k.key_id, by="admin")
    with pytest.raises(access.AuthError, match="revoked"):
        access.verify_key(store, k.token)
    with pytest.raises(AccessError, match="no active key"):
        access.revoke_key(store, k.key_id, by="admin")
    with pytest.raises(AccessError, match="1..1098"):
        access.issue_key(store, "gxj_enterprise_service", by="admin", days=5000)
    with pytest.raises(sqlite3.IntegrityError, match="keys are kept"):
        with store.write() as db:
            db.execute("DELETE FROM api_keys")


def test_applications_are_decided_once_by_the_owning_department(store):
    with pytest.raises(AccessError, match="只能为本部门"):  # a GXJ member for a KCJ consumer
        access.apply(store, "kcj_policy_portal", "gold.enterprise_profile", "政策兑现核验", by="gxj_member")
    with pytest.raises(AccessError, match="purpose"):
        access.apply(store, "gxj_enterprise_service", "gold.enterprise_profile", "", by="gxj_member")
    with pytest.raises(AccessError, match="unknown data product"):
        access.apply(store, "gxj_enterprise_service", "gold.nope", "企业服务走访", by="gxj_member")
    a = access.apply(store, "gxj_enterprise_service", "gold.enterprise_profile", "企业服务走访需联系电话",
                     by="gxj_member", sensitive=True, columns=["contact_phone", "ent_name"], days=30,
                     row_scope={"street_code": ["440306017"]})
    assert a.status == "pending" and a.columns == ["contact_phone", "ent_name"]
    assert (a.applied_by, a.decided_by) == ("gxj_member", None) and a.applied_at.endswith("Z")
    # 敏感 columns: only an owner of the product's department (ZSJ) decides, not an admin, not GXJ
    for who, msg in (("admin", "敏感字段须由"), ("gxj_owner", "敏感字段须由"), ("gxj_member", "敏感字段须由")):
        with pytest.raises(AccessError, match=msg):
            access.approve(store, a.id, by=who)
    g = access.approve(store, a.id, by="zsj_owner")
    assert access.get_application(store, a.id).decided_by == "zsj_owner"
    assert g.sensitive and g.row_scope == {"street_code": ["440306017"]} and g.granted_by == "zsj_owner"
    assert dt.timedelta(days=29) < access.database.parse_stamp(g.valid_to) - access.database.parse_stamp(g.valid_from)
    assert access.active_grant(store, "gxj_enterprise_service", "gold.enterprise_profile").id == g.id
    with pytest.raises(AccessError, match="already approved"):
        access.reject(store, a.id, by="zsj_owner")
    # a decision is history: the database itself refuses to edit or delete it
    with pytest.raises(sqlite3.IntegrityError, match="decided once"):
        with store.write() as db:
            db.execute("UPDATE applications SET status = 'rejected' WHERE id = ?", (a.id,))
    with pytest.raises(sqlite3.IntegrityError, match="grants are kept"):
        with store.write() as db:
            db.execute("DELETE FROM grants WHERE id = ?", (g.id,))
    with pytest.raises(sqlite3.IntegrityError, match="only gains its revocation"):
        with store.write() as db:
            db.execute("UPDATE grants SET sensitive = 0, valid_to = '2099-01-01T00:00:00.000000Z' WHERE id = ?", (g.id,))
    # a plain application: an admin may decide it
    b = access.apply(store, "gxj_enterprise_service", "gold.policy_tags", "政策标签比对", by="gxj_member")
    assert access.reject(store, b.id, by="admin", reason="公开数据无需申请").status == "rejected"
    assert [x.id for x in access.list_applications(store, status="rejected")] == [b.id]


def test_revoke_and_expire(store):
    g = access.active_grant(store, "gxj_enterprise_service", "gold.enterprise_profile")  # from the catalog
    assert g is not None and g.granted_by == "catalog" and not g.sensitive
    with pytest.raises(AccessError, match="无撤销权限"):
        access.revoke_grant(store, g.id, by="gxj_owner")  # not the product's department
    r = access.revoke_grant(store, g.id, by="zsj_owner", reason="停止合作")
    assert r.revoked_at and (r.revoked_by, r.revoke_reason) == ("zsj_owner", "停止合作") and not r.active()
    assert access.active_grant(store, "gxj_enterprise_service", "gold.enterprise_profile") is None
    assert g.id in {x.id for x in access.list_grants(store, active_only=False)} - {x.id for x in access.list_grants(store)}
    # past every catalog grant's valid_to: all of them are marked expired, once
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    gone = access.expire_grants(store, at=later)
    assert gone and g.id not in {x.id for x in gone} and all(x.expired_at for x in gone)
    assert access.expire_grants(store, at=later) == []
    assert {x["action"] for x in access.query_audit(store, limit=1000)} >= {"grant.revoke", "grant.expire"}


def test_bootstrap_imports_the_catalog_once(store, settings):
    grants = {(g.consumer_id, g.product): g for g in access.list_grants(store)}
    cat = {(c, p.name) for p in load_catalog(settings).products
           for c in p.consumers}
    assert set(grants) == cat
    assert grants[("kcj_policy_portal", "gold.enterprise_profile")].sensitive
    assert not grants[("gxj_enterprise_service", "gold.enterprise_profile")].sensitive
    assert grants[("street_grid", "gold.rpt_petition_sla_daily")].row_scope == {"street_code": ["440306017"]}
    assert grants[("street_grid", "gold.petition_dispatch")].row_scope is None
    assert all(g.purpose.startswith(get_product(g.product, settings).label) for g in grants.values())
    access.revoke_grant(store, grants[("policy_push", "gold.policy_tags")].id, by="admin")
    out = access.bootstrap(store, settings, admin_password="ignored-because-set")
    assert (out["consumers"], out["grants"], out["admin_created"]) == (0, 0, False)
    assert access.active_grant(store, "policy_push", "gold.policy_tags") is None  # a revocation stands


def test_column_levels_come_from_the_catalog(settings):
    prof = get_product("gold.enterprise_profile", settings)
    lv = access.column_levels(prof, settings)
    assert len(lv) >= 1500 and lv["contact_phone"] == lv["legal_rep"] == "敏感" and lv["uscc"] == "公开"
    assert sum(1 for f, v in lv.items() if v == "敏感" and f.startswith(("financing", "equity"))) > 20
    full = type("G", (), {"sensitive": True})()
    plain = type("G", (), {"sensitive": False})()
    cols = ["uscc", "contact_phone", "reg_address", "revenue_y1_wan", "not_in_catalog"]
    assert access.masked_columns(prof, full, cols, settings) == []
    assert access.masked_columns(prof, plain, cols, settings) == ["contact_phone", "reg_address"]
    assert access.masked_columns(prof, None, cols, settings) == ["contact_phone", "reg_address", "revenue_y1_wan",
                                                                  "not_in_catalog"]
    forms = get_product("gold.petition_forms", settings)
    assert access.masked_columns(forms, plain, ["ticket_id", "requester_id", "subject", "category_l1"], settings) == [
        "requester_id", "subject"]


def test_audit_chain_detects_edits_deletions_and_reordering(store):
    for i in range(5):
        ev = access.AuditEvent("GET /x", "allowed", "consumer", "c1", product="p", rows=i, filters={"k": "v"})
        access.append_audit(store, ev)
    last = access.query_audit(store, limit=1)[0]  # stored as given
    assert (last["actor_kind"], last["actor"], last["rows"], last["filters"]) == (ev.actor_kind, ev.actor, 4, {"k": "v"})
    check = access.verify_audit(store)
    assert check.ok and check.rows == len(access.query_audit(store, limit=10_000))
    n = check.rows
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.write() as db:
            db.execute("DELETE FROM audit WHERE id = 3")
    with store.write() as db:  # someone with the file and sqlite3: triggers off, a row removed
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit WHERE id = ?", (n - 2,))
    check = access.verify_audit(store)
    assert not check.ok and check.first_broken == n - 1 and "missing" in check.reason

