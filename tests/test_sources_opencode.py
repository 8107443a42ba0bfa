"""OpenCode source: its SQLite database, the legacy JSON tree, and the counting rules."""

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

from tokentrail.agents.opencode import reader as opencode
from tokentrail.agents.opencode.reader import OpenCodeSource
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.usage import Tokens, UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "opencode"
SOURCE = OpenCodeSource()
SESSION = "ses_6aade4081ffe216ygZUgcUQdR1"
CREATED_MS = 1_762_160_102_118  # 2025-11-03T08:55:02.118Z

# The columns of opencode's session/message/part tables (packages/opencode/src/session/
# session.sql.ts) that matter here, with their real names, types and constraints.
SCHEMA = """
CREATE TABLE project (
    id TEXT PRIMARY KEY, worktree TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL
);
CREATE TABLE session (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES project(id) ON DELETE CASCADE,
    parent_id TEXT, slug TEXT NOT NULL, directory TEXT NOT NULL, title TEXT NOT NULL,
    version TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL
);
CREATE TABLE message (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX message_session_time_created_id_idx ON message (session_id, time_created, id);
CREATE TABLE part (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES message(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX part_message_id_id_idx ON part (message_id, id);
"""


# --- builders ------------------------------------------------------------------------------


def tokens(
    input: int = 1_200,
    output: int = 300,
    reasoning: int = 0,
    read: int = 40_000,
    write: int = 2_000,
    total: int | None = -1,
) -> dict[str, Any]:
    """``tokens`` as opencode's getUsage stores them; ``total=-1`` computes today's total."""
    raw: dict[str, Any] = {
        "input": input,
        "output": output,
        "reasoning": reasoning,
        "cache": {"read": read, "write": write},
    }
    if total == -1:
        raw["total"] = input + output + reasoning + read + write
    elif total is not None:
        raw["total"] = total
    return raw


def assistant(
    raw_tokens: Mapping[str, Any] | None = None,
    *,
    cost: float | None = 0.0421,
    provider: str = "anthropic",
    model: str = "claude-sonnet-4-5",
    created: int = CREATED_MS,
) -> dict[str, Any]:
    """An assistant message's data, without id and sessionID (as stored in message.data)."""
    data: dict[str, Any] = {
        "role": "assistant",
        "time": {"created": created, "completed": created + 9_000},
        "parentID": "msg_a1b2c3d4e0017Xq",
        "modelID": model,
        "providerID": provider,
        "mode": "build",
        "agent": "build",
        "path": {"cwd": "/src/webapp", "root": "/src/webapp"},
        "tokens": raw_tokens if raw_tokens is not None else tokens(),
        "finish": "tool-calls",
    }
    if cost is not None:
        data["cost"] = cost
    return data


def user_message(created: int = CREATED_MS - 5_000) -> dict[str, Any]:
    return {
        "role": "user",
        "time": {"created": created},
        "agent": "build",
        "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"},
    }


def step_finish(raw_tokens: Mapping[str, Any], cost: float) -> dict[str, Any]:
    return {"type": "step-finish", "reason": "tool-calls", "cost": cost, "tokens": raw_tokens}


class OpenCodeDb:
    """A database with opencode's schema, written the way opencode writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as db:
            db.executescript(SCHEMA)
            db.execute("INSERT INTO project VALUES ('prj_1', '/src/webapp', 1, 1)")
            db.commit()

    def session(
        self, session_id: str = SESSION, *, parent: str | None = None, updated: int = 0
    ) -> None:
        with closing(sqlite3.connect(self.path)) as db:
            db.execute(
                "INSERT OR REPLACE INTO session VALUES (?, 'prj_1', ?, 'brave-otter', "
                "'/src/webapp', 'Fix the flaky test', '1.1.20', ?, ?)",
                (session_id, parent, CREATED_MS - 60_000, updated or CREATED_MS + 60_000),
            )
            db.commit()

    def message(
        self, message_id: str, data: Mapping[str, Any], *, updated: int = 0, session: str = SESSION
    ) -> None:
        with closing(sqlite3.connect(self.path)) as db:
            created = data["time"]["created"]
            db.execute(
                "INSERT INTO message VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET data = excluded.data, time_updated = excluded.time_updated",
                (message_id, session, created, updated or created, orjson.dumps(data).decode()),
            )
            db.commit()

    def part(self, part_id: str, message_id: str, data: Mapping[str, Any]) -> None:
        with closing(sqlite3.connect(self.path)) as db:
            db.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                (part_id, message_id, SESSION, CREATED_MS, CREATED_MS, orjson.dumps(data).decode()),
            )
            db.commit()


def legacy_message(storage: Path, message_id: str, data: Mapping[str, Any]) -> Path:
    """``storage/message/<sessionID>/<msgID>.json`` as older opencode versions wrote it."""
    path = storage / "message" / SESSION / f"{message_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        orjson.dumps({"id": message_id, "sessionID": SESSION, **data}, option=orjson.OPT_INDENT_2)
    )
    return path


def legacy_part(storage: Path, message_id: str, part_id: str, data: Mapping[str, Any]) -> None:
    path = storage / "part" / message_id / f"{part_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"id": part_id, "messageID": message_id, "sessionID": SESSION, **data}
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))


def parse_db(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("opencode", str(path), "database"), state or ParseState())


def parse_file(path: Path) -> ParseResult:
    return SOURCE.parse(SourceFile("opencode", str(path), "whole"), ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> OpenCodeDb:
    database = OpenCodeDb(tmp_path / "opencode.db")
    database.session()
    return database


# --- roots and discovery ---------------------------------------------------------------------


def test_default_root_is_the_xdg_data_dir_under_home(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [tmp_path / ".local" / "share" / "opencode"]


def test_xdg_data_home_moves_the_data_dir(tmp_path: Path) -> None:
    roots = SOURCE.default_roots({"XDG_DATA_HOME": "/data"}, tmp_path)
    assert roots == [Path("/data/opencode")]


def test_opencode_db_variable_adds_its_database(tmp_path: Path) -> None:
    data_dir = tmp_path / ".local" / "share" / "opencode"
    absolute = SOURCE.default_roots({"OPENCODE_DB": "/dbs/oc.db"}, tmp_path)
    relative = SOURCE.default_roots({"OPENCODE_DB": "work.db"}, tmp_path)
    in_memory = SOURCE.default_roots({"OPENCODE_DB": ":memory:"}, tmp_path)
    assert absolute == [data_dir, Path("/dbs/oc.db")]
    assert relative == [data_dir, data_dir / "work.db"]
    assert in_memory == [data_dir]


def test_tokentrail_variable_replaces_the_default_roots(tmp_path: Path) -> None:
    from tokentrail.config import Config
    from tokentrail.sync import source_roots

    env = {"TOKENTRAIL_OPENCODE_PATHS": "/x/opencode", "XDG_DATA_HOME": "/ignored"}
    assert source_roots(SOURCE, Config(), env, tmp_path) == [Path("/x/opencode")]


def test_discover_finds_databases_and_the_legacy_tree(tmp_path: Path) -> None:
    root = tmp_path / "opencode"
    storage = root / "storage"
    root.mkdir()
    for name in ("opencode.db", "opencode-dev.db", "opencode.db-wal", "other.db"):
        (root / name).write_bytes(b"")
    legacy_message(storage, "msg_1", assistant())
    (storage / "session" / "prj_1").mkdir(parents=True)
    (storage / "session" / "prj_1" / f"{SESSION}.json").write_text("{}")
    legacy_part(storage, "msg_1", "prt_1", step_finish(tokens(), 0.1))  # read with its message
    custom = tmp_path / "custom.db"
    custom.write_bytes(b"")

    found = {(Path(f.path).name, f.kind) for f in SOURCE.discover([root, custom])}

    assert found == {
        ("opencode.db", "database"),
        ("opencode-dev.db", "database"),
        ("custom.db", "database"),
        ("msg_1.json", "whole"),
        (f"{SESSION}.json", "whole"),
    }


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert list(SOURCE.discover([tmp_path / "nope", tmp_path / "nope.db"])) == []


# --- the database ----------------------------------------------------------------------------


def test_assistant_message_is_one_event_with_its_reported_cost(db: OpenCodeDb) -> None:
    db.message("msg_u1", user_message())
    raw = tokens(input=1_200, output=300, read=40_000, write=2_000)
    db.message("msg_a1", assistant(raw, cost=0.0421))

    result = parse_db(db.path)

    [event] = result.events
    assert event.key == "opencode:msg_a1"
    assert event.tokens == Tokens(
        input=1_200, cache_read=40_000, cache_write_5m=2_000, output=300, reasoning=0
    )
    assert event.reported_cost_usd == pytest.approx(0.0421)
    assert event.model == "claude-sonnet-4-5"
    assert event.provider == "anthropic"
    assert event.timestamp == datetime(2025, 11, 3, 8, 55, 2, 118_000, tzinfo=UTC)
    assert event.session_key == f"opencode:{SESSION}"
    assert event.project == "/src/webapp"
    assert orjson.loads(event.raw_usage or b"") == raw
    assert result.skips == []


def test_database_sessions_carry_title_directory_and_parent(db: OpenCodeDb) -> None:
    db.session("ses_child", parent=SESSION)

    sessions = {s.key: s for s in parse_db(db.path).sessions}

    parent, child = sessions[f"opencode:{SESSION}"], sessions["opencode:ses_child"]
    assert parent.title == "Fix the flaky test"
    assert parent.project == "/src/webapp"
    assert parent.parent_key is None
    assert parent.started_at == datetime(2025, 11, 3, 8, 54, 2, 118_000, tzinfo=UTC)
    assert child.parent_key == f"opencode:{SESSION}"
    assert child.relationship == "subagent"


def test_reply_without_usage_yet_is_not_an_event(db: OpenCodeDb) -> None:
    db.message("msg_a1", assistant(tokens(input=0, output=0, read=0, write=0)))
    no_tokens = assistant()
    del no_tokens["tokens"]
    db.message("msg_a2", no_tokens)

    result = parse_db(db.path)

    assert result.events == []
    assert result.skips == []


@pytest.mark.parametrize("field", ["input", "output", "reasoning"])
def test_bad_counts_are_skipped_not_read_as_zero(db: OpenCodeDb, field: str) -> None:
    bad = tokens()
    bad[field] = -12
    db.message("msg_bad", assistant(bad))
    db.message("msg_good", assistant(tokens(), created=CREATED_MS + 1))

    result = parse_db(db.path)

    assert [event.key for event in result.events] == ["opencode:msg_good"]
    [skip] = result.skips
    assert skip.reason == "invalid_count"
    assert "msg_bad" in skip.detail


def test_broken_message_json_is_reported(db: OpenCodeDb) -> None:
    with closing(sqlite3.connect(db.path)) as raw:
        raw.execute(
            "INSERT INTO message VALUES ('msg_x', ?, 1, 1, '{\"role\":\"assistant\",')", (SESSION,)
        )
        raw.commit()

    result = parse_db(db.path)

    assert [(skip.reason, "msg_x" in skip.detail) for skip in result.skips] == [
        ("invalid_json", True)
    ]


def test_a_message_row_that_is_not_json_at_all_is_reported(db: OpenCodeDb) -> None:
    with closing(sqlite3.connect(db.path)) as raw:
        raw.execute("INSERT INTO message VALUES ('msg_x', ?, 1, 1, '{not json')", (SESSION,))
        raw.commit()

    result = parse_db(db.path)

    assert [(skip.reason, "msg_x" in skip.detail) for skip in result.skips] == [
        ("invalid_json", True)
    ]


def test_each_step_of_a_multi_step_reply_is_a_request(db: OpenCodeDb) -> None:
    """The message keeps only its last step's tokens; the step-finish parts have them all."""
    steps = [tokens(input=900, output=120), tokens(input=400, output=60), tokens(input=50)]
    db.message("msg_a1", assistant(steps[-1], cost=0.09))
    for index, (raw, cost) in enumerate(zip(steps, (0.04, 0.03, 0.02), strict=True)):
        db.part(f"prt_{index}", "msg_a1", step_finish(raw, cost))
    db.part("prt_text", "msg_a1", {"type": "text", "text": "step-finish is a word here"})

    events = by_key(parse_db(db.path).events)

    assert set(events) == {"opencode:msg_a1:prt_0", "opencode:msg_a1:prt_1", "opencode:msg_a1"}
    assert events["opencode:msg_a1:prt_0"].tokens.input == 900
    assert events["opencode:msg_a1"].tokens.input == 50  # the last step keeps the message key
    assert sum(e.reported_cost_usd or 0 for e in events.values()) == pytest.approx(0.09)


def test_a_single_step_reply_keeps_the_message_key(db: OpenCodeDb) -> None:
    db.message("msg_a1", assistant(tokens(), cost=0.05))
    db.part("prt_0", "msg_a1", step_finish(tokens(), 0.05))

    assert [e.key for e in parse_db(db.path).events] == ["opencode:msg_a1"]


def test_incremental_reads_only_recent_rows_and_equals_one_read(tmp_path: Path) -> None:
    database = OpenCodeDb(tmp_path / "opencode.db")
    database.session()
    hour = 3_600_000
    database.message("msg_a1", assistant(tokens(input=10), created=CREATED_MS))
    database.message("msg_a2", assistant(tokens(input=20), created=CREATED_MS + hour))
    first = parse_db(database.path)
    database.message("msg_a3", assistant(tokens(input=30), created=CREATED_MS + 2 * hour))
    second = parse_db(database.path, first.state)
    once = parse_db(database.path)

    # only the new row is read: msg_a2, in the late-commit margin, is known unchanged
    assert [e.key for e in second.events] == ["opencode:msg_a3"]
    assert by_key(first.events + second.events) == by_key(once.events)
    assert second.state.memory["messages_updated"] == CREATED_MS + 2 * hour
    assert parse_db(database.path, second.state).events == []


def test_a_row_committed_late_with_an_older_time_is_still_read(db: OpenCodeDb) -> None:
    db.message("msg_a2", assistant(tokens(input=20), created=CREATED_MS + 60_000))
    first = parse_db(db.path)
    # a transaction that stamped its row before msg_a2's, committed after the read
    db.message("msg_a1", assistant(tokens(input=10), created=CREATED_MS))

    second = parse_db(db.path, first.state)

    assert [e.key for e in second.events] == ["opencode:msg_a1"]


def test_a_step_written_after_its_message_was_read_is_read(db: OpenCodeDb) -> None:
    db.message("msg_a1", assistant(tokens(input=400, output=60)))
    db.part("prt_1", "msg_a1", step_finish(tokens(input=900, output=120), 0.02))
    first = parse_db(db.path)
    # opencode updates the message, then writes the step's part: a read came in between
    late_step = orjson.dumps(step_finish(tokens(input=400, output=60), 0.01)).decode()
    with closing(sqlite3.connect(db.path)) as raw:
        raw.execute(
            "INSERT INTO part VALUES ('prt_2', 'msg_a1', ?, ?, ?, ?)",
            (SESSION, CREATED_MS + 1, CREATED_MS + 1, late_step),
        )
        raw.commit()

    second = parse_db(db.path, first.state)

    assert [e.key for e in first.events] == ["opencode:msg_a1"]
    assert len(second.events) == 2, second.events
    assert parse_db(db.path, second.state).events == []


def test_an_updated_row_is_read_again(db: OpenCodeDb) -> None:
    db.message("msg_a1", assistant(tokens(input=0, output=0, read=0, write=0)))
    first = parse_db(db.path)
    later = CREATED_MS + 3_600_000
    db.message("msg_a1", assistant(tokens(input=700)), updated=later)

    second = parse_db(db.path, first.state)

    assert first.events == []
    assert [(e.key, e.tokens.input) for e in second.events] == [("opencode:msg_a1", 700)]


def test_the_database_is_never_written(db: OpenCodeDb) -> None:
    db.message("msg_a1", assistant())
    before = digest(db.path)

    parse_db(db.path)

    assert digest(db.path) == before
    assert sorted(p.name for p in db.path.parent.glob("opencode.db*")) == ["opencode.db"]


def test_wal_database_with_a_live_writer_is_read(tmp_path: Path) -> None:
    database = OpenCodeDb(tmp_path / "opencode.db")
    with closing(sqlite3.connect(database.path)) as writer:
        writer.execute("PRAGMA journal_mode = WAL")
        database.session()
        database.message("msg_a1", assistant())
        writer.execute("BEGIN IMMEDIATE")  # opencode is in the middle of a write
        writer.execute("UPDATE session SET title = 'draft'")

        result = parse_db(database.path)

        writer.rollback()
    assert [e.key for e in result.events] == ["opencode:msg_a1"]


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")


def test_a_locked_database_is_reported_busy_and_retried_later(
    db: OpenCodeDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opencode, "BUSY_TIMEOUT_SECONDS", 0.05)
    db.message("msg_a1", assistant())
    state = ParseState(memory={"messages_updated": 5})

    with exclusive_lock(db.path):
        result = parse_db(db.path, state)

    assert result.events == []
    assert [skip.reason for skip in result.skips] == ["database_busy"]
    assert result.state == state
    assert [e.key for e in parse_db(db.path).events] == ["opencode:msg_a1"]


def test_a_corrupt_database_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "opencode.db"
    path.write_bytes(b"this is not an sqlite file " * 200)

    result = parse_db(path)

    assert result.events == []
    assert [skip.reason for skip in result.skips] == ["database_unreadable"]


def test_a_database_without_opencode_tables_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "opencode.db"
    with closing(sqlite3.connect(path)) as other:
        other.execute("CREATE TABLE notes (id TEXT)")
        other.commit()

    result = parse_db(path)

    assert [skip.reason for skip in result.skips] == ["unexpected_schema"]


# --- the legacy JSON tree --------------------------------------------------------------------


def test_legacy_message_file_and_its_session(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    path = legacy_message(storage, "msg_a1", assistant(tokens(input=77), cost=0.01))
    session_path = storage / "session" / "prj_1" / f"{SESSION}.json"
    session_path.parent.mkdir(parents=True)
    session_path.write_bytes(
        orjson.dumps(
            {
                "id": SESSION,
                "projectID": "prj_1",
                "parentID": "ses_parent",
                "directory": "/src/webapp",
                "title": "Refactor auth",
                "version": "0.9.11",
                "time": {"created": CREATED_MS, "updated": CREATED_MS + 5_000},
            }
        )
    )

    [event] = parse_file(path).events
    [session] = parse_file(session_path).sessions

    assert event.key == "opencode:msg_a1"
    assert event.tokens.input == 77
    assert event.reported_cost_usd == pytest.approx(0.01)
    assert session.key == f"opencode:{SESSION}"
    assert session.title == "Refactor auth"
    assert session.parent_key == "opencode:ses_parent"
    assert session.ended_at == datetime(2025, 11, 3, 8, 55, 7, 118_000, tzinfo=UTC)


def test_message_in_database_and_json_tree_is_counted_once(tmp_path: Path) -> None:
    """opencode's migration copies the JSON tree into the database and leaves the files."""
    database = OpenCodeDb(tmp_path / "opencode.db")
    database.session()
    storage = tmp_path / "storage"
    steps = [tokens(input=900), tokens(input=400)]
    data = assistant(steps[-1], cost=0.07)
    database.message("msg_a1", data)
    path = legacy_message(storage, "msg_a1", data)
    for index, raw in enumerate(steps):
        database.part(f"prt_{index}", "msg_a1", step_finish(raw, 0.035))
        legacy_part(storage, "msg_a1", f"prt_{index}", step_finish(raw, 0.035))
    bare = legacy_message(tmp_path / "bare" / "storage", "msg_a1", data)  # its parts are gone

    from_db = by_key(parse_db(database.path).events)
    from_tree = by_key(parse_file(path).events)
    from_bare = by_key(parse_file(bare).events)

    assert from_db == from_tree
    assert set(from_bare) <= set(from_db)
    combined = by_key([*from_db.values(), *from_tree.values(), *from_bare.values()])
    assert sum(e.tokens.input or 0 for e in combined.values()) == 900 + 400


def test_user_messages_in_the_json_tree_are_not_usage(tmp_path: Path) -> None:
    path = legacy_message(tmp_path / "storage", "msg_u1", user_message())

    result = parse_file(path)

    assert result.events == []
    assert result.skips == []


def test_broken_legacy_file_is_reported(tmp_path: Path) -> None:
    path = legacy_message(tmp_path / "storage", "msg_a1", assistant())
    path.write_text('{"role": "assistant", "tokens": ')

    result = parse_file(path)

    assert [skip.reason for skip in result.skips] == ["invalid_json"]


def test_shared_sample_legacy_message(tmp_path: Path) -> None:
    path = tmp_path / "storage" / "message" / "ses_test001" / "msg_test001.json"
    path.parent.mkdir(parents=True)
    shutil.copy(DATA / "tokscale-msg_test001.json", path)

    result = parse_file(path)

    [event] = result.events
    assert event.key == "opencode:msg_test001"
    assert event.session_key == "opencode:ses_test001"
    assert event.tokens == Tokens(
        input=1_000, cache_read=200, cache_write_5m=100, output=500, reasoning=0
    )
    assert event.model == "claude-3-5-sonnet-20241022"
    assert event.provider == "anthropic"
    assert event.reported_cost_usd is None
    assert event.timestamp == datetime(2024, 12, 1, tzinfo=UTC)


# --- is reasoning inside output? -------------------------------------------------------------


def only_event(tmp_path: Path, raw: Mapping[str, Any], provider: str = "openai") -> UsageEvent:
    path = legacy_message(tmp_path / "storage", "msg_a1", assistant(raw, provider=provider))
    [event] = parse_file(path).events
    return event


def test_total_with_reasoning_on_top_means_output_excludes_it(tmp_path: Path) -> None:
    # today's getUsage: output = outputTokens - reasoning, total = the SDK's full total
    event = only_event(tmp_path, tokens(output=123, reasoning=69, read=65_856, write=0))
    assert event.tokens.output == 123 + 69
    assert event.tokens.reasoning == 69


def test_total_without_reasoning_means_output_includes_it(tmp_path: Path) -> None:
    # older getUsage: output = the SDK's outputTokens, which for OpenAI includes reasoning
    raw = tokens(input=500, output=1_944, reasoning=1_360, read=0, write=0, total=500 + 1_944)
    event = only_event(tmp_path, raw)
    assert event.tokens.output == 1_944
    assert event.tokens.reasoning == 1_360


def test_reasoning_larger_than_output_cannot_be_inside_it(tmp_path: Path) -> None:
    # opencode 1.1.20 with Gemini: "Hello there" -> output 12, reasoning 365, no total
    raw = tokens(input=11_408, output=12, reasoning=365, read=0, write=0, total=None)
    event = only_event(tmp_path, raw, provider="google")
    assert event.tokens.output == 12 + 365


def test_google_reports_thoughts_apart_from_candidates(tmp_path: Path) -> None:
    raw = tokens(input=3_000, output=800, reasoning=200, read=0, write=0, total=None)
    assert only_event(tmp_path, raw, provider="google").tokens.output == 1_000


def test_without_evidence_openai_style_output_already_includes_reasoning(tmp_path: Path) -> None:
    raw = tokens(input=3_000, output=800, reasoning=200, read=0, write=0, total=None)
    assert only_event(tmp_path, raw, provider="openai").tokens.output == 800
