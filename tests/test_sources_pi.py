"""pi source: discovery, counting rules, copies in forks and subagents, incremental reads."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.pi.reader import PiSource
from tokentrail.cli import cli
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import source_roots, sync
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "pi"
PROJECT = "--home-ana-src-webapp--"
MAIN_ID = "6c1f3a2e-4b7d-4e8a-9f10-2b3c4d5e6f70"
FORK_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
SUBAGENT_ID = "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"
MAIN = f"{PROJECT}/2026-03-02T10-15-00-000Z_{MAIN_ID}.jsonl"
FORK = f"{PROJECT}/2026-03-02T11-00-00-000Z_{FORK_ID}.jsonl"
SUBAGENT = f"{PROJECT}/subagent-artifacts/2026-03-02T10-20-00-000Z_{SUBAGENT_ID}.jsonl"
SOURCE = PiSource()


# --- builders ------------------------------------------------------------------------------


def usage(input: int = 900, output: int = 120, read: int = 0, write: int = 0, cost: float = 0.01):
    return {
        "input": input,
        "output": output,
        "cacheRead": read,
        "cacheWrite": write,
        "totalTokens": input + output + read + write,
        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": cost},
    }


def header(session_id: str = MAIN_ID, **extra: Any) -> dict[str, Any]:
    return {
        "type": "session",
        "version": 3,
        "id": session_id,
        "timestamp": "2026-04-01T08:00:00.000Z",
        "cwd": "/home/ana/src/api",
        **extra,
    }


def reply(entry_id: str, started_ms: int, raw: Mapping[str, Any], **message: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "id": entry_id,
        "parentId": None,
        "timestamp": "2026-04-01T08:00:05.000Z",
        "message": {
            "role": "assistant",
            "content": [{"type": "text", "text": "done"}],
            "api": "anthropic-messages",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "usage": raw,
            "stopReason": "stop",
            "timestamp": started_ms,
            **message,
        },
    }


def write_jsonl(path: Path, records: Iterable[object], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode + "b") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("pi", str(path), "append"), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


def sessions_root(home: Path) -> Path:
    root = home / ".pi" / "agent" / "sessions"
    shutil.copytree(DATA / PROJECT, root / PROJECT)
    return root


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_the_sessions_folder_of_the_agent_dir(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".pi" / "agent" / "sessions"]


def test_pi_coding_agent_dir_moves_the_agent_dir(tmp_path: Path) -> None:
    assert SOURCE.default_roots({"PI_CODING_AGENT_DIR": "~/work-pi"}, tmp_path) == [
        tmp_path / "work-pi" / "sessions"
    ]
    assert SOURCE.default_roots({"PI_CODING_AGENT_DIR": "/opt/pi"}, tmp_path) == [
        Path("/opt/pi/sessions")
    ]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    env = {"TOKENTRAIL_PI_PATHS": "/a/sessions:/b/sessions", "PI_CODING_AGENT_DIR": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [
        Path("/a/sessions"),
        Path("/b/sessions"),
    ]


def test_discover_finds_sessions_forks_and_subagents(isolated_home: Path) -> None:
    root = sessions_root(isolated_home)
    (root / PROJECT / "notes.txt").write_text("not a session")

    found = sorted(Path(f.path).relative_to(root).as_posix() for f in SOURCE.discover([root]))

    assert found == sorted([MAIN, FORK, SUBAGENT])


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope"])) == []


# --- counting rules --------------------------------------------------------------------------


def test_buckets_are_disjoint_and_pi_cost_is_the_reported_cost() -> None:
    result = parse(DATA / MAIN)

    first = min(result.events, key=lambda e: e.timestamp)
    assert first.tokens == Tokens(input=1200, cache_read=0, cache_write_5m=9800, output=180)
    assert first.tokens.total == 1200 + 180 + 9800  # pi's totalTokens
    assert first.reported_cost_usd == 0.041
    assert (first.model, first.provider) == ("claude-sonnet-4-5", "anthropic")
    assert first.session_key == f"pi:{MAIN_ID}"
    assert first.project == "/home/ana/src/webapp"


def test_the_request_is_dated_when_it_started() -> None:
    first = min(parse(DATA / MAIN).events, key=lambda e: e.timestamp)
    # message.timestamp (epoch ms), not the entry's timestamp written when the reply ended
    assert first.timestamp.isoformat() == "2026-03-02T10:15:05.200000+00:00"


def test_an_error_reply_with_zero_usage_is_a_counted_skip_not_a_request() -> None:
    result = parse(DATA / MAIN)

    assert len(result.events) == 3
    [skip] = result.skips
    assert (skip.reason, skip.line) == ("empty_usage", 10)


def test_the_session_carries_name_project_and_model() -> None:
    [session] = parse(DATA / MAIN).sessions

    assert session.key == f"pi:{MAIN_ID}"
    assert session.title == "Fix flaky clock test"
    assert session.project == "/home/ana/src/webapp"
    assert session.model == "claude-sonnet-4-5"
    assert session.started_at is not None and session.started_at.isoformat().startswith(
        "2026-03-02T10:15:00"
    )


def test_a_fork_names_its_parent_session() -> None:
    [session] = parse(DATA / FORK).sessions

    assert session.parent_key == f"pi:{MAIN_ID}"
    assert session.relationship == "fork"


@pytest.mark.parametrize("order", [(MAIN, FORK, SUBAGENT), (SUBAGENT, FORK, MAIN)])
def test_copied_history_is_counted_once_whatever_the_read_order(order: tuple[str, ...]) -> None:
    merged = by_key(event for name in order for event in parse(DATA / name).events)

    # 3 requests of the main session, 1 of the fork, 1 of the subagent
    assert len(merged) == 5
    shared = [e for e in merged.values() if e.reported_cost_usd in (0.041, 0.012)]
    assert len(shared) == 2
    # the session that started first (the original) owns the copied requests
    assert {e.session_key for e in shared} == {f"pi:{MAIN_ID}"}


def test_a_migrated_file_with_new_entry_ids_keeps_the_same_keys(tmp_path: Path) -> None:
    # pi rewrites a version-1 file with freshly generated entry ids when it loads it
    raw = usage(read=4000, write=300)
    before = write_jsonl(
        tmp_path / "a" / "s.jsonl", [header(), reply("1f2e3d4c", 1775030405000, raw)]
    )
    after = write_jsonl(
        tmp_path / "b" / "s.jsonl", [header(), reply("9a9a9a9a", 1775030405000, raw)]
    )

    assert [e.key for e in parse(before).events] == [e.key for e in parse(after).events]


def test_two_requests_with_the_same_usage_at_different_times_are_two(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            header(),
            reply("aaaa0001", 1775030405000, usage()),
            reply("aaaa0002", 1775030409000, usage()),
        ],
    )

    assert len({e.key for e in parse(path).events}) == 2


def test_unknown_model_is_kept_and_a_zero_pi_cost_is_not_reported(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            header(),
            reply("aaaa0001", 1775030405000, usage(cost=0), model="local-7b", provider="ollama"),
        ],
    )

    [event] = parse(path).events

    assert event.model == "local-7b"
    assert event.tokens.total == 1020
    # pi writes 0 for a model it has no price for: not known, not free
    assert event.reported_cost_usd is None


# --- bad input -------------------------------------------------------------------------------


def test_malformed_lines_are_counted_skips_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write_jsonl(path, [header(), reply("aaaa0001", 1775030405000, usage())])
    with open(path, "ab") as handle:
        handle.write(b'{"type":"message","message":{"role":"assistant","usage":{"input":\n')
        handle.write(b'["usage"]\n')
        handle.write(orjson.dumps(reply("aaaa0002", 1775030406000, usage(input=-5))) + b"\n")
        handle.write(orjson.dumps(reply("aaaa0003", 1775030407000, usage(), timestamp="x")) + b"\n")
    write_jsonl(path, [reply("aaaa0004", 1775030408000, usage(output=7))], mode="a")

    result = parse(path)

    assert len(result.events) == 2
    assert [(s.reason, s.line) for s in result.skips] == [
        ("malformed_json", 3),
        ("malformed_json", 4),
        ("invalid_count", 5),
    ]


def test_a_reply_without_any_timestamp_is_a_counted_skip(tmp_path: Path) -> None:
    record = reply("aaaa0001", 0, usage())
    del record["message"]["timestamp"]
    record["timestamp"] = "not a time"
    path = write_jsonl(tmp_path / "s.jsonl", [header(), record])

    result = parse(path)

    assert result.events == []
    assert [s.reason for s in result.skips] == ["bad_timestamp"]


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [header(), reply("aaaa0001", 1775030405000, usage())])
    with open(path, "ab") as handle:
        handle.write(orjson.dumps(reply("aaaa0002", 1775030406000, usage()))[:-20])

    result = parse(path)

    assert len(result.events) == 1
    assert result.pending_partial_line


# --- incremental reads -----------------------------------------------------------------------


def test_appended_lines_are_read_alone_and_keep_the_session(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / f"2026-04-01T08-00-00-000Z_{MAIN_ID}.jsonl",
        [header(), reply("aaaa0001", 1775030405000, usage())],
    )
    first = parse(path)
    size = path.stat().st_size
    assert first.state.offset == size

    write_jsonl(path, [reply("aaaa0002", 1775030409000, usage(output=77))], mode="a")
    second = parse(path, first.state)

    [event] = second.events
    assert event.tokens.output == 77
    # the header was read the first time only: its session and project come from memory
    assert event.session_key == f"pi:{MAIN_ID}"
    assert event.project == "/home/ana/src/api"
    assert second.state.offset == path.stat().st_size > size


def test_sync_counts_each_request_once_and_then_reads_nothing(
    isolated_home: Path, db_path: Path
) -> None:
    sessions_root(isolated_home)

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["pi"])
        again = sync(ledger, source_names=["pi"])
        totals = ledger.store.totals(Filters(sources=("pi",)))
    with sqlite3.connect(db_path) as conn:
        owners = conn.execute(
            "SELECT session_key, COUNT(*) FROM events GROUP BY session_key ORDER BY 1"
        ).fetchall()

    assert (first.files_found, first.new_events) == (3, 5)
    assert (again.files_read, again.new_events) == (0, 0)
    assert totals.requests == 5
    # copied requests belong to the original session, each new one to its own session
    assert owners == [(f"pi:{SUBAGENT_ID}", 1), (f"pi:{MAIN_ID}", 3), (f"pi:{FORK_ID}", 1)]


def test_daily_report_for_pi_on_a_real_home(isolated_home: Path, db_path: Path) -> None:
    sessions_root(isolated_home)

    result = CliRunner().invoke(
        cli, ["daily", "--source", "pi", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    [row] = report["rows"]
    assert row["period"] == "2026-03-02"
    assert row["requests"] == 5
    assert row["input_tokens"] == 1200 + 350 + 5400 + 800 + 2500
    assert row["cache_write_tokens"] == 9800 + 600
    assert row["unpriced_requests"] == 1  # the subagent's local model: unpriced, never zero
    assert report["unpriced_models"][0]["model"] == "local-scout-7b"
    assert row["cost_usd"] > 0


def test_only_a_subagent_folder_inside_a_project_marks_subagents(tmp_path: Path) -> None:
    records = [header(), reply("aaaa0001", 1775030405000, usage())]
    project = write_jsonl(tmp_path / "--home-ana-subagent-lab--" / f"t_{MAIN_ID}.jsonl", records)
    nested = write_jsonl(
        tmp_path / "--home-ana-api--" / "subagent-artifacts" / f"t_{MAIN_ID}.jsonl", records
    )

    assert parse(project).events[0].rank.startswith("0|")
    assert parse(nested).events[0].rank.startswith("1|")
