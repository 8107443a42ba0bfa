"""mux source: per-message history, forks and sub-agents, and growth of the usage snapshot."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.mux.reader import MuxSource
from tokentrail.cli import cli
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import source_roots, sync
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "mux" / ".mux"
MAIN, FORK, CHILD, OLD = "a1b2c3d4e5", "f6e5d4c3b2", "c0ffee0001", "5a5a5a5a5a"
SONNET, HAIKU = "anthropic:claude-sonnet-4-5", "anthropic:claude-haiku-4-5"
SEEN = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
SOURCE = MuxSource()


# --- builders ------------------------------------------------------------------------------


def mux_home(home: Path, name: str = ".mux") -> Path:
    root = home / name
    shutil.copytree(DATA, root)
    snapshot = root / "sessions" / OLD / "session-usage.json"
    os.utime(snapshot, (SEEN.timestamp(), SEEN.timestamp()))
    return root


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    kind = "whole" if path.suffix == ".json" else "append"
    return SOURCE.parse(SourceFile("mux", str(path), kind), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


def bucket(tokens: int, cost: float | None = None) -> dict[str, Any]:
    return {"tokens": tokens} if cost is None else {"tokens": tokens, "cost_usd": cost}


def model_usage(
    input: int, cached: int = 0, create: int = 0, output: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input": bucket(input, input * 3e-6),
        "cached": bucket(cached, cached * 3e-7),
        "cacheCreate": bucket(create, create * 3.75e-6),
        "output": bucket(output, output * 1.5e-5),
        "reasoning": bucket(reasoning, reasoning * 1.5e-5),
    }


def write_snapshot(
    path: Path, by_model: dict[str, Any], when: datetime = SEEN, **extra: Any
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"byModel": by_model, "version": 1, **extra}))
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def assistant(
    message_id: str, at_ms: int, usage: dict[str, Any], **metadata: Any
) -> dict[str, Any]:
    return {
        "id": message_id,
        "role": "assistant",
        "parts": [{"type": "text", "text": "done"}],
        "metadata": {"timestamp": at_ms, "model": SONNET, "usage": usage, **metadata},
    }


def write_jsonl(path: Path, records: Iterable[object], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode + "b") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path


def events_by_session(db: Path) -> dict[str | None, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT session_key, COUNT(*) FROM events GROUP BY 1").fetchall()
    return dict(rows)


def token_sums(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COUNT(*), SUM(input), SUM(cache_read), SUM(output), SUM(reasoning) FROM events"
        ).fetchone()
    return tuple(x or 0 for x in row)


# --- roots and discovery ---------------------------------------------------------------------


def test_default_roots_are_every_home_mux_has_used(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [
        tmp_path / ".xum" / "sessions",
        tmp_path / ".mux" / "sessions",
        tmp_path / ".cmux" / "sessions",
    ]


def test_xum_root_then_mux_root_move_the_home(tmp_path: Path) -> None:
    both = {"XUM_ROOT": "/srv/xum", "MUX_ROOT": "/srv/mux"}
    assert SOURCE.default_roots(both, tmp_path) == [Path("/srv/xum/sessions")]
    assert SOURCE.default_roots({"MUX_ROOT": "/srv/mux"}, tmp_path) == [Path("/srv/mux/sessions")]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    env = {"TOKENTRAIL_MUX_PATHS": "/a/sessions", "XUM_ROOT": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [Path("/a/sessions")]


def test_every_history_and_snapshot_is_found(isolated_home: Path) -> None:
    root = mux_home(isolated_home) / "sessions"

    found = {(Path(f.path).relative_to(root).as_posix(), f.kind) for f in SOURCE.discover([root])}

    assert found == {
        (f"{MAIN}/chat-archive.jsonl", "append"),
        (f"{MAIN}/chat.jsonl", "append"),
        (f"{MAIN}/headless-usage.jsonl", "append"),
        (f"{MAIN}/session-usage.json", "whole"),
        (f"{FORK}/chat.jsonl", "append"),
        (f"{FORK}/session-usage.json", "whole"),
        (f"{CHILD}/chat.jsonl", "append"),
        (f"{OLD}/session-usage.json", "whole"),
    }


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope"])) == []


# --- per-message history ---------------------------------------------------------------------


def test_cache_reads_and_writes_come_out_of_the_sdk_input() -> None:
    events = by_key(parse(DATA / "sessions" / MAIN / "chat.jsonl").events)

    reply = events["mux:assistant-1775812001000-z9x8c7v6b"]
    # inputTokens 16,300 includes 14,900 cache reads and 800 cache writes
    assert reply.tokens == Tokens(input=600, cache_read=14_900, cache_write_5m=800, output=980)
    assert (reply.provider, reply.model) == ("anthropic", "claude-sonnet-4-5")
    assert reply.session_key == f"mux:{MAIN}"
    assert reply.project == "/home/ana/src/api"


def test_reasoning_is_inside_the_sdk_output() -> None:
    events = by_key(parse(DATA / "sessions" / MAIN / "chat.jsonl").events)

    reply = events["mux:assistant-1775812101000-l1k2j3h4g"]
    assert reply.tokens == Tokens(input=5_004, cache_read=4_096, output=2_600, reasoning=1_900)


def test_a_tools_model_call_is_its_own_request() -> None:
    events = by_key(parse(DATA / "sessions" / MAIN / "chat.jsonl").events)

    tool = events["mux:assistant-1775812001000-z9x8c7v6b:tool:toolu_01WebFetch"]
    assert tool.model == "claude-haiku-4-5"
    assert tool.tokens.input == 3_100


def test_historical_usage_of_a_compaction_is_not_counted_again() -> None:
    events = parse(DATA / "sessions" / MAIN / "chat.jsonl").events

    summary = by_key(events)["mux:assistant-1775811800000-c0mp4ct10"]
    # the summary request itself, not the 12,000 cache writes of the archived request it repeats
    assert summary.tokens == Tokens(input=900, cache_read=14_000, cache_write_5m=0, output=420)
    assert sum(e.tokens.cache_write_5m or 0 for e in events) == 800


def test_headless_calls_are_counted_and_keyed_stably() -> None:
    path = DATA / "sessions" / MAIN / "headless-usage.jsonl"

    [first] = parse(path).events
    [again] = parse(path).events

    assert first.key == again.key and first.key.startswith("mux:headless:")
    assert first.tokens == Tokens(input=820, cache_read=0, output=12)


def test_a_sub_agent_workspace_is_a_subagent_session() -> None:
    [session] = parse(DATA / "sessions" / CHILD / "chat.jsonl").sessions

    assert session.parent_key == f"mux:{MAIN}"
    assert session.relationship == "subagent"


@pytest.mark.parametrize("fork_first", [False, True])
def test_a_fork_copy_is_counted_once_and_belongs_to_its_source(fork_first: bool) -> None:
    files = [DATA / "sessions" / MAIN / "chat.jsonl", DATA / "sessions" / FORK / "chat.jsonl"]
    if fork_first:
        files.reverse()

    merged = by_key(event for path in files for event in parse(path).events)

    assert len(merged) == 5  # 4 in the source's active history, 1 of the fork's own
    owners = {key: event.session_key for key, event in merged.items()}
    assert owners.pop("mux:assistant-1775824001000-f0r4k2222") == f"mux:{FORK}"
    assert set(owners.values()) == {f"mux:{MAIN}"}


def test_malformed_history_lines_are_counted_skips(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "chat.jsonl"
    write_jsonl(
        path, [assistant("assistant-1", 1775812001000, {"inputTokens": 10, "outputTokens": 2})]
    )
    with open(path, "ab") as handle:
        handle.write(b'{"id":"assistant-2","role":"assistant","metadata":{"usage":\n')
        handle.write(b'["usage"]\n')
    write_jsonl(
        path,
        [
            assistant("assistant-3", 1775812002000, {"inputTokens": -1, "outputTokens": 2}),
            assistant("assistant-4", "yesterday", {"inputTokens": 1, "outputTokens": 2}),  # type: ignore[arg-type]
            {"role": "assistant", "metadata": {"usage": {"inputTokens": 1}}},
            assistant("assistant-6", 1775812003000, {"inputTokens": 7, "outputTokens": 3}),
        ],
        mode="a",
    )

    result = parse(path)

    assert sorted(e.key for e in result.events) == ["mux:assistant-1", "mux:assistant-6"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("malformed_json", 2),
        ("malformed_json", 3),
        ("invalid_count", 4),
        ("bad_timestamp", 5),
        ("missing_id", 6),
    ]


def test_appended_messages_are_read_alone(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "ws" / "chat.jsonl",
        [assistant("assistant-1", 1775812001000, {"inputTokens": 10, "outputTokens": 2})],
    )
    first = parse(path)
    write_jsonl(
        path, [assistant("assistant-2", 1775812009000, {"inputTokens": 5, "outputTokens": 1})], "a"
    )

    second = parse(path, first.state)

    assert [e.key for e in second.events] == ["mux:assistant-2"]
    assert first.state.offset < second.state.offset == path.stat().st_size


def test_an_atomic_rewrite_of_the_history_counts_nothing_twice(
    isolated_home: Path, db_path: Path
) -> None:
    chat = mux_home(isolated_home) / "sessions" / MAIN / "chat.jsonl"
    with Ledger(db_path) as ledger:
        sync(ledger, source_names=["mux"])
        before = token_sums(db_path)
        # mux rewrites chat.jsonl through a temporary file when a message changes
        lines = chat.read_bytes().splitlines(keepends=True)
        temporary = chat.with_suffix(".tmp")
        temporary.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"mode"', b'"agent"'))
        os.replace(temporary, chat)
        again = sync(ledger, source_names=["mux"])

    assert again.files_read == 1 and again.new_events == 0
    assert token_sums(db_path) == before


# --- the cumulative snapshot -----------------------------------------------------------------


def test_a_first_read_counts_the_totals_less_rolled_up_sub_agents() -> None:
    result = parse(DATA / "sessions" / OLD / "session-usage.json")

    events = {e.model: e for e in result.events}
    sonnet, haiku = events["claude-sonnet-4-5"], events["claude-haiku-4-5"]
    # mux's output excludes reasoning; the ledger's includes it
    assert sonnet.tokens == Tokens(
        input=41_000, cache_read=512_000, cache_write_5m=38_000, output=11_300, reasoning=2_200
    )
    # the deleted sub-agent (2,000 in, 500 out) was counted from its own workspace
    assert haiku.tokens == Tokens(
        input=4_000, cache_read=0, cache_write_5m=0, output=200, reasoning=0
    )
    assert haiku.reported_cost_usd == pytest.approx(0.0095 - 0.0045)
    assert sonnet.key == f"mux:snapshot:{OLD}:0:{SONNET}:0"
    assert orjson.loads(sonnet.raw_usage or b"{}")["derived_from"] == "session-usage.json"


def test_snapshot_growth_is_dated_when_the_snapshot_was_written(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(100)})

    [event] = parse(path).events

    assert event.timestamp == SEEN


def test_only_the_growth_between_two_reads_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "session-usage.json"
    write_snapshot(path, {SONNET: model_usage(1_000, 5_000, 300, 200, 50)})
    first = parse(path)
    later = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    write_snapshot(path, {SONNET: model_usage(1_400, 9_000, 300, 260, 50)}, when=later)

    [growth] = parse(path, first.state).events

    assert growth.tokens == Tokens(
        input=400, cache_read=4_000, cache_write_5m=0, output=60, reasoning=0
    )
    assert growth.timestamp == later
    assert growth.key == f"mux:snapshot:ws:0:{SONNET}:{1_000 + 5_000 + 300 + 200 + 50}"
    assert growth.reported_cost_usd == pytest.approx(400 * 3e-6 + 4_000 * 3e-7 + 60 * 1.5e-5)


def test_reading_the_same_snapshot_again_counts_nothing_and_keys_repeat(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(10, 20)})
    first = parse(path)

    assert parse(path, first.state).events == []
    # a read that was never committed (a kill, a second sync at the same time) is read again
    # from the same memory, into the same keys
    assert [e.key for e in parse(path).events] == [e.key for e in first.events]


def test_a_rebuilt_snapshot_never_counts_negative_or_twice(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "session-usage.json"
    write_snapshot(path, {SONNET: model_usage(1_000, 500), HAIKU: model_usage(40)})
    first = parse(path)
    # mux rebuilt the file from what history is left: lower totals
    write_snapshot(path, {SONNET: model_usage(600, 500)})
    rebuilt = parse(path, first.state)
    write_snapshot(path, {SONNET: model_usage(650, 500)})
    grown = parse(path, rebuilt.state)

    assert rebuilt.events == []
    assert [s.reason for s in rebuilt.skips] == ["snapshot_rebuilt"]
    [growth] = grown.events
    assert growth.tokens.input == 50
    # a new generation: its keys cannot merge with the first generation's
    assert growth.key == f"mux:snapshot:ws:1:{SONNET}:1100"
    assert growth.key not in {e.key for e in first.events}


def test_a_malformed_snapshot_changes_nothing_until_it_reads_again(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(100)})
    first = parse(path)
    path.write_bytes(b'{"byModel": {"anthropic:claude')
    broken = parse(path, first.state)
    write_snapshot(path, {SONNET: model_usage(130)})

    [growth] = parse(path, broken.state).events

    assert broken.events == [] and [s.reason for s in broken.skips] == ["malformed_json"]
    assert growth.tokens.input == 30


def test_a_model_entry_with_a_bad_count_is_skipped_and_counted_once_fixed(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(100)})
    first = parse(path)
    bad = model_usage(150)
    bad["output"]["tokens"] = -3
    write_snapshot(path, {SONNET: bad, HAIKU: model_usage(7)})
    second = parse(path, first.state)
    write_snapshot(path, {SONNET: model_usage(150), HAIKU: model_usage(7)})
    third = parse(path, second.state)

    assert [e.model for e in second.events] == ["claude-haiku-4-5"]
    assert [s.reason for s in second.skips] == ["invalid_count"]
    assert [(e.model, e.tokens.input) for e in third.events] == [("claude-sonnet-4-5", 50)]


def test_a_forked_workspace_starts_from_its_own_empty_snapshot(tmp_path: Path) -> None:
    source = write_snapshot(tmp_path / "src" / "session-usage.json", {SONNET: model_usage(900)})
    fork = write_snapshot(tmp_path / "fork" / "session-usage.json", {})
    parse(source)

    empty = parse(fork)
    write_snapshot(fork, {SONNET: model_usage(25)})
    [own] = parse(fork, empty.state).events

    assert empty.events == []
    assert own.tokens.input == 25
    assert own.session_key == "mux:fork"


def test_a_legacy_roll_up_without_totals_withholds_that_growth(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(100)})
    first = parse(path)
    write_snapshot(path, {SONNET: model_usage(180)}, rolledUpFrom={"child-1": True})
    second = parse(path, first.state)
    write_snapshot(path, {SONNET: model_usage(200)}, rolledUpFrom={"child-1": True})

    assert second.events == []
    assert [s.reason for s in second.skips] == ["rolled_up_subagent"]
    [later] = parse(path, second.state).events
    assert later.tokens.input == 20


def test_beside_a_history_the_snapshot_only_moves_its_baseline(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "ws" / "session-usage.json", {SONNET: model_usage(900)})
    chat = write_jsonl(tmp_path / "ws" / "chat.jsonl", [])
    first = parse(path)
    # mux deletes chat.jsonl when the history is cleared; the snapshot keeps growing
    chat.unlink()
    write_snapshot(path, {SONNET: model_usage(960)})

    [growth] = parse(path, first.state).events

    assert first.events == [] and first.skips == []
    assert growth.tokens.input == 60


def test_an_unknown_model_is_kept_unpriced(isolated_home: Path, db_path: Path) -> None:
    root = isolated_home / ".xum" / "sessions"
    write_snapshot(root / "ws1" / "session-usage.json", {"acme:mystery-1": model_usage(500)})

    result = CliRunner().invoke(
        cli, ["daily", "--source", "mux", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    report = orjson.loads(result.stdout)
    assert report["totals"]["requests"] == 1
    assert report["totals"]["unpriced_requests"] == 1
    assert report["unpriced_models"][0]["model"] == "mystery-1"


# --- through the ledger ----------------------------------------------------------------------


def test_snapshot_growth_survives_the_ledger_merge_across_syncs(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_snapshot(
        isolated_home / ".mux" / "sessions" / "ws1" / "session-usage.json",
        {SONNET: model_usage(1_000, 2_000)},
    )
    with Ledger(db_path) as ledger:
        sync(ledger, source_names=["mux"])
        write_snapshot(path, {SONNET: model_usage(1_300, 2_000)}, when=SEEN.replace(hour=11))
        grown = sync(ledger, source_names=["mux"])
        # the same snapshot written again (mux rewrites it for its token-stats cache)
        write_snapshot(path, {SONNET: model_usage(1_300, 2_000)}, when=SEEN.replace(hour=12))
        rewritten = sync(ledger, source_names=["mux"])

    assert grown.new_events == 1
    assert rewritten.files_read == 1 and rewritten.new_events == 0
    # totals exact: the ledger holds what the snapshot says, once
    assert token_sums(db_path)[:3] == (2, 1_300, 2_000)


def test_snapshot_memory_survives_a_new_parser_version(
    isolated_home: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_snapshot(
        isolated_home / ".mux" / "sessions" / "ws1" / "session-usage.json",
        {SONNET: model_usage(1_000)},
    )
    with Ledger(db_path) as ledger:
        sync(ledger, source_names=["mux"])
        write_snapshot(path, {SONNET: model_usage(1_600)}, when=SEEN.replace(hour=11))
        sync(ledger, source_names=["mux"])
        monkeypatch.setattr(MuxSource, "parser_version", MuxSource.parser_version + 1)
        again = sync(ledger, source_names=["mux"])

    # re-read from scratch without the memory, 1,600 would be counted on top of the 1,600
    assert again.files_read == 1
    assert token_sums(db_path)[:2] == (2, 1_600)


def test_sync_counts_the_sample_home_once(isolated_home: Path, db_path: Path) -> None:
    mux_home(isolated_home)

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["mux"])
        again = sync(ledger, source_names=["mux"])

    assert (first.new_events, again.new_events, again.files_read) == (10, 0, 0)
    assert events_by_session(db_path) == {
        f"mux:{MAIN}": 6,
        f"mux:{FORK}": 1,
        f"mux:{CHILD}": 1,
        f"mux:{OLD}": 2,
    }


def test_daily_report_for_mux_on_a_real_home(isolated_home: Path, db_path: Path) -> None:
    mux_home(isolated_home)

    result = CliRunner().invoke(
        cli, ["daily", "--source", "mux", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    days = {row["period"]: row for row in report["rows"]}
    assert days["2026-04-10"]["requests"] == 8
    assert days["2026-01-06"]["requests"] == 2  # the snapshot, dated when it was written
    assert days["2026-04-10"]["cache_write_tokens"] == 12_000 + 800 + 400
    assert report["totals"]["unpriced_requests"] == 0
