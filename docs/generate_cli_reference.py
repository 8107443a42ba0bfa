"""Write docs/cli.md from the commands' own --help, so the reference cannot drift.

Run: python docs/generate_cli_reference.py   (tests/test_docs.py checks it is current)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from tokentrail.cli import cli

TARGET = Path(__file__).with_name("cli.md")


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    found: list[list[str]] = []
    context = click.Context(group)
    for name in group.list_commands(context):  # the commands are imported on first use
        command = group.get_command(context, name)
        path = [*prefix, name]
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


def render() -> str:
    runner = CliRunner()
    parts = [
        "# Command reference\n",
        "Generated from `--help` by `python docs/generate_cli_reference.py`; do not edit.\n",
    ]
    for path in [[], *_commands(cli, [])]:
        result = runner.invoke(cli, [*path, "--help"], prog_name="tokentrail", terminal_width=100)
        title = " ".join(["tokentrail", *path])
        parts.append(f"## {title}\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    TARGET.write_text(render())
    sys.stdout.write(f"wrote {TARGET}\n")
