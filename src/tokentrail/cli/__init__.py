"""The command line: one module per group of commands, each command's options declared
beside its body.

Commands stay thin: they never open the database or compute a number themselves. Option
values are checked by the shared types of :mod:`tokentrail.cli_types`. Exit status: 0 done,
1 an error (the ledger, the configuration file, the network), 2 a usage error (a wrong option
value or combination); ``budget`` has its own (see its help).

A command's module is imported only when that command runs (or ``--help`` lists it), and a
command imports what its answer needs inside its body: ``tokentrail daily --no-sync`` asked
again of an unchanged ledger imports click, this package's options and the kept answer's
reader, nothing more.

    group.py       the command and group classes (errors, commands imported on first use)
    options.py     the options several commands share (--database, --json/--csv, scope, …)
    common.py      what the commands share once they run (the ledger, the first sync, …)
    reports.py     daily, weekly, monthly, session
    insights.py    tools, efficiency
    blocks.py      blocks, live
    budgets.py     budget
    runs.py        runs, sessions
    sync.py        sync, push
    server.py      serve, otel-env, reconcile
    export.py      export
    db.py          db (path, status, backup, check, retract), reprice
    imports.py     import (cursor)
    statusline.py  statusline
"""

from __future__ import annotations

import os
import sys

import click

from tokentrail.cli.group import TokentrailGroup

COMMANDS = {
    "daily": "tokentrail.cli.reports:daily",
    "weekly": "tokentrail.cli.reports:weekly",
    "monthly": "tokentrail.cli.reports:monthly",
    "session": "tokentrail.cli.reports:session",
    "tools": "tokentrail.cli.insights:tools",
    "efficiency": "tokentrail.cli.insights:efficiency",
    "budget": "tokentrail.cli.budgets:budget",
    "sync": "tokentrail.cli.sync:sync",
    "push": "tokentrail.cli.sync:push",
    "runs": "tokentrail.cli.runs:runs",
    "sessions": "tokentrail.cli.runs:sessions",
    "reprice": "tokentrail.cli.db:reprice",
    "db": "tokentrail.cli.db:db",
    "serve": "tokentrail.cli.server:serve",
    "otel-env": "tokentrail.cli.server:otel_env",
    "reconcile": "tokentrail.cli.server:reconcile",
    "export": "tokentrail.cli.export:export",
    "blocks": "tokentrail.cli.blocks:blocks",
    "live": "tokentrail.cli.blocks:live",
    "statusline": "tokentrail.cli.statusline:statusline",
    "import": "tokentrail.cli.imports:import_group",
}
"""Each command's name and where it is defined (``module:attribute``)."""


@click.group(cls=TokentrailGroup, lazy_commands=COMMANDS, invoke_without_command=True)
@click.version_option(package_name="tokentrail")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A persistent, truthful ledger of what AI coding agents spend.

    Reads the logs coding agents already write (Claude Code, Codex CLI, Gemini CLI,
    OpenCode, Copilot CLI, Cursor and more: `sync --help` lists them) into a local
    SQLite ledger that keeps every request for good. With no command, syncs and shows the
    daily report.
    """
    if ctx.invoked_subcommand is None:
        daily = cli.get_command(ctx, "daily")
        assert daily is not None
        ctx.invoke(daily)


def main() -> None:
    # a closed pipe (e.g. `tokentrail daily | head`) should end quietly
    try:
        cli(prog_name="tokentrail")
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
