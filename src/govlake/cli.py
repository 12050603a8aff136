"""`govlake` command line. Subcommands live with their code and are imported only when used,
so `govlake --help` stays fast and one broken area doesn't break the others."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command or group
SUBCOMMANDS = {
    "run": "govlake.pipeline:run_command",
    "generate": "govlake.generate.cli:generate",
    "ingest": "govlake.ingest.cli:ingest",
    "dbt": "govlake.transform.cli:dbt_cli",
    "profile": "govlake.profile.cli:profile",
    "quality": "govlake.quality.cli:quality",
    "lineage": "govlake.lineage.cli:lineage",
    "petitions": "govlake.petitions.cli:petitions",
    "signals": "govlake.signals.cli:signals_cli",
    "policy": "govlake.policy.cli:policy",
    "api": "govlake.api.cli:api",
    "tables": "govlake.pipeline:tables_command",
    "releases": "govlake.release:releases_command",
    "access": "govlake.access.cli:access",
    "audit": "govlake.access.cli:audit",
    "precredit": "govlake.precredit.cli:precredit",
    "cleanroom": "govlake.cleanroom.cli:cleanroom",
    "enterprise": "govlake.services.cli:enterprise",
    "services": "govlake.services.cli:services",
    "space": "govlake.space.cli:space",
    "policy-qa": "govlake.policy_qa.cli:policy_qa",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="govlake")
def main():
    """govlake: 区级企业与民生服务数据平台 (district enterprise and citizen services data platform)."""


if __name__ == "__main__":
    main()
