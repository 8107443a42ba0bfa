"""Codex CLI rollouts: counting rules, fork/subagent replay, incremental parsing."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tokentrail.agents.codex.reader import CodexSource
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.usage import Session, Tokens, UsageEvent, merge_events, merge_sessions

FIXTURES = Path("/work/shared/fixtures/codex")
SOURCE = CodexSource()
T0 = datetime(2026, 3, 2, 9, 15, 0, tzinfo=UTC)
LONG_TEXT = "Refactor the rate limiter so bursts are smoothed. SECRET-PROMPT " * 200


# --- builders ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def uuid7(moment: datetime, tail: int = 1) -> str:
    """A UUIDv7 whose embedded time is ``moment`` (what Codex mints for threads and turns)."""
    millis = f"{int(moment.timestamp() * 1000):012x}"
    return f"{millis[:8]}-{millis[8:]}-7{tail:03x}-8{tail:03x}-{tail:012x}"


def secs(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Use:
    """One request's usage as Codex reports it (cached inside input, reasoning inside output)."""

    input: int
    cached: int
    output: int
    reasoning: int
    cache_write: int | None = None

    def as_codex(self) -> dict[str, int]:
        usage = {
            "input_tokens": self.input,
            "cached_input_tokens": self.cached,
            "output_tokens": self.output,
            "reasoning_output_tokens": self.reasoning,
            "total_tokens": self.input + self.output,
        }
        if self.cache_write is not None:
            usage["cache_write_input_tokens"] = self.cache_write
        return usage

    def __add__(self, other: Use) -> Use:
        write = None
        if self.cache_write is not None or other.cache_write is not None:
            write = (self.cache_write or 0) + (other.cache_write or 0)
        return Use(
            self.input + other.input,
            self.cached + other.cached,
            self.output + other.output,
            self.reasoning + other.reasoning,
            write,
        )

    @property
    def total(self) -> int:
        return self.input + self.output


ZERO = Use(0, 0, 0, 0)
RATE_LIMITS = {
    "primary": {"used_percent": 14.0, "window_minutes": 300, "resets_in_seconds": 9000},
    "secondary": {"used_percent": 3.0, "window_minutes": 10080, "resets_in_seconds": 500000},
}


@dataclass
class Rollout:
    """Writes rollout lines the way codex-rs does (``{timestamp, type, payload}``)."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    running: Use = ZERO

    def add(self, at: datetime, kind: str, payload: dict[str, Any]) -> Rollout:
        self.lines.append({"timestamp": iso(at), "type": kind, "payload": payload})
        return self

    def session_meta(
        self,
        at: datetime,
        session_id: str,
        *,
        cwd: str = "/home/dev/src/billing-api",
        branch: str | None = "main",
        forked_from: str | None = None,
        source: Any = "cli",
        flat_parent: str | None = None,
    ) -> Rollout:
        payload: dict[str, Any] = {
            "id": session_id,
            "timestamp": iso(at),
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.128.0",
            "source": source,
            "model_provider": "openai",
            "base_instructions": {"text": "You are Codex, a coding agent. " * 50},
            "git": None
            if branch is None
            else {
                "commit_hash": "9f2c1e7a4b",
                "branch": branch,
                "repository_url": "git@github.com:acme/billing-api.git",
            },
        }
        if forked_from is not None:
            payload["forked_from_id"] = forked_from
        if flat_parent is not None:
            payload["parent_thread_id"] = flat_parent
            payload["thread_source"] = "subagent"
        return self.add(at, "session_meta", payload)

    def turn_context(self, at: datetime, model: str, turn_id: str | None = None) -> Rollout:
        payload: dict[str, Any] = {
            "cwd": "/home/dev/src/billing-api",
            "approval_policy": "on-request",
            "sandbox_policy": {"type": "workspace-write", "network_access": False},
            "model": model,
            "effort": "medium",
            "summary": "auto",
            "current_date": at.date().isoformat(),
        }
        if turn_id is not None:
            payload["turn_id"] = turn_id
        return self.add(at, "turn_context", payload)

    def user_says(self, at: datetime, text: str = LONG_TEXT) -> Rollout:
        self.add(
            at,
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        )
        return self.add(at, "event_msg", {"type": "user_message", "message": text, "images": []})

    def assistant_says(self, at: datetime, text: str = LONG_TEXT) -> Rollout:
        return self.add(
            at,
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            },
        )

    def request(
        self,
        at: datetime,
        use: Use,
        *,
        model: str | None = None,
        with_last: bool = True,
        with_total: bool = True,
    ) -> Rollout:
        self.running = self.running + use
        info: dict[str, Any] = {"model_context_window": 272000}
        if with_total:
            info["total_token_usage"] = self.running.as_codex()
        if with_last:
            info["last_token_usage"] = use.as_codex()
        if model is not None:
            info["model"] = model
        return self.add(
            at, "event_msg", {"type": "token_count", "info": info, "rate_limits": RATE_LIMITS}
        )

    def repeat_last_count(self, at: datetime) -> Rollout:
        """Codex re-emits the same info (e.g. when rate limits update)."""
        previous = next(line for line in reversed(self.lines) if _is_count(line))
        return self.add(at, "event_msg", copy.deepcopy(previous["payload"]))

    def rate_limits_only(self, at: datetime) -> Rollout:
        return self.add(
            at, "event_msg", {"type": "token_count", "info": None, "rate_limits": RATE_LIMITS}
        )

    def replay(self, parent: Rollout, rewrite_to: datetime | None) -> Rollout:
        """Copy the parent's history like ``persist_rollout_items`` does.

        ``rewrite_to``: every copied line stamped a millisecond apart from that instant
        (the recorder's ``now_utc()``); ``None``: the parent's own timestamps preserved.
        """
        for index, line in enumerate(parent.lines):
            copied = copy.deepcopy(line)
            if rewrite_to is not None:
                copied["timestamp"] = iso(rewrite_to + timedelta(milliseconds=index))
            self.lines.append(copied)
        self.running = parent.running  # token info restored from the last copied count
        return self

    def data(self) -> bytes:
        return b"".join(orjson.dumps(line) + b"\n" for line in self.lines)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.data())
        return path


def _is_count(line: dict[str, Any]) -> bool:
    payload = line.get("payload")
    return isinstance(payload, dict) and payload.get("type") == "token_count"


def rollout_path(root: Path, started: datetime, session_id: str) -> Path:
    day = root / "sessions" / f"{started:%Y}" / f"{started:%m}" / f"{started:%d}"
    return day / f"rollout-{started:%Y-%m-%dT%H-%M-%S}-{session_id}.jsonl"


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("codex", str(path)), state or ParseState())


def parse_in_steps(path: Path, data: bytes, cuts: Iterable[int]) -> list[ParseResult]:
    """Write ``data`` progressively (an agent appending) and parse after every write."""
    results: list[ParseResult] = []
    state = ParseState()
    path.parent.mkdir(parents=True, exist_ok=True)
    for cut in [*sorted(set(cuts)), len(data)]:
        path.write_bytes(data[:cut])
        result = parse(path, state)
        # the cursor must survive a round trip through the store as JSON
        state = copy.deepcopy(result.state)
        state.memory = orjson.loads(orjson.dumps(state.memory))
        results.append(result)
    return results


def merged_events(results: Iterable[ParseResult]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for result in results:
        for event in result.events:
            known = merged.get(event.key)
            merged[event.key] = event if known is None else merge_events(known, event)
    return merged


def merged_sessions(results: Iterable[ParseResult]) -> dict[str, Session]:
    merged: dict[str, Session] = {}
    for result in results:
        for session in result.sessions:
            known = merged.get(session.key)
            merged[session.key] = session if known is None else merge_sessions(known, session)
    return merged


def totals(events: Iterable[UsageEvent]) -> int:
    return sum(event.tokens.total for event in events)


# --- a realistic parent session and its forks ----------------------------------------------

PARENT_ID = uuid7(T0, tail=0xA)
U1 = Use(input=24_000, cached=20_480, output=900, reasoning=512)
U2 = Use(input=31_500, cached=24_064, output=1_400, reasoning=768)
U3 = Use(input=40_210, cached=31_488, output=2_050, reasoning=1_024)


def parent_rollout() -> Rollout:
    parent = Rollout().session_meta(T0, PARENT_ID)
    parent.turn_context(T0 + secs(2), "gpt-5.1-codex", turn_id=uuid7(T0 + secs(2), tail=0x11))
    parent.user_says(T0 + secs(2))
    parent.rate_limits_only(T0 + secs(3))
    parent.assistant_says(T0 + secs(9)).request(T0 + secs(9), U1)
    parent.repeat_last_count(T0 + secs(9.002))
    parent.turn_context(T0 + secs(40), "gpt-5.1-codex", turn_id=uuid7(T0 + secs(40), tail=0x12))
    parent.user_says(T0 + secs(40))
    parent.assistant_says(T0 + secs(51)).request(T0 + secs(51), U2)
    parent.assistant_says(T0 + secs(63)).request(T0 + secs(63), U3)
    return parent


# --- discovery and roots -------------------------------------------------------------------


def test_default_roots_follow_codex_home(tmp_path: Path) -> None:
    custom = tmp_path / "codex-home"
    assert SOURCE.default_roots({"CODEX_HOME": str(custom)}, tmp_path) == [
        custom / "sessions",
        custom / "archived_sessions",
    ]


def test_default_roots_fall_back_to_home(tmp_path: Path) -> None:
    for env in ({}, {"CODEX_HOME": ""}):
        assert SOURCE.default_roots(env, tmp_path) == [
            tmp_path / ".codex" / "sessions",
            tmp_path / ".codex" / "archived_sessions",
        ]


def test_discover_finds_nested_and_archived_rollouts_sorted(tmp_path: Path) -> None:
    home = tmp_path / ".codex"
    live = rollout_path(home, T0, PARENT_ID)
    live.parent.mkdir(parents=True)
    live.write_text("")
    archived = home / "archived_sessions" / "rollout-2026-01-01T08-00-00-old.jsonl"
    archived.parent.mkdir(parents=True)
    archived.write_text("")
    (live.parent / "notes.txt").write_text("not a rollout")
    roots = [*SOURCE.default_roots({}, tmp_path), tmp_path / "missing"]

    found = list(SOURCE.discover(roots))

    assert [f.path for f in found] == sorted([str(live), str(archived)])
    assert {(f.source, f.kind) for f in found} == {("codex", "append")}


def test_discover_missing_roots_yield_nothing(tmp_path: Path) -> None:
    assert list(SOURCE.discover(SOURCE.default_roots({}, tmp_path / "nobody"))) == []


# --- basic counting rules --------------------------------------------------------------------


def test_cached_is_inside_input_and_reasoning_inside_output(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5.1-codex").request(
        T0 + secs(5), U1
    ).write(path)

    [event] = parse(path).events

    assert event.tokens == Tokens(
        input=24_000 - 20_480, cache_read=20_480, output=900, reasoning=512
    )
    assert event.tokens.cache_write is None  # Codex did not report cache writes here
    assert event.tokens.total == 24_000 + 900  # reasoning is not added again


def test_cache_writes_are_inside_input_when_reported(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    use = Use(input=10_000, cached=4_000, output=300, reasoning=100, cache_write=2_500)
    Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5.6").request(
        T0 + secs(4), use
    ).write(path)

    [event] = parse(path).events

    assert event.tokens == Tokens(
        input=3_500, cache_read=4_000, cache_write_5m=2_500, output=300, reasoning=100
    )
    assert event.tokens.total == use.total


def test_key_is_session_and_running_total(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    parent_rollout().write(path)

    events = parse(path).events

    assert [e.key for e in events] == [
        f"codex:{PARENT_ID}:{U1.total}",
        f"codex:{PARENT_ID}:{(U1 + U2).total}",
        f"codex:{PARENT_ID}:{(U1 + U2 + U3).total}",
    ]


def test_repeated_count_whose_total_did_not_grow_is_a_duplicate(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    parent_rollout().write(path)

    result = parse(path)

    assert len(result.events) == 3
    assert result.duplicates == 1  # the re-emitted U1
    assert totals(result.events) == (U1 + U2 + U3).total


def test_rate_limit_only_events_are_neither_usage_nor_skips(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5.1-codex")
    rollout.rate_limits_only(T0 + secs(1)).rate_limits_only(T0 + secs(2))
    rollout.write(path)

    result = parse(path)

    assert result.events == []
    assert result.skips == []
    assert result.duplicates == 0
    assert result.sessions[0].ended_at == T0 + secs(2)


def test_running_total_differences_when_last_usage_is_missing(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1, with_last=False)
    rollout.request(T0 + secs(9), U2, with_last=False)
    rollout.write(path)

    first, second = parse(path).events

    assert first.tokens == Tokens(input=3_520, cache_read=20_480, output=900, reasoning=512)
    assert second.tokens == Tokens(input=7_436, cache_read=24_064, output=1_400, reasoning=768)


def test_running_total_is_rebuilt_when_total_usage_is_missing(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1, with_total=False)
    rollout.request(T0 + secs(9), U2, with_total=False)
    rollout.write(path)

    events = parse(path).events

    assert [e.key for e in events] == [
        f"codex:{PARENT_ID}:{U1.total}",
        f"codex:{PARENT_ID}:{U1.total + U2.total}",
    ]


def test_model_switch_via_turn_context(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID)
    rollout.turn_context(T0 + secs(1), "gpt-5-codex").request(T0 + secs(5), U1)
    rollout.turn_context(T0 + secs(30), "gpt-5.1-codex-max").request(T0 + secs(40), U2)
    rollout.write(path)

    events = parse(path).events

    assert [e.model for e in events] == ["gpt-5-codex", "gpt-5.1-codex-max"]
    assert {e.provider for e in events} == {"openai"}


def test_info_model_takes_precedence_for_that_event_only(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1, model="gpt-5-codex-mini")
    rollout.request(T0 + secs(9), U2)
    rollout.write(path)

    assert [e.model for e in parse(path).events] == ["gpt-5-codex-mini", "gpt-5-codex"]


def test_session_and_event_metadata(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    parent_rollout().write(path)

    result = parse(path)

    assert result.sessions == [
        Session(
            key=PARENT_ID,
            source="codex",
            project="/home/dev/src/billing-api",
            started_at=T0,
            ended_at=T0 + secs(63),
            model="gpt-5.1-codex",
            git_branch="main",
        )
    ]
    first = result.events[0]
    assert first.session_key == PARENT_ID
    assert first.project == "/home/dev/src/billing-api"
    assert first.git_branch == "main"
    assert first.timestamp == T0 + secs(9)
    assert first.rank == "0|2026-03-02T09:15:00.000000Z|"
    assert orjson.loads(first.raw_usage or b"") == {
        "last": U1.as_codex(),
        "total": U1.as_codex(),
    }


def test_no_prompt_or_response_text_is_kept(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    parent_rollout().write(path)

    result = parse(path)

    assert b"SECRET-PROMPT" not in orjson.dumps(result.state.memory)
    for event in result.events:
        assert b"SECRET-PROMPT" not in (event.raw_usage or b"")
        assert "SECRET-PROMPT" not in repr(event)


def test_running_total_restart_is_new_spend_under_distinct_keys(tmp_path: Path) -> None:
    # An old resume that did not restore the token info restarts the running total at 0.
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1).request(T0 + secs(9), U2)
    rollout.running = ZERO
    rollout.turn_context(T0 + secs(3600), "gpt-5-codex").request(T0 + secs(3605), U1)
    rollout.write(path)

    events = parse(path).events

    assert len(events) == 3
    assert len({e.key for e in events}) == 3
    assert events[2].key == f"codex:{PARENT_ID}:r1:{U1.total}"
    assert events[2].tokens == events[0].tokens


def test_without_session_meta_the_file_name_uuid_is_the_session(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    Rollout().turn_context(T0, "gpt-5-codex").request(T0 + secs(5), U1).write(path)

    result = parse(path)

    assert result.events[0].key == f"codex:{PARENT_ID}:{U1.total}"
    assert result.sessions[0].key == PARENT_ID
    assert result.sessions[0].started_at == T0


# --- bad input -------------------------------------------------------------------------------


def count_line(at: datetime, last: dict[str, Any], total: dict[str, Any]) -> dict[str, Any]:
    info = {"last_token_usage": last, "total_token_usage": total}
    return {
        "timestamp": iso(at),
        "type": "event_msg",
        "payload": {"type": "token_count", "info": info, "rate_limits": None},
    }


def test_cached_above_input_is_skipped_and_does_not_leak(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1, with_last=False)
    rollout.request(
        T0 + secs(9), Use(input=1_000, cached=1_300, output=50, reasoning=0), with_last=False
    )
    rollout.request(T0 + secs(15), U2, with_last=False)
    rollout.write(path)

    result = parse(path)

    assert [s.reason for s in result.skips] == ["invalid_count"]
    assert result.skips[0].line == 4
    assert [e.tokens for e in result.events] == [
        Tokens(input=3_520, cache_read=20_480, output=900, reasoning=512),
        Tokens(input=7_436, cache_read=24_064, output=1_400, reasoning=768),  # U2 only
    ]


@pytest.mark.parametrize("bad", [-5, "12", 3.5, True, [1]])
def test_bad_counts_become_invalid_count_skips(tmp_path: Path, bad: object) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    last = {**U1.as_codex(), "output_tokens": bad}
    rollout = Rollout().session_meta(T0, PARENT_ID)
    rollout.lines.append(count_line(T0 + secs(5), last, U1.as_codex()))
    rollout.write(path)

    result = parse(path)

    assert result.events == []
    assert [(s.reason, s.line) for s in result.skips] == [("invalid_count", 2)]


def test_malformed_and_non_object_lines_are_counted_skips(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    good = Rollout().session_meta(T0, PARENT_ID).request(T0 + secs(5), U1).data()
    lines = good.splitlines(keepends=True)
    broken = (
        b'{"timestamp":"2026-03-02T09:15:06.000Z","type":"event_msg",'
        b'"payload":{"type":"token_count","info":{\n'
    )
    path.parent.mkdir(parents=True)
    path.write_bytes(lines[0] + broken + b'["token_count"]\n' + lines[1])

    result = parse(path)

    assert [(s.reason, s.line) for s in result.skips] == [
        ("malformed_json", 2),
        ("malformed_json", 3),
    ]
    assert all(s.path == str(path) for s in result.skips)
    assert len(result.events) == 1


def test_bad_timestamp_is_a_counted_skip(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).request(T0 + secs(5), U1)
    rollout.lines[-1]["timestamp"] = "yesterday afternoon"
    rollout.write(path)

    result = parse(path)

    assert result.events == []
    assert [(s.reason, s.line) for s in result.skips] == [("bad_timestamp", 2)]


def test_unrelated_nulls_never_drop_a_line(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID, branch=None)
    rollout.lines[0]["payload"]["source"] = None
    rollout.lines.append(count_line(T0 + secs(5), U1.as_codex(), U1.as_codex()))
    rollout.lines[-1]["payload"]["info"]["model_context_window"] = None
    rollout.write(path)

    result = parse(path)

    assert len(result.events) == 1
    assert result.skips == []
    assert result.sessions[0].git_branch is None


def test_partial_last_line_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    data = Rollout().session_meta(T0, PARENT_ID).request(T0 + secs(5), U1).data()
    cut = len(data) - 40
    path.parent.mkdir(parents=True)
    path.write_bytes(data[:cut])

    first = parse(path)
    path.write_bytes(data)
    second = parse(path, first.state)

    assert first.pending_partial_line is True
    assert first.events == [] and first.skips == []
    assert second.pending_partial_line is False
    assert [e.key for e in second.events] == [f"codex:{PARENT_ID}:{U1.total}"]


# --- forked and subagent rollouts ------------------------------------------------------------

FORK_AT = T0 + timedelta(hours=3)
CHILD_ID = uuid7(FORK_AT, tail=0xC)
F1 = Use(input=52_000, cached=46_080, output=1_100, reasoning=640)
F2 = Use(input=55_300, cached=51_200, output=700, reasoning=256)
INHERITED = U1 + U2 + U3


def fork_with_rewritten_timestamps(*, turn_ids: bool = True) -> Rollout:
    """``codex fork``: child header, the parent's lines stamped at the fork instant, own turns."""
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID, branch="try-redis")
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    if not turn_ids:
        for line in child.lines:
            if line["type"] == "turn_context":
                line["payload"].pop("turn_id", None)
    own_turn = uuid7(FORK_AT + secs(0.3), tail=0x21) if turn_ids else None
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex", turn_id=own_turn)
    child.user_says(FORK_AT + secs(0.3))
    child.rate_limits_only(FORK_AT + secs(1.1))
    child.assistant_says(FORK_AT + secs(6)).request(FORK_AT + secs(6), F1)
    child.assistant_says(FORK_AT + secs(14)).request(FORK_AT + secs(14), F2)
    return child


def fork_keys() -> list[str]:
    return [
        f"codex:{CHILD_ID}:{(INHERITED + F1).total}",
        f"codex:{CHILD_ID}:{(INHERITED + F1 + F2).total}",
    ]


def test_fork_with_rewritten_timestamps_counts_only_its_own_requests(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    fork_with_rewritten_timestamps().write(path)

    result = parse(path)

    assert [e.key for e in result.events] == fork_keys()
    assert [e.tokens.total for e in result.events] == [F1.total, F2.total]
    assert result.duplicates == 4  # U1, its repeat, U2, U3 copied from the parent
    assert {e.session_key for e in result.events} == {CHILD_ID}
    assert {e.git_branch for e in result.events} == {"try-redis"}


def test_fork_without_turn_ids_uses_the_write_burst(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    fork_with_rewritten_timestamps(turn_ids=False).write(path)

    result = parse(path)

    assert [e.key for e in result.events] == fork_keys()
    assert result.duplicates == 4


def test_rewritten_burst_straddling_a_second_tick_is_still_replay(tmp_path: Path) -> None:
    fork_at = datetime(2026, 3, 2, 12, 0, 59, 990_000, tzinfo=UTC)
    child_id = uuid7(fork_at, tail=0xD)
    child = Rollout().session_meta(fork_at, child_id, forked_from=PARENT_ID)
    parent = parent_rollout()
    for index in range(8):  # a longer parent: the copy burst runs past 12:01:00.000
        parent.request(T0 + secs(70 + 10 * index), Use(9_000, 8_192, 200, 64))
    child.replay(parent, rewrite_to=fork_at + timedelta(milliseconds=2))
    child.turn_context(fork_at + secs(0.5), "gpt-5.1-codex")
    child.request(fork_at + secs(7), F1)
    path = rollout_path(tmp_path, fork_at, child_id)
    child.write(path)

    result = parse(path)

    assert [e.tokens.total for e in result.events] == [F1.total]
    assert result.duplicates == 12


def test_fork_with_preserved_timestamps_counts_only_its_own_requests(tmp_path: Path) -> None:
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent_rollout(), rewrite_to=None)  # copies keep their original times
    child.turn_context(FORK_AT + secs(0.4), "gpt-5.1-codex")
    child.user_says(FORK_AT + secs(0.4))
    child.request(FORK_AT + secs(6), F1).request(FORK_AT + secs(14), F2)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == fork_keys()
    assert [e.timestamp for e in result.events] == [FORK_AT + secs(6), FORK_AT + secs(14)]
    assert result.duplicates == 4


def test_fast_first_fork_reply_is_kept_when_its_turn_id_is_new(tmp_path: Path) -> None:
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.05), "gpt-5.1-codex", uuid7(FORK_AT + secs(0.05)))
    child.request(FORK_AT + secs(0.6), F1)  # inside the burst window, but a new turn
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.tokens.total for e in result.events] == [F1.total]
    assert result.duplicates == 4


def test_replay_baseline_is_used_for_fork_differences(tmp_path: Path) -> None:
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex")
    child.request(FORK_AT + secs(6), F1, with_last=False)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    [event] = parse(path).events

    assert event.tokens == Tokens(input=5_920, cache_read=46_080, output=1_100, reasoning=640)


def test_fork_session_names_its_parent_and_keeps_its_own_metadata(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child = Rollout().session_meta(
        FORK_AT, CHILD_ID, forked_from=PARENT_ID, cwd="/home/dev/src/billing-api-wt"
    )
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex").request(FORK_AT + secs(6), F1)
    child.write(path)

    [session] = parse(path).sessions

    assert session.key == CHILD_ID
    assert (session.parent_key, session.relationship) == (PARENT_ID, "fork")
    assert session.project == "/home/dev/src/billing-api-wt"  # not the copied parent cwd
    assert session.started_at == FORK_AT


def test_copied_parent_header_alone_marks_a_replay(tmp_path: Path) -> None:
    # Forks written before forked_from_id existed only show the copied parent header.
    child = Rollout().session_meta(FORK_AT, CHILD_ID)
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex").request(FORK_AT + secs(6), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == [fork_keys()[0]]
    assert result.sessions[0].key == CHILD_ID
    assert result.duplicates == 4


@pytest.mark.parametrize("marks", ["header-and-turn-ids", "header-only", "turn-ids-only"])
def test_replay_written_seconds_after_the_child_header(tmp_path: Path, marks: str) -> None:
    # Older Codex wrote the header at once and the copied history after session start-up;
    # the copied parent header and the copied (older) turn ids mark the late burst.
    parent = parent_rollout()
    if marks == "turn-ids-only":
        parent.lines.pop(0)
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent, rewrite_to=FORK_AT + secs(4))
    if marks == "header-only":
        for line in child.lines:
            line["payload"].pop("turn_id", None)
    child.turn_context(FORK_AT + secs(4.5), "gpt-5.1-codex").request(FORK_AT + secs(11), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.tokens.total for e in result.events] == [F1.total]
    assert result.duplicates == 4


def test_repeated_own_header_does_not_extend_the_replay(tmp_path: Path) -> None:
    # Some versions write the child's own header again after its turn started (tokscale #719).
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent_rollout(), rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex")
    child.session_meta(FORK_AT + secs(2), CHILD_ID, forked_from=PARENT_ID)
    child.request(FORK_AT + secs(2.6), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == [fork_keys()[0]]
    assert result.sessions[0].started_at == FORK_AT


def test_truncated_fork_without_copied_header(tmp_path: Path) -> None:
    # spawn_agent "last N turns" forks copy only the tail, without the parent's header or
    # turn contexts: the first copied total is already the parent's running total.
    parent = parent_rollout()
    tail = Rollout(lines=[line for line in parent.lines[9:] if line["type"] != "turn_context"])
    tail.running = parent.running
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(tail, rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex").request(FORK_AT + secs(6), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == [fork_keys()[0]]
    assert result.duplicates == 2  # U2 and U3


def test_copy_burst_longer_than_a_second_is_followed(tmp_path: Path) -> None:
    parent = parent_rollout()
    for index in range(300):  # a long parent: 600 more lines
        at = T0 + secs(70 + 10 * index)
        parent.assistant_says(at, "ok").request(at, Use(9_000 + index, 8_192, 200, 64))
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    start = FORK_AT + timedelta(milliseconds=3)
    for index, line in enumerate(parent.lines):  # 3 ms a line: the burst lasts ~1.8 s
        copied = copy.deepcopy(line)
        copied["timestamp"] = iso(start + timedelta(milliseconds=3 * index))
        copied["payload"].pop("turn_id", None)
        child.lines.append(copied)
    child.running = parent.running
    child.turn_context(FORK_AT + secs(2.2), "gpt-5.1-codex").request(FORK_AT + secs(8), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.tokens.total for e in result.events] == [F1.total]
    assert result.duplicates == 304


@pytest.mark.parametrize("build", ["root", "fork"])
def test_foreign_header_after_counted_usage_is_not_a_replay(tmp_path: Path, build: str) -> None:
    if build == "root":
        rollout = parent_rollout()
        later = T0 + secs(120)
    else:
        rollout = fork_with_rewritten_timestamps(turn_ids=False)
        later = FORK_AT + secs(30)
    rollout.session_meta(later, uuid7(later, tail=0xE), cwd="/elsewhere")
    rollout.request(later + secs(0.5), Use(70_000, 65_536, 300, 0))
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout.write(path)

    result = parse(path)

    assert result.events[-1].tokens.total == 70_300
    assert result.sessions[0].project == "/home/dev/src/billing-api"


def test_spawned_subagent_replaying_parent_history(tmp_path: Path) -> None:
    source = {
        "subagent": {
            "thread_spawn": {
                "parent_thread_id": PARENT_ID,
                "depth": 1,
                "agent_nickname": "Euclid",
                "agent_role": "explorer",
            }
        }
    }
    child = Rollout().session_meta(FORK_AT, CHILD_ID, source=source)
    child.replay(parent_rollout(), rewrite_to=None)
    child.turn_context(FORK_AT + secs(0.2), "gpt-5.1-codex-mini")
    child.request(FORK_AT + secs(5), F1).request(FORK_AT + secs(9), F2)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == fork_keys()
    assert {e.model for e in result.events} == {"gpt-5.1-codex-mini"}
    [session] = result.sessions
    assert (session.parent_key, session.relationship) == (PARENT_ID, "subagent")


def test_flat_parent_thread_id_marks_a_subagent(tmp_path: Path) -> None:
    child = Rollout().session_meta(FORK_AT, CHILD_ID, flat_parent=PARENT_ID)
    child.turn_context(FORK_AT + secs(0.1), "gpt-5.1-codex").request(FORK_AT + secs(4), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    [session] = parse(path).sessions

    assert (session.parent_key, session.relationship) == (PARENT_ID, "subagent")


@pytest.mark.parametrize("turn_ids", [True, False])
def test_subagent_starting_from_zero_is_counted_in_full(tmp_path: Path, turn_ids: bool) -> None:
    # Plain spawn_agent children start a fresh history yet may still name forked_from_id.
    source = {"subagent": {"thread_spawn": {"parent_thread_id": PARENT_ID, "depth": 1}}}
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID, source=source)
    turn = uuid7(FORK_AT + secs(0.1)) if turn_ids else None
    child.turn_context(FORK_AT + secs(0.1), "gpt-5.1-codex-mini", turn)
    first_reply = FORK_AT + (secs(0.7) if turn_ids else secs(2.5))
    child.request(first_reply, U1).request(first_reply + secs(3), U2)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    result = parse(path)

    assert [e.key for e in result.events] == [
        f"codex:{CHILD_ID}:{U1.total}",
        f"codex:{CHILD_ID}:{(U1 + U2).total}",
    ]
    assert result.duplicates == 0


def test_parent_and_fork_together_count_each_request_once(tmp_path: Path) -> None:
    parent_path = rollout_path(tmp_path, T0, PARENT_ID)
    parent_rollout().write(parent_path)
    fork_path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    fork_with_rewritten_timestamps().write(fork_path)

    files = list(SOURCE.discover([tmp_path / "sessions"]))
    events = merged_events(SOURCE.parse(f, ParseState()) for f in files)

    assert totals(events.values()) == (INHERITED + F1 + F2).total


# --- the same file twice, incremental parsing ----------------------------------------------


def test_archived_copy_of_a_rollout_gives_identical_events(tmp_path: Path) -> None:
    home = tmp_path / ".codex"
    live = rollout_path(home, FORK_AT, CHILD_ID)
    fork_with_rewritten_timestamps().write(live)
    archived = home / "archived_sessions" / live.name
    archived.parent.mkdir(parents=True)
    shutil.copyfile(live, archived)

    files = list(SOURCE.discover(SOURCE.default_roots({"CODEX_HOME": str(home)}, tmp_path)))
    results = [SOURCE.parse(f, ParseState()) for f in files]

    assert len(files) == 2
    assert results[0].events == results[1].events
    assert len(merged_events(results)) == 2


def line_ends(data: bytes) -> list[int]:
    return [index + 1 for index, byte in enumerate(data) if byte == 0x0A]


@pytest.mark.parametrize(
    "build",
    [
        parent_rollout,
        fork_with_rewritten_timestamps,
        lambda: fork_with_rewritten_timestamps(turn_ids=False),
    ],
    ids=["root", "fork", "fork-without-turn-ids"],
)
def test_parsing_line_by_line_equals_one_shot(tmp_path: Path, build: Any) -> None:
    data = build().data()
    whole = rollout_path(tmp_path / "whole", FORK_AT, CHILD_ID)
    whole.parent.mkdir(parents=True)
    whole.write_bytes(data)
    once = parse(whole)

    stepwise = parse_in_steps(
        rollout_path(tmp_path / "steps", FORK_AT, CHILD_ID), data, line_ends(data)
    )

    assert merged_events(stepwise) == merged_events([once])
    assert merged_sessions(stepwise) == merged_sessions([once])
    assert sum(r.duplicates for r in stepwise) == once.duplicates
    assert sum(len(r.skips) for r in stepwise) == len(once.skips) == 0


def test_appending_in_the_middle_of_the_replay_and_mid_line(tmp_path: Path) -> None:
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID)
    child.replay(parent_rollout(), rewrite_to=None)
    child.turn_context(FORK_AT + secs(0.4), "gpt-5.1-codex").request(FORK_AT + secs(6), F1)
    child.request(FORK_AT + secs(14), F2)
    data = child.data()
    ends = line_ends(data)
    middle_of_replay = ends[len(ends) // 2]
    cuts = [ends[0], middle_of_replay, middle_of_replay + 57, ends[-2] - 30]

    stepwise = parse_in_steps(rollout_path(tmp_path, FORK_AT, CHILD_ID), data, cuts)

    assert [e.key for e in merged_events(stepwise).values()] == fork_keys()
    assert sum(r.duplicates for r in stepwise) == 4
    assert any(r.pending_partial_line for r in stepwise)


# --- the shared fixtures from peer projects --------------------------------------------------


def test_ccusage_fixture_two_events() -> None:
    result = parse(FIXTURES / "ccusage-session-alpha.jsonl")

    first, second = result.events
    assert (first.model, second.model) == ("gpt-5.2-codex", "gpt-5.3-codex")
    assert first.tokens == Tokens(input=750, cache_read=250, output=125, reasoning=75)
    assert second.tokens == Tokens(input=2_000, cache_read=500, output=300, reasoning=200)
    assert second.timestamp == datetime(2026, 5, 14, 10, 0, tzinfo=UTC)
    assert result.skips == []


def test_agentsview_fixture_is_a_session_without_usage() -> None:
    result = parse(FIXTURES / "agentsview-standard_session.jsonl")

    assert result.events == []
    assert result.skips == []
    [session] = result.sessions
    assert session.key == "abc-123"
    assert session.project == "/Users/alice/code/my-api"
    assert session.started_at == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("with_last", [True, False], ids=["last-usage", "totals-only"])
def test_a_total_that_drops_and_grows_again_is_neither_negative_nor_doubled(
    tmp_path: Path, with_last: bool
) -> None:
    # After a compaction the thread continues in a new context whose running total starts
    # over from the compacted prompt (not zero), then grows again past its old values;
    # rate_limits is null on some events, as newer versions write it.
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1).request(T0 + secs(9), U2)
    rollout.repeat_last_count(T0 + secs(10))
    rollout.running = Use(input=6_000, cached=0, output=300, reasoning=0)  # the new context
    after = [U3, U1, U2, U3]  # the new context grows past every total seen before
    for n, use in enumerate(after):
        rollout.request(T0 + secs(60 + n), use, with_last=with_last or n == 0)
    for line in rollout.lines[-4:]:
        line["payload"]["rate_limits"] = None
    rollout.repeat_last_count(T0 + secs(70))
    rollout.write(path)

    result = parse(path)
    events = merged_events([result])

    assert len(events) == 6 and result.duplicates == 2
    assert result.skips == []
    counted = [e.tokens for e in sorted(events.values(), key=lambda e: e.timestamp)]
    assert all(v is None or v >= 0 for t in counted for v in t.as_tuple())
    expected = [U1, U2, *after]
    assert [t.output for t in counted] == [u.output for u in expected]
    assert [(t.input or 0) + (t.cache_read or 0) for t in counted] == [u.input for u in expected]


def thread_named(rollout: Rollout, at: datetime, thread: str, name: str) -> Rollout:
    return rollout.add(
        at, "event_msg", {"type": "thread_name_updated", "thread_id": thread, "thread_name": name}
    )


def test_the_thread_name_is_the_sessions_title(tmp_path: Path) -> None:
    path = rollout_path(tmp_path, T0, PARENT_ID)
    rollout = Rollout().session_meta(T0, PARENT_ID).turn_context(T0, "gpt-5-codex")
    rollout.request(T0 + secs(5), U1)
    thread_named(rollout, T0 + secs(6), PARENT_ID, "Fix the billing rounding")
    rollout.write(path)

    [session] = parse(path).sessions

    assert session.title == "Fix the billing rounding"


def test_a_forks_replay_of_its_parents_thread_name_does_not_name_it(tmp_path: Path) -> None:
    parent = parent_rollout()
    thread_named(parent, T0 + secs(2), PARENT_ID, "Parent thread")
    child = Rollout().session_meta(FORK_AT, CHILD_ID, forked_from=PARENT_ID, branch="try-redis")
    child.replay(parent, rewrite_to=FORK_AT + timedelta(milliseconds=3))
    child.turn_context(FORK_AT + secs(0.3), "gpt-5.1-codex", turn_id=uuid7(FORK_AT, tail=0x21))
    child.assistant_says(FORK_AT + secs(6)).request(FORK_AT + secs(6), F1)
    path = rollout_path(tmp_path, FORK_AT, CHILD_ID)
    child.write(path)

    sessions = {s.key: s for s in parse(path).sessions}

    assert sessions[CHILD_ID].title is None
