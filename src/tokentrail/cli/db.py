"""``db`` (where the ledger is, what it holds, its backup, its check, retractions) and
``reprice`` (stored costs recomputed with current prices)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tokentrail.cli.group import TokentrailCommand, TokentrailGroup
from tokentrail.cli.options import database_option, json_option, output_options
from tokentrail.errors import ConfigError

if TYPE_CHECKING:
    from tokentrail.ledger import RepriceChange


@click.command(cls=TokentrailCommand)
@database_option
@click.option("--dry-run", is_flag=True, help="Show the differences without writing them.")
@output_options
def reprice(database: str | None, dry_run: bool, as_json: bool, as_csv: bool) -> None:
    """Recompute stored costs with current prices and overrides; show the difference."""
    from tokentrail.cli.common import check_format, open_ledger
    from tokentrail.formatting import counted
    from tokentrail.output import format_usd, render_csv, render_json

    check_format(as_json, as_csv)
    with open_ledger(database) as ledger:
        changes = ledger.reprice(dry_run=dry_run)
    rows = [_reprice_row(c) for c in changes]
    if as_json:
        click.echo(render_json({"rows": rows, "dry_run": dry_run}))
        return
    if as_csv:
        from tokentrail.ledger import RepriceChange

        blank = _reprice_row(RepriceChange("", 0, 0, 0, 0, 0))
        click.echo(render_csv(rows, blank=blank), nl=False)
        return
    if not rows:
        click.echo("All stored costs already match the current prices.")
        return
    verb = "Would change" if dry_run else "Changed"
    for row in rows:
        click.echo(
            f"{verb} {counted(row['requests'], 'request')} of {row['model']}: "
            f"{format_usd(row['old_cost_usd'])} -> {format_usd(row['new_cost_usd'])} "
            f"(unpriced {row['unpriced_before']:,} -> {row['unpriced_after']:,})"
        )
    if dry_run:
        click.echo("Nothing was written (--dry-run).")


def _reprice_row(change: RepriceChange) -> dict[str, Any]:
    return {
        "model": change.model,
        "requests": change.requests,
        "old_cost_usd": change.old_micro / 1_000_000,
        "new_cost_usd": change.new_micro / 1_000_000,
        "difference_usd": (change.new_micro - change.old_micro) / 1_000_000,
        "unpriced_before": change.old_unpriced,
        "unpriced_after": change.new_unpriced,
    }


@click.group(cls=TokentrailGroup)
def db() -> None:
    """Where the ledger is and what it holds."""


@db.command("path")
@database_option
def db_path(database: str | None) -> None:
    """Print the ledger's location."""
    from tokentrail.config import load_config, resolve_database

    location = resolve_database(database, load_config())
    if "://" in location:  # only a team ledger's URL needs the PostgreSQL store's module
        from tokentrail.store.postgres import redact_url

        location = redact_url(location)
    click.echo(location)


@db.command("status")
@database_option
@json_option()
def db_status(database: str | None, as_json: bool) -> None:
    """Schema version, counts and size of the ledger."""
    from tokentrail.cli.common import open_ledger
    from tokentrail.output import render_json
    from tokentrail.reports.counting import session_counts
    from tokentrail.store.base import Filters

    with open_ledger(database) as ledger:
        status = ledger.store.status()
        counts = session_counts(ledger.store, Filters())
    data = {
        "location": status.location,
        "schema_version": status.schema_version,
        "migrations": list(status.migrations),
        "events": status.events,
        **counts.as_dict(),
        "session_records": status.sessions,
        "files": status.files,
        "first_event": status.first_event.isoformat() if status.first_event else None,
        "last_event": status.last_event.isoformat() if status.last_event else None,
        "size_bytes": status.size_bytes,
        "retracted_events": status.retracted,
    }
    if as_json:
        click.echo(render_json(data))
        return
    for key, value in data.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key.replace('_', ' ')}: {'—' if shown is None else shown}")


@db.command("backup")
@database_option
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(database: str | None, destination: Path) -> None:
    """Copy the ledger to DESTINATION while it stays usable (SQLite online backup)."""
    from tokentrail.cli.common import open_ledger
    from tokentrail.errors import LedgerDamaged

    try:
        with open_ledger(database) as ledger:
            location = ledger.location
            ledger.store.backup(destination)
    except LedgerDamaged:  # too damaged to open as a ledger: copy the file's pages as they are
        from tokentrail.config import load_config, resolve_database
        from tokentrail.store.sqlite import backup_file

        location = resolve_database(database, load_config())
        backup_file(Path(location), destination)
    click.echo(f"Backed up {location} to {destination}")


@db.command("check")
@database_option
def db_check(database: str | None) -> None:
    """Check the ledger's file for damage (SQLite's integrity check); exit 1 if damaged."""
    from tokentrail.cli.common import open_ledger
    from tokentrail.config import load_config, resolve_database
    from tokentrail.errors import LedgerDamaged
    from tokentrail.store.base import DAMAGED_ADVICE

    try:
        with open_ledger(database) as ledger:
            location = ledger.location
            problems = ledger.store.check()
    except LedgerDamaged:  # too damaged to open as a ledger: check the file itself
        from tokentrail.store.sqlite import check_file

        location = resolve_database(database, load_config())
        problems = check_file(Path(location)) or ["the file cannot be opened as a ledger"]
    if not problems:
        click.echo(f"ok: no damage found in {location}")
        return
    for problem in problems[:20]:
        click.echo(problem)
    if len(problems) > 20:
        click.echo(f"... and {len(problems) - 20:,} more")
    click.echo(f"The ledger {location} is damaged. To recover: {DAMAGED_ADVICE}.", err=True)
    sys.exit(1)


@db.command("retract")
@database_option
@click.argument("keys", nargs=-1, required=True, metavar="EVENT_KEY...")
@click.option("--reason", required=True, help="Why: kept with the retracted event.")
def db_retract(database: str | None, keys: Sequence[str], reason: str) -> None:
    """Take events out of every report (e.g. spend forged through the API), keeping them in
    the ledger's retractions; a re-sync or a resent batch never records them again. EVENT_KEY
    is SOURCE:EVENT_ID (sdk:... for events sent to the API)."""
    from tokentrail.cli.common import open_ledger

    with open_ledger(database) as ledger:
        done = ledger.retract(keys, reason)
        with ledger.reading() as store:
            status = store.status()
    for key in done:
        click.echo(f"Retracted {key}: no report counts it, and it is never recorded again.")
    missing = [key for key in dict.fromkeys(keys) if key not in done]
    if missing:
        raise ConfigError(
            f"no recorded event has the key {', '.join(repr(k) for k in missing)} (or it was "
            "retracted already); a key is SOURCE:EVENT_ID, e.g. sdk:msg_01XFD... for an event "
            "sent to the API"
        )
    click.echo(f"{status.retracted:,} retracted events in {ledger.location}.")
