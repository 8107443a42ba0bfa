"""The ``tokentrail`` command's entry point.

``tokentrail statusline`` runs every few seconds inside an agent's status bar, with a budget of
50 ms for the whole process; click and the command tree cost about half of it. So a status
line asked for with only the options it has (``-d/--database``, ``--fields``) goes straight to
:func:`tokentrail.statusline.main`; anything else, its ``--help`` and any option click would
refuse included, goes through click (:mod:`tokentrail.cli`), which parses and answers it as
for every other command.

``tokentrail sync --quiet`` (with at most ``-d/--database``) when nothing changed since the last
full sync prints nothing and ends: :func:`tokentrail.sync_walk.nothing_changed` tells so from
stats and the ledger's record of that sync, without click, the readers or the ledger's write
side. At any doubt, or with any other option, the sync runs through click as before.
"""

from __future__ import annotations

import sys

_STATUS_OPTIONS = {"-d": "database", "--database": "database", "--fields": "fields"}


def statusline_options(args: list[str]) -> dict[str, str | None] | None:
    """The status line's options from its arguments (after ``statusline``), or None when
    they are anything but ``-d/--database PATH`` and ``--fields LIST`` (each at most once, as
    ``--name value`` or ``--name=value``): click then parses them."""
    options: dict[str, str | None] = {"database": None, "fields": None}
    seen: set[str] = set()
    index = 0
    while index < len(args):
        name, has_value, value = args[index].partition("=")
        key = _STATUS_OPTIONS.get(name)
        if key is None or key in seen or (has_value and name == "-d"):
            return None
        if not has_value:
            index += 1
            if index == len(args):
                return None
            value = args[index]
        seen.add(key)
        options[key] = value
        index += 1
    return options


_QUIET_FLAGS = ("-q", "--quiet")
_SYNC_OPTIONS = {"-d": "database", "--database": "database"}


def quiet_sync_options(args: list[str]) -> dict[str, str | None] | None:
    """A sync's ``-d/--database`` from its arguments (after ``sync``) when they are
    ``-q/--quiet`` once and at most ``-d/--database PATH`` (as ``--name value`` or
    ``--database=value``); None for anything else: click then parses them."""
    options: dict[str, str | None] = {"database": None}
    seen: set[str] = set()
    index = 0
    while index < len(args):
        name, has_value, value = args[index].partition("=")
        key = "quiet" if name in _QUIET_FLAGS and not has_value else _SYNC_OPTIONS.get(name)
        if key is None or key in seen or (has_value and name == "-d"):
            return None
        seen.add(key)
        if key == "database":
            if not has_value:
                index += 1
                if index == len(args):
                    return None
                value = args[index]
            options["database"] = value
        index += 1
    return options if "quiet" in seen else None


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["sync"]:
        sync_options = quiet_sync_options(args[1:])
        if sync_options is not None:
            from tokentrail.sync_walk import nothing_changed

            if nothing_changed(sync_options["database"]):
                return  # what a quiet sync that finds nothing new prints: nothing
    if args[:1] == ["statusline"]:
        options = statusline_options(args[1:])
        if options is not None:
            from tokentrail.statusline import main as status_main

            line = status_main(
                sys.stdin.buffer.read(), database=options["database"], fields=options["fields"]
            )
            _print_line(line)
            return
    from tokentrail.cli import main as cli_main

    cli_main()


def _print_line(line: str) -> None:
    """The line in UTF-8 whatever the locale (a status bar shows it as UTF-8); a closed pipe
    ends quietly, as click's commands do."""
    try:
        sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
