"""Kilo Code: the extension's task folders (Roo's format) and the CLI's OpenCode-shaped
database, read by the OpenCode reader under Kilo's name."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from test_sources_opencode import SESSION, OpenCodeDb, assistant, tokens
from tokentrail.agents.kilo.reader import KiloSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "kilo"
TASK = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
KILO = KiloSource()


def kilo_home(home: Path) -> tuple[Path, Path]:
    """The CLI's data dir with a kilo.db, and the extension's storage in VS Code."""
    data_dir = home / ".local/share/kilo"
    data_dir.mkdir(parents=True)
    db = OpenCodeDb(data_dir / "kilo.db")
    db.session()
    db.message("msg_kilo_1", assistant(tokens(input=900, output=200, read=3000, write=100)))
    storage = home / ".config/Code/User/globalStorage/kilocode.kilo-code"
    shutil.copytree(DATA / "kilocode.kilo-code/tasks", storage / "tasks")
    return data_dir, storage


def test_roots_are_the_data_dir_and_the_extension_in_every_host(tmp_path: Path) -> None:
    roots = KILO.default_roots({}, tmp_path)
    assert roots[0] == tmp_path / ".local/share/kilo"
    assert tmp_path / ".config/Windsurf/User/globalStorage/kilocode.kilo-code" in roots
    assert KILO.default_roots({"XDG_DATA_HOME": "/x"}, tmp_path)[0] == Path("/x/kilo")


def test_discover_finds_the_database_channels_and_the_task_folders(isolated_home: Path) -> None:
    data_dir, _ = kilo_home(isolated_home)
    OpenCodeDb(data_dir / "kilo-beta.db")
    (data_dir / "kilo.db-wal").write_bytes(b"")
    files = {
        Path(f.path).name: f.kind for f in KILO.discover(KILO.default_roots({}, isolated_home))
    }
    assert files == {"kilo.db": "database", "kilo-beta.db": "database", "ui_messages.json": "whole"}


def test_the_database_is_read_by_the_opencode_reader_under_kilo_keys(isolated_home: Path) -> None:
    data_dir, _ = kilo_home(isolated_home)
    result = KILO.parse(SourceFile("kilo", str(data_dir / "kilo.db"), "database"), ParseState())
    [event] = result.events
    assert event.key == "kilo:msg_kilo_1"
    assert event.source == "kilo"
    assert event.session_key == f"kilo:{SESSION}"
    assert event.tokens == Tokens(
        input=900, cache_read=3000, cache_write_5m=100, output=200, reasoning=0
    )
    assert event.reported_cost_usd == pytest.approx(0.0421)
    assert [s.key for s in result.sessions] == [f"kilo:{SESSION}"]


def test_extension_tasks_follow_roo_rules_openai_input_holds_the_cache() -> None:
    path = DATA / "kilocode.kilo-code/tasks" / TASK / "ui_messages.json"
    result = KILO.parse(SourceFile("kilo", str(path), "whole"), ParseState())
    [event] = result.events
    assert event.key == f"kilo:{TASK}:1772445601000"
    assert event.tokens == Tokens(input=2000, cache_read=6000, cache_write_5m=0, output=400)
    assert event.model == "kilo/anthropic/claude-sonnet-4.5"  # not priced: shown as unpriced
    assert result.sessions[0].project == "/home/ana/src/cli"


def test_sync_and_report_read_both_kinds_of_kilo_usage(isolated_home: Path, db_path: Path) -> None:
    kilo_home(isolated_home)
    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["kilo"])
        again = sync(ledger, source_names=["kilo"])
        totals = ledger.store.totals(Filters(sources=("kilo",)))
    assert (first.new_events, again.new_events) == (2, 0)
    assert totals.requests == 2
    result = CliRunner().invoke(
        cli, ["daily", "--source", "kilo", "-d", str(db_path), "--json"], catch_exceptions=False
    )
    report = orjson.loads(result.stdout)
    assert report["totals"]["requests"] == 2
    assert [m["model"] for m in report["unpriced_models"]] == ["kilo/anthropic/claude-sonnet-4.5"]
