"""``statusline``: one line for Claude Code's status bar. The entry point
(:mod:`tokentrail.launch`) answers it without click when it has only the options it knows;
this command is the way for everything else (``--help``, an option click has to refuse)."""

from __future__ import annotations

import sys

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import database_option


@click.command(cls=TokentrailCommand)
@database_option
@click.option(
    "--fields",
    metavar="LIST",
    help="What to show, comma-separated: model, session, today, block, agent_cost (default: "
    "the config file's [statusline] fields, else session,today,block).",
)
def statusline(database: str | None, fields: str | None) -> None:
    """One line for Claude Code's status bar: reads its status JSON on stdin, catches up this
    session's transcript, prints this session's cost, today's spend and the active block.

    Set in ~/.claude/settings.json: "statusLine": {"type": "command", "command": "tokentrail
    statusline"}. Never waits on a busy ledger; an error is a one-line message, exit status 0.
    """
    from tokentrail import statusline as status

    click.echo(status.main(sys.stdin.buffer.read(), database=database, fields=fields))
