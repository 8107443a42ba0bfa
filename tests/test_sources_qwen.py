"""Qwen Code source: discovery, chat recordings and the counting rules."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.qwen.reader import QwenSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "qwen"
SESSION = "8e4c1d2a-6b7f-4e90-a1c3-5d2f7b9e0a11"
PROJECT = "-home-dev-src-ledger-ui"
SOURCE = QwenSource()


# --- builders ------------------------------------------------------------------------------


def usage(
    prompt: int = 15_210,
    candidates: int = 812,
    cached: int = 14_720,
    thoughts: int | None = None,
    total: int | None = -1,
) -> dict[str, int]:
    """``usageMetadata`` as Qwen Code records it; ``total=-1`` is prompt + candidates, the way
    OpenAI-compatible backends report it (reasoning inside the candidates)."""
    raw = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    raw["cachedContentTokenCount"] = cached
    if thoughts is not None:
        raw["thoughtsTokenCount"] = thoughts
    if total == -1:
        raw["totalTokenCount"] = prompt + candidates
    elif total is not None:
        raw["totalTokenCount"] = total
    return raw


def base(uuid: str, kind: str, timestamp: str, session: str = SESSION) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "parentUuid": None,
        "sessionId": session,
        "timestamp": timestamp,
        "type": kind,
        "cwd": "/home/dev/src/ledger-ui",
        "version": "0.15.2",
        "gitBranch": "main",
    }


def reply(
    uuid: str,
    raw: Mapping[str, Any] | None,
    *,
    timestamp: str = "2026-09-14T07:30:41.233Z",
    model: str = "qwen3-coder-plus",
    **extra: Any,
) -> dict[str, Any]:
    record = base(uuid, "assistant", timestamp, extra.pop("session", SESSION))
    record.update(model=model, message={"role": "model", "parts": [{"text": "Done."}]})
    if raw is not None:
        record["usageMetadata"] = dict(raw)
    record.update(extra)
    return record


def telemetry(uuid: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    record = base(uuid, "system", "2026-09-14T07:30:41.300Z")
    record["subtype"] = "ui_telemetry"
    record["systemPayload"] = {
        "uiEvent": {
            "event.name": "qwen-code.api_response",
            "input_token_count": raw["promptTokenCount"],
            "output_token_count": raw["candidatesTokenCount"],
            "usageMetadata": dict(raw),
        }
    }
    return record


def chat_file(root: Path, session: str = SESSION, project: str = PROJECT) -> Path:
    path = root / project / "chats" / f"{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write(path: Path, records: Iterable[Mapping[str, Any] | bytes]) -> Path:
    with path.open("ab") as handle:
        for record in records:
            handle.write(record if isinstance(record, bytes) else orjson.dumps(record) + b"\n")
    return path


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("qwen", str(path), "append"), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_the_projects_dir_under_dot_qwen(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".qwen" / "projects"]


def test_qwen_runtime_dir_adds_its_projects_dir(tmp_path: Path) -> None:
    roots = SOURCE.default_roots({"QWEN_RUNTIME_DIR": "/runtime"}, tmp_path)
    assert roots == [Path("/runtime/projects"), tmp_path / ".qwen" / "projects"]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    from tokentrail.config import Config
    from tokentrail.sync import source_roots

    env = {"TOKENTRAIL_QWEN_PATHS": "/x/qwen", "QWEN_RUNTIME_DIR": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [Path("/x/qwen")]


def test_discover_finds_chat_recordings_only(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    write(chat_file(root), [reply("u1", usage())])
    write(chat_file(root, "other", "-srv-api"), [])
    nested = root / PROJECT / "chats" / SESSION / "agent-explore.jsonl"
    nested.parent.mkdir(parents=True)
    nested.write_text("")
    (root / PROJECT / "notes.jsonl").write_text("")
    (root / PROJECT / "chats" / "index.json").write_text("{}")

    found = [Path(f.path).relative_to(root).as_posix() for f in SOURCE.discover([root])]

    assert sorted(found) == [
        f"{PROJECT}/chats/{SESSION}.jsonl",
        f"{PROJECT}/chats/{SESSION}/agent-explore.jsonl",
        "-srv-api/chats/other.jsonl",
    ]


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope"])) == []


# --- counting --------------------------------------------------------------------------------


def test_cached_is_inside_the_prompt_and_reasoning_inside_the_candidates(tmp_path: Path) -> None:
    raw = usage(prompt=15_210, candidates=812, cached=14_720, thoughts=300)
    path = write(chat_file(tmp_path), [reply("u1", raw)])

    [event] = parse(path).events

    assert event.tokens == Tokens(input=490, cache_read=14_720, output=812, reasoning=300)
    assert event.key == "qwen:u1"
    assert event.model == "qwen3-coder-plus"
    assert event.session_key == f"qwen:{SESSION}"
    assert (event.project, event.git_branch) == ("/home/dev/src/ledger-ui", "main")
    assert event.timestamp == datetime(2026, 9, 14, 7, 30, 41, 233_000, tzinfo=UTC)
    assert orjson.loads(event.raw_usage or b"") == raw


def test_gemini_style_thoughts_outside_the_candidates_are_added(tmp_path: Path) -> None:
    # a Gemini backend: total = prompt + candidates + thoughts
    raw = usage(prompt=2_000, candidates=100, cached=0, thoughts=50, total=2_150)
    path = write(chat_file(tmp_path), [reply("u1", raw, model="gemini-2.5-pro")])

    [event] = parse(path).events

    assert (event.tokens.output, event.tokens.reasoning) == (150, 50)


def test_ui_telemetry_repeats_are_not_counted(tmp_path: Path) -> None:
    raw = usage()
    path = write(chat_file(tmp_path), [reply("u1", raw), telemetry("t1", raw)])

    result = parse(path)

    assert [e.key for e in result.events] == ["qwen:u1"]
    assert result.skips == [] and result.duplicates == 0


def test_records_without_usage_are_not_requests(tmp_path: Path) -> None:
    user = base("u0", "user", "2026-09-14T07:30:05.112Z")
    user["message"] = {"role": "user", "parts": [{"text": "what is usageMetadata?"}]}
    path = write(chat_file(tmp_path), [user, reply("u1", None)])

    result = parse(path)

    assert (result.events, result.skips) == ([], [])


def test_a_repeated_record_is_one_request(tmp_path: Path) -> None:
    path = write(chat_file(tmp_path), [reply("u1", usage()), reply("u1", usage())])

    result = parse(path)

    assert len(result.events) == 1 and result.duplicates == 1


def test_a_branch_copy_is_the_same_request_and_stays_with_the_original(tmp_path: Path) -> None:
    original = write(chat_file(tmp_path), [reply("u1", usage())])
    fork = "b7d9e0f1-2a3b-4c5d-8e6f-7a8b9c0d1e2f"
    copy = reply(
        "u1", usage(), session=fork, forkedFrom={"sessionId": SESSION, "messageUuid": "u1"}
    )
    own = reply("u2", usage(prompt=20_000), session=fork, timestamp="2026-09-14T08:00:00Z")
    forked = write(chat_file(tmp_path, fork), [copy, own])

    from_fork = parse(forked)
    merged = by_key([*from_fork.events, *parse(original).events])

    assert set(merged) == {"qwen:u1", "qwen:u2"}
    assert merged["qwen:u1"].session_key == f"qwen:{SESSION}"
    assert merged["qwen:u2"].session_key == f"qwen:{fork}"
    [session] = from_fork.sessions
    assert (session.parent_key, session.relationship) == (f"qwen:{SESSION}", "fork")


def test_subagent_records_get_a_child_session(tmp_path: Path) -> None:
    path = write(
        chat_file(tmp_path), [reply("u1", usage(), agentId="explore-7f3c", isSidechain=True)]
    )

    result = parse(path)

    [event] = result.events
    assert event.session_key == f"qwen:{SESSION}:agent:explore-7f3c"
    child = next(s for s in result.sessions if s.key == event.session_key)
    assert (child.parent_key, child.relationship) == (f"qwen:{SESSION}", "subagent")


def test_the_title_and_the_spawning_session_are_read(tmp_path: Path) -> None:
    title = base("s1", "system", "2026-09-14T07:31:00Z")
    title.update(subtype="custom_title", systemPayload={"customTitle": "Dark mode"})
    parent = base("s2", "system", "2026-09-14T07:29:00Z")
    parent.update(subtype="parent_session", systemPayload={"parentSessionId": "p-1"})
    path = write(chat_file(tmp_path), [parent, reply("u1", usage()), title])

    [session] = parse(path).sessions

    assert (session.title, session.parent_key, session.model) == (
        "Dark mode",
        "qwen:p-1",
        "qwen3-coder-plus",
    )
    assert session.started_at == datetime(2026, 9, 14, 7, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (usage(prompt=100, cached=500), "invalid_count"),  # cached above the prompt
        ({"promptTokenCount": -3, "candidatesTokenCount": 1}, "invalid_count"),
        ({"promptTokenCount": 1.5, "candidatesTokenCount": 1}, "invalid_count"),
    ],
)
def test_bad_counts_are_skipped_not_read_as_zero(
    tmp_path: Path, raw: dict[str, Any], reason: str
) -> None:
    path = write(chat_file(tmp_path), [reply("bad", raw), reply("good", usage())])

    result = parse(path)

    assert [e.key for e in result.events] == ["qwen:good"]
    assert [(s.reason, s.line) for s in result.skips] == [(reason, 1)]


def test_malformed_lines_and_bad_timestamps_are_skipped_with_their_line(tmp_path: Path) -> None:
    nameless = reply("nouuid", usage())
    del nameless["uuid"]
    path = write(
        chat_file(tmp_path),
        [
            b'{"type": "assistant", "usageMetadata": {\n',
            b'["usageMetadata"]\n',
            reply("late", usage(), timestamp="soon"),
            nameless,
            reply("good", usage()),
        ],
    )

    result = parse(path)

    assert [e.key for e in result.events] == ["qwen:good"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("invalid_json", 1),
        ("not_an_object", 2),
        ("invalid_timestamp", 3),
        ("missing_id", 4),
    ]


def test_appending_equals_one_read_and_a_line_being_written_waits(tmp_path: Path) -> None:
    path = write(chat_file(tmp_path), [reply("u1", usage())])
    text = orjson.dumps(reply("u2", usage(prompt=16_000), timestamp="2026-09-14T07:35:00Z"))
    write(path, [text[:50]])
    first = parse(path)
    write(path, [text[50:] + b"\n"])
    second = parse(path, first.state)
    once = parse(path)

    assert first.pending_partial_line
    assert [e.key for e in second.events] == ["qwen:u2"]
    assert by_key(first.events + second.events) == by_key(once.events)
    assert second.sessions[0].title is None and second.sessions[0].project is not None


def test_shared_sample_session(tmp_path: Path) -> None:
    path = chat_file(tmp_path)
    shutil.copy(DATA / "session.jsonl", path)

    result = parse(path)

    assert result.skips == []
    assert [(e.tokens.input, e.tokens.cache_read, e.tokens.output) for e in result.events] == [
        (14_820, 0, 96),
        (490, 14_720, 812),
    ]
    [session] = result.sessions
    assert (session.title, session.project) == ("Dark mode toggle", "/home/dev/src/ledger-ui")


# --- end to end ------------------------------------------------------------------------------


def test_daily_report_for_qwen_from_a_real_home(isolated_home: Path, db_path: Path) -> None:
    root = isolated_home / ".qwen" / "projects"
    write(
        chat_file(root),
        [
            reply("u1", usage(), model="qwen3-coder-plus", timestamp="2026-09-14T07:30:00Z"),
            telemetry("t1", usage()),
            reply("u2", usage(), model="qwen-mystery-7b", timestamp="2026-09-15T07:30:00Z"),
        ],
    )

    result = CliRunner().invoke(
        cli, ["daily", "-d", str(db_path), "--source", "qwen", "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    rows = {r["period"]: r for r in orjson.loads(result.stdout)["rows"]}
    assert (rows["2026-09-14"]["requests"], rows["2026-09-14"]["input_tokens"]) == (1, 490)
    # a model nobody prices is unpriced, never $0
    assert rows["2026-09-15"]["cost_usd"] is None
    assert rows["2026-09-15"]["unpriced_requests"] == 1


def test_a_second_sync_without_changes_reads_nothing(isolated_home: Path, db_path: Path) -> None:
    path = write(chat_file(isolated_home / ".qwen" / "projects"), [reply("u1", usage())])

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["qwen"], workers=1)
        second = sync(ledger, source_names=["qwen"], workers=1)
        write(path, [reply("u2", usage(), timestamp="2026-09-14T08:00:00Z")])
        third = sync(ledger, source_names=["qwen"], workers=1)

    assert (first.files_read, first.new_events) == (1, 1)
    assert (second.files_read, second.files_unchanged, second.new_events) == (0, 1, 0)
    assert (third.files_read, third.new_events) == (1, 1)
    assert third.bytes_read < path.stat().st_size  # only the appended line was read


def test_the_dashboard_names_and_colours_qwen() -> None:
    from tokentrail.server.rendering import agent_colours, source_label

    css = agent_colours()
    assert source_label("qwen") == "Qwen Code"
    assert ".source-qwen::before" in css
