"""Claude Code source: discovery, counting rules and incremental parsing on real JSONL files."""

from __future__ import annotations

import functools
import itertools
import random
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tokentrail.agents.claude_code.reader import ClaudeCodeSource
from tokentrail.agents.claude_code.replies import Reply
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.usage import (
    Session,
    Tokens,
    UsageEvent,
    merge_events,
    newer_session,
)

DATA = Path(__file__).parent / "data" / "claude_code"

SOURCE = ClaudeCodeSource()

SESSION = "f3a9c2d4-5b6e-4f70-8a91-b2c3d4e5f601"
RESUMED = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"  # sorts before SESSION on purpose
AGENT = "a7c41e09"
CWD = "/home/dev/code/shop-api"
PROJECT_DIR = "-home-dev-code-shop-api"
SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-1-20250805"

BIG_FILE = "\n".join(
    f"    def handler_{i}(request):  # usage of the cache layer" for i in range(800)
)


# --- builders: lines as Claude Code writes them ------------------------------------------------


def ts(text: str) -> str:
    return f"2025-10-14T{text}Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-10-14T{text}+00:00").astimezone(UTC)


def envelope(
    kind: str,
    when: str,
    *,
    session: str = SESSION,
    sidechain: bool = False,
    agent: str | None = None,
    branch: str = "feature/checkout",
    uuid: str = "00000000-0000-4000-8000-000000000000",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "parentUuid": "11111111-2222-4333-8444-555555555555",
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": CWD,
        "sessionId": session,
        "version": "2.0.14",
        "gitBranch": branch,
    }
    if agent is not None:
        record["agentId"] = agent
    record |= {"type": kind, "uuid": uuid, "timestamp": ts(when)}
    return record


def usage(
    *,
    inp: int = 4,
    out: int = 1,
    read: int = 21_873,
    w5m: int = 1_204,
    w1h: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": w5m + w1h,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h},
        "output_tokens": out,
        "service_tier": "standard",
        **extra,
    }


def assistant(
    msg_id: str | None,
    request_id: str | None,
    when: str,
    use: dict[str, Any],
    *,
    model: str = SONNET,
    content: list[dict[str, Any]] | None = None,
    **env: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "model": model,
        "type": "message",
        "role": "assistant",
        "content": content or [{"type": "text", "text": "Let me look at the checkout flow."}],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": use,
    }
    if msg_id is not None:
        message = {"id": msg_id, **message}
    record = envelope("assistant", when, **env)
    record["message"] = message
    if request_id is not None:
        record["requestId"] = request_id
    return record


def user_prompt(text: str, when: str, **env: Any) -> dict[str, Any]:
    record = envelope("user", when, **env)
    record["message"] = {"role": "user", "content": text}
    return record


def tool_result(
    tool_use_id: str, output: str, when: str, *, result: Any = None, **env: Any
) -> dict[str, Any]:
    record = envelope("user", when, **env)
    record["message"] = {
        "role": "user",
        "content": [{"tool_use_id": tool_use_id, "type": "tool_result", "content": output}],
    }
    if result is not None:
        record["toolUseResult"] = result
    return record


def tool_use(tool_id: str, name: str, **args: Any) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": tool_id, "name": name, "input": args}]


def summary(text: str) -> dict[str, Any]:
    return {"type": "summary", "summary": text, "leafUuid": "99999999-8888-4777-8666-555555555555"}


def jsonl(records: Iterable[dict[str, Any] | bytes]) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else orjson.dumps(r)).rstrip(b"\n") + b"\n" for r in records
    )


def write(path: Path, records: Iterable[dict[str, Any] | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl(records))
    return path


def session_file(root: Path, session: str = SESSION) -> Path:
    return root / "projects" / PROJECT_DIR / f"{session}.jsonl"


def agent_file(root: Path, agent: str = AGENT, session: str = SESSION) -> Path:
    return root / "projects" / PROJECT_DIR / session / "subagents" / f"agent-{agent}.jsonl"


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("claude_code", str(path)), state or ParseState())


def merged(results: Iterable[ParseResult]) -> dict[str, UsageEvent]:
    """What the ledger keeps: one event per key, merged with the one rule."""
    events: dict[str, UsageEvent] = {}
    for result in results:
        for event in result.events:
            known = events.get(event.key)
            events[event.key] = event if known is None else merge_events(known, event)
    return events


def merged_sessions(results: Iterable[ParseResult]) -> dict[str, Session]:
    sessions: dict[str, Session] = {}
    for result in results:
        for session in result.sessions:
            known = sessions.get(session.key)
            sessions[session.key] = session if known is None else newer_session(known, session)
    return sessions


def only(events: Sequence[UsageEvent] | Iterable[UsageEvent]) -> UsageEvent:
    (event,) = list(events)
    return event


def realistic_session() -> list[dict[str, Any]]:
    """A working session: prompt, streamed replies with thinking and tool calls, big tool
    output, a subagent launch whose result carries the subagent's usage, a title."""
    big_read = {"type": "text", "file": {"filePath": "/x/app.py", "content": BIG_FILE}}
    task_result = {
        "status": "completed",
        "agentId": AGENT,
        "totalTokens": 48_210,
        "usage": usage(inp=12, out=2_310, read=40_000, w5m=5_888),
    }
    return [
        summary("Fix checkout rounding bug"),
        user_prompt("The checkout total is off by a cent, find out why.", "09:00:00.000"),
        assistant(
            "msg_01A",
            "req_01A",
            "09:00:03.120",
            usage(out=1),
            content=[{"type": "thinking", "thinking": "Look at totals.", "signature": "c2ln"}],
        ),
        assistant("msg_01A", "req_01A", "09:00:04.870", usage(out=1)),
        assistant(
            "msg_01A",
            "req_01A",
            "09:00:05.410",
            usage(out=187),
            content=tool_use("toolu_01", "Read", file_path="/x/app.py"),
        ),
        tool_result("toolu_01", BIG_FILE, "09:00:05.600", result=big_read),
        assistant(
            "msg_01B",
            "req_01B",
            "09:00:09.002",
            usage(inp=6, out=95, read=23_077, w5m=16_990),
            content=tool_use("toolu_02", "Task", description="trace rounding", prompt="..."),
        ),
        tool_result("toolu_02", "Rounding happens twice.", "09:03:41.500", result=task_result),
        assistant(
            "msg_01C",
            "req_01C",
            "09:03:44.250",
            usage(inp=5, out=640, read=40_067, w5m=0, w1h=2_114),
            model=OPUS,
            branch="fix/rounding",
        ),
        user_prompt("Thanks, that is it.", "09:05:00.000"),
    ]


# --- registration and roots ----------------------------------------------------------------------


def test_source_identity_and_registration() -> None:
    assert SOURCE.name == "claude_code"
    assert SOURCE.parser_version == 3
    assert SOURCE.env_var == "TOKENTRAIL_CLAUDE_CODE_PATHS"


def test_default_roots_from_home(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [
        tmp_path / ".config" / "claude" / "projects",
        tmp_path / ".claude" / "projects",
    ]
    # an empty variable is the same as an unset one
    assert SOURCE.default_roots({"CLAUDE_CONFIG_DIR": " , "}, tmp_path) == SOURCE.default_roots(
        {}, tmp_path
    )


def test_claude_config_dir_comma_list_replaces_defaults(tmp_path: Path) -> None:
    env = {"CLAUDE_CONFIG_DIR": "~/work-claude, /srv/claude-ci ,~"}
    assert SOURCE.default_roots(env, tmp_path) == [
        tmp_path / "work-claude" / "projects",
        Path("/srv/claude-ci/projects"),
        tmp_path / "projects",
    ]


# --- discovery -----------------------------------------------------------------------------------


def test_discover_is_recursive_deduplicated_sorted_and_survives_symlink_loops(
    tmp_path: Path,
) -> None:
    root = tmp_path / ".claude" / "projects"
    main = write(session_file(tmp_path / ".claude"), realistic_session())
    sub = write(agent_file(tmp_path / ".claude"), [])
    old_agent = write(root / PROJECT_DIR / "agent-5d1e.jsonl", [])
    other = write(root / "-home-dev-notes" / "e1e1e1e1-0000-4000-8000-000000000000.jsonl", [])
    (root / PROJECT_DIR / SESSION / "subagents" / f"agent-{AGENT}.meta.json").write_text("{}")
    (root / PROJECT_DIR / "notes.txt").write_text("not a transcript")
    (root / PROJECT_DIR / SESSION / "loop").symlink_to(root / PROJECT_DIR)  # a symlink loop
    alias = tmp_path / "alias-projects"
    alias.symlink_to(root)  # a second root reaching the same files

    found = list(SOURCE.discover([root, alias, tmp_path / "missing" / "projects"]))

    assert [f.path for f in found] == sorted(
        str(p.resolve()) for p in (main, sub, old_agent, other)
    )
    assert {(f.source, f.kind) for f in found} == {("claude_code", "append")}


def test_discover_missing_roots_yield_nothing(tmp_path: Path) -> None:
    roots = SOURCE.default_roots({}, tmp_path)
    assert list(SOURCE.discover(roots)) == []


# --- counting rules ------------------------------------------------------------------------------


def test_streaming_partials_collapse_to_largest_snapshot_dated_by_first(tmp_path: Path) -> None:
    result = parse(write(session_file(tmp_path), realistic_session()))

    first = result.events[0]
    assert first.key == "claude_code:msg_01A"
    assert first.tokens.output == 187  # the final snapshot, not the first "1"
    assert first.timestamp == at("09:00:03.120")  # when the request was first written
    assert [e.key for e in result.events] == [
        "claude_code:msg_01A",
        "claude_code:msg_01B",
        "claude_code:msg_01C",
    ]
    assert result.duplicates == 2


def test_tokens_map_to_buckets_and_context_is_kept(tmp_path: Path) -> None:
    result = parse(write(session_file(tmp_path), realistic_session()))
    event = result.events[2]

    assert event.tokens == Tokens(
        input=5, cache_read=40_067, cache_write_5m=0, cache_write_1h=2_114, output=640
    )
    assert event.model == OPUS
    assert event.provider == "anthropic"
    assert event.session_key == SESSION
    assert event.project == CWD
    assert event.git_branch == "fix/rounding"
    assert event.reported_cost_usd is None
    assert event.pricing_context == ()
    assert orjson.loads(event.raw_usage or b"") == usage(
        inp=5, out=640, read=40_067, w5m=0, w1h=2_114
    )


def test_session_summary_from_the_lines(tmp_path: Path) -> None:
    result = parse(write(session_file(tmp_path), realistic_session()))

    (session,) = result.sessions
    assert session == Session(
        key=SESSION,
        source="claude_code",
        project=CWD,
        title="Fix checkout rounding bug",  # the summary line has no sessionId
        # times of the lines read; prompts hold no usage and are never parsed
        started_at=at("09:00:03.120"),
        ended_at=at("09:03:44.250"),
        model=SONNET,
        git_branch="feature/checkout",
    )


def test_subagent_result_on_user_line_is_not_a_request(tmp_path: Path) -> None:
    # toolUseResult.usage is the subagent's total, already counted from its own file
    result = parse(write(session_file(tmp_path), realistic_session()))
    assert sum(e.tokens.total for e in result.events) == sum(
        u["input_tokens"]
        + u["cache_read_input_tokens"]
        + u["cache_creation_input_tokens"]
        + u["output_tokens"]
        for u in (
            usage(out=187),
            usage(inp=6, out=95, read=23_077, w5m=16_990),
            usage(inp=5, out=640, read=40_067, w5m=0, w1h=2_114),
        )
    )
    assert result.skips == []


def test_usage_iterations_of_type_message_are_not_added(tmp_path: Path) -> None:
    use = usage(inp=3, out=900, read=50_000, w5m=0, w1h=7_000)
    use["iterations"] = [
        {
            "input_tokens": 2,
            "output_tokens": 400,
            "cache_read_input_tokens": 25_000,
            "cache_creation_input_tokens": 3_000,
            "type": "message",
        },
        {
            "input_tokens": 1,
            "output_tokens": 500,
            "cache_read_input_tokens": 25_000,
            "cache_creation_input_tokens": 4_000,
            "type": "message",
        },
    ]
    use["speed"] = "standard"
    path = write(session_file(tmp_path), [assistant("msg_it", "req_it", "10:00:00.000", use)])

    event = only(parse(path).events)
    assert event.tokens == Tokens(
        input=3, cache_read=50_000, cache_write_5m=0, cache_write_1h=7_000, output=900
    )


def test_only_assistant_lines_are_requests(tmp_path: Path) -> None:
    nested = assistant("msg_sub", "req_sub", "10:00:01.000", usage(out=70), sidechain=True)
    progress = envelope("progress", "10:00:01.100")
    progress |= {"data": {"type": "agent_progress", "message": nested}, "toolUseID": "toolu_7"}
    echoed = user_prompt("continue", "10:00:02.000")
    echoed["message"]["usage"] = usage(out=70)  # a usage object on a user message
    untyped_user = {
        "timestamp": ts("10:00:03.000"),
        "sessionId": SESSION,
        "message": {"role": "user", "id": "msg_u", "usage": usage(out=70)},
    }
    path = write(
        session_file(tmp_path),
        [progress, echoed, untyped_user, assistant("msg_a", "req_a", "10:00:04.000", usage())],
    )
    result = parse(path)
    assert [e.key for e in result.events] == ["claude_code:msg_a"]
    assert result.skips == []


def test_pasted_transcript_in_tool_output_is_not_counted(tmp_path: Path) -> None:
    pasted = jsonl(
        [assistant("msg_pasted", "req_pasted", "08:00:00.000", usage(out=99_999))]
    ).decode()
    nested_copy = {
        "type": "text",
        "file": {"filePath": "/tmp/old.jsonl", "content": pasted},
        # structured, not escaped: a tool that returned parsed transcript records
        "records": [{"type": "assistant", "message": {"id": "msg_x", "usage": usage(out=5)}}],
    }
    path = write(
        session_file(tmp_path),
        [
            user_prompt(f"Why is this so expensive?\n{pasted}", "10:00:00.000"),
            assistant(
                "msg_r",
                "req_r",
                "10:00:02.000",
                usage(out=30),
                content=tool_use("toolu_9", "Read", file_path="/tmp/old.jsonl"),
            ),
            tool_result("toolu_9", pasted, "10:00:02.500", result=nested_copy),
            assistant(
                "msg_s",
                "req_s",
                "10:00:06.000",
                usage(out=12),
                content=[{"type": "text", "text": f'It says "usage": {pasted}'}],
            ),
        ],
    )

    result = parse(path)
    assert [e.key for e in result.events] == ["claude_code:msg_r", "claude_code:msg_s"]
    assert [e.tokens.output for e in result.events] == [30, 12]


def test_synthetic_model_is_skipped_and_not_the_session_model(tmp_path: Path) -> None:
    error = assistant(
        "b8d1f6a0-synthetic",
        None,
        "10:00:01.000",
        {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": None,
        },
        model="<synthetic>",
        content=[{"type": "text", "text": "API Error: 529 Overloaded"}],
    )
    error["isApiErrorMessage"] = True
    path = write(
        session_file(tmp_path),
        [error, assistant("msg_ok", "req_ok", "10:00:30.000", usage(out=44))],
    )

    result = parse(path)
    assert [e.key for e in result.events] == ["claude_code:msg_ok"]
    assert [(s.reason, s.line) for s in result.skips] == [("synthetic_model", 1)]
    assert result.sessions[0].model == SONNET
    assert result.sessions[0].started_at == at("10:00:01.000")


def test_keys_fall_back_to_request_id_then_a_stable_hash(tmp_path: Path) -> None:
    gateway: dict[str, Any] = {"model": "glm-4.6"}
    path = write(
        session_file(tmp_path),
        [
            assistant("msg_only", None, "10:00:00.000", usage(out=10)),
            assistant(None, "req_only", "10:00:10.000", usage(out=1), **gateway),
            assistant(None, "req_only", "10:00:11.000", usage(out=20), **gateway),
            assistant(None, None, "10:00:20.000", usage(out=30), **gateway),
            assistant(None, None, "10:00:30.000", usage(out=40), **gateway),
        ],
    )

    result = parse(path)
    keys = [e.key for e in result.events]
    assert keys[:2] == ["claude_code:msg_only", "claude_code:req:req_only"]
    assert result.events[1].tokens.output == 20
    assert result.events[1].provider is None  # not a Claude model
    assert all(k.startswith("claude_code:hash:") for k in keys[2:]) and keys[2] != keys[3]
    assert [e.key for e in parse(path).events] == keys  # stable across re-reads


def test_cost_usd_of_older_versions_is_kept(tmp_path: Path) -> None:
    old = {
        "timestamp": ts("07:00:00.000"),
        "sessionId": SESSION,
        "message": {
            "role": "assistant",
            "id": "msg_old",
            "model": "claude-3-5-sonnet-20241022",
            "usage": {
                "input_tokens": 900,
                "output_tokens": 70,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
        "requestId": "req_old",
        "costUSD": 0.003750,
        "version": "0.2.70",
    }
    event = only(parse(write(session_file(tmp_path), [old])).events)
    assert event.reported_cost_usd == pytest.approx(0.00375)
    assert event.tokens == Tokens(input=900, cache_read=0, cache_write_5m=0, output=70)


def test_cache_creation_split_and_unsplit_forms(tmp_path: Path) -> None:
    unsplit = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3_000,
        "cache_read_input_tokens": 12_000,
        "output_tokens": 50,
    }
    split = usage(inp=10, out=50, read=12_000, w5m=1_000, w1h=2_000)
    empty_split = dict(unsplit, cache_creation={})
    path = write(
        session_file(tmp_path),
        [
            assistant("msg_u", "req_u", "10:00:00.000", unsplit),
            assistant("msg_s", "req_s", "10:01:00.000", split),
            assistant("msg_e", "req_e", "10:02:00.000", empty_split),
        ],
    )

    by_key = {e.key: e.tokens for e in parse(path).events}
    assert by_key["claude_code:msg_u"] == Tokens(10, 12_000, 3_000, None, 50)
    assert by_key["claude_code:msg_s"] == Tokens(10, 12_000, 1_000, 2_000, 50)
    assert by_key["claude_code:msg_e"] == Tokens(10, 12_000, 3_000, None, 50)


def test_price_flags_and_thinking_tokens(tmp_path: Path) -> None:
    fast = usage(out=3_000, speed="fast", output_tokens_details={"thinking_tokens": 1_200})
    priority = usage(out=80, service_tier="priority", speed="standard")
    bad_details = usage(out=10, output_tokens_details={"thinking_tokens": 99})
    path = write(
        session_file(tmp_path),
        [
            assistant("msg_f", "req_f", "10:00:00.000", fast, model=OPUS),
            assistant("msg_p", "req_p", "10:01:00.000", priority),
            assistant("msg_b", "req_b", "10:02:00.000", bad_details),
        ],
    )

    fast_event, priority_event, odd_event = parse(path).events
    assert fast_event.pricing_context == (("speed", "fast"),)
    assert fast_event.tokens.reasoning == 1_200
    assert fast_event.tokens.output == 3_000  # reasoning is inside output
    assert priority_event.pricing_context == (("service_tier", "priority"),)
    assert priority_event.tokens.reasoning is None  # not reported
    assert odd_event.tokens.reasoning is None  # more thinking than output: not believable
    assert odd_event.tokens.output == 10


def test_null_fields_never_drop_a_line(tmp_path: Path) -> None:
    record = assistant(
        "msg_n",
        None,
        "10:00:00.000",
        {
            "input_tokens": 7,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 0,
            "cache_creation": None,
            "output_tokens": 25,
            "service_tier": None,
            "speed": None,
            "server_tool_use": None,
            "output_tokens_details": None,
        },
        content=None,
    )
    record |= {
        "cwd": None,
        "gitBranch": None,
        "isSidechain": None,
        "requestId": None,
        "costUSD": None,
        "parentUuid": None,
        "agentId": None,
    }
    record["message"] |= {"stop_reason": None, "content": None}
    path = write(session_file(tmp_path), [record])

    result = parse(path)
    event = only(result.events)
    assert event.tokens == Tokens(input=7, cache_read=0, cache_write_5m=100, output=25)
    assert event.project == PROJECT_DIR  # no cwd: the project folder's name
    assert event.git_branch is None
    assert event.session_key == SESSION
    assert event.rank.startswith("0|")
    assert result.skips == []


def test_implausible_dates_are_skipped_not_stretched_over_the_reports(tmp_path: Path) -> None:
    future = assistant("msg_future", "req_future", "10:00:00.000", usage(out=5))
    future["timestamp"] = "2526-05-04T10:00:00.000Z"
    epoch_zero = assistant("msg_1970", "req_1970", "10:00:01.000", usage(out=5))
    epoch_zero["timestamp"] = 0
    good = assistant("msg_ok", "req_ok", "10:00:02.000", usage(out=5))
    path = session_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(jsonl([future, epoch_zero, good]))

    result = parse(path)

    assert [e.key for e in result.events] == ["claude_code:msg_ok"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("bad_timestamp", 1),
        ("bad_timestamp", 2),
    ]


def test_malformed_truncated_and_invalid_lines_are_counted_with_file_and_line(
    tmp_path: Path,
) -> None:
    good = assistant("msg_g", "req_g", "10:00:00.000", usage(out=5))
    bad_stamp = assistant("msg_t", "req_t", "yesterday", usage(out=5))
    no_stamp = assistant("msg_t2", "req_t2", "10:00:01.000", usage(out=5))
    del no_stamp["timestamp"]
    negative = assistant("msg_neg", "req_neg", "10:00:02.000", usage(out=-3))
    text_count = assistant("msg_str", "req_str", "10:00:03.000", usage(inp="12"))  # type: ignore[arg-type]
    fraction = assistant("msg_frac", "req_frac", "10:00:04.000", usage(out=1.5))  # type: ignore[arg-type]
    empty = assistant("msg_empty", "req_empty", "10:00:05.000", {"service_tier": "standard"})
    # cut off after its usage object began: it passes the pre-filter and fails to parse
    cut = orjson.dumps(assistant("msg_cut", "req_cut", "10:00:06.000", usage(out=5)))[:-200]
    assert b'"usage"' in cut
    path = session_file(tmp_path)
    path.parent.mkdir(parents=True)
    lines = [good, bad_stamp, no_stamp, negative, text_count, fraction, empty]
    last = assistant("msg_last", "req_last", "10:00:09.000", usage(out=8))
    path.write_bytes(
        jsonl([*lines, cut, b'["usage", 1]', b'"usage"'])  # lines 1-10
        + orjson.dumps(last)[:-40]  # line 11: still being written, no newline
    )

    result = parse(path)

    assert [e.key for e in result.events] == ["claude_code:msg_g"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("bad_timestamp", 2),
        ("bad_timestamp", 3),
        ("invalid_count", 4),
        ("invalid_count", 5),
        ("invalid_count", 6),
        ("empty_usage", 7),
        ("malformed_json", 8),
        ("malformed_json", 9),
        ("malformed_json", 10),
    ]
    assert {s.path for s in result.skips} == {str(path)}
    assert result.skips[2].where == f"{path}:4"
    assert "output_tokens" in result.skips[2].detail
    # the unfinished last line is left for the next read, not consumed nor skipped
    assert result.pending_partial_line is True
    assert result.state.line_no == 10
    assert result.state.offset == len(jsonl([*lines, cut, b'["usage", 1]', b'"usage"']))

    with path.open("ab") as handle:
        handle.write(orjson.dumps(last)[-40:] + b"\n")
    rest = parse(path, result.state)
    assert [e.key for e in rest.events] == ["claude_code:msg_last"]
    assert rest.skips == [] and rest.pending_partial_line is False


def test_prefilter_never_parses_lines_without_usage(tmp_path: Path) -> None:
    # A huge tool output that was cut off mid-line holds no usage: the pre-filter drops it
    # before any JSON parsing, so it is neither an event nor a skip.
    huge = orjson.dumps(tool_result("toolu_1", BIG_FILE * 20, "10:00:00.000"))[:-500]
    path = write(
        session_file(tmp_path),
        [huge, assistant("msg_a", "req_a", "10:00:05.000", usage(out=9))],
    )
    result = parse(path)
    assert [e.key for e in result.events] == ["claude_code:msg_a"]
    assert result.skips == []


# --- duplicates across files -------------------------------------------------------------------


def test_resumed_session_copy_stays_with_the_session_that_first_wrote_it(tmp_path: Path) -> None:
    original = write(
        session_file(tmp_path),
        [
            user_prompt("Add a coupon field.", "09:00:00.000"),
            assistant("msg_1", "req_1", "09:00:04.000", usage(out=300)),
            assistant("msg_2", "req_2", "09:10:00.000", usage(out=1)),
            assistant("msg_2", "req_2", "09:10:02.000", usage(out=420)),
        ],
    )
    # Resumed hours later: the new file starts with a copy of the end of the history, with
    # its own sessionId (which sorts first, so only the rank can keep msg_2 in place).
    resumed = write(
        session_file(tmp_path, RESUMED),
        [
            summary("Coupon field"),
            assistant("msg_2", "req_2", "09:10:02.000", usage(out=420), session=RESUMED),
            user_prompt("Now validate it.", "14:00:00.000", session=RESUMED),
            assistant("msg_3", "req_3", "14:00:05.000", usage(out=77), session=RESUMED),
        ],
    )
    first, second = parse(original), parse(resumed)

    for order in ((first, second), (second, first)):
        events = merged(order)
        assert sorted(events) == ["claude_code:msg_1", "claude_code:msg_2", "claude_code:msg_3"]
        assert events["claude_code:msg_2"].session_key == SESSION
        assert events["claude_code:msg_2"].tokens.output == 420
        assert events["claude_code:msg_2"].timestamp == at("09:10:00.000")
        assert events["claude_code:msg_3"].session_key == RESUMED
    assert merged_sessions([second])[RESUMED].title == "Coupon field"


def test_sidechain_replay_loses_to_the_main_thread_in_any_order(tmp_path: Path) -> None:
    main = write(
        session_file(tmp_path),
        [
            user_prompt("Audit the payment module.", "09:30:00.000"),
            assistant(
                "msg_main",
                "req_main",
                "09:30:06.000",
                usage(out=210),
                content=tool_use("toolu_t", "Task", description="audit", prompt="..."),
            ),
            tool_result("toolu_t", "No issues found.", "09:34:00.000"),
        ],
    )
    side: dict[str, Any] = {"sidechain": True, "agent": AGENT}
    sub = write(
        agent_file(tmp_path),
        [
            # The subagent file's history starts before the main file's first usage line,
            # so only the sidechain flag keeps the main-thread copy in charge.
            user_prompt("Audit the payment module for races.", "09:29:59.000", **side),
            assistant("msg_sub1", "req_sub1", "09:29:59.500", usage(out=55), **side),
            # a replay of the parent's reply: same message.id, a new requestId
            assistant("msg_main", "req_replay", "09:30:06.000", usage(out=210), **side),
            assistant("msg_sub2", "req_sub2", "09:31:10.000", usage(out=95), **side),
        ],
    )
    main_result, sub_result = parse(main), parse(sub)

    for order in itertools.permutations([main_result, sub_result]):
        events = merged(order)
        assert events["claude_code:msg_main"].session_key == SESSION
        assert events["claude_code:msg_main"].rank.startswith("0|")
        assert events["claude_code:msg_sub1"].session_key == f"{SESSION}:agent-{AGENT}"
    assert len(merged([main_result, sub_result])) == 3

    (subagent,) = sub_result.sessions
    assert subagent.key == f"{SESSION}:agent-{AGENT}"
    assert subagent.parent_key == SESSION
    assert subagent.relationship == "subagent"
    assert subagent.started_at == at("09:29:59.500")


def test_subagent_file_lines_without_agent_fields_still_belong_to_the_subagent(
    tmp_path: Path,
) -> None:
    sub = write(
        agent_file(tmp_path),
        [assistant("msg_s", "req_s", "09:31:00.000", usage(out=5), session=SESSION)],
    )
    event = only(parse(sub).events)
    assert event.session_key == f"{SESSION}:agent-{AGENT}"
    assert event.rank.startswith("1|")


def test_old_layouts_of_sidechains(tmp_path: Path) -> None:
    # 1.0-era: sidechain lines inside the main file, without agentId
    inline = write(
        session_file(tmp_path),
        [assistant("msg_i", "req_i", "09:00:00.000", usage(out=5), sidechain=True)],
    )
    # 2.0-era: <project>/agent-<id>.jsonl beside the main transcripts
    beside = write(
        tmp_path / "projects" / PROJECT_DIR / "agent-5d1e.jsonl",
        [assistant("msg_b", "req_b", "09:00:00.000", usage(out=5), sidechain=True, agent="5d1e")],
    )

    inline_event = only(parse(inline).events)
    assert inline_event.session_key == SESSION
    assert inline_event.rank.startswith("1|")
    beside_result = parse(beside)
    assert only(beside_result.events).session_key == f"{SESSION}:agent-5d1e"
    assert beside_result.sessions[0].parent_key == SESSION


def test_workflow_agent_files_one_level_deeper(tmp_path: Path) -> None:
    path = write(
        tmp_path
        / "projects"
        / PROJECT_DIR
        / SESSION
        / "subagents"
        / "workflows"
        / "wf_9"
        / "agent-77aa.jsonl",
        [assistant("msg_w", "req_w", "09:00:00.000", usage(), session=None)],
    )
    result = parse(path)
    event = only(result.events)
    assert event.session_key == f"{SESSION}:agent-77aa"
    assert result.sessions[0].parent_key == SESSION
    assert event.rank.startswith("1|")


def test_duplicates_merge_the_same_way_whatever_the_order(tmp_path: Path) -> None:
    copies = [
        parse(write(session_file(tmp_path), realistic_session())),
        parse(
            write(
                session_file(tmp_path, RESUMED),
                [
                    assistant(
                        "msg_01B",
                        "req_01B",
                        "09:00:09.002",
                        usage(inp=6, out=95, read=23_077, w5m=16_990),
                        session=RESUMED,
                    ),
                ],
            )
        ),
    ]
    events = [e for r in copies for e in r.events if e.key == "claude_code:msg_01B"]
    results = {functools.reduce(merge_events, perm) for perm in itertools.permutations(events)}
    assert len(results) == 1


# --- incremental parsing ----------------------------------------------------------------------


def test_incremental_parse_equals_one_shot_at_every_cut(tmp_path: Path) -> None:
    records: list[dict[str, Any] | bytes] = [
        *realistic_session(),
        assistant("msg_x", None, "09:06:00.000", usage(out=1), model="<synthetic>"),
        {"type": "custom-title", "customTitle": "rounding", "sessionId": SESSION},
        assistant("msg_01D", "req_01D", "09:07:00.000", usage(out=1)),
        assistant("msg_01D", "req_01D", "09:07:01.000", usage(out=333)),
    ]
    data = jsonl(records)
    whole = write(tmp_path / "whole" / "projects" / PROJECT_DIR / f"{SESSION}.jsonl", records)
    once = parse(whole)
    growing = session_file(tmp_path / "growing")
    growing.parent.mkdir(parents=True)

    line_ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    cuts = sorted({*line_ends, *(end - 7 for end in line_ends), *(end - 1 for end in line_ends)})
    for cut in cuts:
        growing.write_bytes(data[:cut])
        first = parse(growing)
        orjson.dumps(first.state.memory)  # the cursor's memory must stay serialisable
        growing.write_bytes(data)
        second = parse(growing, first.state)

        assert second.state.offset == once.state.offset == len(data)
        # The rank ends with the file's latest timestamp when read (how resumed copies are
        # told from the original), so it may differ by cut; what it decides may not.
        assert unranked(merged([first, second])) == unranked(merged([once])), cut
        assert merged_sessions([first, second]) == merged_sessions([once]), cut
        assert [s.reason for s in first.skips + second.skips] == ["synthetic_model"]


def unranked(events: dict[str, UsageEvent]) -> dict[str, UsageEvent]:
    return {key: event.evolve(rank=event.rank.rsplit("|", 1)[0]) for key, event in events.items()}


# --- robustness -------------------------------------------------------------------------------


def test_a_vanished_file_raises_for_the_sync_to_report(tmp_path: Path) -> None:
    # the sync reports it as unreadable and keeps no cursor, so it is read if it comes back
    state = ParseState(offset=120, line_no=3, memory={"first_timestamp": None})
    with pytest.raises(FileNotFoundError):
        parse(tmp_path / "gone.jsonl", state)


def test_summary_before_any_session_line_waits_for_the_next_chunk(tmp_path: Path) -> None:
    path = write(session_file(tmp_path), [summary("Checkout refactor")])
    first = parse(path)
    assert first.sessions == []
    with path.open("ab") as handle:
        handle.write(jsonl([assistant("msg_z", "req_z", "10:00:00.000", usage(out=3))]))
    second = parse(path, first.state)
    assert second.sessions[0].key == SESSION
    assert second.sessions[0].title == "Checkout refactor"


# --- the shared samples from peer projects ------------------------------------------------------


def fixture(tmp_path: Path, name: str, *parts: str) -> Path:
    target = tmp_path.joinpath("projects", *parts)
    target.parent.mkdir(parents=True)
    shutil.copyfile(DATA / name, target)
    return target


def test_ccusage_fixtures(tmp_path: Path) -> None:
    alpha = parse(
        fixture(
            tmp_path,
            "ccusage-project-alpha-chat.jsonl",
            "project-alpha",
            "session-alpha",
            "chat.jsonl",
        )
    )
    beta = parse(
        fixture(
            tmp_path,
            "ccusage-project-beta-chat.jsonl",
            "project-beta",
            "session-beta",
            "chat.jsonl",
        )
    )

    assert [e.key for e in alpha.events] == [f"claude_code:msg-alpha-{i}" for i in (1, 2, 3)]
    assert [e.reported_cost_usd for e in alpha.events] == [0.12, 0.34, 0.56]
    assert alpha.events[0].tokens == Tokens(100, 10, 25, None, 50)
    assert alpha.events[1].pricing_context == (("speed", "fast"),)
    assert alpha.events[1].model == "claude-opus-4-20250514"
    assert {e.session_key for e in alpha.events} == {"session-alpha"}
    assert {e.project for e in alpha.events} == {"project-alpha"}
    assert sum(e.tokens.total for e in alpha.events) == 185 + 345 + 465
    assert [e.tokens.output for e in beta.events] == [25, 35]
    assert beta.sessions[0].started_at == datetime(2026, 2, 3, 8, 0, tzinfo=UTC)
    assert beta.sessions[0].ended_at == datetime(2026, 2, 3, 11, 45, tzinfo=UTC)
    assert alpha.skips == beta.skips == []


def test_agentsview_valid_session_fixture(tmp_path: Path) -> None:
    path = fixture(
        tmp_path, "agentsview-valid_session.jsonl", "-Users-alice-code-my-app", "valid.jsonl"
    )
    result = parse(path)

    assert [e.tokens for e in result.events] == [
        Tokens(input=100, cache_read=300, cache_write_5m=200, output=50),
        Tokens(input=150, cache_read=500, cache_write_5m=0, output=75),
    ]
    # no message.id nor requestId in this sample: stable hashes
    assert all(e.key.startswith("claude_code:hash:") for e in result.events)
    assert [e.key for e in parse(path).events] == [e.key for e in result.events]
    assert {e.session_key for e in result.events} == {"valid"}  # no sessionId: the file name
    assert {e.project for e in result.events} == {"-Users-alice-code-my-app"}
    assert result.state.line_no == 4 and result.skips == []


def test_agentsview_truncated_fixture(tmp_path: Path) -> None:
    path = fixture(
        tmp_path, "agentsview-truncated.jsonl", "-Users-alice-code-my-app", "truncated.jsonl"
    )
    result = parse(path)
    assert only(result.events).tokens == Tokens(input=10, output=5)
    # As published, the cut-off third line ends with a newline: a complete (broken) line with
    # no usage bytes, which the pre-filter never parses. Nothing is pending.
    assert result.pending_partial_line is False
    assert result.state.line_no == 3 and result.skips == []

    # The same file while Claude Code is still writing the third line (no newline yet): one
    # event, and the partial line is left pending for the next read.
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    growing = parse(path)
    assert only(growing.events).tokens == Tokens(input=10, output=5)
    assert growing.pending_partial_line is True
    assert growing.state.line_no == 2
    assert growing.state.offset == len(path.read_bytes().rsplit(b"\n", 1)[0]) + 1


# --- advisor calls (usage.iterations[]) -------------------------------------------------------


def advised(out: int, advisor_out: int) -> dict[str, Any]:
    """The usage of a reply during which the executor consulted an advisor (Opus advising
    Sonnet): the top level counts the executor's own call only."""
    return usage(
        out=out,
        iterations=[
            {"type": "message", **usage(out=out)},
            {
                "type": "advisor_message",
                "model": OPUS,
                **usage(inp=900, read=12_000, w5m=300, out=advisor_out),
            },
            {"type": "fallback_message", "model": "claude-haiku-4-5", **usage(out=5)},
        ],
    )


def test_an_advisor_call_is_its_own_request_under_its_own_model(tmp_path: Path) -> None:
    path = write(
        session_file(tmp_path),
        [
            user_prompt("Should we shard the orders table?", "10:00:00.000"),
            # streamed: the partial line already names the advisor entry, with less output
            assistant("msg_adv", "req_adv", "10:00:03.000", advised(out=2, advisor_out=40)),
            assistant("msg_adv", "req_adv", "10:00:09.000", advised(out=610, advisor_out=350)),
        ],
    )
    result = parse(path)
    events = merged([result])
    assert sorted(events) == ["claude_code:msg_adv", "claude_code:msg_adv:iteration:1"]
    reply, advisor = events["claude_code:msg_adv"], events["claude_code:msg_adv:iteration:1"]
    assert (reply.model, reply.tokens.output) == (SONNET, 610)
    assert advisor.model == OPUS and advisor.provider == "anthropic"
    assert advisor.tokens == Tokens(
        input=900, cache_read=12_000, cache_write_5m=300, cache_write_1h=0, output=350
    )
    assert advisor.session_key == reply.session_key == SESSION
    assert advisor.timestamp == at("10:00:03.000")  # dated by the first snapshot, as the reply
    assert result.skips == []


def test_advisor_calls_on_a_resumed_copy_stay_with_the_original(tmp_path: Path) -> None:
    lines = [
        user_prompt("Should we shard the orders table?", "10:00:00.000"),
        assistant("msg_adv", "req_adv", "10:00:09.000", advised(out=610, advisor_out=350)),
    ]
    original = write(session_file(tmp_path), lines)
    copy = write(
        session_file(tmp_path, RESUMED),
        [
            *({**line, "sessionId": RESUMED} for line in lines),
            assistant("msg_new", "req_new", "15:00:00.000", usage(out=9), session=RESUMED),
        ],
    )
    first, second = parse(original), parse(copy)
    for order in ((first, second), (second, first)):
        events = merged(order)
        assert len(events) == 3
        assert events["claude_code:msg_adv:iteration:1"].session_key == SESSION
        assert events["claude_code:msg_adv"].session_key == SESSION
        assert events["claude_code:msg_new"].session_key == RESUMED


def test_a_bad_advisor_entry_is_a_counted_skip_and_the_reply_stays(tmp_path: Path) -> None:
    bad = usage(
        out=12, iterations=[{"type": "advisor_message", "model": OPUS, "output_tokens": -4}]
    )
    result = parse(
        write(session_file(tmp_path), [assistant("msg_b", "req_b", "10:00:00.000", bad)])
    )
    assert [e.key for e in result.events] == ["claude_code:msg_b"]
    assert [s.reason for s in result.skips] == ["invalid_count"]
    assert "usage.iterations[0]" in result.skips[0].detail


def test_web_searches_are_read_from_server_tool_use(tmp_path: Path) -> None:
    searched = usage(out=80, server_tool_use={"web_search_requests": 4, "web_fetch_requests": 1})
    path = write(
        session_file(tmp_path),
        [
            assistant("msg_s", "req_s", "10:00:00.000", searched),
            assistant("msg_n", "req_n", "10:01:00.000", usage(out=5)),
        ],
    )
    events = merged([parse(path)])
    assert events["claude_code:msg_s"].web_searches == 4
    assert events["claude_code:msg_n"].web_searches is None  # not reported, not zero


# --- typed decoding: lines of unusual shape read exactly as before ---------------------------


def test_lines_of_unusual_shape_are_read_as_the_dict_parser_read_them(tmp_path: Path) -> None:
    # a string `message` (no message), content holding a non-object block (passed over), an
    # Edit whose arguments are counted, and a `sessionId` of another type (falls back)
    odd_block = assistant(
        "msg_odd",
        "req_odd",
        "10:00:01.000",
        usage(out=7),
        content=[
            "a stray string",  # type: ignore[list-item]
            *tool_use("toolu_edit", "Edit", old_string="a", new_string="b\nc"),
        ],
    )
    string_message = {**envelope("assistant", ts("10:00:02.000")), "message": "not an object"}
    odd_session = {**assistant("msg_num", "req_num", "10:00:03.000", usage(out=3)), "sessionId": 42}
    path = write(session_file(tmp_path), [odd_block, string_message, odd_session])

    result = parse(path)

    assert sorted(e.key for e in result.events) == ["claude_code:msg_num", "claude_code:msg_odd"]
    assert {e.key: e.tokens.output for e in result.events}["claude_code:msg_odd"] == 7
    # a non-string sessionId names no session: the file's own name does
    assert {e.session_key for e in result.events} == {SESSION}
    [call] = [c for c in result.tool_calls if c.key == "claude_code:call:toolu_edit"]
    assert (call.lines_added, call.lines_removed) == (2, 1)  # type: ignore[union-attr]
    assert result.skips == []


def test_invalid_utf8_anywhere_in_a_line_is_refused_as_before(tmp_path: Path) -> None:
    # the bad bytes sit in text the typed decoder skips: the line is still refused, as orjson
    # (which reads every byte) refused it
    line = orjson.dumps(assistant("msg_bad", "req_bad", "10:00:01.000", usage(out=5)))
    broken = line.replace(b"Let me look", b"Let me \xff look")
    good = assistant("msg_ok", "req_ok", "10:00:02.000", usage(out=6))
    path = write(session_file(tmp_path), [broken, good])

    result = parse(path)

    assert [e.key for e in result.events] == ["claude_code:msg_ok"]
    assert [(s.reason, s.line) for s in result.skips] == [("malformed_json", 1)]


# -- the per-chunk fold of a request's copies -------------------------------------------------


def random_reply(rng: random.Random, key: str) -> Reply:
    """One line's reading of request ``key``: sizes, times and attribution that tie often."""
    output = rng.choice([1, 5, 5, 40])
    usage = {"input_tokens": rng.choice([3, 3, 7]), "output_tokens": output, "n": rng.random()}
    return Reply(
        key=key,
        tokens=Tokens(input=usage["input_tokens"], output=output),
        raw_usage=orjson.dumps(usage) if rng.random() < 0.7 else b'{"same":1}',
        model=rng.choice([SONNET, OPUS]),
        provider="anthropic",
        reported_cost_usd=rng.choice([None, 0.5]),
        pricing_context=rng.choice([(), (("service_tier", "priority"),)]),
        web_searches=rng.choice([None, None, 0, 2]),
        timestamp=datetime(2026, 5, 1, 10, rng.randrange(3), tzinfo=UTC),
        rank=rng.choice(
            ["0|2026-05-01T10:00:00.000000+00:00|", "1|2026-05-01T10:00:00.000000+00:00|"]
        ),
        session_key=rng.choice(["s-a", "s-b", "s-a:agent-1"]),
        project=rng.choice(["p", "q", None]),
        git_branch=rng.choice(["main", None]),
        aliases=rng.choice([(), ("claude_code:req:r1",), ("claude_code:req:r2",)]),
    )


def test_folding_a_requests_copies_in_a_chunk_is_merge_events() -> None:
    # the reader folds a chunk's copies of a request as plain values; the ledger merges
    # events with merge_events: both must agree to the last field, in any order of copies
    rng = random.Random(5)
    for _ in range(2_000):
        copies = [random_reply(rng, "claude_code:msg_1") for _ in range(rng.randrange(2, 6))]
        folded = Reply(**{name: getattr(copies[0], name) for name in Reply.__slots__})
        for copy in copies[1:]:
            folded.absorb(copy)
        merged = functools.reduce(merge_events, [c.to_event("|2026") for c in copies])
        event = folded.to_event("|2026")
        assert event == merged
        assert event.aliases == merged.aliases
