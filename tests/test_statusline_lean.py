"""The status line's lean paths: what they import (a fresh process, ``sys.modules`` read at its
end) and, for a status line that records new turns, that the ledger ends up exactly as one full
``tokentrail sync`` of the same files leaves it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from builders import (
    claude_assistant,
    claude_session_file,
    claude_user,
    iso_minutes_ago,
    run_recording_modules,
    write_jsonl,
)
from tokentrail.cli import cli

SESSION = "7a1d2c3b-2222-4333-8444-a55556666777"

OTHER_AGENTS = ("codex", "gemini", "cursor", "opencode", "aider", "amp", "qwen", "copilot")
"""Packages of agents other than Claude Code: a status line reads only Claude Code's files."""


def _status_json(transcript: Path) -> bytes:
    return orjson.dumps(
        {
            "session_id": SESSION,
            "transcript_path": str(transcript),
            "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
            "cost": {"total_cost_usd": 0.5},
        }
    )


def _tool_turn(index: int, minutes_ago: float) -> list[dict[str, Any]]:
    """A prompt, a reply streamed as two snapshots of one message (the second with the final
    output count) that runs a tool, and the tool's result."""
    call = f"toolu_{index:04d}"
    reply = f"msg_lean_{index}"
    first = claude_assistant(SESSION, iso_minutes_ago(minutes_ago - 0.2), reply, output_tokens=10)
    final = claude_assistant(
        SESSION,
        iso_minutes_ago(minutes_ago - 0.3),
        reply,
        output_tokens=300 + index,
        cache_read=9_000,
    )
    final["message"]["content"] = [
        {"type": "tool_use", "id": call, "name": "Bash", "input": {"command": "ls"}}
    ]
    result = claude_user(SESSION, iso_minutes_ago(minutes_ago - 0.4))
    result["message"] = {
        "role": "user",
        "content": [{"tool_use_id": call, "type": "tool_result", "content": "a.txt"}],
    }
    return [claude_user(SESSION, iso_minutes_ago(minutes_ago)), first, final, result]


def _modules(db: Path, args: list[str], stdin: bytes = b"") -> tuple[str, set[str]]:
    return run_recording_modules(args, db.with_name("modules.txt"), stdin)


def test_recording_a_new_turn_imports_only_claude_codes_reader(
    isolated_home: Path, db_path: Path
) -> None:
    """A status line that records new lines reads one Claude Code transcript: no other agent's
    package, no worker processes, no click, rich or reports."""
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _tool_turn(0, 30))
    _modules(db_path, ["statusline", "-d", str(db_path)], _status_json(transcript))
    write_jsonl(transcript, _tool_turn(1, 20), append=True)
    line, modules = _modules(db_path, ["statusline", "-d", str(db_path)], _status_json(transcript))
    assert line.startswith("session $"), line
    assert "tokentrail.agents.claude_code.reader" in modules  # it did record the turn
    heavy = {f"tokentrail.agents.{name}" for name in OTHER_AGENTS} | {
        "multiprocessing",
        "concurrent.futures",
        "ctypes",
        "click",
        "rich",
        "tokentrail.cli",
        "tokentrail.reports",
    }
    assert heavy & modules == set()


def test_the_active_block_imports_no_write_side_and_no_click(
    isolated_home: Path, db_path: Path
) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _tool_turn(0, 30))
    _modules(db_path, ["statusline", "-d", str(db_path)], _status_json(transcript))
    for flags in ([], ["--json"]):
        output, modules = _modules(
            db_path, ["blocks", "--active", "--no-sync", "-d", str(db_path), *flags]
        )
        assert "ACTIVE" in output or '"active": true' in output, output
        heavy = {
            "click",
            "tokentrail.cli",
            "tokentrail.ledger",
            "tokentrail.store.base",
            "tokentrail.store.sqlite",
            "tokentrail.pricing",
            "tokentrail.usage",
            "tokentrail.agents",
            "tokentrail.sources",
            "tokentrail.sync",
            "tokentrail.reports",
        }
        # the table to a pipe is drawn without rich (tests/test_blocks_plain.py: the same bytes)
        assert heavy & modules == set(), flags
        assert "rich" not in modules, flags


_COMPARED: dict[str, tuple[str, ...]] = {
    # every column a sync writes, less the ids and change counters that number the writes
    "events": ("id", "changed_seq"),
    "sessions": (),
    "session_totals": (),
    "rollups": (),
    "rollups_hourly": (),
    "tool_calls": ("change_seq",),
    "tool_results": ("change_seq",),
    "rate_limits": ("change_seq",),
    "cursors": (),
    "event_aliases": (),
}


def _ledger_rows(db: Path, also_skipped: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with sqlite3.connect(db) as conn:
        for table, skipped in _COMPARED.items():
            columns = [
                row[1]
                for row in conn.execute(f"PRAGMA table_info({table})")
                if row[1] not in (*skipped, *also_skipped)
            ]
            query = f"SELECT {', '.join(columns)} FROM {table}"
            rows[table] = sorted(conn.execute(query).fetchall(), key=repr)
    return rows


def test_recording_turn_by_turn_writes_what_a_sync_writes(
    isolated_home: Path, tmp_path: Path
) -> None:
    """Three status updates, each after new turns were appended (one of them cut mid-line, as
    a live transcript is read while Claude Code writes it; a subagent's file appearing on the
    way), leave the ledger exactly as ``tokentrail sync`` run at the same moments does, and as
    one sync of the final files does but for the rank (a reader's tie-break between copies
    of a reply, which ends with the file's latest timestamp when the reply was read)."""
    transcript = claude_session_file(isolated_home, SESSION)
    by_status, by_syncs, by_one_sync = (tmp_path / f"{n}.db" for n in ("status", "syncs", "one"))
    status = _status_json(transcript)

    def update() -> None:
        result = CliRunner().invoke(
            cli, ["statusline", "-d", str(by_status)], input=status, catch_exceptions=False
        )
        assert result.exit_code == 0 and result.output.startswith("session $"), result.output
        synced = CliRunner().invoke(cli, ["sync", "-d", str(by_syncs), "--quiet"])
        assert synced.exit_code == 0, synced.output

    write_jsonl(transcript, [*_tool_turn(0, 50), *_tool_turn(1, 45)])
    update()
    later = b"".join(
        orjson.dumps(line) + b"\n" for line in [*_tool_turn(2, 40), *_tool_turn(3, 35)]
    )
    cut = len(later) // 2 + 7  # inside a line: the rest arrives before the next update
    with open(transcript, "ab") as handle:
        handle.write(later[:cut])
    update()
    with open(transcript, "ab") as handle:
        handle.write(later[cut:])
    agent_line = claude_assistant(
        SESSION,
        iso_minutes_ago(33),
        "msg_lean_agent",
        sidechain=True,
        agent_id="b1c2d3",
        cache_read=5_000,
    )
    write_jsonl(transcript.with_suffix("") / "subagents" / "agent-b1c2d3.jsonl", [agent_line])
    update()
    synced = CliRunner().invoke(cli, ["sync", "-d", str(by_one_sync), "--json"])
    assert orjson.loads(synced.output)["new_events"] == 5  # 4 replies and the subagent's
    status_rows = _ledger_rows(by_status)
    assert len(status_rows["events"]) == 5 and len(status_rows["tool_calls"]) == 4
    assert status_rows == _ledger_rows(by_syncs)
    assert _ledger_rows(by_status, ("rank",)) == _ledger_rows(by_one_sync, ("rank",))
