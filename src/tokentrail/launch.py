"""The ``tokentrail`` command's entry point.

Two answers are asked for far more often than the rest and have a budget of milliseconds for
the whole process, about half of which click and the command tree would take:

* ``tokentrail statusline`` runs every few seconds inside an agent's status bar (50 ms). Asked
  for with only the options it has (``-d/--database``, ``--fields``), it goes straight to
  :func:`tokentrail.statusline.main`.
* ``tokentrail blocks --active --no-sync`` is asked by status bars and scripts every few
  seconds (60 ms). With only ``--json``, ``--csv``, ``-d/--database`` or ``--project`` beside,
  it is read from the quick reader of a SQLite ledger (:mod:`tokentrail.store.quick`) here.
* ``tokentrail daily`` (``weekly``, ``monthly``, ``session``) ``--no-sync`` asked again of a
  ledger that has not changed prints the answer the ledger keeps (60 ms). Asked for with
  options that need no checking (``--no-sync``, ``--json``, ``--csv``, ``--breakdown``,
  ``-d/--database``, ``--project``), the kept answer is looked up here
  (:func:`tokentrail.cached_reports.cached_answer_utf8`) and printed as click would print it.
* ``tokentrail sync --quiet`` (with at most ``-d/--database``) is what scripts and hooks run
  before they read the ledger (0.1 s). When nothing changed since the last full sync it
  prints nothing and ends: :func:`tokentrail.sync_walk.changed_files` tells so from stats
  and the ledger's record of that sync, without click, the readers or the write side. When
  only files that sync found changed, those are read (:func:`tokentrail.sync.sync_changed`),
  without click, the discovery walk or the other agents' readers.

Anything else, a report without a kept answer, ``--help`` and any option click would refuse
included, goes through click (:mod:`tokentrail.cli`), which parses and answers it as for every
other command.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported: the short ways run before it would be
if TYPE_CHECKING:
    from tokentrail.blocks import BlocksQuery, BlocksReport

_STATUS_OPTIONS = {"-d": "database", "--database": "database", "--fields": "fields"}
_REPORTS = ("daily", "weekly", "monthly", "session")
_BLOCKS_FLAGS = {
    "--active": "active",
    "--no-sync": "no_sync",
    "--json": "as_json",
    "--csv": "as_csv",
}
_REPORT_OPTIONS = {"-d": "database", "--database": "database", "--project": "project"}
_REPORT_FLAGS = {
    "--no-sync": "no_sync",
    "--json": "as_json",
    "--csv": "as_csv",
    "--breakdown": "breakdown",
}


def parse_simple(
    args: list[str], options: dict[str, str], flags: dict[str, str] | None = None
) -> dict[str, str | bool | None] | None:
    """``args`` read as ``options`` (``--name value`` or ``--name=value``; ``-d value``) and
    ``flags`` (``--name``), each at most once, as click reads them; None when they hold
    anything else (click then parses them, and refuses what it must)."""
    flags = flags or {}
    found: dict[str, str | bool | None] = dict.fromkeys(options.values())
    found.update(dict.fromkeys(flags.values(), False))
    seen: set[str] = set()
    index = 0
    while index < len(args):
        name, has_value, value = args[index].partition("=")
        key = options.get(name)
        if key is None:
            flag = flags.get(args[index])
            if flag is None or flag in seen:
                return None
            seen.add(flag)
            found[flag] = True
            index += 1
            continue
        if key in seen or (has_value and not name.startswith("--")):
            return None
        if not has_value:
            index += 1
            if index == len(args):
                return None
            value = args[index]
        seen.add(key)
        found[key] = value
        index += 1
    return found


def statusline_options(args: list[str]) -> dict[str, str | None] | None:
    """The status line's options from its arguments (after ``statusline``), or None when
    they are anything but ``-d/--database PATH`` and ``--fields LIST`` (each at most once, as
    ``--name value`` or ``--name=value``): click then parses them."""
    found = parse_simple(args, _STATUS_OPTIONS)
    if found is None:
        return None
    return {key: value if isinstance(value, str) else None for key, value in found.items()}


def kept_report_options(args: list[str]) -> dict[str, object] | None:
    """A report's options (after its name) as the command gives them to
    :func:`tokentrail.cached_reports.cached_answer`, when it is asked with ``--no-sync`` and
    only options that need no checking; None otherwise."""
    found = parse_simple(args, _REPORT_OPTIONS, _REPORT_FLAGS)
    if found is None or not found["no_sync"]:
        return None
    return {
        "database": found["database"], "since": None, "until": None, "tz": None,
        "sources": (), "project": found["project"], "breakdown": found["breakdown"],
        "by": None, "machines": (), "users": (), "as_json": found["as_json"],
        "as_csv": found["as_csv"],
    }  # fmt: skip


def active_block_options(args: list[str]) -> dict[str, str | bool | None] | None:
    """``blocks`` options (after its name) when they ask for the active block without a sync
    and hold only options that need no checking; None otherwise."""
    found = parse_simple(args, _REPORT_OPTIONS, _BLOCKS_FLAGS)
    if found is None or not (found["active"] and found["no_sync"]):
        return None
    return None if found["as_json"] and found["as_csv"] else found


_SYNC_OPTIONS = {"-d": "database", "--database": "database"}
_SYNC_FLAGS = {"-q": "quiet", "--quiet": "quiet"}


def quiet_sync_options(args: list[str]) -> dict[str, str | None] | None:
    """A sync's ``-d/--database`` from its arguments (after ``sync``) when they are
    ``-q/--quiet`` once and at most ``-d/--database PATH``; None for anything else (click
    then parses them)."""
    found = parse_simple(args, _SYNC_OPTIONS, _SYNC_FLAGS)
    if found is None or not found["quiet"]:
        return None
    database = found["database"]
    return {"database": database if isinstance(database, str) else None}


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["sync"]:
        sync_options = quiet_sync_options(args[1:])
        if sync_options is not None and _quiet_sync(sync_options["database"]):
            return  # what a quiet sync prints: nothing
    if args[:1] == ["statusline"]:
        options = statusline_options(args[1:])
        if options is not None:
            from tokentrail.statusline import main as status_main

            line = status_main(
                sys.stdin.buffer.read(), database=options["database"], fields=options["fields"]
            )
            _print_line(line)
            return
    if args[:1] and args[0] in _REPORTS:
        report = kept_report_options(args[1:])
        if report is not None and _print_kept(args[0], report):
            return
    if args[:1] == ["blocks"]:
        blocks = active_block_options(args[1:])
        if blocks is not None and _print_active_block(blocks):
            return
    from tokentrail.cli import main as cli_main

    cli_main()


def _print_kept(kind: str, report: dict[str, object]) -> bool:
    """Print the report's kept answer as click would; False (nothing printed) when it has
    none. JSON to a UTF-8 stdout is streamed from the ledger as it is kept (JSON holds no
    colour codes: orjson writes an escape character as ``\\u001b``)."""
    if report["as_json"] and _utf8_stdout():
        from tokentrail.cached_reports import write_cached_answer

        try:
            sys.stdout.flush()
            if not write_cached_answer(kind, report, sys.stdout.buffer.write):
                return False
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            _quiet_closed_stdout()
        return True
    from tokentrail.cached_reports import cached_answer_utf8

    answer = cached_answer_utf8(kind, report)
    if answer is None:
        return False
    _print_utf8(answer)
    return True


def _quiet_sync(database: str | None) -> bool:
    """Do what ``tokentrail sync --quiet`` does when the last full sync's record says which
    files it would read (none, or only some it found); False when the full sync must run (it
    then reports any problem, and reads nothing committed here twice)."""
    from tokentrail.sync_walk import changed_files

    changed = changed_files(database)
    if not changed:
        return changed is not None
    from tokentrail.ledger import Ledger
    from tokentrail.sync import sync_changed

    try:
        with Ledger(database) as ledger:
            summary = sync_changed(ledger, changed)
    except Exception:  # the full sync meets it again, and says what it is
        return False
    return not summary.unreadable  # the full sync reports them, and keeps no record


def _print_active_block(options: dict[str, str | bool | None]) -> bool:
    """Print the active block as ``tokentrail blocks --active --no-sync`` does; False (nothing
    printed) when the quick reader cannot answer: click's way then."""
    from tokentrail.blocks import BlocksQuery
    from tokentrail.errors import TokentrailError
    from tokentrail.periods import resolve_timezone

    try:
        zone, zone_name = resolve_timezone(None)
    except TokentrailError:
        return False
    project = options["project"]
    query = BlocksQuery(
        zone=zone,
        zone_name=zone_name,
        active_only=True,
        project=project if isinstance(project, str) else None,
    )
    database = options["database"]
    try:
        report = quick_blocks(database if isinstance(database, str) else None, query)
    except TokentrailError:  # click's way says what is wrong, as for every command
        return False
    if report is None:
        return False
    if options["as_json"]:
        from tokentrail.output import render_json

        _print_text(render_json(report.as_dict()) + "\n")
    elif options["as_csv"]:
        from tokentrail.output import render_csv

        _print_text(render_csv(report.csv_rows(), blank=report.blank_csv_row()))
    elif (text := _plain_blocks(report)) is not None:
        _print_text(text)
    else:
        from tokentrail.blocks_view import print_blocks
        from tokentrail.output import new_console

        try:
            print_blocks(report, console=new_console())
        except BrokenPipeError:
            _quiet_closed_stdout()
    return True


def _plain_blocks(report: BlocksReport) -> str | None:
    """The blocks table as rich would print it to a pipe or a file, drawn without importing
    rich (a third of the answer's time); None on a terminal or when only rich can draw it."""
    from tokentrail.blocks_view import blocks_text
    from tokentrail.plain_output import plain_width

    width = plain_width()
    return None if width is None else blocks_text(report, width)


def quick_blocks(database: str | None, query: BlocksQuery) -> BlocksReport | None:
    """The blocks from the quick reader of a SQLite ledger (``--no-sync``: nothing to write),
    without importing the ledger, the store's write side or the pricing; None when the ledger
    cannot be read that way (a team ledger, a ledger to create or migrate) or a ``--source``
    has to be checked against it: the full way then."""
    if query.sources:
        return None
    from tokentrail.blocks import blocks_report
    from tokentrail.cached_reports import ledger_file
    from tokentrail.store.quick import NotQuick, QuickReader

    location = ledger_file(database)
    if location is None:
        return None
    try:
        with QuickReader(location) as reader:
            return blocks_report(reader, query)
    except NotQuick:
        return None


def _print_text(text: str) -> None:
    """``text`` on stdout as ``click.echo(text, nl=False)`` prints it (which the command would
    have called)."""
    _print_utf8(text.encode("utf-8"))


def _print_utf8(text: bytes) -> None:
    """UTF-8 ``text`` on stdout as ``click.echo(text.decode(), nl=False)`` prints it: as it
    is, unless it holds a colour code (click strips them from what does not go to a terminal)
    or stdout is not UTF-8 (click writes through its own wrapper then), when click prints it.
    A closed pipe ends quietly, as click's commands do."""
    try:
        if b"\x1b" in text or not _utf8_stdout():
            import click

            click.echo(text.decode("utf-8"), nl=False)
            return
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        _quiet_closed_stdout()


def _utf8_stdout() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _print_line(line: str) -> None:
    """The line in UTF-8 whatever the locale (a status bar shows it as UTF-8); a closed pipe
    ends quietly, as click's commands do."""
    try:
        sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        _quiet_closed_stdout()


def _quiet_closed_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)
