"""One home holding Cline, Roo Code, Kilo Code, Crush, Aider and a Cursor export: a plain
``tokentrail sync`` finds and reads each of them, and a second sync reads nothing new."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from test_sources_crush import crush_home
from test_sources_kilo import kilo_home
from tokentrail.cli import cli

DATA = Path(__file__).parent / "data"


def test_sync_reads_every_agent_of_a_home(
    isolated_home: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = isolated_home
    vscode = home / ".config/Code/User/globalStorage"
    shutil.copytree(DATA / "cline/data", home / ".cline/data")
    shutil.copytree(DATA / "roo/tasks", vscode / "rooveterinaryinc.roo-cline/tasks")
    kilo_home(home)
    crush_home(home)
    shutil.copy(DATA / "aider/analytics.jsonl", home / "aider-analytics.jsonl")
    (home / ".aider.conf.yml").write_text(f"analytics-log: {home / 'aider-analytics.jsonl'}\n")
    exports = home / "Downloads/cursor"
    exports.mkdir(parents=True)
    shutil.copy(DATA / "cursor/usage-events.csv", exports)
    monkeypatch.setenv("TOKENTRAIL_CURSOR_PATHS", str(exports))

    runner = CliRunner()
    first = runner.invoke(cli, ["sync", "-d", str(db_path), "--json"], catch_exceptions=False)
    again = runner.invoke(cli, ["sync", "-d", str(db_path), "--json"], catch_exceptions=False)

    assert first.exit_code == 0, first.output
    summary = orjson.loads(first.stdout)
    assert summary["new_by_source"] == {
        "cline": 7,
        "roo": 5,
        "kilo": 2,
        "crush": 2,
        "aider": 5,
        "cursor": 5,
    }
    assert orjson.loads(again.stdout)["new_events"] == 0
    sessions = runner.invoke(
        cli, ["session", "-d", str(db_path), "--no-sync", "--json"], catch_exceptions=False
    )
    sources = {row["source"] for row in orjson.loads(sessions.stdout)["rows"]}
    assert {"cline", "roo", "kilo", "crush", "aider"} <= sources
    table = runner.invoke(
        cli,
        ["daily", "-d", str(db_path), "--no-sync"],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    # Crush's sessions report a cost and no tokens: the day's token total leaves them out (a
    # floor, "+?"), and the agents' own cost is shown beside ours
    assert "Agent cost" in table.output
    assert "+?" in table.output
    assert "tokens not reported" in table.output
