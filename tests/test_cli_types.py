"""The option types every command shares (tokentrail.cli_types), run through the real CLI on
real ledgers: one check per option for every command, and a wrong value is a usage error
(exit status 2) naming the option and the fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from builders import claude_assistant, claude_session_file, write_jsonl
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.usage import Tokens, UsageEvent

SESSION = "0b7c5e2a-1111-4222-8333-444455556666"

# every command with a --source that filters what the ledger holds, and its other options
FILTERING_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("daily",),
    ("weekly",),
    ("session",),
    ("sessions",),
    ("export",),
    ("reconcile",),
    ("tools",),
    ("efficiency",),
    ("blocks", "--since", "2026-05-01"),
)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def on_ledger(db: str, command: str, *args: str) -> Result:
    """``command`` on the ledger as it is (reconcile never syncs)."""
    no_sync = () if command == "reconcile" else ("--no-sync",)
    return invoke(command, "-d", db, *no_sync, *args)


@pytest.fixture
def db(isolated_home: Path, db_path: Path) -> str:
    """A ledger with one Claude Code request (from a log) and one reported by an app over the
    HTTP API under its own source name."""
    write_jsonl(
        claude_session_file(isolated_home, SESSION),
        [claude_assistant(SESSION, "2026-05-04T09:00:00.000Z", "msg_1", output_tokens=100)],
    )
    with Ledger(db_path) as ledger:
        ledger.record_events(
            [
                UsageEvent(
                    key="my-app:1",
                    source="my-app",
                    timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC),
                    model="claude-sonnet-4-5-20250929",
                    tokens=Tokens(input=10, output=20),
                    session_key="app-session",
                )
            ]
        )
    assert invoke("sync", "-d", str(db_path), "--quiet").exit_code == 0
    return str(db_path)


def json_of(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.mark.parametrize("command", FILTERING_COMMANDS, ids=lambda c: c[0])
def test_every_command_refuses_an_unknown_source_the_same_way(
    db: str, command: tuple[str, ...]
) -> None:
    result = on_ledger(db, *command, "--source", "zed")
    assert result.exit_code == 2, result.output
    assert f" {command[0]} [OPTIONS]" in result.output
    assert "--source 'zed' is not an agent tokentrail reads" in result.output
    assert "claude_code" in result.output and "my-app" in result.output  # what there is


@pytest.mark.parametrize("command", FILTERING_COMMANDS, ids=lambda c: c[0])
def test_every_command_takes_agents_in_any_case_and_reported_names(
    db: str, command: tuple[str, ...]
) -> None:
    for source in ("Claude_Code", "my-app", "gemini"):
        result = on_ledger(db, *command, "--source", source)
        assert result.exit_code == 0, (source, result.output)


def test_reports_filter_by_a_reported_source_and_by_an_agent_in_any_case(db: str) -> None:
    app = json_of("daily", "-d", db, "--no-sync", "--source", "my-app")
    assert app["totals"]["requests"] == 1
    claude = json_of("daily", "-d", db, "--no-sync", "--source", "CLAUDE_CODE")
    assert claude["totals"]["requests"] == 1


def test_sync_takes_only_agents_whose_logs_it_reads(db: str) -> None:
    result = invoke("sync", "-d", db, "--source", "my-app")
    assert result.exit_code == 2
    assert "'my-app' is not an agent tokentrail reads; choose from claude_code" in result.output


def test_zone_names_are_taken_in_any_case_when_unambiguous(db: str) -> None:
    assert json_of("daily", "-d", db, "--no-sync", "--tz", "utc")["timezone"] == "UTC"
    berlin = json_of("weekly", "-d", db, "--no-sync", "--tz", "europe/berlin")
    assert berlin["timezone"] == "Europe/Berlin"
    blocks = json_of("blocks", "-d", db, "--no-sync", "--tz", "asia/KOLKATA")
    assert blocks["timezone"] == "Asia/Kolkata"
    assert json_of("daily", "-d", db, "--no-sync", "--tz", "EST")["timezone"] == "EST"


@pytest.mark.parametrize(
    "args",
    [
        ("daily", "--since", "May 4"),
        ("export", "--until", "2026-13-01"),
        ("reconcile", "--since", "yesterday"),
        ("blocks", "--since", "4/5/2026"),
        ("blocks", "--until", "soon"),
        ("tools", "--until", "2026-02-30"),
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_a_bad_date_is_a_usage_error(db: str, args: tuple[str, ...]) -> None:
    result = on_ledger(db, *args)
    assert result.exit_code == 2, result.output
    assert "is not a date; use YYYY-MM-DD, e.g. 2026-05-04" in result.output
    assert args[1] in result.output  # the option is named


@pytest.mark.parametrize(
    "args",
    [
        ("daily", "--tz", "Mars/Base"),
        ("export", "--tz", "Nowhere"),
        ("blocks", "--tz", "nope"),
        ("daily", "--json", "--csv"),
        ("daily", "--since", "2026-05-06", "--until", "2026-05-01"),
        ("blocks", "--since", "2026-05-06", "--until", "2026-05-01"),
        ("blocks", "--token-limit", "lots"),
        ("daily", "--breakdown", "--by", "machine"),
        ("export", "--format", "parquet"),
    ],
    ids=lambda a: "-".join(a),
)
def test_usage_errors_exit_2(db: str, args: tuple[str, ...]) -> None:
    result = on_ledger(db, *args)
    assert result.exit_code == 2, result.output
    assert f" {args[0]} [OPTIONS]" in result.output  # the usage of the command at fault
    assert "Traceback" not in result.output


def test_a_wrong_config_file_is_an_error_not_a_usage_error(db: str, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[[prices]]\nmodel = "x"\ninput = "cheap"\noutput = 1\n')
    result = invoke("daily", "-d", db, "--no-sync")
    assert result.exit_code == 1 and "'input' must be a number" in result.output
