"""Cursor's dashboard usage export: CSV and JSON, the input columns, Cursor's cost, and
idempotent imports of the same or overlapping files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.cursor.reader import CursorSource, parse_export
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "cursor"
CSV = DATA / "usage-events.csv"
OLDER = DATA / "usage-events-older.csv"
JSON = DATA / "usage-events.json"
CURSOR = CursorSource()


def read(path: Path) -> ParseResult:
    return CURSOR.parse(SourceFile("cursor", str(path), "whole"), ParseState())


def import_files(db_path: Path, *files: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli,
        ["import", "cursor", *map(str, files), "-d", str(db_path), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_by_default_a_sync_reads_tokentrails_own_folder_for_exports(tmp_path: Path) -> None:
    assert CURSOR.default_roots({}, tmp_path) == [tmp_path / ".config/tokentrail/cursor"]
    assert CURSOR.default_roots({"XDG_CONFIG_HOME": "/c"}, tmp_path) == [
        Path("/c/tokentrail/cursor")
    ]


def test_csv_columns_map_onto_uncached_input_cache_writes_reads_and_output() -> None:
    first = read(CSV).events[0]
    assert first.tokens == Tokens(input=950, cache_read=18000, cache_write_5m=1200, output=420)
    assert first.model == "claude-4.5-sonnet"
    assert first.reported_cost_usd == pytest.approx(0.08)
    assert first.timestamp.isoformat() == "2026-03-02T10:00:12.521000+00:00"
    assert orjson.loads(first.raw_usage or b"")["kind"] == "Included"


def test_a_total_that_counts_the_first_input_column_whole_splits_it() -> None:
    older = read(OLDER).events[1]
    assert older.tokens == Tokens(input=2000, cache_read=9000, cache_write_5m=600, output=500)


def test_rows_without_tokens_are_left_out_and_a_word_is_no_cost() -> None:
    result = read(CSV)
    assert len(result.events) == 5
    included = next(e for e in result.events if e.model == "auto")
    assert included.reported_cost_usd is None  # "Included": not a dollar amount
    assert [(s.reason, s.line) for s in result.skips] == [("bad_timestamp", 8)]


def test_two_identical_rows_are_two_requests() -> None:
    keys = [e.key for e in read(CSV).events if e.model == "gpt-5"]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert keys[0].rsplit(":", 1)[0] == keys[1].rsplit(":", 1)[0]


def test_json_export_reads_the_same_request_under_the_same_key() -> None:
    from_json = read(JSON).events
    assert from_json[0].tokens == Tokens(
        input=2000, cache_read=9000, cache_write_5m=600, output=500
    )
    assert from_json[0].reported_cost_usd == pytest.approx(0.06)  # totalCents / 100
    assert from_json[1].reported_cost_usd == pytest.approx(0.03)  # usageBasedCosts
    assert from_json[0].key == read(OLDER).events[1].key


def test_bad_input_is_a_counted_skip_never_a_crash() -> None:
    assert [s.reason for s in parse_export(b"hello,world\n1,2\n", "x").skips] == [
        "not_a_cursor_export"
    ]
    assert [s.reason for s in parse_export(b"{not json", "x").skips] == ["malformed_json"]
    huge = b"Date,Model,Input (w/o Cache Write),Output Tokens\n2026-03-02T10:00:00Z,gpt-5,1e30,1\n"
    assert [s.reason for s in parse_export(huge, "x").skips] == ["invalid_count"]
    negative = (
        b"Date,Model,Input (w/o Cache Write),Output Tokens\n2026-03-02T10:00:00Z,gpt-5,-5,1\n"
    )
    assert [s.reason for s in parse_export(negative, "x").skips] == ["invalid_count"]


def test_import_is_idempotent_for_the_same_and_overlapping_files(db_path: Path) -> None:
    first = import_files(db_path, CSV)
    assert (first["new"], first["already_recorded"]) == (5, 0)
    assert first["skipped"]["bad_timestamp"]["count"] == 1
    again = import_files(db_path, CSV)
    assert (again["new"], again["already_recorded"]) == (0, 5)
    overlapping = import_files(db_path, OLDER, JSON)
    assert (overlapping["new"], overlapping["requests_read"]) == (2, 4)
    with Ledger(db_path) as ledger:
        totals = ledger.store.totals(Filters(sources=("cursor",)))
    assert totals.requests == 7
    assert totals.reported_cost_micro == 80_000 + 40_000 * 2 + 20_000 + 60_000 + 30_000


def test_unknown_cursor_models_are_unpriced_in_reports(db_path: Path) -> None:
    import_files(db_path, CSV)
    result = CliRunner().invoke(
        cli, ["daily", "--source", "cursor", "-d", str(db_path), "--json", "--no-sync"]
    )
    report = orjson.loads(result.stdout)
    unpriced = {m["model"] for m in report["unpriced_models"]}
    assert {"auto", "composer-1"} <= unpriced
    assert report["totals"]["reported_cost_usd"] == pytest.approx(0.18)


def test_a_file_that_is_not_an_export_is_refused_with_a_fix(db_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "notes.csv"
    other.write_text("name,value\na,1\n")
    result = CliRunner().invoke(cli, ["import", "cursor", str(other), "-d", str(db_path)])
    assert result.exit_code == 1
    assert "not a Cursor usage export" in result.output
    missing = CliRunner().invoke(
        cli, ["import", "cursor", str(tmp_path / "gone.csv"), "-d", str(db_path)]
    )
    assert missing.exit_code != 0


def test_sync_reads_exports_in_a_named_folder(
    isolated_home: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = isolated_home / "cursor-exports"
    folder.mkdir()
    for path in (CSV, OLDER, JSON):
        shutil.copy(path, folder / path.name)
    monkeypatch.setenv("TOKENTRAIL_CURSOR_PATHS", str(folder))
    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["cursor"])
        again = sync(ledger, source_names=["cursor"])
    assert (first.files_found, first.new_events) == (3, 7)
    assert again.new_events == 0
