"""`govlake access ...` and `govlake audit ...` end to end through click, on a store in the test's lake."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from govlake.cli import main
from govlake.settings import get_settings


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    monkeypatch.delenv("GOVLAKE_ACCOUNT", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args, input=None, env=None, code=0):
        r = runner.invoke(main, list(args), input=input, env=env)
        assert r.exit_code == code, (args, r.output, r.exception)
        return r.output
    yield invoke
    get_settings.cache_clear()


def test_operator_flow(run):
    out = run("access", "bootstrap")
    assert "access.db" in out and "admin has no password" in out
    run("access", "account", "password", "admin", "--password-stdin", input="admin-password-1\n")
    assert "admin has no password" not in run("access", "bootstrap")  # now quiet about it
    run("access", "account", "add", "li_owner", "--role", "owner", "--dept", "ZSJ", "--name", "李", "--by", "admin",
        "--password-stdin", input="owner-password-1\n")
    run("access", "account", "add", "x", "--role", "member", "--dept", "ZSJ", "--by", "li_owner",
        "--password-stdin", input="member-password\n", code=1)  # only an admin adds accounts
    run("access", "consumer", "add", "ba_street_app", "--name", "新安街道·网格通", "--dept", "ST017", "--by", "admin")
    out = run("access", "key", "issue", "ba_street_app", "--days", "90", env={"GOVLAKE_ACCOUNT": "admin"})
    token = re.search(r"glk_[0-9a-f]{12}_\S+", out).group(0)
    key_id = token.split("_")[1]
    out = run("access", "apply", "ba_street_app", "gold.rpt_petition_sla_daily", "--purpose", "街道诉求时效考核",
              "--scope", "street_code=440306017", "--export", "--by", "admin")
    app_id = re.search(r"application (\d+)", out).group(1)
    assert "pending" in run("access", "applications", "--status", "pending")
    out = run("access", "approve", app_id, "--by", "li_owner")
    grant_id = re.search(r"grant (\d+)", out).group(1)
    line = next(x for x in run("access", "grants", "--consumer", "ba_street_app").splitlines())
    assert "active" in line and "export" in line and "440306017" in line and "li_owner" in line
    run("access", "approve", app_id, "--by", "li_owner", code=1)  # decided already
    run("access", "revoke", grant_id, "--reason", "演示结束", "--by", "li_owner")
    assert run("access", "grants", "--consumer", "ba_street_app") == ""
    assert "revoked" in run("access", "grants", "--consumer", "ba_street_app", "--all")
    run("access", "key", "revoke", key_id, "--by", "admin")
    out = run("audit", "list", "--limit", "200")
    for action in ("catalog.import", "consumer.add", "key.issue", "application.apply", "application.approve",
                   "grant.revoke", "key.revoke"):
        assert action in out
    assert "intact" in run("audit", "verify")


def test_verify_names_the_first_broken_row(run, settings):
    run("access", "bootstrap")
    from govlake.access import open_store

    store = open_store(settings)
    with store.write() as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET detail = 'nothing happened' WHERE id = 7")
    out = run("audit", "verify", code=1)
    assert "row 7" in out and "edited" in out


def test_rate_applied_for_and_approved(run):
    """Requests per second (限流) as data: asked for by --rate/--burst, lowered by the approver."""
    run("access", "bootstrap")
    run("access", "account", "add", "li_owner", "--role", "owner", "--dept", "ZSJ", "--by", "admin",
        "--password-stdin", input="owner-password-1\n")
    run("access", "consumer", "add", "ba_rate_app", "--name", "限流测试应用", "--dept", "ST017", "--by", "admin")
    out = run("access", "apply", "ba_rate_app", "gold.rpt_petition_sla_daily", "--purpose", "街道诉求时效考核",
              "--rate", "3", "--burst", "4", "--by", "admin")
    assert "3 requests/s burst 4" in out
    app_id = re.search(r"application (\d+)", out).group(1)
    run("access", "apply", "ba_rate_app", "gold.rpt_petition_sla_daily", "--purpose", "街道诉求时效考核",
        "--rate", "-1", "--by", "admin", code=1)  # out of bounds
    assert "2 requests/s burst 4" in run("access", "approve", app_id, "--rate", "2", "--by", "li_owner")
    line = run("access", "grants", "--consumer", "ba_rate_app").splitlines()[0]
    assert "2/s+4" in line
    assert "2/s burst 4" in run("audit", "list", "--limit", "5")
