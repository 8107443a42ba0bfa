"""Amp source: the usage ledger, message usage, OpenAI's cache-creation bucket, re-reads."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.amp.reader import AmpSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync

DATA = Path(__file__).parent / "data" / "amp" / "threads"
LEDGER = "T-5d0c7a1e-2b3f-4c8d-9e10-aa11bb22cc33"
OLDER = "T-9a8b7c6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
SOURCE = AmpSource()


def amp_home(home: Path) -> Path:
    root = home / ".local" / "share" / "amp" / "threads"
    shutil.copytree(DATA, root)
    return root


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("amp", str(path), "whole"), state or ParseState())


def thread(name: str) -> Path:
    return DATA / f"{name}.json"


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_follows_xdg_data_home(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".local/share/amp/threads"]
    moved = SOURCE.default_roots({"XDG_DATA_HOME": "/data"}, tmp_path)
    assert moved == [Path("/data/amp/threads")]


# Amp's manual: the CLI's data is ~/.local/share/amp on Linux and macOS, and
# %USERPROFILE%\.local\share\amp on Windows (the home, not %APPDATA% or %LOCALAPPDATA%)
PLATFORM_HOMES = {
    "linux": "/home/ana",
    "macos": "/Users/ana",
    "windows": "C:/Users/ana",  # %USERPROFILE%, the home tokentrail is given there
}
WINDOWS_VARIABLES = {
    "APPDATA": "C:/Users/ana/AppData/Roaming",
    "LOCALAPPDATA": "C:/Users/ana/AppData/Local",
}


@pytest.mark.parametrize("platform", PLATFORM_HOMES)
def test_default_root_is_the_xdg_data_dir_under_the_home_on_every_platform(platform: str) -> None:
    home = Path(PLATFORM_HOMES[platform])
    expected = [home / ".local" / "share" / "amp" / "threads"]
    assert SOURCE.default_roots({}, home) == expected
    assert SOURCE.default_roots(WINDOWS_VARIABLES, home) == expected


def test_every_thread_is_found(isolated_home: Path) -> None:
    root = amp_home(isolated_home)
    (root / "notes.json").write_text("{}")  # not a thread

    found = [Path(f.path).name for f in SOURCE.discover(SOURCE.default_roots({}, isolated_home))]

    assert found == [f"{LEDGER}.json", f"{OLDER}.json"]
    assert {f.kind for f in SOURCE.discover([root])} == {"whole"}
    assert list(SOURCE.discover([isolated_home / "nowhere"])) == []


# --- the counting rules ----------------------------------------------------------------------


def test_the_ledger_events_are_the_requests() -> None:
    result = parse(thread(LEDGER))

    events = {e.key.rpartition(":")[2]: e for e in result.events}
    assert sorted(events) == ["ev-01", "ev-02", "ev-03", "ev-04"]
    assert result.duplicates == 1  # ev-02 written twice
    # cache counts come from the assistant message the event answered
    assert events["ev-01"].tokens.as_tuple() == (14, 21_000, 9_000, None, 420, None)
    # an event without a message (a title call) has no cache split
    assert events["ev-03"].tokens.as_tuple() == (900, None, None, None, 40, None)
    assert events["ev-01"].timestamp == datetime(2026, 2, 10, 9, 0, 20, tzinfo=UTC)
    assert events["ev-01"].project == "/home/ana/src/uploader"
    assert events["ev-01"].reported_cost_usd is None  # credits are not dollars
    assert b'"credits":4.1' in (events["ev-01"].raw_usage or b"")


def test_an_openai_models_cache_creation_is_uncached_input() -> None:
    events = {e.key.rpartition(":")[2]: e for e in parse(thread(LEDGER)).events}

    gpt = events["ev-04"]
    assert (gpt.model, gpt.tokens.input, gpt.tokens.cache_write_5m) == ("gpt-5", 4_000, 0)
    assert gpt.tokens.cache_read == 8_000


def test_without_a_ledger_each_assistant_message_is_a_request() -> None:
    result = parse(thread(OLDER))

    events = {e.key.rpartition(":")[2]: e for e in result.events}
    assert sorted(events) == ["1", "2"]  # message 3 was cancelled before the model answered
    assert events["1"].tokens.as_tuple() == (2_500, 0, 0, None, 700, None)
    # a message without its own time is dated when its thread started
    assert events["2"].timestamp == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert events["2"].project == "webapp"
    session = result.sessions[0]
    assert (session.key, session.title) == (f"amp:{OLDER}", "Explain the build")


def test_a_grown_thread_re_read_whole_keeps_its_keys(tmp_path: Path) -> None:
    path = tmp_path / f"{LEDGER}.json"
    document = orjson.loads(thread(LEDGER).read_bytes())
    document["usageLedger"]["events"] = document["usageLedger"]["events"][:2]
    path.write_bytes(orjson.dumps(document))
    before = {e.key for e in parse(path).events}

    shutil.copy(thread(LEDGER), path)
    after = {e.key for e in parse(path).events}

    assert before < after and len(after - before) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"id": "T-x", "messages": [', "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (
            b'{"id": "T-x", "usageLedger": {"events": [{"id": "e", "timestamp": '
            b'"2026-02-10T09:00:00Z", "model": "m", "tokens": {"input": 1e30}}]}}',
            "invalid_count",
        ),
        (
            b'{"id": "T-x", "usageLedger": {"events": [{"id": "e", "timestamp": "soon", '
            b'"model": "m", "tokens": {"input": 5}}]}}',
            "bad_timestamp",
        ),
    ],
)
def test_bad_threads_are_counted_skips(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "T-x.json"
    path.write_bytes(content)

    result = parse(path)

    assert result.events == []
    assert [s.reason for s in result.skips] == [reason]


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "T-fifo.json"
    os.mkfifo(fifo)

    with pytest.raises(OSError, match="FIFO"):
        parse(fifo)


# --- through the ledger ----------------------------------------------------------------------


def test_sync_counts_the_sample_home_once(isolated_home: Path, db_path: Path) -> None:
    root = amp_home(isolated_home)

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["amp"])
        # Amp rewrites a thread whole: touching it re-reads it, and counts nothing again
        os.utime(root / f"{LEDGER}.json", (1_900_000_000, 1_900_000_000))
        again = sync(ledger, source_names=["amp"])

    assert (first.new_events, again.files_read, again.new_events) == (6, 1, 0)
    with sqlite3.connect(db_path) as conn:
        rows = dict(conn.execute("SELECT session_key, COUNT(*) FROM events GROUP BY 1").fetchall())
    assert rows == {f"amp:{LEDGER}": 4, f"amp:{OLDER}": 2}


def test_an_unknown_model_is_kept_unpriced(isolated_home: Path, db_path: Path) -> None:
    amp_home(isolated_home)

    result = CliRunner().invoke(
        cli, ["daily", "--source", "amp", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["totals"]["requests"] == 6
    assert [m["model"] for m in report["unpriced_models"]] == ["mystery-model-9"]
