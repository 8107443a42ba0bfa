"""Gemini CLI source: discovery, the legacy .json and the .jsonl recordings, counting rules."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tokentrail.agents.gemini.reader import GeminiSource
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "gemini"
SESSION_ID = "5f0c1f2e-8a51-4b61-9d4e-2f3a9c1b7e10"
START = "2025-11-03T09:15:02.118Z"
SOURCE = GeminiSource()


# --- builders ------------------------------------------------------------------------------


def usage(
    input: int = 1200,
    output: int = 80,
    cached: int = 0,
    thoughts: int = 0,
    tool: int = 0,
) -> dict[str, int]:
    """A ``tokens`` object as gemini-cli's recordMessageTokens writes it."""
    return {
        "input": input,
        "output": output,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": input + output + thoughts + tool,
    }


def reply(
    message_id: str,
    tokens: Mapping[str, Any] | None,
    *,
    timestamp: str = "2025-11-03T09:15:10.500Z",
    model: str = "gemini-2.5-pro",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "timestamp": timestamp,
        "type": "gemini",
        "content": "Looking at the failing test now.",
        "thoughts": [{"subject": "Plan", "description": "read the test first"}],
        "tokens": tokens,
        "model": model,
        **extra,
    }


def user(message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "timestamp": "2025-11-03T09:15:05.000Z",
        "type": "user",
        "content": [{"text": "fix the flaky test"}],
    }


def metadata(session_id: str = SESSION_ID, **extra: Any) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "projectHash": "9c2d7e4b1a0f3e6d",
        "startTime": START,
        "lastUpdated": START,
        **extra,
    }


def project_dir(root: Path, slug: str = "webapp", project_root: str | None = "/src/webapp") -> Path:
    chats = root / slug / "chats"
    chats.mkdir(parents=True, exist_ok=True)
    if project_root is not None:
        (root / slug / ".project_root").write_text(project_root)
    return chats


def write_jsonl(path: Path, records: Iterable[object], mode: str = "w") -> Path:
    with open(path, mode + "b") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path


def write_json_session(path: Path, messages: list[dict[str, Any]], **extra: Any) -> Path:
    document = {**metadata(), "lastUpdated": "2025-11-03T09:20:00.000Z", **extra}
    document["messages"] = messages
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    kind = "append" if path.suffix == ".jsonl" else "whole"
    return SOURCE.parse(SourceFile("gemini", str(path), kind), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_the_gemini_tmp_dir_under_home(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".gemini" / "tmp"]


def test_gemini_cli_home_moves_the_gemini_dir(tmp_path: Path) -> None:
    roots = SOURCE.default_roots({"GEMINI_CLI_HOME": "/profiles/work"}, tmp_path)
    assert roots == [Path("/profiles/work/.gemini/tmp"), tmp_path / ".gemini" / "tmp"]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    from tokentrail.config import Config
    from tokentrail.sync import source_roots

    env = {"TOKENTRAIL_GEMINI_PATHS": "/a/tmp,/b/tmp", "GEMINI_CLI_HOME": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [Path("/a/tmp"), Path("/b/tmp")]


def test_discover_finds_json_jsonl_and_subagent_recordings(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    chats = project_dir(root)
    (chats / "session-2025-11-03T09-15-5f0c1f2e.json").write_text("{}")
    (chats / "session-2025-11-03T09-15-5f0c1f2e.jsonl").write_text("")
    (chats / SESSION_ID).mkdir()
    (chats / SESSION_ID / "7d1e.jsonl").write_text("")
    (root / "webapp" / "logs.json").write_text("[]")  # not a chat recording
    (chats / "notes.txt").write_text("")

    found = {(Path(f.path).relative_to(root).as_posix(), f.kind) for f in SOURCE.discover([root])}

    assert found == {
        ("webapp/chats/session-2025-11-03T09-15-5f0c1f2e.json", "whole"),
        ("webapp/chats/session-2025-11-03T09-15-5f0c1f2e.jsonl", "append"),
        (f"webapp/chats/{SESSION_ID}/7d1e.jsonl", "append"),
    }


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope"])) == []


# --- counting rules --------------------------------------------------------------------------


def test_cached_is_inside_input_and_thoughts_are_billed_as_output(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_json_session(
        chats / "session-a.json",
        [user("u1"), reply("r1", usage(input=10_000, output=300, cached=6_000, thoughts=700))],
    )

    [event] = parse(path).events

    assert event.tokens == Tokens(input=4_000, cache_read=6_000, output=1_000, reasoning=700)
    # the ledger total equals the API's totalTokenCount
    assert event.tokens.total == 10_000 + 300 + 700


def test_tool_use_prompt_tokens_are_billed_as_input(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    raw = usage(input=70, output=53, cached=0, thoughts=199, tool=79)
    path = write_json_session(chats / "session-a.json", [reply("r1", raw)])

    [event] = parse(path).events

    assert event.tokens.input == 70 + 79
    assert event.tokens.total == raw["total"]


def test_reply_event_carries_ids_model_session_and_raw_usage(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    raw = usage(cached=100)
    path = write_json_session(chats / "session-a.json", [reply("r1", raw)], summary="Fix test")

    result = parse(path)

    [event] = result.events
    assert event.key == f"gemini:{SESSION_ID}:r1"
    assert event.source == "gemini"
    assert event.provider == "google"
    assert event.model == "gemini-2.5-pro"
    assert event.timestamp == datetime(2025, 11, 3, 9, 15, 10, 500_000, tzinfo=UTC)
    assert event.session_key == f"gemini:{SESSION_ID}"
    assert event.project == "/src/webapp"
    assert event.rank == "0|2025-11-03T09:15:02.118000+00:00|"
    assert orjson.loads(event.raw_usage or b"") == raw
    [session] = result.sessions
    assert session.key == f"gemini:{SESSION_ID}"
    assert session.title == "Fix test"
    assert session.project == "/src/webapp"
    assert session.started_at == datetime(2025, 11, 3, 9, 15, 2, 118_000, tzinfo=UTC)
    assert session.ended_at == datetime(2025, 11, 3, 9, 20, tzinfo=UTC)
    assert session.model == "gemini-2.5-pro"


def test_project_falls_back_to_project_hash_without_a_root_marker(tmp_path: Path) -> None:
    chats = project_dir(tmp_path, slug="9c2d7e4b1a0f3e6d", project_root=None)
    path = write_json_session(chats / "session-a.json", [reply("r1", usage())])

    [event] = parse(path).events

    assert event.project == "9c2d7e4b1a0f3e6d"


def test_only_gemini_replies_with_tokens_are_usage(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    info = {"id": "i1", "timestamp": START, "type": "info", "content": "tokens: 5"}
    path = write_json_session(
        chats / "session-a.json",
        [user("u1"), info, reply("r0", None), reply("r1", usage())],
    )

    result = parse(path)

    assert [event.key for event in result.events] == [f"gemini:{SESSION_ID}:r1"]
    assert result.skips == []


def test_cached_larger_than_input_is_a_bad_record(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_json_session(
        chats / "session-a.json",
        [reply("bad", usage(input=100, cached=500)), reply("good", usage())],
    )

    result = parse(path)

    assert [event.key for event in result.events] == [f"gemini:{SESSION_ID}:good"]
    [skip] = result.skips
    assert skip.reason == "invalid_count"
    assert "cached=500" in skip.detail


@pytest.mark.parametrize("bad", [-5, 1.5, "12", True])
def test_negative_or_non_integer_counts_are_skipped(tmp_path: Path, bad: object) -> None:
    chats = project_dir(tmp_path)
    raw: dict[str, Any] = usage()
    raw["output"] = bad
    path = write_json_session(chats / "session-a.json", [reply("r1", raw)])

    result = parse(path)

    assert result.events == []
    assert [skip.reason for skip in result.skips] == ["invalid_count"]


def test_bad_timestamp_is_skipped_not_fatal(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_json_session(
        chats / "session-a.json",
        [reply("r1", usage(), timestamp="yesterday"), reply("r2", usage())],
    )

    result = parse(path)

    assert [event.key for event in result.events] == [f"gemini:{SESSION_ID}:r2"]
    assert [skip.reason for skip in result.skips] == ["invalid_timestamp"]


def test_a_whole_json_file_is_reread_from_the_start(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_json_session(chats / "session-a.json", [reply("r1", usage())])
    first = parse(path)
    write_json_session(path, [reply("r1", usage()), reply("r2", usage(output=9))])

    second = parse(path, first.state)

    assert [event.key for event in second.events] == [
        f"gemini:{SESSION_ID}:r1",
        f"gemini:{SESSION_ID}:r2",
    ]
    assert second.state.offset == path.stat().st_size


def test_a_broken_json_file_is_reported(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = chats / "session-a.json"
    path.write_text('{"sessionId": "x", "messages": [')

    result = parse(path)

    assert result.events == []
    assert [skip.reason for skip in result.skips] == ["invalid_json"]


# --- the .jsonl recording --------------------------------------------------------------------


def test_jsonl_last_record_per_message_id_wins(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    final = usage(input=5_000, output=200, cached=1_000, thoughts=50)
    path = write_jsonl(
        chats / "session-a.jsonl",
        [
            metadata(),
            user("u1"),
            {"$set": {"lastUpdated": "2025-11-03T09:15:06.000Z"}},
            reply("r1", None),  # written before the usage metadata arrived
            reply("r1", final),  # tokens recorded
            reply("r1", final, toolCalls=[{"id": "c1", "name": "read_file"}]),  # re-appended
            {"$set": {"lastUpdated": "2025-11-03T09:15:20.000Z"}},
        ],
    )

    result = parse(path)

    [event] = result.events
    assert event.tokens == Tokens(input=4_000, cache_read=1_000, output=250, reasoning=50)
    assert result.duplicates == 1
    [session] = result.sessions
    assert session.ended_at == datetime(2025, 11, 3, 9, 15, 20, tzinfo=UTC)


def test_jsonl_malformed_and_non_object_lines_are_skipped_with_their_line(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_jsonl(chats / "session-a.jsonl", [metadata(), reply("r1", usage())])
    with open(path, "ab") as handle:
        handle.write(b'{"id": "r2", "type": "gemini", "tokens": {"input": 1\n')
        handle.write(b'["tokens", "sessionId"]\n')
    write_jsonl(path, [reply("r3", usage(output=7))], mode="a")

    result = parse(path)

    assert sorted(event.key.rsplit(":", 1)[1] for event in result.events) == ["r1", "r3"]
    assert [(skip.reason, skip.line) for skip in result.skips] == [
        ("invalid_json", 3),
        ("not_an_object", 4),
    ]
    assert result.state.line_no == 5


def test_jsonl_incremental_append_equals_one_parse(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    first_part = [metadata(), user("u1"), reply("r1", usage(input=900, cached=100))]
    second_part = [
        reply("r1", usage(input=900, cached=100), toolCalls=[{"id": "c1"}]),
        user("u2"),
        reply("r2", usage(input=2_000, output=40, thoughts=12)),
        {"$set": {"summary": "Flaky test fix", "lastUpdated": "2025-11-03T09:30:00.000Z"}},
    ]
    whole = write_jsonl(
        project_dir(tmp_path, slug="copy") / "session-b.jsonl", first_part + second_part
    )
    growing = write_jsonl(chats / "session-a.jsonl", first_part)

    step1 = parse(growing)
    write_jsonl(growing, second_part, mode="a")
    step2 = parse(growing, step1.state)
    once = parse(whole)

    assert by_key(step1.events + step2.events) == by_key(once.events)
    assert len(by_key(once.events)) == 2
    assert step2.state.offset == growing.stat().st_size
    # the second step still knows the session from the first step's memory
    assert {e.session_key for e in step2.events} == {f"gemini:{SESSION_ID}"}
    assert step2.sessions[0].title == "Flaky test fix"
    assert step2.sessions[0].started_at == step1.sessions[0].started_at


def test_jsonl_line_being_written_is_left_for_next_time(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_jsonl(chats / "session-a.jsonl", [metadata(), reply("r1", usage())])
    complete = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(b'{"id":"r2","type":"gemini","tokens":{"input":')

    result = parse(path)

    assert result.pending_partial_line
    assert result.state.offset == complete
    assert result.skips == []


def test_rewound_replies_stay_counted(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    path = write_jsonl(
        chats / "session-a.jsonl",
        [metadata(), user("u1"), reply("r1", usage()), {"$rewindTo": "u1"}, reply("r2", usage())],
    )

    keys = {event.key for event in parse(path).events}

    assert keys == {f"gemini:{SESSION_ID}:r1", f"gemini:{SESSION_ID}:r2"}


def test_messages_inside_a_set_update_are_the_same_requests(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    raw = usage(input=3_000, cached=1_000)
    path = write_jsonl(
        chats / "session-a.jsonl",
        [metadata(), reply("r1", raw), {"$set": {"messages": [user("u1"), reply("r1", raw)]}}],
    )

    result = parse(path)

    assert [event.key for event in result.events] == [f"gemini:{SESSION_ID}:r1"]


def test_resumed_json_session_copied_into_jsonl_is_counted_once(tmp_path: Path) -> None:
    """Resuming a legacy .json session writes all its messages again into a .jsonl."""
    chats = project_dir(tmp_path)
    messages = [user("u1"), reply("r1", usage(cached=200)), reply("r2", usage(output=5))]
    legacy = write_json_session(chats / "session-a.json", messages)
    migrated = write_jsonl(
        chats / "session-a.jsonl", [metadata(), *messages, reply("r3", usage(output=9))]
    )

    legacy_events = by_key(parse(legacy).events)
    migrated_events = by_key(parse(migrated).events)

    assert set(legacy_events) < set(migrated_events)
    assert len(by_key([*legacy_events.values(), *migrated_events.values()])) == 3
    for key, event in legacy_events.items():
        assert migrated_events[key].tokens == event.tokens


def test_subagent_recording_is_a_child_session(tmp_path: Path) -> None:
    chats = project_dir(tmp_path)
    (chats / SESSION_ID).mkdir()
    child_id = "7d1e0a44-1b2c-4d5e-8f90-a1b2c3d4e5f6"
    path = write_jsonl(
        chats / SESSION_ID / f"{child_id}.jsonl",
        [
            metadata(child_id, kind="subagent", directories=["/src/webapp"]),
            reply("s1", usage(), model="gemini-2.5-flash"),
        ],
    )

    result = parse(path)

    [event] = result.events
    assert event.key == f"gemini:{child_id}:s1"
    assert event.project == "/src/webapp"
    [session] = result.sessions
    assert session.parent_key == f"gemini:{SESSION_ID}"
    assert session.relationship == "subagent"


def test_shared_sample_session(tmp_path: Path) -> None:
    chats = project_dir(tmp_path, slug="abc123def456", project_root=None)
    path = chats / "session-2024-01-01T10-00-sessuuid.json"
    shutil.copy(DATA / "agentsview-standard_session.json", path)

    result = parse(path)

    events = by_key(result.events)
    assert set(events) == {"gemini:sess-uuid-1:a1", "gemini:sess-uuid-1:a2"}
    assert events["gemini:sess-uuid-1:a1"].tokens == Tokens(
        input=1_400, cache_read=100, output=250, reasoning=50
    )
    assert events["gemini:sess-uuid-1:a2"].tokens == Tokens(
        input=1_950, cache_read=50, output=400, reasoning=100
    )
    assert events["gemini:sess-uuid-1:a1"].project == "abc123def456"
    assert result.skips == []


def test_tool_tokens_already_inside_input_are_not_added_again(tmp_path: Path) -> None:
    # The API keeps toolUsePromptTokenCount apart from promptTokenCount (its total is their
    # sum); a record whose total shows the tool tokens inside input is not counted twice.
    chats = project_dir(tmp_path)
    raw = {**usage(input=149, output=53, thoughts=199, tool=79), "total": 149 + 53 + 199}
    path = write_json_session(chats / "session-a.json", [reply("r1", raw)])

    [event] = parse(path).events

    assert event.tokens.input == 149
    assert event.tokens.total == raw["total"]
