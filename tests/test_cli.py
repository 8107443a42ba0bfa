"""The command line, run with click's CliRunner against real files and real ledgers."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from builders import (
    claude_assistant,
    claude_session_file,
    claude_user,
    codex_file,
    codex_meta,
    codex_tokens,
    codex_turn,
    write_jsonl,
)
from tokentrail.cli import cli

ROW_FIELDS = {
    "period",
    "requests",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
}


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def json_of(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.fixture
def logs(isolated_home: Path) -> Path:
    session = "0b7c5e2a-1111-4222-8333-444455556666"
    write_jsonl(
        claude_session_file(isolated_home, session),
        [
            claude_user(session, "2026-05-04T08:59:00.000Z"),
            claude_assistant(
                session,
                "2026-05-04T09:00:00.000Z",
                "msg_1",
                input_tokens=10,
                output_tokens=100,
                cache_read=20_000,
                cache_write=3_000,
            ),
            claude_assistant(
                session,
                "2026-05-04T23:30:00.000Z",
                "msg_2",
                input_tokens=20,
                output_tokens=200,
                cache_read=30_000,
                cache_write=0,
            ),
            claude_assistant(
                session,
                "2026-05-05T10:00:00.000Z",
                "msg_3",
                model="my-private-model",
                output_tokens=7,
            ),
        ],
    )
    write_jsonl(
        codex_file(isolated_home, "2026-05-06", "c-1"),
        [
            codex_meta("c-1", "2026-05-06T10:00:00Z"),
            codex_turn("2026-05-06T10:00:01Z"),
            codex_tokens("2026-05-06T10:00:03Z", (1000, 200, 50, 10), (1000, 200, 50, 10)),
        ],
    )
    return isolated_home


def test_no_command_syncs_and_shows_the_daily_report(logs: Path, db_path: Path) -> None:
    result = CliRunner().invoke(
        cli, [], env={"TOKENTRAIL_DB": str(db_path)}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "Daily usage" in result.output
    assert "2026-05-04" in result.output and "2026-05-06" in result.output
    assert "my-private-model" in result.output  # unpriced models are named under the table
    assert "[[prices]]" in result.output  # and the fix is spelled out
    assert "did not say which model" not in result.output


def test_requests_without_a_model_are_not_told_to_add_a_price(
    isolated_home: Path, db_path: Path
) -> None:
    session = "0b7c5e2a-1111-4222-8333-444455556677"
    nameless = claude_assistant(session, "2026-05-04T09:00:00.000Z", "msg_x", output_tokens=5)
    del nameless["message"]["model"]
    write_jsonl(claude_session_file(isolated_home, session), [nameless])
    result = invoke("daily", "-d", str(db_path))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "(no model) (1 request," in text
    assert "did not say which model answered them" in text and "[[prices]]" not in text


def test_daily_json_contract(logs: Path, db_path: Path) -> None:
    data = json_of("daily", "-d", str(db_path))
    assert set(data) == {"rows", "totals", "unpriced_models", "timezone"}
    assert data["timezone"] == "UTC"
    assert [r["period"] for r in data["rows"]] == ["2026-05-04", "2026-05-05", "2026-05-06"]
    for row in data["rows"]:
        assert set(row) >= ROW_FIELDS
    first = data["rows"][0]
    assert (first["requests"], first["input_tokens"], first["output_tokens"]) == (2, 30, 300)
    assert first["cache_read_tokens"] == 50_000 and first["cache_write_tokens"] == 3_000
    assert first["total_tokens"] == 30 + 50_000 + 3_000 + 300
    assert first["reasoning_tokens"] is None
    assert first["cost_usd"] > 0
    unpriced_day = data["rows"][1]
    assert unpriced_day["cost_usd"] is None and unpriced_day["unpriced_requests"] == 1
    assert data["unpriced_models"][0]["model"] == "my-private-model"
    assert data["rows"][2]["reasoning_tokens"] == 10


def test_timezone_moves_late_requests(logs: Path, db_path: Path) -> None:
    data = json_of("daily", "-d", str(db_path), "--tz", "Asia/Kolkata", "--source", "claude_code")
    # 23:30 UTC on the 4th is 05:00 on the 5th in India
    assert [(r["period"], r["requests"]) for r in data["rows"]] == [
        ("2026-05-04", 1),
        ("2026-05-05", 2),
    ]
    assert data["timezone"] == "Asia/Kolkata"


def test_filters_breakdown_and_periods(logs: Path, db_path: Path) -> None:
    invoke("sync", "-d", str(db_path), "--quiet")
    since = json_of(
        "daily", "-d", str(db_path), "--no-sync", "--since", "2026-05-05", "--until", "2026-05-05"
    )
    assert [r["period"] for r in since["rows"]] == ["2026-05-05"]
    codex = json_of("monthly", "-d", str(db_path), "--no-sync", "--source", "codex")
    assert codex["rows"] == [{**codex["rows"][0], "period": "2026-05", "requests": 1}]
    assert codex["rows"][0]["cache_write_tokens"] is None
    weekly = json_of("weekly", "-d", str(db_path), "--no-sync", "--breakdown")
    assert {(r["period"], r["model"]) for r in weekly["rows"]} == {
        ("2026-W19", "claude-sonnet-4-5"),
        ("2026-W19", "my-private-model"),
        ("2026-W19", "gpt-5-codex"),
    }
    project = json_of("daily", "-d", str(db_path), "--no-sync", "--project", "code/api")
    assert project["totals"]["requests"] == 1


def test_session_report(logs: Path, db_path: Path) -> None:
    data = json_of("session", "-d", str(db_path))
    keys = [row["session_key"] for row in data["rows"]]
    assert keys == ["0b7c5e2a-1111-4222-8333-444455556666", "c-1"]
    first = data["rows"][0]
    assert first["period"] == first["session_key"]
    assert first["requests"] == 3 and first["source"] == "claude_code"
    assert first["models"] == ["claude-sonnet-4-5-20250929", "my-private-model"]
    table = invoke("session", "-d", str(db_path), "--no-sync")
    assert "0b7c5e2a…" in table.output


def test_csv_has_one_line_per_row(logs: Path, db_path: Path) -> None:
    result = invoke("daily", "-d", str(db_path), "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["period"] for r in rows] == ["2026-05-04", "2026-05-05", "2026-05-06"]
    assert rows[1]["cost_usd"] == ""  # unknown, not zero
    assert rows[0]["requests"] == "2"


def test_sync_summary_names_skipped_lines(isolated_home: Path, db_path: Path) -> None:
    path = write_jsonl(
        claude_session_file(isolated_home, "s"),
        [
            claude_assistant("s", "2026-05-04T09:00:00Z", "ok"),
            b'{"type":"assistant","message":{"usage":{"input_tokens": 1',
            b'{"broken": "usage"',
        ],
    )
    result = invoke("sync", "-d", str(db_path))
    assert result.exit_code == 0
    assert "New requests: 1 (claude_code 1)" in result.output
    assert "malformed_json: 2 (e.g." in result.output
    assert f"{path}:2 " in result.output and f"{path}:3 " in result.output
    data = json_of("sync", "-d", str(db_path))
    assert data["new_events"] == 0 and data["files_unchanged"] == 1


def test_errors_name_the_option_and_the_fix(logs: Path, db_path: Path) -> None:
    bad_tz = invoke("daily", "-d", str(db_path), "--tz", "Mars/Base")
    assert bad_tz.exit_code == 2 and "IANA" in bad_tz.output
    bad_day = invoke("daily", "-d", str(db_path), "--since", "May 4")
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    swapped = invoke("daily", "-d", str(db_path), "--since", "2026-05-06", "--until", "2026-05-01")
    assert "swap" in swapped.output
    both = invoke("daily", "-d", str(db_path), "--json", "--csv")
    assert "--json and --csv" in both.output


def test_config_file_errors_are_clear(logs: Path, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[[prices]]\nmodel = "x"\ninput = "cheap"\noutput = 1\n')
    result = invoke("daily", "-d", str(db_path))
    assert result.exit_code == 1
    assert "config.toml [[prices]] #1: 'input' must be a number" in result.output


def test_config_paths_and_price_overrides(logs: Path, db_path: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-claude"
    write_jsonl(
        elsewhere / "proj" / "s.jsonl",
        [
            claude_assistant(
                "s",
                "2026-06-01T09:00:00Z",
                "m1",
                model="my-private-model",
                input_tokens=1_000_000,
                output_tokens=0,
            )
        ],
    )
    (tmp_path / "config.toml").write_text(
        "[sources.claude_code]\n"
        f'paths = ["{elsewhere}"]\n'
        "[sources.codex]\nenabled = false\n"
        '[[prices]]\nmodel = "my-private-*"\ninput = 2\noutput = 8\n'
    )
    data = json_of("monthly", "-d", str(db_path))
    assert [(r["period"], r["requests"], r["cost_usd"]) for r in data["rows"]] == [
        ("2026-06", 1, 2.0)
    ]
    assert data["unpriced_models"] == []


def test_reprice_shows_then_applies_the_difference(
    logs: Path, db_path: Path, tmp_path: Path
) -> None:
    invoke("sync", "-d", str(db_path), "--quiet")
    (tmp_path / "config.toml").write_text(
        '[[prices]]\nmodel = "my-private-model"\ninput = 1\noutput = 1000\n'
    )
    preview = invoke("reprice", "-d", str(db_path), "--dry-run")
    assert "Would change 1 request of my-private-model" in preview.output
    assert "Nothing was written" in preview.output
    assert json_of("daily", "-d", str(db_path), "--no-sync")["unpriced_models"]
    applied = json_of("reprice", "-d", str(db_path))
    assert applied["rows"][0]["new_cost_usd"] == pytest.approx(0.007 + 0.0001)
    assert json_of("daily", "-d", str(db_path), "--no-sync")["unpriced_models"] == []


def test_db_commands(logs: Path, db_path: Path, tmp_path: Path) -> None:
    assert invoke("db", "path", "-d", str(db_path)).output.strip() == str(db_path)
    default = CliRunner().invoke(cli, ["db", "path"], catch_exceptions=False)
    assert default.output.strip().endswith(".local/share/tokentrail/ledger.db")
    invoke("sync", "-d", str(db_path), "--quiet")
    status = json_of("db", "status", "-d", str(db_path))
    assert status["events"] == 4 and status["schema_version"] >= 2 and status["files"] == 2
    backup = invoke("db", "backup", "-d", str(db_path), str(tmp_path / "b.db"))
    assert backup.exit_code == 0
    conn = sqlite3.connect(tmp_path / "b.db")
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (4,)
    conn.close()


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    for command in ("daily", "weekly", "monthly", "session", "sync", "reprice", "db"):
        assert command in result.output


def test_a_narrow_terminal_drops_columns_and_says_so(logs: Path, db_path: Path) -> None:
    invoke("sync", "-d", str(db_path), "--quiet")
    wide = CliRunner().invoke(
        cli, ["session", "-d", str(db_path), "--no-sync"], env={"COLUMNS": "200"}
    )
    narrow = CliRunner().invoke(
        cli, ["session", "-d", str(db_path), "--no-sync"], env={"COLUMNS": "60"}
    )
    assert "CacheR" in wide.output and "Not shown" not in wide.output
    assert "Not shown to fit the terminal: " in narrow.output
    assert "Cost" in narrow.output and "Total" in narrow.output
    assert "…" not in narrow.output.replace("0b7c5e2a…", "")  # nothing squeezed


def test_a_new_user_without_logs_is_told_where_tokentrail_looked(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, [], catch_exceptions=False)
    assert result.exit_code == 0
    assert "No usage recorded" in result.stdout
    assert "No agent logs were found" in result.stderr
    assert str(isolated_home / ".claude" / "projects") in result.stderr


@pytest.mark.parametrize(
    ("command", "first_columns"),
    [
        (("daily",), "period,requests,input_tokens"),
        (("weekly",), "period,requests,input_tokens"),
        (("monthly", "--breakdown"), "period,model,requests"),
        (("daily", "--by", "machine"), "period,machine,requests"),
        (("session",), "period,session_key,name,requests"),
        (("sessions",), "session_key,name,source,run_id"),
        (("runs",), "run_id,app,started_at"),
        (("tools",), "tool_name,session_key,calls"),
        (("efficiency",), "session,title,requests"),
        (("efficiency", "--by", "model"), "model,requests,total_tokens"),
        (("blocks",), "start,end,first_activity"),
        (("budget",), "name,period,label"),
        (("reprice",), "model,requests,old_cost_usd"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_an_empty_csv_is_its_header(
    isolated_home: Path, db_path: Path, command: tuple[str, ...], first_columns: str
) -> None:
    result = invoke(*command, "-d", str(db_path), "--csv")
    assert result.exit_code == 0, result.output
    (header,) = result.stdout.splitlines()  # the header, and nothing else
    assert header.startswith(first_columns), header


def test_a_csv_header_is_the_same_with_and_without_rows(logs: Path, db_path: Path) -> None:
    with_rows = invoke("weekly", "-d", str(db_path), "--csv").stdout.splitlines()[0]
    empty = invoke("weekly", "-d", str(db_path), "--csv", "--since", "2030-01-01").stdout
    assert empty == with_rows + "\n"
    sessions = invoke("session", "-d", str(db_path), "--csv").stdout.splitlines()[0]
    no_session = invoke("session", "-d", str(db_path), "--csv", "--since", "2030-01-01").stdout
    assert set(no_session.strip().split(",")) <= set(sessions.split(","))


def test_sync_names_a_broken_link_on_the_way_to_the_logs(
    isolated_home: Path, db_path: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere" / "claude"
    (isolated_home / ".claude").symlink_to(moved)
    result = invoke("sync", "-d", str(db_path))
    assert result.exit_code == 0
    expected = f"{isolated_home / '.claude'} is a symbolic link to {moved}, which does not exist"
    assert expected in " ".join(result.stderr.split())
    report = CliRunner().invoke(cli, ["daily", "-d", str(db_path)])
    assert expected in " ".join(report.stderr.split())  # with the "no logs found" hint
    moved.mkdir(parents=True)  # the link works again: nothing to say
    assert "symbolic link" not in invoke("sync", "-d", str(db_path)).stderr


_NEVER_ON_THE_REPORT_PATH = (
    "fastapi",
    "pydantic",
    "starlette",
    "uvicorn",
    "httpx",
    "genai_prices",
    "psycopg",
    "watchfiles",
    "multiprocessing",
    "importlib.metadata",
    "tokentrail.sync",
    "tokentrail.agents.claude_code.reader",
    "tokentrail.agents.codex.reader",
    "tokentrail.server",
)
_NOT_ON_THE_QUICK_PATH = (
    "tokentrail.ledger",
    "tokentrail.store.base",
    "tokentrail.store.sqlite",
    "tokentrail.reports",
    "tokentrail.pricing",
    "tokentrail.usage",
    "tokentrail.sources",
    "tokentrail.agents",
)
"""The quick reader's answers (``blocks --active --no-sync``, a status line with nothing new to
record) read the ledger's rollups without its write side, the usage model or the pricing."""
_IMPORTED = """
import json, sys
from tokentrail.launch import main
sys.argv = ["tokentrail", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
with open(OUT, "w") as handle:
    json.dump(sorted(sys.modules), handle)
"""


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        (("daily", "--no-sync", "--json"), ()),
        (("monthly", "--no-sync"), ("rich",)),
        (("session", "--no-sync", "--json"), ()),
        (("blocks", "--active", "--no-sync", "--json"), ("quick",)),
        (("blocks", "--active", "--no-sync"), ("quick", "rich")),
        (("statusline",), ("quick",)),
    ],
)
def test_reports_from_the_ledger_import_only_what_they_use(
    db_path: Path, tmp_path: Path, command: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    """Each module costs start-up time on every run (a statusline runs every few seconds): a
    report from the ledger must not import the server, the pricing data, the sync machinery or
    the agents' parsers, nor rich when it prints JSON."""
    import subprocess
    import sys

    invoke("daily", "-d", str(db_path), "--no-sync")  # the ledger exists
    out = tmp_path / "modules.json"
    script = _IMPORTED.replace("OUT", repr(str(out)))
    done = subprocess.run(
        [sys.executable, "-c", script, "-", *command, "-d", str(db_path)],
        input=b'{"session_id": "s-1"}',
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    modules = set(orjson.loads(out.read_bytes()))
    forbidden = [
        *_NEVER_ON_THE_REPORT_PATH,
        *(() if "rich" in allowed else ("rich",)),
        *(_NOT_ON_THE_QUICK_PATH if "quick" in allowed else ()),
    ]
    loaded = sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))
    assert loaded == []
