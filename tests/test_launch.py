"""The entry point's short ways (tokentrail.launch): a report's kept answer printed without
click, byte for byte what the command prints through click, and everything else left to click."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tokentrail.cached_reports import cached_answer, cached_answer_utf8
from tokentrail.config import Config
from tokentrail.launch import kept_report_options
from tokentrail.ledger import Ledger
from tokentrail.usage import Session, Tokens, UsageEvent

_START = datetime(2026, 3, 1, 9, tzinfo=UTC)
_BY_ENTRY_POINT = (
    "import json, sys\n"
    "from tokentrail.launch import main\n"
    "sys.argv = ['tokentrail', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
)
_BY_CLICK = (
    "import sys\n"
    "from tokentrail.cli import main\n"
    "sys.argv = ['tokentrail', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.fixture
def ledger_db(db_path: Path) -> Path:
    with Ledger(db_path, config=Config()) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key=f"sdk:e-{n}",
                    source="sdk",
                    timestamp=_START + timedelta(hours=7 * n),
                    tokens=Tokens(input=100 + n, output=20, cache_read=1000),
                    model="claude-sonnet-4-5" if n % 2 else "gpt-5",
                    session_key=f"s-{n % 3}",
                    project="/code/café" if n % 3 == 0 else "/code/app",  # beyond ASCII too
                )
                for n in range(12)
            ],
            [
                Session(f"s-{n}", "sdk", project="/code/café" if n == 0 else "/code/app")
                for n in range(3)
            ],
        )
    return db_path


def _run(
    script: str, args: list[str], *, colour: bool = False
) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "TZ": "UTC"}
    environment.pop("FORCE_COLOR", None)
    if colour:  # rich draws colour codes even into a pipe
        environment["FORCE_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, check=True, env=environment
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--no-sync"], {"as_json": False, "as_csv": False, "breakdown": False}),
        (["--json", "--no-sync", "-d", "x.db"], {"as_json": True, "database": "x.db"}),
        (["--no-sync", "--csv", "--database=x.db"], {"as_csv": True, "database": "x.db"}),
        (["--no-sync", "--breakdown", "--project", "app"], {"breakdown": True, "project": "app"}),
        (["--json"], None),  # it syncs first: click's way
        (["--no-sync", "--tz", "utc"], None),  # a value click makes canonical
        (["--no-sync", "--since", "2026-03-01"], None),
        (["--no-sync", "--source", "sdk"], None),
        (["--no-sync", "--json", "--json"], None),
        (["--no-sync", "--json=yes"], None),
        (["--no-sync", "-d=x.db"], None),
        (["--no-sync", "-d"], None),
        (["--no-sync", "--help"], None),
    ],
)
def test_only_options_that_need_no_checking_take_the_short_way(
    args: list[str], expected: dict[str, object] | None
) -> None:
    found = kept_report_options(args)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert {key: found[key] for key in expected} == expected


def test_the_kept_answer_as_bytes_is_the_kept_text_in_utf8(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    options = {"database": str(ledger_db), "as_json": True, "project": "caf"}
    assert cached_answer_utf8("session", options) is None  # nothing kept yet
    printed = _run(
        _BY_CLICK, ["session", "--no-sync", "--json", "--project", "caf", "-d", str(ledger_db)]
    )
    kept = cached_answer("session", options)
    assert kept is not None and "café" in kept
    assert cached_answer_utf8("session", options) == kept.encode("utf-8") == printed.stdout


def test_a_kept_answer_streamed_in_chunks_is_the_kept_bytes(
    ledger_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokentrail.cached_reports import write_cached_answer
    from tokentrail.store import report_cache

    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setattr(report_cache, "CHUNK_BYTES", 7)
    options = {"database": str(ledger_db), "as_json": True, "project": "caf"}
    chunks: list[bytes] = []
    assert not write_cached_answer("session", options, chunks.append) and not chunks
    _run(_BY_CLICK, ["session", "--no-sync", "--json", "--project", "caf", "-d", str(ledger_db)])
    assert write_cached_answer("session", options, chunks.append)
    assert len(chunks) > 1 and all(len(chunk) <= 7 for chunk in chunks)
    assert b"".join(chunks) == cached_answer_utf8("session", options)
    with Ledger(ledger_db, config=Config()) as ledger:  # any write: the answer is not current
        ledger.record_events(
            [
                UsageEvent(
                    key="stream:1",
                    source="claude_code",
                    timestamp=datetime.now(UTC),
                    model="claude-sonnet-4-5",
                    tokens=Tokens(input=1, output=1),
                    session_key="café-2",
                )
            ]
        )
    more: list[bytes] = []
    assert not write_cached_answer("session", options, more.append) and not more


@pytest.mark.parametrize(
    "args",
    [
        ["daily", "--no-sync", "--json"],
        ["weekly", "--no-sync", "--csv"],
        ["monthly", "--no-sync"],
        ["session", "--no-sync", "--json", "--breakdown"],
        ["daily", "--no-sync", "--project", "app"],
    ],
)
def test_a_kept_answer_is_printed_without_click_exactly_as_click_prints_it(
    ledger_db: Path, args: list[str]
) -> None:
    command = [*args, "-d", str(ledger_db)]
    first = _run(_BY_ENTRY_POINT, command)  # computed (through click) and kept
    second = _run(_BY_ENTRY_POINT, command)
    by_click = _run(_BY_CLICK, command)
    assert first.stdout == second.stdout == by_click.stdout and second.stdout
    assert "click" in orjson.loads(first.stderr)
    assert "click" not in orjson.loads(second.stderr)


def test_a_table_drawn_in_colour_is_answered_by_click_every_time(ledger_db: Path) -> None:
    """FORCE_COLOR makes rich draw as on a terminal: such a table is never kept, so each run
    goes through click and prints the same colour codes."""
    command = ["monthly", "--no-sync", "-d", str(ledger_db)]
    first = _run(_BY_ENTRY_POINT, command, colour=True)
    second = _run(_BY_ENTRY_POINT, command, colour=True)
    assert first.stdout == second.stdout == _run(_BY_CLICK, command, colour=True).stdout
    assert b"\x1b[" in second.stdout
    assert "click" in orjson.loads(second.stderr)


@pytest.fixture
def active_db(db_path: Path) -> Path:
    """A ledger whose latest requests are recent: there is an active block."""
    now = datetime.now(UTC).replace(microsecond=0)
    with Ledger(db_path, config=Config()) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key=f"claude_code:r-{n}",
                    source="claude_code",
                    timestamp=now - timedelta(minutes=10 * n + 1),
                    tokens=Tokens(input=100, output=20 * n, cache_read=500),
                    model="claude-sonnet-4-5",
                    session_key="s-1",
                    project="/code/app",
                )
                for n in range(8)
            ]
        )
    return db_path


@pytest.mark.parametrize(
    "args",
    [
        ["blocks", "--active", "--no-sync"],
        ["blocks", "--no-sync", "--active", "--json"],
        ["blocks", "--active", "--no-sync", "--csv", "--project", "app"],
    ],
)
def test_the_active_block_is_printed_without_click_exactly_as_click_prints_it(
    active_db: Path, args: list[str]
) -> None:
    command = [*args, "-d", str(active_db)]
    short = _run(_BY_ENTRY_POINT, command)
    by_click = _run(_BY_CLICK, command)
    # the block's time left moves on between the runs: compare what a minute does not change
    assert _without_minutes(short.stdout) == _without_minutes(by_click.stdout)
    assert short.stdout and b"No active block" not in short.stdout
    assert "click" not in orjson.loads(short.stderr)


def _without_minutes(text: bytes) -> bytes:
    import re

    return re.sub(rb"\d+(\.\d+)?", b"N", text)


def test_blocks_with_an_option_to_check_go_through_click(active_db: Path) -> None:
    command = ["blocks", "--active", "--no-sync", "--tz", "utc", "-d", str(active_db)]
    assert "click" in orjson.loads(_run(_BY_ENTRY_POINT, command).stderr)
