"""The options several commands share, declared once: where the ledger is, the output format,
and the scope of a report (days, zone, sources, project)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar, cast

import click

from tokentrail.cli_types import DAY, TIME_ZONE, SourceName

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[Any], Any]


def database_option(func: F) -> F:
    return click.option(
        "-d",
        "--database",
        metavar="PATH",
        help="Ledger file, or a postgresql:// URL (a team ledger). Default: $TOKENTRAIL_DB, "
        "the config file's 'database', or the user data dir "
        "(~/.local/share/tokentrail/ledger.db on Linux).",
    )(func)


def output_options(func: F) -> F:
    """--json / --csv, shared by every command that prints rows."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    return func


def json_option(help_text: str = "Print JSON.") -> Decorator:
    """--json alone, for a command that prints one summary rather than rows."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


SOURCE = click.option(
    "--source",
    "sources",
    multiple=True,
    type=SourceName(),
    help="Only this source (repeatable): an agent tokentrail reads, sdk (the HTTP API's "
    "default), or another name usage was reported under.",
)
SINCE = click.option("--since", type=DAY, help="First local day to include.")
UNTIL = click.option("--until", type=DAY, help="Last local day to include.")
TZ = click.option("--tz", type=TIME_ZONE, help="IANA time zone for days (default: the local zone).")
PROJECT = click.option("--project", help="Only projects whose path contains this text.")
NO_SYNC = click.option("--no-sync", is_flag=True, help="Report from the ledger without syncing.")


def no_sync_option(help_text: str) -> Decorator:
    return click.option("--no-sync", is_flag=True, help=help_text)


def apply(func: F, options: Sequence[Decorator]) -> F:
    """``options`` applied as if written above ``func`` in this order."""
    for option in reversed(options):
        func = option(func)
    return func


class Scope(TypedDict):
    """Where a report reads from and what it covers, as the scope options gave them."""

    database: str | None
    since: str | None
    until: str | None
    tz: str | None
    sources: tuple[str, ...]
    project: str | None


def scoped(func: Callable[..., None], options: Sequence[Decorator]) -> Callable[..., None]:
    """``func`` below the scope options and then ``options``, given the scope as its first
    argument, a :class:`Scope`, rather than one argument per option."""

    @functools.wraps(func)
    def command(**given: Any) -> None:
        func(cast(Scope, {name: given.pop(name) for name in Scope.__annotations__}), **given)

    return apply(command, [database_option, SINCE, UNTIL, TZ, SOURCE, PROJECT, *options])


def report_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options of ``daily``, ``weekly``, ``monthly`` and ``session``, the scope as one
    :class:`Scope`."""
    options: list[Decorator] = [
        click.option("--breakdown", is_flag=True, help="One row per model within each period."),
        click.option(
            "--machine",
            "machines",
            multiple=True,
            metavar="NAME",
            help="Only usage recorded on this machine (repeatable).",
        ),
        click.option(
            "--user",
            "users",
            multiple=True,
            metavar="NAME",
            help="Only usage pushed for this user to a team ledger (repeatable).",
        ),
        click.option(
            "--by",
            type=click.Choice(("model", "machine", "user")),
            help="One row per model, machine or user within each period (--by model is "
            "--breakdown).",
        ),
        NO_SYNC,
        output_options,
    ]
    return scoped(func, options)


def insight_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options of ``tools`` and ``efficiency``, the scope as one :class:`Scope`."""
    return scoped(func, [NO_SYNC, output_options])


def blocks_options(func: F) -> F:
    """Options shared by ``blocks`` and ``live``."""
    options = [
        database_option,
        click.option(
            "--tz", type=TIME_ZONE, help="IANA time zone for times (default: the local zone)."
        ),
        SOURCE,
        PROJECT,
        no_sync_option("Read the ledger without syncing first."),
    ]
    return apply(func, options)
