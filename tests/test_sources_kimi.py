"""Kimi CLI source: wire logs, repeated message ids, forks, sub-agents, and no model recorded."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson
from click.testing import CliRunner

from tokentrail.agents.contract import dumps
from tokentrail.agents.kimi.reader import KimiSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync
from tokentrail.usage import UsageEvent, merge_events

DATA = Path(__file__).parent / "data" / "kimi" / ".kimi"
CODE_DATA = DATA.with_name(".kimi-code")
CODE_MAIN = "session_7e1c2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
CODE_OTHER = "session_4d2a1b0c-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
WEB_SLUG = "wd_webapp_3a1f2b4c5d6e"
PROJECT = "/home/ana/src/webapp"
GROUP = "5720364add692dacaee28135215a5a43"  # md5 of PROJECT, as Kimi names the folder
MAIN = "3f2c9a10-5b7e-4d21-9c3a-1e0f2a7b8c90"
FORK = "8d41b7c2-0e9f-4a63-b5d8-2c7e1f0a9b34"
AGENT = "agent-7f3a"
SOURCE = KimiSource()


def kimi_home(home: Path) -> Path:
    root = home / ".kimi"
    shutil.copytree(DATA, root)
    return root


def wire(root: Path, session: str = MAIN) -> Path:
    return root / "sessions" / GROUP / session / "wire.jsonl"


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("kimi", str(path)), state or ParseState())


def by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    merged: dict[str, UsageEvent] = {}
    for event in events:
        merged[event.key] = merge_events(merged[event.key], event) if event.key in merged else event
    return merged


def status_line(message_id: str | None, output: int, when: float = 1772449200.0) -> bytes:
    usage = {"input_other": 10, "output": output, "input_cache_read": 0, "input_cache_creation": 0}
    payload = {"token_usage": usage, "message_id": message_id}
    return orjson.dumps(
        {"timestamp": when, "message": {"type": "StatusUpdate", "payload": payload}}
    )


# --- roots and discovery ---------------------------------------------------------------------


def test_default_roots_are_the_share_dirs_sessions_and_kimi_codes(tmp_path: Path) -> None:
    desktop = "kimi-desktop/daimon-share/daimon/runtime/kimi-code/home/sessions"
    assert SOURCE.default_roots({}, tmp_path) == [
        tmp_path / ".kimi" / "sessions",
        tmp_path / ".kimi" / "imported_sessions",
        tmp_path / ".kimi-code" / "sessions",
        tmp_path / "Library/Application Support" / desktop,  # the desktop app, on macOS
    ]
    moved = SOURCE.default_roots({"KIMI_SHARE_DIR": "/data/kimi"}, tmp_path)
    assert moved[:3] == [
        Path("/data/kimi/sessions"),
        Path("/data/kimi/imported_sessions"),
        tmp_path / ".kimi-code" / "sessions",
    ]
    code = SOURCE.default_roots({"KIMI_CODE_HOME": "/data/kimi-code"}, tmp_path)
    assert code[2] == Path("/data/kimi-code/sessions")
    windows = SOURCE.default_roots({"APPDATA": "C:/Users/ana/AppData/Roaming"}, tmp_path)
    assert windows[-1] == Path("C:/Users/ana/AppData/Roaming") / desktop


def test_every_wire_log_is_found(isolated_home: Path) -> None:
    root = kimi_home(isolated_home)

    found = [f.path for f in SOURCE.discover(SOURCE.default_roots({}, isolated_home))]

    assert sorted(found) == sorted(
        [
            str(wire(root)),
            str(wire(root).parent / "subagents" / AGENT / "wire.jsonl"),
            str(wire(root, FORK)),
            str(root / "imported_sessions" / MAIN / "wire.jsonl"),
        ]
    )
    assert list(SOURCE.discover([isolated_home / "nowhere"])) == []


# --- the counting rules ----------------------------------------------------------------------


def test_each_status_update_with_token_usage_is_one_request() -> None:
    result = parse(wire(DATA))

    events = by_key(result.events)
    assert sorted(events) == sorted(
        ["kimi:chatcmpl-k2a1", "kimi:chatcmpl-k2a2", *[k for k in events if ":h:" in k]]
    )
    assert len(events) == 3
    second = events["kimi:chatcmpl-k2a2"]
    # disjoint buckets: input_other excludes both cache buckets
    assert second.tokens.as_tuple() == (800, 12_000, 2_048, None, 920, None)
    assert second.project == PROJECT
    assert second.session_key == f"kimi:{MAIN}"


def test_a_repeated_message_id_is_one_request() -> None:
    result = parse(wire(DATA))

    assert result.duplicates == 1
    assert sum(1 for e in result.events if e.key == "kimi:chatcmpl-k2a2") == 1


def test_no_model_is_recorded_and_none_is_guessed() -> None:
    result = parse(wire(DATA))

    assert {e.model for e in result.events} == {None}
    assert {e.provider for e in result.events} == {None}


def test_a_sub_agent_relay_is_counted_from_the_sub_agents_own_log() -> None:
    main = parse(wire(DATA))
    own = parse(wire(DATA).parent / "subagents" / AGENT / "wire.jsonl")

    assert "kimi:chatcmpl-sub1" not in {e.key for e in main.events}
    assert [e.key for e in own.events] == ["kimi:chatcmpl-sub1"]
    session = own.sessions[0]
    assert (session.key, session.parent_key, session.relationship) == (
        f"kimi:{MAIN}:agent:{AGENT}",
        f"kimi:{MAIN}",
        "subagent",
    )


def test_a_fork_copy_is_counted_once_and_belongs_to_the_original() -> None:
    for order in ((MAIN, FORK), (FORK, MAIN)):
        merged = by_key(e for s in order for e in parse(wire(DATA, s)).events)
        assert merged["kimi:chatcmpl-k2a1"].session_key == f"kimi:{MAIN}"
        assert merged["kimi:chatcmpl-k2b1"].session_key == f"kimi:{FORK}"
    fork = parse(wire(DATA, FORK)).sessions[0]
    assert fork.title == "Fork: why do the tests fail?"


def test_an_imported_copy_owns_nothing_the_session_has() -> None:
    imported = parse(DATA / "imported_sessions" / MAIN / "wire.jsonl").events
    merged = by_key([*imported, *parse(wire(DATA)).events])

    assert {e.session_key for e in merged.values()} == {f"kimi:{MAIN}"}
    assert {e.project for e in imported} == {None}  # no work dir is known for an import


def test_a_record_without_a_message_id_is_keyed_by_what_it_says(tmp_path: Path) -> None:
    path = tmp_path / "s1" / "wire.jsonl"
    path.parent.mkdir()
    path.write_bytes(status_line(None, 5) + b"\n")
    copy = tmp_path / "s2" / "wire.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(status_line(None, 5) + b"\n")

    assert parse(path).events[0].key == parse(copy).events[0].key


def test_bad_lines_are_counted_skips_and_a_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "s1" / "wire.jsonl"
    path.parent.mkdir()
    huge = status_line("m-huge", 123_456_789).replace(b"123456789", b"1e30")
    path.write_bytes(
        b'{"type":"metadata","protocol_version":"1.3"}\n'
        + b'{"token_usage": oops\n'
        + status_line("m-neg", -4)
        + b"\n"
        + huge
        + b"\n"
        + b'{"timestamp": "yesterday", "message": {"type": "StatusUpdate", "payload": '
        + b'{"token_usage": {"output": 3}, "message_id": "m-time"}}}\n'
        + status_line("m-ok", 7)
        + b"\n"
        + status_line("m-partial", 9)[:-12]
    )

    result = parse(path)

    assert [e.key for e in result.events] == ["kimi:m-ok"]
    assert [(s.reason, s.line) for s in result.skips] == [
        ("malformed_json", 2),
        ("invalid_count", 3),
        ("invalid_count", 4),
        ("bad_timestamp", 5),
    ]
    assert result.pending_partial_line


def test_appended_records_are_read_alone(tmp_path: Path) -> None:
    path = tmp_path / "s1" / "wire.jsonl"
    path.parent.mkdir()
    path.write_bytes(status_line("m-1", 5) + b"\n")
    first = parse(path)
    with path.open("ab") as handle:
        handle.write(status_line("m-2", 6) + b"\n")

    second = parse(path, first.state)

    assert [e.key for e in second.events] == ["kimi:m-2"]
    assert second.state.offset == path.stat().st_size


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "s1" / "wire.jsonl"
    fifo.parent.mkdir()
    os.mkfifo(fifo)

    try:
        parse(fifo)
    except OSError as exc:
        assert "FIFO" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a FIFO was read")


# --- through the ledger ----------------------------------------------------------------------


def test_sync_counts_the_sample_home_once(isolated_home: Path, db_path: Path) -> None:
    kimi_home(isolated_home)

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["kimi"])
        again = sync(ledger, source_names=["kimi"])

    assert (first.new_events, again.new_events, again.files_read) == (5, 0, 0)
    with sqlite3.connect(db_path) as conn:
        rows = dict(conn.execute("SELECT session_key, COUNT(*) FROM events GROUP BY 1").fetchall())
    assert rows == {
        f"kimi:{MAIN}": 3,
        f"kimi:{MAIN}:agent:{AGENT}": 1,
        f"kimi:{FORK}": 1,
    }


def test_the_report_says_the_model_is_not_recorded(isolated_home: Path, db_path: Path) -> None:
    kimi_home(isolated_home)

    result = CliRunner().invoke(
        cli, ["daily", "--source", "kimi", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["totals"]["requests"] == 5
    assert report["totals"]["unpriced_requests"] == 5
    assert report["rows"][0]["period"] == "2026-03-02"


# --- Kimi Code --------------------------------------------------------------------------------


def code_wire(root: Path, agent: str = "main", session: str = CODE_MAIN) -> Path:
    slug = WEB_SLUG if session == CODE_MAIN else "wd_api_9b8c7d6e5f40"
    return root / "sessions" / slug / session / "agents" / agent / "wire.jsonl"


def code_line(kind: str, second: int, **fields: object) -> bytes:
    return dumps({"type": kind, "time": 1772449200000 + second * 1000, **fields})


def usage_record(second: int, model: str, input: object = 100, **fields: object) -> bytes:
    usage = {"inputOther": input, "output": 10, "inputCacheRead": 0, "inputCacheCreation": 0}
    scope = {"usageScope": "turn", "agentId": "main", "turnId": 0, **fields}
    return code_line("usage.record", second, model=model, usage=usage, **scope)


def test_kimi_codes_logs_are_found_under_its_home(isolated_home: Path) -> None:
    shutil.copytree(CODE_DATA, isolated_home / ".kimi-code")

    found = [f.path for f in SOURCE.discover(SOURCE.default_roots({}, isolated_home))]

    root = isolated_home / ".kimi-code"
    assert sorted(found) == sorted(
        str(p)
        for p in (code_wire(root), code_wire(root, "agent-1"), code_wire(root, session=CODE_OTHER))
    )


def test_each_usage_record_is_one_request_with_the_model_sent() -> None:
    result = parse(code_wire(CODE_DATA))

    assert result.skips == []
    events = sorted(result.events, key=lambda e: e.timestamp)
    # two turn calls (their step.end repeats are not read) and one outside a turn (compaction);
    # a call with all counts zero billed nothing; the record written twice is one request
    assert [(e.model, e.tokens.as_tuple()) for e in events] == [
        ("k3", (900, 3000, 0, None, 200, None)),
        ("k3", (1000, 4000, 512, None, 80, None)),
        ("kimi-for-coding", (5000, 0, 0, None, 300, None)),
    ]
    assert result.duplicates == 1
    assert {e.session_key for e in events} == {f"kimi:{CODE_MAIN}"}
    assert {e.project for e in events} == {PROJECT}
    assert events[0].timestamp.isoformat() == "2026-03-02T11:00:05+00:00"


def test_a_sub_agent_of_kimi_code_is_a_child_session() -> None:
    result = parse(code_wire(CODE_DATA, "agent-1"))

    [event] = result.events
    assert (event.model, event.session_key) == ("k3-256k", f"kimi:{CODE_MAIN}:agent:agent-1")
    [session] = result.sessions
    assert (session.parent_key, session.relationship) == (f"kimi:{CODE_MAIN}", "subagent")


def test_a_session_missing_from_the_workspaces_file_takes_its_project_from_the_index() -> None:
    [event] = parse(code_wire(CODE_DATA, session=CODE_OTHER)).events

    assert (event.project, event.model) == ("/home/ana/src/api", "gpu-server-1/qwen3-coder")


def test_a_usage_record_naming_no_model_and_no_request_is_not_recorded(tmp_path: Path) -> None:
    path = code_wire(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(usage_record(1, "__kimi_env_model__") + b"\n")

    [event] = parse(path).events

    assert event.model is None


def test_the_model_sent_is_remembered_across_reads(tmp_path: Path) -> None:
    path = code_wire(tmp_path)
    path.parent.mkdir(parents=True)
    request = code_line("llm.request", 1, model="k3", modelAlias="kimi-code/k3")
    path.write_bytes(request + b"\n")
    first = parse(path)
    with open(path, "ab") as handle:
        handle.write(usage_record(2, "kimi-code/k3") + b"\n")

    second = parse(path, first.state)

    assert [e.model for e in second.events] == ["k3"]


def test_kimi_code_bad_lines_are_counted_skips(tmp_path: Path) -> None:
    path = code_wire(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b"\n".join(
            [
                b'{"type": "usage.record", "usage": {"inputOther": 1',
                usage_record(1, "k3", input=-5),
                usage_record(2, "k3", input=2**64 + 1),
                code_line("usage.record", 3, model="k3", usage=None, usageScope="turn"),
                usage_record(4, "k3", time="soon"),
                usage_record(5, "k3"),
            ]
        )
        + b"\n"
    )

    result = parse(path)

    reasons = sorted(skip.reason for skip in result.skips)
    assert reasons == [
        "bad_timestamp",
        "empty_usage",
        "invalid_count",
        "invalid_count",
        "malformed_json",
    ]
    assert [e.tokens.input for e in result.events] == [100]


def test_a_sync_reads_both_kimi_homes_once(isolated_home: Path, db_path: Path) -> None:
    kimi_home(isolated_home)
    shutil.copytree(CODE_DATA, isolated_home / ".kimi-code")

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["kimi"])
        again = sync(ledger, source_names=["kimi"])

    # 5 from the Python CLI's home, 3 + 1 + 1 from Kimi Code's
    assert (first.new_events, again.new_events, again.files_read) == (10, 0, 0)
    with sqlite3.connect(db_path) as conn:
        models = dict(
            conn.execute(
                "SELECT COALESCE(model, '(none)'), COUNT(*) FROM events GROUP BY 1"
            ).fetchall()
        )
    assert models == {
        "(none)": 5,
        "k3": 2,
        "kimi-for-coding": 1,
        "k3-256k": 1,
        "gpu-server-1/qwen3-coder": 1,
    }


def test_a_call_found_in_the_cli_and_the_desktop_apps_home_is_one_request(
    isolated_home: Path, db_path: Path
) -> None:
    desktop = "Library/Application Support/kimi-desktop/daimon-share/daimon/runtime/kimi-code/home"
    shutil.copytree(CODE_DATA, isolated_home / ".kimi-code")
    shutil.copytree(CODE_DATA, isolated_home / desktop)

    with Ledger(db_path) as ledger:
        summary = sync(ledger, source_names=["kimi"])

    assert (summary.files_read, summary.new_events) == (6, 5)
