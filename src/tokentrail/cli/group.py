"""The command and group classes every tokentrail command uses: tokentrail's own errors become
clean messages, and a group imports a command's module only when that command is asked for
(so ``tokentrail daily`` never imports the server, the sync or the budgets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from tokentrail.errors import OptionError, TokentrailError


class TokentrailCommand(click.Command):
    """A wrong option found while the command runs (two options that exclude each other, a
    source the ledger never saw) is a usage error of this command, like click's own."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionError as exc:
            raise click.UsageError(str(exc), ctx) from exc


class TokentrailGroup(click.Group):
    """Turns tokentrail's own errors into a clean message without a traceback: exit status 2
    for a wrong option (a usage error), 1 for any other.

    ``lazy_commands`` maps a command's name to where it is defined (``module:attribute``);
    the module is imported the first time the command is looked up."""

    command_class = TokentrailCommand
    group_class = type  # subgroups (``db``) are of this class too

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = self.lazy_commands.get(cmd_name)
        if where is not None and cmd_name not in self.commands:
            self.add_command(_load_command(where), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionError as exc:  # the default command, run without a context of its own
            raise click.UsageError(str(exc), ctx) from exc
        except TokentrailError as exc:  # the stores' errors too (a damaged ledger file, …)
            raise click.ClickException(str(exc)) from exc


def _load_command(where: str) -> click.Command:
    import importlib

    module_name, _, attribute = where.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{where} is not a click command")
    return command
