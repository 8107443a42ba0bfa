"""What the commands share once they run: the ledger opened and closed, the sync that comes
first, and a report's query built from the options.

Imported from inside the commands' bodies, never at the top of a command module: ``tokentrail
--help`` imports none of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from tokentrail.errors import OptionError

if TYPE_CHECKING:
    from datetime import date

    from tokentrail.cli.options import Scope
    from tokentrail.figures import UsageFigures
    from tokentrail.ledger import Ledger
    from tokentrail.reports.query import ReportQuery
    from tokentrail.sync import SyncSummary


@contextmanager
def open_ledger(database: str | None, *, sources: Sequence[str] = ()) -> Iterator[Ledger]:
    """The ledger, closed afterwards; ``sources`` (the ``--source`` values) are checked
    against it first."""
    from tokentrail.ledger import Ledger

    ledger = Ledger(database)
    try:
        check_sources(ledger, sources)
        yield ledger
    finally:
        ledger.close()


def check_sources(ledger: Ledger, sources: Sequence[str]) -> None:
    """A ``--source`` that is neither an agent tokentrail reads nor the HTTP API's default
    must name usage the ledger holds (reported over HTTP or OpenTelemetry under that name):
    a typo is refused, not answered with an empty report."""
    if not sources:
        return  # without importing every source's parser just to list their names
    from tokentrail.cli_types import SourceName

    known = SourceName().known()
    unknown = [name for name in sources if name not in known]
    if not unknown:
        return
    recorded = ledger.store.group_names("source")
    missing = [name for name in unknown if name not in recorded]
    if missing:
        others = sorted(set(recorded) - set(known))
        raise OptionError(
            f"--source {missing[0]!r} is not an agent tokentrail reads "
            f"({', '.join(known)}) and no usage in the ledger was reported under that name"
            + (f" (reported names: {', '.join(others)})" if others else "")
            + "; check the spelling"
        )


def check_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise OptionError("--json and --csv cannot be used together; choose one")


def sync_first(ledger: Ledger, *, machine_readable: bool) -> None:
    """The sync every report runs first: a progress bar on a terminal, unless the output is
    for a program (JSON, CSV)."""
    run_sync(ledger, (), show_progress=sys.stderr.isatty() and not machine_readable)


def run_sync(ledger: Ledger, sources: Sequence[str], *, show_progress: bool) -> SyncSummary:
    from tokentrail.sync import sync as do_sync

    if not show_progress:
        return do_sync(ledger, source_names=sources)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from tokentrail.output import new_console

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=new_console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("Reading agent logs", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return do_sync(ledger, source_names=sources, progress=advance)


def warn_broken_links(searched: Sequence[str]) -> None:
    from tokentrail.sync_walk import broken_links  # one rule with the quick answer of a sync

    for path, target in broken_links(searched):
        click.echo(
            f"{path} is a symbolic link to {target}, which does not exist: the agent logs "
            "under it cannot be read. Repair the link (or mount its target), or point "
            "tokentrail at the logs (see README: Where tokentrail looks).",
            err=True,
        )


def hint_nothing_found(searched: Sequence[str]) -> None:
    warn_broken_links(searched)
    click.echo("No agent logs were found. tokentrail looked in:", err=True)
    for folder in searched:
        click.echo(f"  {folder}", err=True)
    click.echo(
        "If your agents keep their logs elsewhere, set CLAUDE_CONFIG_DIR / CODEX_HOME / "
        "GEMINI_CLI_HOME, or list the folders under [sources.<agent>] paths in the config "
        "file (see README: Where tokentrail looks).",
        err=True,
    )


def day_range(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """``--since`` and ``--until`` as days, in order."""
    from tokentrail.periods import parse_day

    since_day = parse_day(since, "--since") if since else None
    until_day = parse_day(until, "--until") if until else None
    if since_day and until_day and since_day > until_day:
        raise OptionError(f"--since {since_day} is after --until {until_day}; swap them")
    return since_day, until_day


def build_query(
    scope: Scope,
    breakdown: bool = False,
    *,
    machines: tuple[str, ...] = (),
    users: tuple[str, ...] = (),
    by: str | None = None,
) -> ReportQuery:
    from tokentrail.periods import resolve_timezone
    from tokentrail.reports.query import ReportQuery
    from tokentrail.store.base import GROUP_BY

    if breakdown and by not in (None, "model"):
        raise OptionError(f"--breakdown is --by model; it cannot be combined with --by {by}")
    group = next((g for g in GROUP_BY if g == by), None)

    zone, zone_name = resolve_timezone(scope["tz"])
    since_day, until_day = day_range(scope["since"], scope["until"])
    return ReportQuery(
        zone=zone,
        zone_name=zone_name,
        since=since_day,
        until=until_day,
        sources=scope["sources"],
        project=scope["project"],
        breakdown=breakdown or group == "model",
        machines=tuple(machines),
        users=tuple(users),
        breakdown_by=group,
    )


def zero_figures() -> UsageFigures:
    """Figures of nothing: the cells of a blank row, the header of an empty CSV table."""
    from tokentrail.figures import UsageFigures
    from tokentrail.store.base import Totals

    return UsageFigures.from_totals(Totals.zero())
