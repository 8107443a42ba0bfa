"""``tokentrail statusline``: real status JSON on stdin, real transcripts, real ledgers."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from builders import claude_assistant, claude_session_file, claude_user, write_jsonl
from tokentrail.cli import cli
from tokentrail.formatting import usd_compact
from tokentrail.statusline import BUSY_MARKER

SESSION = "5f0c6f4e-1111-4222-8333-944445555666"

# every test writes turns minutes ago and reads them back as today's: in a zone where it is
# about noon now, a run just after midnight reads them as it does at any other hour
pytestmark = pytest.mark.usefixtures("midday_zone")


def _now_iso(minutes_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status_json(transcript: Path, session: str = SESSION) -> bytes:
    return orjson.dumps(
        {
            "hook_event_name": "Status",
            "session_id": session,
            "transcript_path": str(transcript),
            "cwd": "/home/dev/code/webapp",
            "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
            "workspace": {
                "current_dir": "/home/dev/code/webapp",
                "project_dir": "/home/dev/code/webapp",
            },
            "version": "2.0.14",
            "output_style": {"name": "default"},
            "cost": {
                "total_cost_usd": 0.0123,
                "total_duration_ms": 45000,
                "total_api_duration_ms": 2300,
                "total_lines_added": 156,
                "total_lines_removed": 23,
            },
            "exceeds_200k_tokens": False,
        }
    )


def _turns(session: str, start: int, count: int, minutes_ago: float) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for i in range(start, start + count):
        at = minutes_ago - 2 * (i - start)
        lines.append(claude_user(session, _now_iso(at)))
        lines.append(
            claude_assistant(
                session,
                _now_iso(at - 0.5),
                f"msg_{session[:4]}_{i}",
                input_tokens=1000,
                output_tokens=500,
                cache_read=20_000,
            )
        )
    return lines


def _run(db: Path, stdin: bytes, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["statusline", "-d", str(db), *args], input=stdin, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.output.endswith("\n") and result.output.count("\n") == 1, result.output
    return result.output.strip()


def _requests(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    return int(count)


def test_reads_the_session_transcript_and_answers(isolated_home: Path, db_path: Path) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 3, 30))
    line = _run(db_path, _status_json(transcript))
    assert _requests(db_path) == 3
    # 3 requests of 1,000 + 20,000 + 500 tokens, priced
    assert "session $" in line and "64.5k tok" in line
    # the block began at the hour of the first request, 30 minutes ago: 3.5 to 4.5 hours left
    assert re.search(r"\| today \$0\.\d+ \| block [34]h\d\dm left · \$\d\.\d+/h$", line), line
    assert BUSY_MARKER not in line


def test_catches_up_incrementally_and_sync_counts_nothing_twice(
    isolated_home: Path, db_path: Path
) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 2, 20))
    _run(db_path, _status_json(transcript))
    write_jsonl(transcript, _turns(SESSION, 2, 2, 10), append=True)
    line = _run(db_path, _status_json(transcript))
    assert _requests(db_path) == 4
    assert "86.0k tok" in line
    # a full sync goes on from the statusline's cursor: nothing new, nothing doubled
    synced = CliRunner().invoke(cli, ["sync", "-d", str(db_path), "--json"])
    assert orjson.loads(synced.output)["new_events"] == 0
    assert _requests(db_path) == 4


def test_counts_the_sessions_subagents(isolated_home: Path, db_path: Path) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 1, 20))
    agent_lines = [
        claude_assistant(
            SESSION,
            _now_iso(15),
            "msg_agent_1",
            input_tokens=1000,
            output_tokens=500,
            cache_read=20_000,
            sidechain=True,
            agent_id="a1b2c3",
        )
    ]
    write_jsonl(transcript.with_suffix("") / "subagents" / "agent-a1b2c3.jsonl", agent_lines)
    line = _run(db_path, _status_json(transcript))
    assert _requests(db_path) == 2
    assert "43.0k tok" in line


def test_a_locked_ledger_gets_an_answer_from_what_it_has(
    isolated_home: Path, db_path: Path
) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 2, 20))
    _run(db_path, _status_json(transcript))
    write_jsonl(transcript, _turns(SESSION, 2, 1, 10), append=True)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        line = _run(db_path, _status_json(transcript))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert line.endswith(BUSY_MARKER)
    assert "43.0k tok" in line  # what the ledger had: the two requests before the append
    assert _requests(db_path) == 2
    # once free, the next update catches up
    assert "64.5k tok" in _run(db_path, _status_json(transcript))


def test_works_on_an_empty_ledger_without_a_transcript(db_path: Path) -> None:
    line = _run(db_path, orjson.dumps({"session_id": SESSION, "model": {"display_name": "Opus"}}))
    assert line == "session: nothing recorded yet | today $0.00 | no active block"


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        (b"not json at all", "tokentrail: the input is not JSON"),
        (b"[1, 2]", "tokentrail: expected Claude Code's status JSON on stdin"),
        (b"", "tokentrail: expected Claude Code's status JSON on stdin"),
    ],
)
def test_bad_input_is_one_line_and_exit_0(db_path: Path, stdin: bytes, expected: str) -> None:
    assert _run(db_path, stdin).startswith(expected)


def test_an_unreadable_ledger_is_one_line_and_exit_0(tmp_path: Path) -> None:
    not_a_ledger = tmp_path / "junk.db"
    not_a_ledger.write_bytes(b"this is not a database " * 100)
    line = _run(not_a_ledger, orjson.dumps({"session_id": SESSION}))
    assert line.startswith("tokentrail: ") and "Traceback" not in line


def test_fields_from_the_option_and_the_config_file(
    isolated_home: Path, db_path: Path, tmp_path: Path
) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 1, 5))
    line = _run(db_path, _status_json(transcript), "--fields", "model,agent_cost")
    assert line == "Sonnet 4.5 | CC $0.012"
    (tmp_path / "config.toml").write_text('[statusline]\nfields = ["model", "today"]\n')
    assert _run(db_path, _status_json(transcript)).startswith("Sonnet 4.5 | today $")
    bad = _run(db_path, _status_json(transcript), "--fields", "model,weather")
    assert bad.startswith("tokentrail: statusline fields 'weather' not known")


def test_real_stdin_through_the_installed_command(isolated_home: Path, db_path: Path) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 1, 5))
    done = subprocess.run(
        [sys.executable, "-m", "tokentrail", "statusline", "-d", str(db_path)],
        input=_status_json(transcript),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.decode().count("\n") == 1
    assert "21.5k tok" in done.stdout.decode()


def test_another_agents_log_is_not_read_as_a_claude_transcript(
    isolated_home: Path, db_path: Path
) -> None:
    elsewhere = write_jsonl(
        isolated_home / ".qwen" / "tmp" / "chat.jsonl", _turns(SESSION, 0, 1, 5)
    )
    line = _run(db_path, _status_json(elsewhere))
    assert line.startswith("session: nothing recorded yet | today $0.00")
    assert _requests(db_path) == 0


def test_catching_up_starts_no_worker_processes(isolated_home: Path, db_path: Path) -> None:
    """multiprocessing alone costs more than a status update may take: a statusline that
    reads a transcript must not import it."""
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 1, 5))
    out = db_path.with_name("modules.txt")
    script = (
        "import sys\n"
        "from tokentrail.launch import main\n"
        "out = sys.argv[2]\n"
        "sys.argv = ['tokentrail', 'statusline', '-d', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "open(out, 'w').write('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(db_path), str(out)],
        input=_status_json(transcript),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "21.5k tok" in done.stdout.decode()
    modules = set(out.read_text().splitlines())
    assert "tokentrail.agents.claude_code.reader" in modules
    assert not {"multiprocessing", "rich"} & modules


def test_the_line_is_utf_8_whatever_the_locale(isolated_home: Path, db_path: Path) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 1, 5))
    done = subprocess.run(
        [sys.executable, "-m", "tokentrail", "statusline", "-d", str(db_path)],
        input=_status_json(transcript),
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"},
    )
    assert done.returncode == 0 and done.stderr == b""
    assert " · 21.5k tok | today $" in done.stdout.decode("utf-8")


def test_the_line_shows_what_the_full_reports_show(isolated_home: Path, db_path: Path) -> None:
    """The quick way (no new lines: the quick reader, neither the transcript reader nor the
    ledger's write side imported) and the full way (new lines recorded first) must show the
    numbers the reports give: this session with its subagents, today's spend of every agent,
    the active block of Claude Code."""
    from tokentrail.blocks import BlocksQuery, active_block
    from tokentrail.config import Config
    from tokentrail.ledger import Ledger
    from tokentrail.periods import resolve_timezone
    from tokentrail.statusline_figures import quick_figures, read_figures
    from tokentrail.store.quick import QuickReader
    from tokentrail.usage import Tokens, UsageEvent

    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 3, 40))
    agent = claude_assistant(
        SESSION,
        _now_iso(35),
        "msg_agent_9",
        input_tokens=700,
        output_tokens=90,
        cache_read=10,
        sidechain=True,
        agent_id="f00d",
    )
    write_jsonl(transcript.with_suffix("") / "subagents" / "agent-f00d.jsonl", [agent])
    other = _turns("6a1b2c3d-0000-4000-8000-000000000001", 0, 2, 50)
    write_jsonl(claude_session_file(isolated_home, "6a1b2c3d-0000-4000-8000-000000000001"), other)
    full_line = _run(db_path, _status_json(transcript))  # the full way: records the session
    with Ledger(db_path, config=Config()) as ledger:
        ledger.record_events(  # another agent's spend today, which "today" includes
            [
                UsageEvent(
                    key="codex:today",
                    source="codex",
                    timestamp=datetime.now(UTC) - timedelta(minutes=5),
                    model="gpt-5-codex",
                    provider="openai",
                    tokens=Tokens(input=1000, cache_read=0, output=400),
                    session_key="codex-1",
                )
            ]
        )
        CliRunner().invoke(cli, ["sync", "-d", str(db_path), "--quiet"], catch_exceptions=False)
        zone, name = resolve_timezone(None)
        now = datetime.now(UTC)
        full = read_figures(ledger.store, SESSION, zone, name, now)
        with QuickReader(str(db_path)) as reader:
            quick = quick_figures(reader, SESSION, zone, name, now)
        block = active_block(
            ledger.store, BlocksQuery(zone=zone, zone_name=name, sources=("claude_code",)), now=now
        )
    assert quick == full
    assert quick.block == block.rows[0]
    # and the reports say the same
    sessions = orjson.loads(
        CliRunner().invoke(cli, ["session", "-d", str(db_path), "--no-sync", "--json"]).output
    )
    (mine,) = [row for row in sessions["rows"] if row["session_key"] == SESSION]
    assert quick.session is not None
    assert (mine["total_tokens"], mine["cost_usd"]) == (
        quick.session.total_tokens,
        quick.session.cost_usd,
    )
    daily = orjson.loads(
        CliRunner().invoke(cli, ["daily", "-d", str(db_path), "--no-sync", "--json"]).output
    )
    today = now.astimezone(zone).date().isoformat()
    (day,) = [row for row in daily["rows"] if row["period"] == today]
    assert day["cost_usd"] == quick.today.cost_usd and day["requests"] == quick.today.requests
    line = _run(db_path, _status_json(transcript))  # the quick way: nothing new
    assert line.split(" | ")[0] == full_line.split(" | ")[0]
    assert f" | today {usd_compact(quick.today.cost_usd)} | " in line


def test_an_unchanged_transcript_imports_no_reader_and_no_write_side(
    isolated_home: Path, db_path: Path
) -> None:
    """The quick way: with nothing new in the session's files, neither the transcript reader
    nor the ledger, the store's write side, the pricing nor orjson is imported."""
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turns(SESSION, 0, 2, 5))
    _run(db_path, _status_json(transcript))  # records it
    out = db_path.with_name("modules.txt")
    script = (
        "import sys\n"
        "from tokentrail.launch import main\n"
        "out = sys.argv[2]\n"
        "sys.argv = ['tokentrail', 'statusline', '-d', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "open(out, 'w').write('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(db_path), str(out)],
        input=_status_json(transcript),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "43.0k tok" in done.stdout.decode()
    modules = set(out.read_text().splitlines())
    heavy = {
        "tokentrail.agents",
        "tokentrail.sources",
        "tokentrail.sync",
        "tokentrail.ledger",
        "tokentrail.store.base",
        "tokentrail.store.sqlite",
        "tokentrail.reports",
        "tokentrail.pricing",
        "tokentrail.usage",
        "orjson",
        "rich",
        "click",  # the entry point sends a status line with its own options straight to it
    }
    assert heavy & modules == set()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"database": None, "fields": None}),
        (["-d", "x.db"], {"database": "x.db", "fields": None}),
        (["--database=x.db", "--fields", "model"], {"database": "x.db", "fields": "model"}),
        (["--fields=model,today"], {"database": None, "fields": "model,today"}),
        (["--help"], None),
        (["-d"], None),
        (["-d", "a", "-d", "b"], None),
        (["--weather", "x"], None),
        (["-d=x.db"], None),
    ],
)
def test_the_entry_point_takes_the_status_lines_own_options_and_leaves_the_rest_to_click(
    args: list[str], expected: dict[str, str | None] | None
) -> None:
    from tokentrail.launch import statusline_options

    assert statusline_options(args) == expected


def test_help_and_wrong_options_still_go_through_click(db_path: Path) -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "tokentrail", "statusline", "--help"],
        capture_output=True,
        check=False,
    )
    assert helped.returncode == 0 and b"settings.json" in helped.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "tokentrail", "statusline", "--weather"],
        input=b"{}",
        capture_output=True,
        check=False,
    )
    assert wrong.returncode == 2 and b"No such option" in wrong.stderr
