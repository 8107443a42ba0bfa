"""``import``: usage from a file an agent's service lets you download (Cursor's usage
export)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from tokentrail.cli.group import TokentrailGroup
from tokentrail.cli.options import database_option, json_option
from tokentrail.errors import ConfigError


@click.group("import", cls=TokentrailGroup)
def import_group() -> None:
    """Record usage from a file an agent's service lets you download."""


@import_group.command("cursor")
@database_option
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE...",
)
@json_option("Print the summary as JSON.")
def import_cursor(database: str | None, files: Sequence[Path], as_json: bool) -> None:
    """Record the requests of a usage export downloaded from Cursor's dashboard (CSV, or
    its JSON), with Cursor's cost kept as the reported cost. Importing the same or an
    overlapping export again records nothing twice."""
    from tokentrail.agents.cursor.reader import import_export
    from tokentrail.cli.common import open_ledger
    from tokentrail.output import render_json
    from tokentrail.usage import SkipSummary

    # every file is read before anything is recorded, so one that cannot be read records nothing
    results = []
    for path in files:
        try:
            results.append(import_export(str(path)))
        except OSError as exc:
            raise ConfigError(
                f"cannot read the Cursor export {path}: {exc.strerror or exc}; download it "
                "again from Cursor's dashboard (Settings, Usage, Export) and name that file"
            ) from exc
    skips = SkipSummary()
    for result in results:
        for skip in result.skips:
            skips.add(skip)
    events = [event for result in results for event in result.events]
    if not events and skips.counts.get("not_a_cursor_export"):
        raise ConfigError(
            f"{', '.join(str(f) for f in files)}: not a Cursor usage export (no Date and Model "
            "columns, or no usage events); export it from Cursor's dashboard as CSV or JSON"
        )
    with open_ledger(database) as ledger:
        outcome = ledger.record_batch(
            [e if e.machine is not None else e.evolve(machine=ledger.machine) for e in events]
        )
    summary = {
        "files": len(files),
        "requests_read": len(events),
        "new": outcome.created,
        "updated": outcome.updated,
        "already_recorded": outcome.duplicates,
        "skipped": {
            reason: {"count": count, "examples": skips.examples.get(reason, [])}
            for reason, count in sorted(skips.counts.items())
        },
    }
    if as_json:
        click.echo(render_json(summary))
        return
    click.echo(
        f"Read {len(events):,} Cursor requests from {len(files):,} file(s): {outcome.created:,} "
        f"new, {outcome.updated:,} updated, {outcome.duplicates:,} already recorded."
    )
    for reason, count in sorted(skips.counts.items()):
        examples = ", ".join(skips.examples.get(reason, []))
        click.echo(f"  skipped {reason}: {count:,} (e.g. {examples})")
