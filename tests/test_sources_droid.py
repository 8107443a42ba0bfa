"""Factory Droid source: growth of the running tokenUsage total, copies of one session."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.droid.reader import DroidSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "droid" / ".factory" / "sessions"
PROJECT_DIR = "-home-ana-src-webapp"
MAIN = "a3c1e5f0-7b2d-4e89-9f10-2b3c4d5e6f70"
CUSTOM = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f81"
EMPTY = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
SEEN = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
SOURCE = DroidSource()


def droid_home(home: Path) -> Path:
    root = home / ".factory" / "sessions"
    shutil.copytree(DATA, root)
    return root


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("droid", str(path), "whole"), state or ParseState())


def usage(
    input: int, output: int = 0, write: int = 0, read: int = 0, thinking: int = 0
) -> dict[str, int]:
    return {
        "inputTokens": input,
        "outputTokens": output,
        "cacheCreationTokens": write,
        "cacheReadTokens": read,
        "thinkingTokens": thinking,
    }


def write_settings(
    path: Path, token_usage: dict[str, Any] | None, when: datetime = SEEN, **extra: Any
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {"model": "claude-sonnet-4-5-20250929", "providerLock": "anthropic"}
    if token_usage is not None:
        document["tokenUsage"] = token_usage
    path.write_bytes(orjson.dumps({**document, **extra}))
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def summed(*results: ParseResult) -> tuple[int, ...]:
    total = [0] * 6
    for result in results:
        for event in result.events:
            total = [t + (v or 0) for t, v in zip(total, event.tokens.as_tuple(), strict=True)]
    return tuple(total)


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_the_factory_sessions_folder(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".factory" / "sessions"]


# Factory's docs: ~/.factory on macOS and Linux, %USERPROFILE%\.factory on Windows
@pytest.mark.parametrize("home", ["/home/ana", "/Users/ana", "C:/Users/ana"])
def test_default_root_is_under_the_home_on_every_platform(home: str) -> None:
    windows = {"APPDATA": f"{home}/AppData/Roaming", "LOCALAPPDATA": f"{home}/AppData/Local"}
    expected = [Path(home) / ".factory" / "sessions"]
    assert SOURCE.default_roots({}, Path(home)) == expected
    assert SOURCE.default_roots(windows, Path(home)) == expected


def test_every_settings_file_is_found(isolated_home: Path) -> None:
    root = droid_home(isolated_home)

    found = sorted(f.path for f in SOURCE.discover(SOURCE.default_roots({}, isolated_home)))

    assert found == sorted(
        [
            str(root / f"{MAIN}.settings.json"),
            str(root / PROJECT_DIR / f"{MAIN}.settings.json"),
            str(root / PROJECT_DIR / f"{CUSTOM}.settings.json"),
            str(root / PROJECT_DIR / f"{EMPTY}.settings.json"),
        ]
    )
    assert list(SOURCE.discover([isolated_home / "nowhere"])) == []


# --- the counting rules ----------------------------------------------------------------------


def test_a_first_read_counts_the_totals_with_thinking_on_top_of_output(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", usage(1_000, 200, 300, 5_000, 50))

    result = parse(path)

    [event] = result.events
    assert event.tokens == Tokens(
        input=1_000, cache_read=5_000, cache_write_5m=300, output=250, reasoning=50
    )
    assert (event.model, event.provider, event.timestamp) == (
        "claude-sonnet-4-5-20250929",
        "anthropic",
        SEEN,
    )
    assert orjson.loads(event.raw_usage or b"")["derived_from"] == "tokenUsage"
    assert event.key == "droid:s1:0:0"


def test_only_the_growth_between_two_reads_is_counted(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", usage(1_000, 200))
    first = parse(path)
    later = SEEN.replace(hour=10)
    write_settings(path, usage(1_600, 260, read=900), when=later)

    second = parse(path, ParseState(memory=first.state.memory))

    [event] = second.events
    assert event.tokens.as_tuple() == (600, 900, 0, None, 60, 0)
    assert event.timestamp == later
    assert event.key == "droid:s1:0:1200"


def test_reading_the_same_totals_again_counts_nothing(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", usage(1_000, 200))
    first = parse(path)

    again = parse(path, ParseState(memory=first.state.memory))
    replayed = parse(path)  # a kill before the commit: the same memory, the same key

    assert again.events == []
    assert [e.key for e in replayed.events] == [e.key for e in first.events]


def test_totals_that_shrink_never_count_negative_or_twice(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", usage(1_000, 200))
    first = parse(path)
    write_settings(path, usage(300, 20))
    rebuilt = parse(path, ParseState(memory=first.state.memory))
    write_settings(path, usage(500, 50))
    grown = parse(path, ParseState(memory=rebuilt.state.memory))

    assert rebuilt.events == []
    assert [s.reason for s in rebuilt.skips] == ["snapshot_rebuilt"]
    [event] = grown.events
    assert event.tokens.input == 200 and event.key == "droid:s1:1:320"


def test_a_malformed_file_changes_nothing_until_it_reads_again(tmp_path: Path) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", usage(1_000))
    first = parse(path)
    path.write_bytes(b'{"tokenUsage": {"inputTokens": 12')
    broken = parse(path, ParseState(memory=first.state.memory))
    write_settings(path, usage(1_400))
    fixed = parse(path, ParseState(memory=broken.state.memory))

    assert broken.events == [] and [s.reason for s in broken.skips] == ["malformed_json"]
    assert [e.tokens.input for e in fixed.events] == [400]


@pytest.mark.parametrize(
    ("token_usage", "reason"),
    [({"inputTokens": -5}, "invalid_count"), ({"inputTokens": 1e30}, "invalid_count")],
)
def test_a_bad_count_is_a_counted_skip(tmp_path: Path, token_usage: Any, reason: str) -> None:
    path = write_settings(tmp_path / "p" / "s1.settings.json", token_usage)

    result = parse(path)

    assert result.events == [] and [s.reason for s in result.skips] == [reason]


def test_a_session_without_usage_yet_is_a_session_without_requests() -> None:
    result = parse(DATA / PROJECT_DIR / f"{EMPTY}.settings.json")

    assert result.events == [] and result.skips == []
    assert result.sessions[0].key == f"droid:{EMPTY}"


def test_the_conversation_file_names_the_folder_and_title() -> None:
    result = parse(DATA / PROJECT_DIR / f"{MAIN}.settings.json")

    session = result.sessions[0]
    assert (session.project, session.title) == (
        "/home/ana/src/webapp",
        "Add a health check endpoint",
    )
    assert {e.project for e in result.events} == {"/home/ana/src/webapp"}


@pytest.mark.parametrize("first", ["top", "project"])
def test_two_files_of_one_session_are_counted_as_one(first: str) -> None:
    top = DATA / f"{MAIN}.settings.json"
    project = DATA / PROJECT_DIR / f"{MAIN}.settings.json"
    order = (top, project) if first == "top" else (project, top)

    results = [parse(path) for path in order]

    # the project copy is the later state: the session's totals, once
    assert summed(*results)[:5] == (48_200, 812_000, 31_000, 0, 9_100 + 2_400)
    assert {e.session_key for r in results for e in r.events} == {f"droid:{MAIN}"}


def test_two_equal_copies_are_counted_once(tmp_path: Path) -> None:
    one = write_settings(tmp_path / "s1.settings.json", usage(700, 70))
    two = write_settings(tmp_path / "p" / "s1.settings.json", usage(700, 70))

    assert summed(parse(one), parse(two))[0] == 700


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "s1.settings.json"
    os.mkfifo(fifo)

    with pytest.raises(OSError, match="FIFO"):
        parse(fifo)


# --- through the ledger ----------------------------------------------------------------------


def token_sums(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COUNT(*), SUM(input), SUM(cache_read), SUM(output), SUM(reasoning) FROM events"
        ).fetchone()
    return tuple(x or 0 for x in row)


def test_growth_across_syncs_is_counted_once_and_exactly(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_settings(
        isolated_home / ".factory" / "sessions" / "p" / "s1.settings.json", usage(1_000, 100)
    )
    with Ledger(db_path) as ledger:
        sync(ledger, source_names=["droid"])
        write_settings(path, usage(1_500, 180, thinking=20), when=SEEN.replace(hour=11))
        grown = sync(ledger, source_names=["droid"])
        # Droid rewrites the file with the same totals (a setting changed)
        write_settings(path, usage(1_500, 180, thinking=20), when=SEEN.replace(hour=12))
        rewritten = sync(ledger, source_names=["droid"])

    assert grown.new_events == 1
    assert rewritten.files_read == 1 and rewritten.new_events == 0
    assert token_sums(db_path) == (2, 1_500, 0, 200, 20)


def test_sync_counts_the_sample_home_once(isolated_home: Path, db_path: Path) -> None:
    droid_home(isolated_home)

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["droid"])
        again = sync(ledger, source_names=["droid"])

    assert (first.new_events, again.new_events, again.files_read) == (3, 0, 0)
    assert token_sums(db_path)[1] == 48_200 + 1_500


def test_a_custom_model_is_kept_unpriced(isolated_home: Path, db_path: Path) -> None:
    droid_home(isolated_home)

    result = CliRunner().invoke(
        cli, ["daily", "--source", "droid", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert [m["model"] for m in report["unpriced_models"]] == ["custom:My-Local-Llama-[Ollama]-0"]
    assert report["totals"]["unpriced_requests"] == 1
