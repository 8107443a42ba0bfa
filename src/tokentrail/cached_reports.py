"""Which report answers may be kept, under which key, and the short way to a kept one.

``tokentrail daily --no-sync`` (and ``weekly``, ``monthly``, ``session``) asked again of a
ledger that has not changed prints the answer the ledger keeps for it
(:mod:`tokentrail.store.report_cache`). :func:`cached_answer` finds it importing only the
standard library: the reports, the store and the pricing are imported only when the answer
has to be computed. The key holds everything the printed text depends on: the report and its
options, the zone, the output format (for a table: that it is not a terminal, and the
variables that change how it is drawn) and the code that computed it.
"""

from __future__ import annotations

import os
import sys

from tokentrail.code_stamp import module_signatures, package_folder

TYPE_CHECKING = False  # typing is not imported: a kept answer is printed before it would be
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

TABLE_ENV = ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
"""Variables that change how rich draws a table (or whether it thinks it draws on a
terminal): part of a table's key."""


def local_zone_name() -> str | None:
    """The local IANA zone's name (``TZ``, else the zone ``/etc/localtime`` links to), or None
    when it has none (the zone is then not one a key can name)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    env_tz = os.environ.get("TZ")
    if env_tz:
        try:
            ZoneInfo(env_tz.lstrip(":"))
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return env_tz.lstrip(":")
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            name = link.split("zoneinfo/", 1)[1]
            ZoneInfo(name)
            return name
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return None


CODE_FOLDERS = ("store", "reports", "insights", "cli")
"""The packages (besides the top one) whose code a report's printed answer depends on."""


def output_format(as_json: bool, as_csv: bool, *, terminal: bool) -> str | None:
    """The format part of a key; None for a table drawn on a terminal (never kept: its width
    and colours are the terminal's)."""
    if as_json:
        return "json"
    if as_csv:
        return "csv"
    if terminal:
        return None
    return "table:" + ",".join(f"{name}={os.environ.get(name, '')}" for name in TABLE_ENV)


def code_fingerprint() -> str:
    """What changes when tokentrail's code does (an upgrade, an edit of an editable
    install): the signatures of the modules a report's answer depends on."""
    package = package_folder()
    folders = (package, *(os.path.join(package, name) for name in CODE_FOLDERS))
    signatures = sorted(module_signatures(folders).items())
    import zlib

    return format(zlib.crc32(repr(signatures).encode()), "08x")


def report_key(kind: str, options: Mapping[str, Any], zone_name: str, fmt: str) -> str:
    """The key of a report's answer: ``options`` as the command line gave them (after click
    made each value canonical)."""
    fields = (
        kind,
        fmt,
        zone_name,
        options.get("since") or "",
        options.get("until") or "",
        ",".join(options.get("sources") or ()),
        options.get("project") or "",
        "breakdown" if options.get("breakdown") else "",
        options.get("by") or "",
        ",".join(options.get("machines") or ()),
        ",".join(options.get("users") or ()),
        code_fingerprint(),
    )
    return "\x1f".join(fields)


def key_for(kind: str, options: Mapping[str, Any], *, terminal: bool) -> str | None:
    """The key of this report's answer, or None when it is not kept (a table on a terminal,
    a zone without an IANA name)."""
    as_json, as_csv = bool(options.get("as_json")), bool(options.get("as_csv"))
    fmt = output_format(as_json, as_csv, terminal=terminal)
    zone_name = options.get("tz") or local_zone_name()
    if fmt is None or zone_name is None:
        return None
    return report_key(kind, options, zone_name, fmt)


def ledger_file(database: str | None) -> str | None:
    """The SQLite ledger's path as :func:`tokentrail.config.resolve_database` decides it,
    reading the configuration file only when there is one and neither the option nor the
    variable names the ledger; None for a team ledger (a URL)."""
    candidate = database or os.environ.get("TOKENTRAIL_DB")
    if not candidate:
        from tokentrail.app_dirs import no_config_file, plain_database_file

        if no_config_file():  # the default ledger, found without importing the config's module
            candidate = plain_database_file()
    if not candidate:
        from tokentrail.config import load_config, resolve_database

        candidate = resolve_database(None, load_config())
    return sqlite_path(candidate)


def sqlite_path(location: str) -> str | None:
    """The file of a ledger ``location``; None for a team ledger (a URL)."""
    return None if "://" in location else os.path.expanduser(location)


def cached_answer(kind: str, options: Mapping[str, Any]) -> str | None:
    """The kept answer of this report, if the ledger has one of its current generation; None
    when it has to be computed (never raises for that: the full path reports any problem)."""
    found = _kept_location(kind, options)
    if found is None:
        return None
    from tokentrail.store.report_cache import read_sqlite_file

    return read_sqlite_file(*found)


def cached_answer_utf8(kind: str, options: Mapping[str, Any]) -> bytes | None:
    """:func:`cached_answer` as the UTF-8 bytes the ledger keeps, for printing them as they
    are (a list of every session is megabytes: decoding and encoding it again costs more than
    reading it)."""
    found = _kept_location(kind, options)
    if found is None:
        return None
    from tokentrail.store.report_cache import read_sqlite_file_utf8

    return read_sqlite_file_utf8(*found)


def write_cached_answer(
    kind: str, options: Mapping[str, Any], write: Callable[[bytes], object]
) -> bool:
    """Write the kept answer of this report through ``write`` as the UTF-8 bytes the ledger
    keeps, a chunk at a time (a list of every session is megabytes); False, nothing written,
    when it has to be computed."""
    found = _kept_location(kind, options)
    if found is None:
        return False
    from tokentrail.store.report_cache import write_sqlite_file_utf8

    return write_sqlite_file_utf8(*found, write)


def _kept_location(kind: str, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """The SQLite ledger's path and the key its answer would be kept under; None when such an
    answer is never kept or cannot be looked up here."""
    if options.get("as_json") and options.get("as_csv"):
        return None
    try:
        key = key_for(kind, options, terminal=sys.stdout.isatty())
        location = ledger_file(options.get("database"))
    except Exception:  # e.g. an unreadable configuration file: the full path says what
        return None
    if key is None or location is None:
        return None
    return location, key
