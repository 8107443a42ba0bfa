"""GitHub Copilot CLI source: the session store, the event logs, and the counting rules."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.copilot import reader as copilot
from tokentrail.agents.copilot.reader import CopilotSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "copilot"
SOURCE = CopilotSource()
SESSION = "6f1f0e2c-3b1d-4c55-9a0e-5d2b7c1e9a41"

# The tables of session-store.db (schema_version 8) that matter here, with the columns
# Copilot CLI writes; the store is undocumented, these are the names its rows carry.
SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (8);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, cwd TEXT, repository TEXT, host_type TEXT, branch TEXT,
    summary TEXT, created_at TEXT DEFAULT (datetime('now')), updated_at TEXT
);
CREATE TABLE assistant_usage_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    turn_index INTEGER, agent_id TEXT, parent_tool_call_id TEXT,
    model TEXT NOT NULL,
    input_tokens INTEGER, output_tokens INTEGER,
    cache_read_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER,
    total_nano_aiu REAL, request_multiplier REAL, duration_ms INTEGER,
    time_to_first_token_ms INTEGER, inter_token_latency_ms REAL, initiator TEXT,
    api_endpoint TEXT, reasoning_effort TEXT, finish_reason TEXT,
    content_filter_triggered INTEGER, token_details_json TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now')), output_ttft_ms INTEGER,
    copilot_usage_model TEXT
);
CREATE TABLE turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT, turn_index INTEGER,
    user_message TEXT, assistant_response TEXT, timestamp TEXT
);
"""


# --- builders ------------------------------------------------------------------------------


class Store:
    """A session-store.db written the way Copilot CLI writes it (WAL mode)."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / "session-store.db"
        with closing(sqlite3.connect(self.path)) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            db.commit()

    def session(self, session_id: str = SESSION, *, cwd: str = "/src/webapp") -> None:
        with closing(sqlite3.connect(self.path)) as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions (id, cwd, repository, branch, summary, "
                "created_at, updated_at) VALUES (?, ?, 'acme/webapp', 'main', "
                "'Fix the flaky login test', '2026-07-20T09:00:00.000Z', "
                "'2026-07-20T09:40:00.000Z')",
                (session_id, cwd),
            )
            db.commit()

    def call(
        self,
        *,
        session: str = SESSION,
        model: str = "claude-sonnet-4.5",
        prompt: int | None = 24_210,
        output: int | None = 300,
        read: int | None = 20_000,
        write: int | None = 4_000,
        reasoning: int | None = 40,
        nano_aiu: float | None = 6_056_400_000,
        created: str = "2026-07-20T09:05:00.000Z",
        agent: str | None = None,
    ) -> int:
        with closing(sqlite3.connect(self.path)) as db:
            cursor = db.execute(
                "INSERT INTO assistant_usage_events (session_id, turn_index, agent_id, model, "
                "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
                "reasoning_tokens, total_nano_aiu, request_multiplier, initiator, "
                "finish_reason, token_details_json, created_at) "
                "VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, 1.0, ?, 'tool_calls', '[]', ?)",
                (
                    session,
                    agent,
                    model,
                    prompt,
                    output,
                    read,
                    write,
                    reasoning,
                    nano_aiu,
                    "sub-agent" if agent else "agent",
                    created,
                ),
            )
            db.execute(
                "INSERT INTO turns (session_id, turn_index, user_message, assistant_response) "
                "VALUES (?, 0, 'please fix the test', 'Done.')",
                (session,),
            )
            db.commit()
            assert cursor.lastrowid is not None
            return cursor.lastrowid


def metrics(
    prompt: int = 24_210,
    output: int = 300,
    read: int = 20_000,
    write: int = 4_000,
    reasoning: int = 0,
    requests: int = 1,
    nano_aiu: int | None = 6_056_400_000,
) -> dict[str, Any]:
    """One model's ``modelMetrics`` entry of a ``session.shutdown``."""
    entry: dict[str, Any] = {
        "requests": {"count": requests, "cost": requests},
        "usage": {
            "inputTokens": prompt,
            "outputTokens": output,
            "cacheReadTokens": read,
            "cacheWriteTokens": write,
            "reasoningTokens": reasoning,
        },
    }
    if nano_aiu is not None:
        entry["totalNanoAiu"] = nano_aiu
    return entry


def event_line(kind: str, data: Mapping[str, Any], timestamp: str, event_id: str) -> dict[str, Any]:
    return {"type": kind, "data": dict(data), "id": event_id, "timestamp": timestamp}


def start(timestamp: str = "2026-07-20T09:00:00.000Z") -> dict[str, Any]:
    data = {
        "sessionId": SESSION,
        "version": 1,
        "producer": "copilot-agent",
        "copilotVersion": "1.0.86",
        "startTime": timestamp,
        "selectedModel": "claude-sonnet-4.5",
        "context": {"cwd": "/src/webapp", "gitRoot": "/src/webapp", "branch": "main"},
    }
    return event_line("session.start", data, timestamp, "ev-start")


def shutdown(
    model_metrics: Mapping[str, Any],
    timestamp: str,
    event_id: str,
    *,
    cumulative: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "shutdownType": "routine",
        "totalPremiumRequests": 1,
        "totalApiDurationMs": 1288,
        "sessionStartTime": 1_785_353_186_397,
        "codeChanges": {"linesAdded": 3, "linesRemoved": 1, "filesModified": ["a.py"]},
        "modelMetrics": dict(model_metrics),
        "currentModel": "claude-sonnet-4.5",
    }
    if cumulative:
        data["eventsFileSizeBytes"] = 30_642
    return event_line("session.shutdown", data, timestamp, event_id)


def message(timestamp: str) -> dict[str, Any]:
    return event_line(
        "assistant.message",
        {"messageId": "m1", "content": "I fixed the test.", "model": "claude-sonnet-4.5"},
        timestamp,
        f"ev-msg-{timestamp}",
    )


def write_log(home: Path, lines: Iterable[Mapping[str, Any] | bytes]) -> Path:
    path = home / "session-state" / SESSION / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else orjson.dumps(line) + b"\n")
    return path


def parse_store(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("copilot", str(path), "database"), state or ParseState())


def parse_log(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("copilot", str(path), "append"), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(tmp_path / ".copilot")
    made.session()
    return made


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_dot_copilot_under_home(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".copilot"]


def test_copilot_home_and_the_older_xdg_config_home_add_their_homes(tmp_path: Path) -> None:
    roots = SOURCE.default_roots(
        {"COPILOT_HOME": "/cfg/copilot", "XDG_CONFIG_HOME": "/x"}, tmp_path
    )
    assert roots == [Path("/cfg/copilot"), Path("/x/.copilot"), tmp_path / ".copilot"]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    from tokentrail.config import Config
    from tokentrail.sync import source_roots

    env = {"TOKENTRAIL_COPILOT_PATHS": "/x/copilot", "COPILOT_HOME": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [Path("/x/copilot")]


def test_discover_finds_the_store_and_every_event_log(tmp_path: Path) -> None:
    home = tmp_path / ".copilot"
    Store(home)
    write_log(home, [start()])
    (home / "session-state" / "empty-session").mkdir()
    (home / "session-store.db-wal").touch()
    (home / "settings.json").write_text("{}")

    found = [(Path(f.path).relative_to(home).as_posix(), f.kind) for f in SOURCE.discover([home])]

    assert found == [
        ("session-store.db", "database"),
        (f"session-state/{SESSION}/events.jsonl", "append"),
    ]


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope", tmp_path / "nope.db"])) == []


# --- the session store -----------------------------------------------------------------------


def test_a_usage_row_is_one_request_with_copilots_own_charge(store: Store) -> None:
    row = store.call(prompt=24_210, output=300, read=20_000, write=4_000, reasoning=40)

    result = parse_store(store.path)

    [event] = result.events
    assert event.key == f"copilot:{SESSION}:{row}"
    # input includes the cache reads and writes: 24,210 − 20,000 − 4,000 uncached
    assert event.tokens == Tokens(
        input=210, cache_read=20_000, cache_write_5m=4_000, output=300, reasoning=40
    )
    assert event.reported_cost_usd == pytest.approx(0.060564)  # 6,056,400,000 / 10^11
    assert event.model == "claude-sonnet-4.5"
    assert event.timestamp == datetime(2026, 7, 20, 9, 5, tzinfo=UTC)
    assert event.session_key == f"copilot:{SESSION}"
    assert orjson.loads(event.raw_usage or b"")["total_nano_aiu"] == 6_056_400_000
    assert result.skips == []
    [session] = result.sessions
    assert (session.key, session.project, session.title, session.git_branch) == (
        f"copilot:{SESSION}",
        "/src/webapp",
        "Fix the flaky login test",
        "main",
    )


def test_each_row_is_its_own_charge_so_the_rows_add_up(store: Store) -> None:
    """A session's rows add up to its shutdown total: the nano-AIU of a row is that call's."""
    store.call(nano_aiu=1_000_000_000, created="2026-07-20T09:05:00Z")
    store.call(nano_aiu=3_000_000_000, created="2026-07-20T09:06:00Z")

    events = parse_store(store.path).events

    assert [e.reported_cost_usd for e in events] == [pytest.approx(0.01), pytest.approx(0.03)]


def test_a_subagents_calls_get_a_child_session(store: Store) -> None:
    store.call(agent="explore-7f3c")

    result = parse_store(store.path)

    [event] = result.events
    assert event.session_key == f"copilot:{SESSION}:agent:explore-7f3c"
    child = next(s for s in result.sessions if s.key == event.session_key)
    assert (child.parent_key, child.relationship) == (f"copilot:{SESSION}", "subagent")


def test_the_billing_model_is_used_only_when_no_model_ran(store: Store) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        db.execute(
            "INSERT INTO assistant_usage_events (session_id, model, input_tokens, output_tokens, "
            "copilot_usage_model, created_at) VALUES (?, '', 10, 2, 'gpt-5-mini', "
            "'2026-07-20T09:07:00Z')",
            (SESSION,),
        )
        db.commit()
    store.call(model="gpt-5.1")

    models = [e.model for e in parse_store(store.path).events]

    assert models == ["gpt-5-mini", "gpt-5.1"]


def test_counts_not_reported_stay_unknown_not_zero(store: Store) -> None:
    store.call(read=None, write=None, reasoning=None, nano_aiu=None, prompt=500)

    [event] = parse_store(store.path).events

    assert event.tokens == Tokens(input=500, output=300)
    assert event.tokens.cache_read is None and event.reported_cost_usd is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"prompt": 100, "read": 90, "write": 20}, "invalid_count"),  # cache above input
        ({"output": -5}, "invalid_count"),
        ({"created": "yesterday"}, "invalid_timestamp"),
    ],
)
def test_bad_rows_are_reported_and_the_rest_is_read(
    store: Store, change: dict[str, Any], reason: str
) -> None:
    bad = store.call(**change)
    store.call(created="2026-07-20T09:30:00Z")

    result = parse_store(store.path)

    assert len(result.events) == 1
    [skip] = result.skips
    assert skip.reason == reason
    assert f"row {bad}" in skip.detail


def test_reading_again_reads_only_new_rows(store: Store) -> None:
    store.call(created="2026-07-20T09:05:00Z")
    first = parse_store(store.path)
    again = parse_store(store.path, first.state)
    newer = store.call(created="2026-07-20T09:10:00Z")
    second = parse_store(store.path, first.state)

    assert again.events == [] and again.skips == []
    assert [e.key for e in second.events] == [f"copilot:{SESSION}:{newer}"]
    assert second.state.memory["last_id"] == newer


@pytest.mark.parametrize("rows_after_rebuild", [0, 1, 7])
def test_a_rebuilt_store_is_read_from_its_first_row(
    tmp_path: Path, rows_after_rebuild: int
) -> None:
    """Whether the new store is empty, smaller or already past the id read last time."""
    old = Store(tmp_path / "a")
    for minute in range(5):
        old.call(created=f"2026-07-20T09:0{minute}:00Z")
    state = parse_store(old.path).state
    rebuilt = Store(tmp_path / "b")
    for minute in range(rows_after_rebuild):
        rebuilt.call(session="new-session", created=f"2026-08-01T10:0{minute}:00Z")
    state = parse_store(rebuilt.path, state).state if rows_after_rebuild == 0 else state
    rebuilt.call(session="new-session", created="2026-08-01T11:00:00Z")

    result = parse_store(rebuilt.path, state)

    assert len(result.events) == rows_after_rebuild + 1
    assert {e.session_key for e in result.events} == {"copilot:new-session"}


def test_the_store_is_never_written(store: Store) -> None:
    store.call()
    with closing(sqlite3.connect(store.path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = {path.name: digest(path) for path in store.path.parent.iterdir()}

    parse_store(store.path)

    after = {path.name: digest(path) for path in store.path.parent.iterdir()}
    assert {name: after.get(name) for name in before} == before
    # SQLite's read-only WAL protocol may leave an empty -wal and an -shm index: no data
    assert set(after) - set(before) <= {"session-store.db-wal", "session-store.db-shm"}
    assert Path(f"{store.path}-wal").stat().st_size == 0


def test_rows_still_in_the_wal_are_read_while_copilot_writes(tmp_path: Path) -> None:
    made = Store(tmp_path / ".copilot")
    with closing(sqlite3.connect(made.path, isolation_level=None)) as writer:
        writer.execute("SELECT COUNT(*) FROM sessions").fetchone()  # Copilot holds the store
        made.call()
        writer.execute("BEGIN IMMEDIATE")  # Copilot is in the middle of its next write
        writer.execute("UPDATE sessions SET summary = 'draft'")

        result = parse_store(made.path)

        in_wal = Path(f"{made.path}-wal").stat().st_size
        writer.execute("ROLLBACK")
    assert len(result.events) == 1
    assert in_wal > 0


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")


def test_a_locked_store_is_reported_busy_and_read_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copilot, "BUSY_TIMEOUT_SECONDS", 0.05)
    made = Store(tmp_path / ".copilot")
    made.call()
    state = ParseState(memory={"last_id": 0})

    with exclusive_lock(made.path):
        result = parse_store(made.path, state)

    assert (result.events, [s.reason for s in result.skips]) == ([], ["database_busy"])
    assert result.retry and result.state == state
    assert len(parse_store(made.path).events) == 1


def test_a_corrupt_store_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "session-store.db"
    path.write_bytes(b"not a database at all " * 300)

    result = parse_store(path)

    assert [s.reason for s in result.skips] == ["database_unreadable"]


def test_a_store_without_usage_rows_table_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "session-store.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE sessions (id TEXT)")
        db.commit()

    assert [s.reason for s in parse_store(path).skips] == ["unexpected_schema"]


# --- the event logs (where the store has no rows) -------------------------------------------


def test_each_processes_shutdown_adds_up_in_older_builds(tmp_path: Path) -> None:
    home = tmp_path / ".copilot"
    path = write_log(
        home,
        [
            start(),
            message("2026-07-20T09:01:00Z"),
            shutdown(
                {"claude-sonnet-4.5": metrics(prompt=1_000, read=600, write=100)},
                "2026-07-20T09:10:00.000Z",
                "sd-1",
            ),
            event_line("session.resume", {"resumeTime": "x"}, "2026-07-20T10:00:00.000Z", "r1"),
            shutdown(
                {
                    "claude-sonnet-4.5": metrics(prompt=2_000, read=1_500, write=0),
                    "gpt-5-mini": metrics(prompt=50, read=0, write=0, output=5, nano_aiu=0),
                },
                "2026-07-20T10:20:00.000Z",
                "sd-2",
            ),
        ],
    )

    result = parse_log(path)

    events = {e.key: e for e in result.events}
    assert set(events) == {
        f"copilot:{SESSION}:shutdown:sd-1:claude-sonnet-4.5",
        f"copilot:{SESSION}:shutdown:sd-2:claude-sonnet-4.5",
        f"copilot:{SESSION}:shutdown:sd-2:gpt-5-mini",
    }
    assert sum(e.tokens.input or 0 for e in events.values()) == 300 + 500 + 50
    first = events[f"copilot:{SESSION}:shutdown:sd-1:claude-sonnet-4.5"]
    assert first.tokens == Tokens(
        input=300, cache_read=600, cache_write_5m=100, output=300, reasoning=0
    )
    assert first.reported_cost_usd == pytest.approx(0.060564)
    assert first.timestamp == datetime(2026, 7, 20, 9, 10, tzinfo=UTC)
    assert (first.project, first.git_branch) == ("/src/webapp", "main")
    [session] = result.sessions
    assert session.started_at == datetime(2026, 7, 20, 9, 0, tzinfo=UTC)


def test_cumulative_shutdowns_count_only_their_growth(tmp_path: Path) -> None:
    """Builds that write eventsFileSizeBytes restore the totals on resume: the last one is
    the session's total, each one's own share is its difference from the one before."""
    path = write_log(
        tmp_path / ".copilot",
        [
            start(),
            shutdown(
                {"m": metrics(prompt=1_000, read=0, write=0, output=10, nano_aiu=100)},
                "2026-07-20T09:10:00Z",
                "sd-1",
                cumulative=True,
            ),
            shutdown(
                {"m": metrics(prompt=1_600, read=0, write=0, output=25, nano_aiu=250, requests=3)},
                "2026-07-20T10:10:00Z",
                "sd-2",
                cumulative=True,
            ),
        ],
    )

    events = parse_log(path).events

    assert [(e.tokens.input, e.tokens.output) for e in events] == [(1_000, 10), (600, 15)]
    assert sum(e.reported_cost_usd or 0 for e in events) == pytest.approx(250 / 10**11)


def test_the_first_cumulative_shutdown_includes_only_the_older_one_before_it(
    tmp_path: Path,
) -> None:
    path = write_log(
        tmp_path / ".copilot",
        [
            shutdown({"m": metrics(prompt=100, read=0, write=0)}, "2026-07-20T09:00:00Z", "a"),
            shutdown({"m": metrics(prompt=200, read=0, write=0)}, "2026-07-20T09:10:00Z", "b"),
            shutdown(
                {"m": metrics(prompt=260, read=0, write=0)},
                "2026-07-20T09:20:00Z",
                "c",
                cumulative=True,
            ),
        ],
    )

    assert [e.tokens.input for e in parse_log(path).events] == [100, 200, 60]


def test_totals_that_went_down_start_again_and_never_go_negative(tmp_path: Path) -> None:
    path = write_log(
        tmp_path / ".copilot",
        [
            shutdown(
                {"m": metrics(prompt=900, read=0, write=0)},
                "2026-07-20T09:00:00Z",
                "a",
                cumulative=True,
            ),
            shutdown(
                {"m": metrics(prompt=300, read=0, write=0)},
                "2026-07-20T09:10:00Z",
                "b",
                cumulative=True,
            ),
        ],
    )

    assert [e.tokens.input for e in parse_log(path).events] == [900, 300]


def test_shutdowns_the_store_already_counts_are_not_counted_again(tmp_path: Path) -> None:
    home = tmp_path / ".copilot"
    made = Store(home)
    made.session()
    made.call(created="2026-07-20T10:05:00.000Z")  # a call of the second process only
    path = write_log(
        home,
        [
            start(),
            shutdown({"m": metrics(prompt=100, read=0, write=0)}, "2026-07-20T09:10:00Z", "a"),
            shutdown({"m": metrics(prompt=200, read=0, write=0)}, "2026-07-20T10:10:00Z", "b"),
        ],
    )

    result = parse_log(path)

    assert [e.key for e in result.events] == [f"copilot:{SESSION}:shutdown:a:m"]
    assert result.duplicates == 1


def test_a_busy_store_leaves_the_log_for_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copilot, "BUSY_TIMEOUT_SECONDS", 0.05)
    home = tmp_path / ".copilot"
    made = Store(home)
    path = write_log(home, [shutdown({"m": metrics()}, "2026-07-20T09:10:00Z", "a")])

    with exclusive_lock(made.path):
        result = parse_log(path)

    assert (result.events, result.retry, result.state) == ([], True, ParseState())
    assert len(parse_log(path).events) == 1


def test_malformed_lines_are_skipped_with_their_line(tmp_path: Path) -> None:
    path = write_log(
        tmp_path / ".copilot",
        [
            start(),
            b'{"type": "session.shutdown", "data": {\n',
            b'["session.shutdown"]\n',
            shutdown({"m": metrics(prompt=-1)}, "2026-07-20T09:10:00Z", "bad"),
            shutdown({"m": metrics()}, "not a time", "late"),
            shutdown({"m": metrics()}, "2026-07-20T09:20:00Z", "good"),
        ],
    )

    result = parse_log(path)

    assert [e.key for e in result.events] == [f"copilot:{SESSION}:shutdown:good:m"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("invalid_json", 2),
        ("not_an_object", 3),
        ("invalid_count", 4),
        ("invalid_timestamp", 5),
    ]


def test_appending_to_a_log_equals_one_read_and_a_line_being_written_waits(
    tmp_path: Path,
) -> None:
    home = tmp_path / ".copilot"
    path = write_log(
        home,
        [
            start(),
            shutdown(
                {"m": metrics(prompt=100, read=0, write=0)},
                "2026-07-20T09:10:00Z",
                "a",
                cumulative=True,
            ),
        ],
    )
    second = shutdown(
        {"m": metrics(prompt=150, read=0, write=0)}, "2026-07-20T10:10:00Z", "b", cumulative=True
    )
    text = orjson.dumps(second)
    write_log(home, [text[:40]])
    first = parse_log(path)
    write_log(home, [text[40:] + b"\n"])
    rest = parse_log(path, first.state)
    once = parse_log(path)

    assert first.pending_partial_line
    assert [e.tokens.input for e in rest.events] == [50]
    assert by_key(first.events + rest.events) == by_key(once.events)


def test_shared_sample_log(tmp_path: Path) -> None:
    path = tmp_path / ".copilot" / "session-state" / "d0c5e2a1-7b44-4e0f-9c31-2b8f6a7e5d10"
    path.mkdir(parents=True)
    shutil.copy(DATA / "events.jsonl", path / "events.jsonl")

    result = parse_log(path / "events.jsonl")

    assert result.skips == []
    assert sorted((e.model, e.tokens.input, e.tokens.cache_write_5m) for e in result.events) == [
        ("claude-sonnet-4.5", 2, 24_208),
        ("claude-sonnet-4.5", 1_190, 0),
        ("gpt-5-mini", 412, 0),
    ]
    assert sum(e.reported_cost_usd or 0 for e in result.events) == pytest.approx(0.081564)


# --- end to end ------------------------------------------------------------------------------


def test_daily_report_for_copilot_from_a_real_home(isolated_home: Path, db_path: Path) -> None:
    made = Store(isolated_home / ".copilot")
    made.session()
    made.call(created="2026-07-20T09:05:00.000Z")
    made.call(
        model="copilot-mystery-9",
        prompt=1_000,
        read=0,
        write=0,
        output=10,
        nano_aiu=2 * 10**9,
        created="2026-07-21T09:05:00.000Z",
    )

    result = CliRunner().invoke(
        cli,
        ["daily", "-d", str(db_path), "--source", "copilot", "--json"],
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    rows = {r["period"]: r for r in orjson.loads(result.stdout)["rows"]}
    assert rows["2026-07-20"]["input_tokens"] == 210
    assert rows["2026-07-20"]["cost_usd"] > 0
    # a model nobody prices is unpriced, never $0; Copilot's own charge is kept beside it
    assert rows["2026-07-21"]["cost_usd"] is None
    assert rows["2026-07-21"]["unpriced_requests"] == 1
    assert rows["2026-07-21"]["reported_cost_usd"] == pytest.approx(0.02)


def test_a_second_sync_without_changes_reads_nothing(isolated_home: Path, db_path: Path) -> None:
    home = isolated_home / ".copilot"
    made = Store(home)
    made.call()
    write_log(home, [start(), shutdown({"m": metrics()}, "2026-07-19T09:10:00Z", "a")])

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["copilot"], workers=1)
        second = sync(ledger, source_names=["copilot"], workers=1)
        made.call(created="2026-07-20T09:30:00Z")
        third = sync(ledger, source_names=["copilot"], workers=1)

    assert (first.files_read, first.new_events) == (2, 2)
    assert (second.files_read, second.files_unchanged, second.new_events) == (0, 2, 0)
    assert (third.files_read, third.new_events) == (1, 1)


def test_the_dashboard_names_and_colours_copilot() -> None:
    from tokentrail.server.rendering import agent_colours, source_label

    css = agent_colours()
    assert source_label("copilot") == "Copilot CLI"
    assert ".source-copilot::before" in css
