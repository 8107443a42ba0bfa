"""Cline, Roo Code and Kilo Code task folders: discovery in every VS Code host, the counting
rules of ``ui_messages.json`` (a file rewritten whole), models, projects, and real syncs."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.cline.reader import ClineSource
from tokentrail.agents.roo.reader import RooSource
from tokentrail.cli import cli
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import source_roots, sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data"
CLINE_TASK = "1772445600000"
ROO_OLD = "0b9d3c1e-2f4a-4b5c-8d6e-7f8091a2b3c4"
ROO_NEW = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f70819"
CLINE = ClineSource()
ROO = RooSource()


def cline_file() -> SourceFile:
    return SourceFile(
        "cline", str(DATA / "cline/data/tasks" / CLINE_TASK / "ui_messages.json"), "whole"
    )


def parse(
    source: ClineSource | RooSource, file: SourceFile, memory: dict | None = None
) -> ParseResult:
    return source.parse(file, ParseState(memory=dict(memory or {})))


def by_ts(result: ParseResult) -> dict[str, object]:
    return {event.key.rsplit(":", 1)[1]: event for event in result.events}


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# --- discovery ---------------------------------------------------------------------------


def test_cline_roots_are_the_cli_data_dir_and_every_vscode_host(tmp_path: Path) -> None:
    roots = CLINE.default_roots({"APPDATA": str(tmp_path / "AppData/Roaming")}, tmp_path)
    assert roots[0] == tmp_path / ".cline/data"
    storage = "User/globalStorage/saoudrizwan.claude-dev"
    for host in ("Code", "Code - Insiders", "Cursor", "Windsurf"):
        assert tmp_path / ".config" / host / storage in roots
        assert tmp_path / "Library/Application Support" / host / storage in roots
        assert tmp_path / "AppData/Roaming" / host / storage in roots
    assert tmp_path / ".vscode-server/data" / storage in roots


def test_cline_data_dir_variables_move_the_cli_folder(tmp_path: Path) -> None:
    assert CLINE.default_roots({"CLINE_DIR": "/opt/cline"}, tmp_path)[0] == Path("/opt/cline/data")
    env = {"CLINE_DIR": "/opt/cline", "CLINE_DATA_DIR": "/srv/data"}
    assert CLINE.default_roots(env, tmp_path)[0] == Path("/srv/data")


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    env = {"TOKENTRAIL_ROO_PATHS": str(tmp_path / "elsewhere")}
    assert source_roots(ROO, Config(), env, tmp_path) == [tmp_path / "elsewhere"]


def test_discover_finds_tasks_in_a_vscode_host_and_the_cli_dir(isolated_home: Path) -> None:
    storage = isolated_home / ".config/Cursor/User/globalStorage/saoudrizwan.claude-dev"
    copy_tree(DATA / "cline/data/tasks", storage / "tasks")
    copy_tree(DATA / "cline/data", isolated_home / ".cline/data")
    roots = CLINE.default_roots({}, isolated_home)
    found = [Path(f.path) for f in CLINE.discover(roots)]
    assert found == sorted(
        [
            isolated_home / ".cline/data/tasks" / CLINE_TASK / "ui_messages.json",
            storage / "tasks" / CLINE_TASK / "ui_messages.json",
        ],
        key=str,
    )
    assert {f.kind for f in CLINE.discover(roots)} == {"whole"}


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(CLINE.discover([tmp_path / "absent", tmp_path / "ui_messages.json"])) == []


# --- Cline's counting rules ----------------------------------------------------------------


def test_each_finished_request_is_one_event_with_cline_disjoint_buckets_and_cost() -> None:
    result = parse(CLINE, cline_file())
    events = by_ts(result)
    first = events["1772445601000"]
    assert first.tokens == Tokens(input=12, cache_read=0, cache_write_5m=15000, output=340)
    assert first.reported_cost_usd == pytest.approx(0.061416)
    assert first.key == f"cline:{CLINE_TASK}:1772445601000"
    assert first.session_key == f"cline:{CLINE_TASK}"
    assert first.timestamp.isoformat() == "2026-03-02T10:00:01+00:00"
    assert b"request" not in (first.raw_usage or b"")  # the prompt is never kept


def test_placeholders_and_requests_cancelled_before_any_usage_are_not_requests() -> None:
    events = by_ts(parse(CLINE, cline_file()))
    assert "1772445640000" not in events  # still streaming when written: no counts yet
    assert "1772445710000" not in events  # failed before the provider answered: all zeros


def test_a_request_cancelled_mid_stream_keeps_the_tokens_it_was_billed() -> None:
    cancelled = by_ts(parse(CLINE, cline_file()))["1772445700000"]
    assert cancelled.tokens == Tokens(input=5, cache_read=15400, cache_write_5m=0, output=40)
    assert b"user_cancelled" in (cancelled.raw_usage or b"")


def test_the_model_is_the_last_one_chosen_before_the_request() -> None:
    events = by_ts(parse(CLINE, cline_file()))
    assert events["1772445601000"].model == "claude-sonnet-4-5-20250929"
    assert events["1772445601000"].provider == "anthropic"
    assert events["1772446100000"].model == "gpt-5"
    assert events["1772446100000"].provider == "openai"


def test_subagent_usage_is_one_request_with_cache_not_reported_and_no_model() -> None:
    subagents = by_ts(parse(CLINE, cline_file()))["1772445900000"]
    assert subagents.tokens == Tokens(input=9000, output=700)
    assert subagents.model is None
    assert subagents.reported_cost_usd == pytest.approx(0.04)


def test_deleted_requests_count_on_a_first_read_only() -> None:
    first = parse(CLINE, cline_file())
    assert "1772445800000" in by_ts(first)
    again = parse(CLINE, cline_file(), first.state.memory)
    assert "1772445800000" not in by_ts(again)  # their own messages were read before
    assert again.duplicates == 1
    assert len(again.events) == len(first.events) - 1


def test_a_malformed_message_is_a_counted_skip_and_the_rest_is_read() -> None:
    result = parse(CLINE, cline_file())
    assert [s.reason for s in result.skips] == ["malformed_json"]
    assert "message 9" in result.skips[0].detail
    assert len(result.events) == 7


def test_the_session_has_the_project_from_task_history_and_its_times() -> None:
    [session] = parse(CLINE, cline_file()).sessions
    assert session.key == f"cline:{CLINE_TASK}"
    assert session.project == "/home/ana/src/webapp"
    assert session.started_at is not None and session.ended_at is not None
    assert session.started_at.isoformat() == "2026-03-02T10:00:01+00:00"
    assert session.model is None  # two models answered


def test_a_file_caught_mid_rewrite_is_a_skip_and_keeps_what_was_remembered(tmp_path: Path) -> None:
    path = tmp_path / "tasks/1/ui_messages.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'[{"ts": 1772445601000, "type": "say", "say": "api_req_st')
    result = parse(CLINE, SourceFile("cline", str(path), "whole"), {"read": True})
    assert result.events == []
    assert [s.reason for s in result.skips] == ["malformed_json"]
    assert result.state.memory == {"read": True}


def test_huge_and_negative_counts_are_skipped_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "tasks/1/ui_messages.json"
    path.parent.mkdir(parents=True)
    messages = [
        {
            "ts": 1772445601000,
            "type": "say",
            "say": "api_req_started",
            "text": orjson.dumps({"tokensIn": 1e20, "tokensOut": 1}).decode(),
        },
        {
            "ts": 1772445602000,
            "type": "say",
            "say": "api_req_started",
            "text": orjson.dumps({"tokensIn": -4, "tokensOut": 1}).decode(),
        },
        {
            "ts": 1772445603000,
            "type": "say",
            "say": "api_req_started",
            "text": orjson.dumps({"tokensIn": 7, "tokensOut": 1}).decode(),
        },
    ]
    path.write_bytes(orjson.dumps(messages))
    result = parse(CLINE, SourceFile("cline", str(path), "whole"))
    assert [s.reason for s in result.skips] == ["invalid_count", "invalid_count"]
    assert [e.tokens.input for e in result.events] == [7]


# --- Roo Code's input rule --------------------------------------------------------------------


def roo_file(task: str) -> SourceFile:
    return SourceFile("roo", str(DATA / "roo/tasks" / task / "ui_messages.json"), "whole")


def test_roo_before_its_change_anthropic_input_is_uncached_and_openai_input_holds_the_cache() -> (
    None
):
    events = by_ts(parse(ROO, roo_file(ROO_OLD)))
    anthropic, openai = events["1757498401000"], events["1757498460000"]
    assert anthropic.tokens == Tokens(input=10, cache_read=0, cache_write_5m=2000, output=250)
    assert openai.tokens == Tokens(input=2000, cache_read=3000, cache_write_5m=0, output=100)
    assert len(events) == 2  # the third is a placeholder


def test_roo_since_its_change_input_holds_the_whole_prompt() -> None:
    events = by_ts(parse(ROO, roo_file(ROO_NEW)))
    whole = events["1772445601000"]
    assert whole.tokens == Tokens(input=10, cache_read=10000, cache_write_5m=2000, output=300)
    # smaller than its cache reads: cannot hold them, so it is the uncached input
    small = events["1772445660000"]
    assert small.tokens == Tokens(input=30, cache_read=5000, cache_write_5m=0, output=20)
    assert events["1772445700000"].reported_cost_usd is None  # no cost written


def test_roo_model_comes_from_the_prompts_model_tag_when_the_task_used_one() -> None:
    assert {e.model for e in parse(ROO, roo_file(ROO_OLD)).events} == {"claude-sonnet-4-20250514"}
    assert {e.model for e in parse(ROO, roo_file(ROO_NEW)).events} == {None}  # two: not recorded


def test_roo_subtask_names_its_parent_and_workspace() -> None:
    [session] = parse(ROO, roo_file(ROO_NEW)).sessions
    assert session.parent_key == f"roo:{ROO_OLD}"
    assert session.relationship == "subagent"
    assert session.project == "/home/ana/src/api"


# --- real syncs ------------------------------------------------------------------------------


def test_sync_reads_a_rewritten_task_without_counting_twice(
    isolated_home: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = copy_tree(DATA / "cline/data", isolated_home / ".cline/data")
    monkeypatch.setenv("CLINE_DATA_DIR", str(data))
    path = data / "tasks" / CLINE_TASK / "ui_messages.json"
    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["cline"])
        assert first.new_events == 7
        again = sync(ledger, source_names=["cline"])
        assert (again.new_events, again.files_unchanged) == (0, 1)
        # Cline rewrites the file: the placeholder gets its usage, one request is added
        messages = orjson.loads(path.read_bytes())
        for message in messages:
            if message["ts"] == 1772445640000:
                message["text"] = orjson.dumps(
                    {
                        "tokensIn": 3,
                        "tokensOut": 90,
                        "cacheReads": 15400,
                        "cacheWrites": 0,
                        "cost": 0.006,
                    }
                ).decode()
        messages.append(
            {
                "ts": 1772446300000,
                "type": "say",
                "say": "api_req_started",
                "text": orjson.dumps({"tokensIn": 1, "tokensOut": 2, "cost": 0.001}).decode(),
            }
        )
        path.write_bytes(orjson.dumps(messages))
        third = sync(ledger, source_names=["cline"])
        assert third.new_events == 2
        totals = ledger.store.totals(Filters(sources=("cline",)))
    assert totals.requests == 9


def test_daily_report_for_roo_on_a_real_home(isolated_home: Path, db_path: Path) -> None:
    storage = isolated_home / "Library/Application Support/Code/User/globalStorage"
    copy_tree(DATA / "roo/tasks", storage / "rooveterinaryinc.roo-cline/tasks")
    result = CliRunner().invoke(
        cli, ["daily", "--source", "roo", "-d", str(db_path), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert [row["period"] for row in report["rows"]] == ["2025-09-10", "2026-03-02"]
    assert report["totals"]["requests"] == 5
    assert report["totals"]["input_tokens"] == 10 + 2000 + 10 + 30 + 4000
    assert report["totals"]["reported_cost_usd"] == pytest.approx(
        0.01128 + 0.00705 + 0.01575 + 0.0018
    )


def test_classic_cline_openai_input_holds_the_cache_sdk_era_input_does_not() -> None:
    events = by_ts(parse(CLINE, cline_file()))
    # a classic message (with its "request") from an OpenAI provider: prompt_tokens, cache inside
    assert events["1772446100000"].tokens == Tokens(
        input=1000, cache_read=1000, cache_write_5m=0, output=100
    )
    # written by the SDK-era extension (no "request"): disjoint buckets for every provider
    assert events["1772446150000"].tokens == Tokens(
        input=300, cache_read=1000, cache_write_5m=0, output=50
    )
    # Claude through Anthropic: uncached input, whatever its size
    assert events["1772445601000"].tokens.input == 12
