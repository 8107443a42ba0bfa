"""Aider's analytics log: where it is named, what is a request, repeats, sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.aider.reader import AiderSource
from tokentrail.cli import cli
from tokentrail.config import load_config
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import source_roots, sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "aider"
AIDER = AiderSource()
USER = "5c0f7e1a-8b2d-4c3e-9f4a-6d7e8f9a0b1c"


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return AIDER.parse(SourceFile("aider", str(path), "append"), state or ParseState())


def test_unless_one_is_named_the_suggested_log_is_read(tmp_path: Path) -> None:
    assert AIDER.default_roots({}, tmp_path) == [tmp_path / ".aider/analytics.jsonl"]


def test_aiders_own_variable_and_config_name_the_log(tmp_path: Path) -> None:
    env = {"AIDER_ANALYTICS_LOG": "~/logs/aider.jsonl"}
    assert AIDER.default_roots(env, tmp_path)[0].name == "aider.jsonl"
    (tmp_path / ".aider.conf.yml").write_text(
        "model: sonnet\nanalytics-log: '/var/log/aider/analytics.jsonl'  # opt in\n"
    )
    assert AIDER.default_roots({}, tmp_path) == [
        Path("/var/log/aider/analytics.jsonl"),
        tmp_path / ".aider/analytics.jsonl",
    ]


def test_config_paths_name_the_logs(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[sources.aider]\npaths = ["/a/one.jsonl", "/b/logs"]\n')
    config = load_config(config_file, env={})
    assert source_roots(AIDER, config, {}, tmp_path) == [Path("/a/one.jsonl"), Path("/b/logs")]


def test_discover_takes_named_files_and_the_jsonl_files_of_folders(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text("")
    (folder / "notes.txt").write_text("")
    named = tmp_path / "aider.log"
    named.write_text("")
    found = [f.path for f in AIDER.discover([folder, named, tmp_path / "absent.jsonl"])]
    assert found == sorted([str(folder / "a.jsonl"), str(named)])


def test_each_message_send_is_one_request_with_aiders_cost() -> None:
    result = parse(DATA / "analytics.jsonl")
    first = result.events[0]
    assert first.tokens == Tokens(input=12840, output=412)  # cache not told apart
    assert (first.model, first.provider) == ("claude-sonnet-4-5-20250929", "anthropic")
    assert first.reported_cost_usd == pytest.approx(0.0447)
    assert first.timestamp.isoformat() == "2026-03-02T10:00:40+00:00"
    assert first.session_key == f"aider:{USER}:1772445600"
    assert len(result.events) == 5


def test_unknown_models_are_not_recorded_and_a_zero_cost_is_unknown() -> None:
    events = parse(DATA / "analytics.jsonl").events
    redacted, none = events[2], events[3]
    assert (redacted.model, redacted.provider) == (None, "ollama_chat")
    assert redacted.reported_cost_usd is None  # Aider had no price: unknown, not free
    assert none.model is None and none.provider is None
    assert none.session_key == f"aider:{USER}:1772532000"


def test_the_same_exchange_twice_in_one_second_is_two_requests_a_copy_is_one(
    tmp_path: Path, db_path: Path
) -> None:
    events = parse(DATA / "analytics.jsonl").events
    assert events[3].key != events[4].key
    assert events[3].key.rsplit(":", 1)[1] == "0" and events[4].key.rsplit(":", 1)[1] == "1"
    copy = tmp_path / "copy.jsonl"
    shutil.copy(DATA / "analytics.jsonl", copy)
    with Ledger(db_path) as ledger:
        ledger.record_batch(events)
        again = ledger.record_batch(parse(copy).events)
    assert (again.created, again.duplicates) == (0, 5)


def test_a_torn_line_is_a_counted_skip() -> None:
    result = parse(DATA / "analytics.jsonl")
    assert [(s.reason, s.line) for s in result.skips] == [("malformed_json", 11)]


def test_appended_lines_are_read_alone_and_keep_the_process_and_repeat_counts(
    tmp_path: Path,
) -> None:
    lines = (DATA / "analytics.jsonl").read_bytes().splitlines(keepends=True)
    log = tmp_path / "analytics.jsonl"
    log.write_bytes(b"".join(lines[:11]))
    first = parse(log)
    log.write_bytes(b"".join(lines))
    second = parse(log, first.state)
    [event] = second.events
    assert event.key == parse(DATA / "analytics.jsonl").events[4].key  # the second occurrence
    assert event.session_key == f"aider:{USER}:1772532000"


def test_sessions_span_their_exchanges() -> None:
    sessions = {s.key: s for s in parse(DATA / "analytics.jsonl").sessions}
    first = sessions[f"aider:{USER}:1772445600"]
    assert first.started_at is not None and first.ended_at is not None
    assert first.started_at.isoformat() == "2026-03-02T10:00:00+00:00"
    assert first.ended_at.isoformat() == "2026-03-02T10:01:40+00:00"
    assert first.model == "claude-sonnet-4-5-20250929"


def test_sync_and_daily_report_from_a_named_log(
    isolated_home: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = isolated_home / "aider.jsonl"
    shutil.copy(DATA / "analytics.jsonl", log)
    monkeypatch.setenv("AIDER_ANALYTICS_LOG", str(log))
    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["aider"])
        again = sync(ledger, source_names=["aider"])
        totals = ledger.store.totals(Filters(sources=("aider",)))
    assert (first.new_events, again.new_events, again.files_unchanged) == (5, 0, 1)
    assert totals.requests == 5
    result = CliRunner().invoke(
        cli, ["daily", "--source", "aider", "-d", str(db_path), "--json", "--no-sync"]
    )
    report = orjson.loads(result.stdout)
    assert report["totals"]["input_tokens"] == 12840 + 14120 + 3000 + 2000 + 2000
    assert report["totals"]["cache_read_tokens"] is None
    assert report["totals"]["cost_usd"] is not None  # the Anthropic exchanges are priced
