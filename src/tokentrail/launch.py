"""The ``tokentrail`` command's entry point.

Two answers are asked for far more often than the rest and have a budget of milliseconds for
the whole process, about half of which click and the command tree would take:

* ``tokentrail statusline`` runs every few seconds inside an agent's status bar (50 ms). Asked
  for with only the options it has (``-d/--database``, ``--fields``), it goes straight to
  :func:`tokentrail.statusline.main`.
* ``tokentrail daily`` (``weekly``, ``monthly``, ``session``) ``--no-sync`` asked again of a
  ledger that has not changed prints the answer the ledger keeps (60 ms). Asked for with
  options that need no checking (``--no-sync``, ``--json``, ``--csv``, ``--breakdown``,
  ``-d/--database``, ``--project``), the kept answer is looked up here
  (:func:`tokentrail.cached_reports.cached_answer`) and printed as click would print it.

Anything else, a report without a kept answer, ``--help`` and any option click would refuse
included, goes through click (:mod:`tokentrail.cli`), which parses and answers it as for every
other command.
"""

from __future__ import annotations

import sys

_STATUS_OPTIONS = {"-d": "database", "--database": "database", "--fields": "fields"}
_REPORTS = ("daily", "weekly", "monthly", "session")
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


def main() -> None:
    args = sys.argv[1:]
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
        answer = _kept_answer(args[0], report) if report is not None else None
        if answer is not None:
            _print_text(answer)
            return
    from tokentrail.cli import main as cli_main

    cli_main()


def _kept_answer(kind: str, options: dict[str, object]) -> str | None:
    """The report's kept answer when it prints here exactly as click would print it: without
    a colour code (click strips them from what does not go to a terminal) on a UTF-8 stdout
    (click writes through any other encoding its own way)."""
    from tokentrail.cached_reports import cached_answer

    answer = cached_answer(kind, options)
    if answer is None or "\x1b" in answer:
        return None
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("_", "-")
    return answer if encoding in ("utf-8", "utf8") else None


def _print_text(text: str) -> None:
    """``text`` on stdout as it is; a closed pipe ends quietly, as click's commands do."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_closed_stdout()


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
