"""Push into a team ledger on a real PostgreSQL server: incremental, idempotent, resumable
after SIGKILL, safe with many pushers at once; team views; the CLI against PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

import pgtest
from builders import claude_assistant, claude_session_file, claude_user, write_jsonl
from test_store_contract import Backend, assert_totals_match_events
from tokentrail.cli import cli
from tokentrail.config import load_config
from tokentrail.errors import StoreError
from tokentrail.ledger import Ledger, open_store
from tokentrail.periods import resolve_timezone
from tokentrail.push import push
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.reports.periods import period_report, session_report
from tokentrail.reports.query import ReportQuery
from tokentrail.store.base import Entry, Filters, Store
from tokentrail.usage import Session, Tokens, ToolCall, ToolResult, UsageEvent

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SONNET = "claude-sonnet-4-5-20250929"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pgtest.fresh_database() as url:
        yield url


@pytest.fixture
def team(pg_url: str) -> Iterator[Store]:
    store = open_store(pg_url)
    try:
        yield store
    finally:
        store.close()


def ev(key: str, output: int = 10, *, at: datetime = T0, **kw: Any) -> UsageEvent:
    values: dict[str, Any] = {
        "source": "claude_code",
        "model": SONNET,
        "provider": "anthropic",
        "session_key": "s1",
        "project": "/home/dev/webapp",
        **kw,
    }
    return UsageEvent(
        key=key,
        timestamp=at,
        tokens=Tokens(input=100, cache_read=1000, cache_write_5m=20, output=output),
        **values,
    )


def entries(store: Store) -> dict[str, Entry]:
    return {e.event.key: e for batch in store.iter_entries() for e in batch}


def query(**kw: Any) -> ReportQuery:
    zone, name = resolve_timezone("UTC")
    return ReportQuery(zone=zone, zone_name=name, **kw)


def test_push_copies_everything_once_and_then_only_what_changed(
    tmp_path: Path, pg_url: str, team: Store
) -> None:
    with Ledger(tmp_path / "local.db") as local:
        local.start_run("orch", run_id="r1", started_at=T0)
        local.record_batch(
            [ev(f"k{i}", i + 1, at=T0 + timedelta(minutes=i), run_id="r1") for i in range(50)],
            [Session("s1", "claude_code", title="Fix login", started_at=T0)],
        )
        first = push(local, team, batch_size=20)
        assert (first.created, first.updated, first.sessions, first.runs) == (50, 0, 1, 1)
        assert first.batches == 3 + 1 + 1  # 20 + 20 + 10 requests, one of sessions, of runs
        assert entries(team) == entries(local.store)
        again = push(local, team)
        assert (again.batches, again.created, again.updated) == (0, 0, 0)
        full = push(local, team, full=True)
        assert (full.created, full.updated, full.unchanged) == (0, 0, 50)
        assert (full.sessions, full.runs) == (0, 0)
        # a reply that grew, a new request, a renamed session, a stopped run
        local.record_batch([ev("k3", 999), ev("new", 5)])
        local.update_session("s1", title="Fix the login form")
        local.update_run("r1", state="stopped", stopped_at=T0 + timedelta(hours=2))
        later = push(local, team)
        assert (later.created, later.updated, later.sessions, later.runs) == (1, 1, 1, 1)
        assert entries(team) == entries(local.store)
        assert team.sessions_by_key(["s1"])["s1"].title == "Fix the login form"
        assert team.runs_by_id(["r1"])["r1"].state == "stopped"
        assert team.run_totals("r1") == local.store.run_totals("r1")
        (mark,) = team.push_watermarks()
        assert (mark.machine, mark.ledger_id) == ("test-machine", local.store.ledger_id())
        assert mark.event_id == 51 and mark.event_change > 0
        expected = period_report(local.store, "daily", query(breakdown=True)).as_dict()
    assert period_report(team, "daily", query(breakdown=True)).as_dict() == expected
    assert_totals_match_events(Backend("postgres", pg_url))


def test_a_local_reprice_is_pushed(tmp_path: Path, team: Store) -> None:
    db = tmp_path / "local.db"
    with Ledger(db) as local:
        local.record_batch([ev("x", 1_000_000, model="acme-coder-9000")])
        push(local, team)
    assert team.totals(Filters()).unpriced_requests == 1
    config = tmp_path / "config.toml"
    config.write_text('[[prices]]\nmodel = "acme-*"\ninput = 1\noutput = 2\n')
    with Ledger(db, config=load_config(config)) as local:
        local.reprice(dry_run=False)
        summary = push(local, team)
    assert summary.updated == 1
    totals = team.totals(Filters())
    assert (totals.unpriced_requests, totals.cost_micro) == (0, 2_001_120)


def test_a_ledger_started_over_is_pushed_from_its_start(tmp_path: Path, team: Store) -> None:
    with Ledger(tmp_path / "one.db") as local:
        local.record_batch([ev("a"), ev("b")])
        push(local, team)
    # the file was deleted and the logs synced again into a fresh ledger
    with Ledger(tmp_path / "two.db") as local:
        local.record_batch([ev("a"), ev("b"), ev("c")])
        summary = push(local, team)
    assert (summary.created, summary.unchanged) == (1, 2)
    assert len(team.push_watermarks()) == 2
    assert team.status().events == 3


def test_team_views_by_machine_and_user(tmp_path: Path, pg_url: str, team: Store) -> None:
    for machine, user, n in (("laptop", "alice", 3), ("buildbox", "bob", 2), ("desk", None, 1)):
        with Ledger(tmp_path / f"{machine}.db", machine=machine) as local:
            local.record_batch(
                [ev(f"{machine}-{i}", session_key=f"{machine}-s") for i in range(n)],
                [Session(f"{machine}-s", "claude_code")],
            )
            push(local, team, user=user)
    by_user = period_report(team, "daily", query(breakdown_by="user")).as_dict()
    assert [(r["user"], r["requests"]) for r in by_user["rows"]] == [
        (None, 1),
        ("alice", 3),
        ("bob", 2),
    ]
    by_machine = period_report(team, "daily", query(breakdown_by="machine", users=("bob",)))
    assert [(r.group, r.figures.requests) for r in by_machine.rows] == [("buildbox", 2)]
    sessions = session_report(team, query(machines=("laptop", "desk")))
    assert sorted((r.key, r.figures.requests) for r in sessions.rows) == [
        ("desk-s", 1),
        ("laptop-s", 3),
    ]
    assert session_report(team, query(users=("alice",))).totals.requests == 3
    # pushing again under another name re-attributes nothing that was not pushed again
    with Ledger(tmp_path / "laptop.db", machine="laptop") as local:
        assert push(local, team, user="carol").batches == 0
        assert push(local, team, user="carol", full=True).updated == 3
    assert team.totals(Filters(users=("carol",))).requests == 3
    assert_totals_match_events(Backend("postgres", pg_url))


# -- many pushers, kills ----------------------------------------------------------------------

PUSH_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from contextlib import contextmanager
    from tokentrail.ledger import Ledger, open_store
    from tokentrail.push import push
    from tokentrail.store.postgres import PostgresStore

    local, url, batch, stop_in = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if stop_in:
        # hold the transaction of batch number `stop_in` open after its rows and watermark
        # were written, and say so: the test kills this process right there
        real_write = PostgresStore.write
        count = [0]

        @contextmanager
        def write(self):
            with real_write(self) as tx:
                yield tx
                count[0] += 1
                if count[0] == stop_in:
                    print("inside", flush=True)
                    time.sleep(60)

        PostgresStore.write = write
    with Ledger(local) as ledger:
        team = open_store(url)
        try:
            summary = push(ledger, team, user=os.environ.get("PUSH_USER"), batch_size=batch)
        finally:
            team.close()
    print(summary.created, flush=True)
    """
)


def pusher(
    script: Path, local: Path, url: str, batch: int, stop_in: int = 0, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), str(local), url, str(batch), str(stop_in)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def machine_events(machine: str, n: int) -> list[UsageEvent]:
    own = [
        ev(
            f"{machine}:{i}",
            i % 97 + 1,
            at=T0 + timedelta(minutes=7 * i),
            session_key=f"{machine}-s{i % 5}",
            machine=machine,
        )
        for i in range(n)
    ]
    # the same requests seen by every machine (a shared transcript), each with another size
    size = sum(map(ord, machine))
    shared = [
        ev(f"shared:{i}", size + i, session_key="shared", machine=machine, rank=f"0|{machine}")
        for i in range(100)
    ]
    return own + shared


def test_concurrent_pushers_lose_and_double_nothing(tmp_path: Path, pg_url: str) -> None:
    script = tmp_path / "push.py"
    script.write_text(PUSH_SCRIPT)
    machines = ("laptop", "buildbox", "desk")
    reference = Ledger(tmp_path / "reference.db")
    for machine in machines:
        with Ledger(tmp_path / f"{machine}.db", machine=machine) as local:
            events = machine_events(machine, 1500)
            local.record_batch(events, [Session(f"{machine}-s0", "claude_code")])
            reference.record_batch(events, [Session(f"{machine}-s0", "claude_code")])
    procs = [
        pusher(script, tmp_path / f"{m}.db", pg_url, 200, PUSH_USER=m.upper()) for m in machines
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Ledger(pg_url) as team:
        got = {k: (e.event, e.cost) for k, e in entries(team.store).items()}
        want = {k: (e.event, e.cost) for k, e in entries(reference.store).items()}
        assert len(got) == 3 * 1500 + 100
        assert got == want
        for machine in machines:
            mine = Filters(machines=(machine,))
            assert team.store.totals(mine) == reference.store.totals(mine)
            assert team.store.totals(Filters(users=(machine.upper(),))).requests >= 1500
        report = period_report(team.store, "daily", query(breakdown_by="machine")).as_dict()
        assert (
            report
            == period_report(reference.store, "daily", query(breakdown_by="machine")).as_dict()
        )
    reference.close()
    assert_totals_match_events(Backend("postgres", pg_url))


def test_a_push_killed_mid_batch_resumes_to_the_same_totals(tmp_path: Path) -> None:
    script = tmp_path / "push.py"
    script.write_text(PUSH_SCRIPT)
    local = tmp_path / "local.db"
    with Ledger(local) as ledger:
        ledger.record_batch(machine_events("test-machine", 2000))
    with pgtest.fresh_database() as killed_url, pgtest.fresh_database() as clean_url:
        proc = pusher(script, local, killed_url, 300, stop_in=3)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"inside"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with Ledger(killed_url) as team:
            # the two committed batches are there with their watermark; the third is not
            assert team.store.status().events == 600
            (mark,) = team.store.push_watermarks()
            assert mark.event_id == 600
        assert_totals_match_events(Backend("postgres", killed_url))
        resumed = pusher(script, local, killed_url, 300)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err.decode()
        assert out.split()[-1] == b"1500"  # 2,100 requests, 600 of them already there
        clean = pusher(script, local, clean_url, 300)
        assert clean.wait(timeout=120) == 0
        with Ledger(killed_url) as a, Ledger(clean_url) as b:
            assert entries(a.store) == entries(b.store)
            q = query(breakdown=True)
            assert period_report(a.store, "daily", q) == period_report(b.store, "daily", q)
        assert_totals_match_events(Backend("postgres", killed_url))


# -- the command line against PostgreSQL -------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def json_of(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.fixture
def logs(isolated_home: Path) -> Path:
    session = "0b7c5e2a-1111-4222-8333-444455556666"
    write_jsonl(
        claude_session_file(isolated_home, session),
        [
            claude_user(session, "2026-05-04T08:59:00.000Z"),
            claude_assistant(session, "2026-05-04T09:00:00.000Z", "msg_1", output_tokens=100),
            claude_assistant(session, "2026-05-04T23:30:00.000Z", "msg_2", output_tokens=200),
            claude_assistant(session, "2026-05-05T10:00:00.000Z", "msg_3", output_tokens=300),
        ],
    )
    return isolated_home


def test_every_command_runs_against_postgres(
    logs: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = str(tmp_path / "local.db")
    expected = json_of("daily", "-d", local, "--tz", "Asia/Kolkata")
    synced = json_of("sync", "-d", pg_url)
    assert synced["new_events"] == 3
    assert json_of("daily", "-d", pg_url, "--tz", "Asia/Kolkata") == expected
    assert json_of("sync", "-d", pg_url)["new_events"] == 0  # cursors are in the team ledger
    monkeypatch.setenv("TOKENTRAIL_DB", pg_url)
    assert json_of("monthly", "--no-sync") == json_of("monthly", "-d", local, "--no-sync")
    assert json_of("session", "--no-sync")["totals"]["requests"] == 3
    assert json_of("sessions", "--no-sync")["rows"][0]["requests"] == 3
    assert json_of("runs")["rows"] == []
    assert json_of("reprice")["rows"] == []
    status = json_of("db", "status")
    assert status["events"] == 3 and status["files"] == 1
    assert status["location"] == pg_url  # no password in this URL to hide
    result = CliRunner().invoke(cli, ["db", "backup", str(tmp_path / "x.dump")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    by_machine = json_of("daily", "--no-sync", "--by", "machine", "--machine", "test-machine")
    assert {row["machine"] for row in by_machine["rows"]} == {"test-machine"}
    table = invoke("weekly", "--no-sync", "--by", "machine")
    assert table.exit_code == 0 and "test-machine" in table.output and "Machine" in table.output
    assert json_of("daily", "--no-sync", "--user", "nobody")["rows"] == []
    bad = CliRunner().invoke(cli, ["session", "--no-sync", "--by", "user"])
    assert bad.exit_code != 0 and "--by user" in bad.output


def test_push_command(
    logs: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = str(tmp_path / "local.db")
    first = json_of("push", "-d", local, "--to", pg_url, "--user", "alice")
    assert (first["requests_created"], first["sessions_written"]) == (3, 1)
    assert first["machine"] == "test-machine" and first["user"] == "alice"
    again = invoke("push", "-d", local, "--to", pg_url, "--no-sync")
    assert again.exit_code == 0 and "Nothing new to push" in again.output
    full = json_of("push", "-d", local, "--to", pg_url, "--full", "--no-sync")
    assert (full["requests_created"], full["requests_unchanged"]) == (0, 3)
    by_user = json_of("daily", "-d", pg_url, "--no-sync", "--by", "user")
    assert {row["user"] for row in by_user["rows"]} == {"alice"}
    bad = CliRunner().invoke(cli, ["push", "-d", local, "--to", str(tmp_path / "team.db")])
    assert bad.exit_code != 0 and "PostgreSQL URL" in bad.output
    # --watch pushes, pauses, and stops cleanly when interrupted
    import time

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupt)
    monkeypatch.setenv("TOKENTRAIL_PUSH_TO", pg_url)
    watched = invoke("push", "-d", local, "--watch", "--interval", "5")
    assert watched.exit_code == 0, watched.output


# -- least privilege: the GRANTs of docs/team.md, on a real server --------------------------


def team_grants(owner: str, pusher: str, reader: str, database: str) -> str:
    text = (Path(__file__).parent.parent / "docs" / "team.md").read_text()
    block = text.split("<!-- team-grants", 1)[1].split("```sql\n", 1)[1].split("```", 1)[0]
    block = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    return (
        block.replace("tokentrail_owner", owner)
        .replace("tokentrail_pusher", pusher)
        .replace("tokentrail_reader", reader)
        .replace("DATABASE tokentrail", f'DATABASE "{database}"')
    )


def as_role(url: str, role: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{role}@{host}", parts.path, parts.query, ""))


def test_the_documented_roles_can_do_their_job_and_no_more(tmp_path: Path) -> None:
    import uuid

    import psycopg

    server = pgtest.server_url()
    if server is None:
        pytest.skip(pgtest.SKIP_REASON)
    tag = uuid.uuid4().hex[:8]
    owner, pusher, reader = (f"tt_{kind}_{tag}" for kind in ("owner", "pusher", "reader"))
    admin = pgtest.with_database(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in (owner, pusher, reader):
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with pgtest.fresh_database() as url:
            database = url.rsplit("/", 1)[1]
            pgtest.query(url, f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
            with Ledger(as_role(url, owner)):  # the owner creates the schema
                pass
            with psycopg.connect(as_role(url, owner), autocommit=True) as conn:
                for statement in team_grants(owner, pusher, reader, database).split(";"):
                    if statement.strip():
                        conn.execute(statement)
            pusher_url, reader_url = as_role(url, pusher), as_role(url, reader)
            with Ledger(tmp_path / "local.db") as local:
                local.start_run("orch", run_id="r1", started_at=T0)
                local.record_batch([ev("a", 1, run_id="r1"), ev("b")], [Session("s1", "codex")])
                items, limits = tool_rows(4)
                local.record_batch([], tool_calls=items, rate_limits=limits)
                otlp = ToolCall("cc:tool:x", "claude_code", "Read", 1, "s9", 5, True)
                with local.store.write() as tx:
                    tx.put_tool_calls([otlp])
                team = open_store(pusher_url)
                try:
                    assert push(local, team, user="alice").created == 2
                    # a merge that moves a request to another day: totals rows are deleted
                    local.record_batch([ev("a", 5, at=T0 - timedelta(days=2))])
                    local.update_run("r1", state="stopped", stopped_at=T0)
                    with local.store.write() as tx:  # sent again: replaced in the team ledger
                        tx.put_tool_calls([replace(otlp, duration_ms=9)])
                    assert push(local, team).updated == 1
                    with pytest.raises(StoreError, match="may not"):
                        team.cursors()  # the pusher reads no file cursors
                finally:
                    team.close()
                expected = period_report(local.store, "daily", query()).as_dict()
                tool_calls = local.store.tool_call_rows(Filters())
                local_limits = local.store.rate_limits(Filters())
                assert [r.duration_ms for r in tool_calls if r.tool_name == "Read"] == [9]
            with psycopg.connect(pusher_url, autocommit=True) as conn:
                for forbidden in ("DELETE FROM events", "DELETE FROM sessions", "TRUNCATE rollups"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(forbidden)
            with Ledger(reader_url) as team_view:
                assert period_report(team_view.store, "daily", query()).as_dict() == expected
                assert team_view.store.status().events == 2
                assert team_view.store.tool_call_rows(Filters()) == tool_calls
                assert team_view.store.rate_limits(Filters()) == local_limits
                with Ledger(tmp_path / "local.db") as local, pytest.raises(StoreError) as refused:
                    push(local, team_view.store, full=True)
                assert "refused" in str(refused.value) and "reader" in str(refused.value)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for role in (pusher, reader, owner):
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_push_watch_keeps_going_when_the_server_is_away(
    logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    rounds: list[float] = []

    def pause(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", pause)
    away = "postgresql://pusher:hunter2@127.0.0.1:1/team"
    result = CliRunner().invoke(
        cli, ["push", "-d", str(tmp_path / "l.db"), "--to", away, "--watch", "--interval", "7"]
    )
    assert result.exit_code == 0, result.output
    assert rounds == [7, 7]
    assert result.stderr.count("push failed, retrying in 7 s") == 2
    assert "hunter2" not in result.output and "pusher:***@127.0.0.1:1/team" in result.stderr
    once = CliRunner().invoke(cli, ["push", "-d", str(tmp_path / "l.db"), "--to", away])
    assert once.exit_code != 0 and "hunter2" not in once.output


# -- tool calls, their results and rate limits -------------------------------------------------

TOOL_SESSION = "7d3e1c2a-5555-4666-8777-888899990000"


def edit_session_lines(with_bash_result: bool) -> list[dict[str, Any]]:
    """A Claude Code session: an Edit that succeeds, a Bash call that fails (its result only
    when ``with_bash_result``: a later sync reads it)."""
    from test_insights import assistant, result, tool_use

    edit = {"file_path": "a.py", "old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"}
    lines = [
        claude_user(TOOL_SESSION, "2026-05-05T09:59:00.000Z"),
        {
            **assistant(
                TOOL_SESSION,
                "2026-05-05T10:00:00.000Z",
                "msg_e1",
                [tool_use("toolu_e1", "Edit", edit)],
                cache_read=900,
            ),
            "sessionId": TOOL_SESSION,
        },
        result(TOOL_SESSION, "2026-05-05T10:00:01.000Z", "toolu_e1"),
        assistant(
            TOOL_SESSION,
            "2026-05-05T10:05:00.000Z",
            "msg_e2",
            [tool_use("toolu_e2", "Bash", {"command": "make test"})],
            cache_read=900,
        ),
    ]
    if with_bash_result:
        lines.append(result(TOOL_SESSION, "2026-05-05T10:05:04.000Z", "toolu_e2", error=True))
    return lines


def tool_views(database: str) -> dict[str, Any]:
    """What `tools`, `efficiency` and `blocks` say, as JSON, without syncing."""
    common = ("-d", database, "--no-sync", "--tz", "UTC")
    return {
        "tools": json_of("tools", *common, "--since", "2026-05-01", "--by-session"),
        "efficiency": json_of("efficiency", *common, "--since", "2026-05-01"),
        "blocks": {
            key: value
            for key, value in json_of("blocks", *common, "--since", "2026-05-01").items()
            if key != "generated_at"  # the time of the report
        },
    }


def team_rows(url: str) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        pgtest.query(url, f"SELECT COUNT(*) FROM {table}")[0][0]
        for table in ("tool_calls", "tool_results", "rate_limits")
    )


def test_tool_calls_results_and_rate_limits_are_pushed(
    logs: Path, tmp_path: Path, pg_url: str
) -> None:
    from test_blocks import write_rollout

    session_file = claude_session_file(logs, TOOL_SESSION)
    write_jsonl(session_file, edit_session_lines(with_bash_result=False))
    write_rollout(logs)
    local = str(tmp_path / "local.db")
    assert json_of("sync", "-d", local)["new_events"] > 0
    first = json_of("push", "-d", local, "--to", pg_url, "--no-sync")
    # the Edit's result came with its call: it is in the call's row
    assert (first["tool_calls_sent"], first["tool_results_sent"]) == (2, 0)
    assert first["rate_limits_sent"] == 5
    # the Bash call's (failed) result is read by a later sync, and pushed after its call
    bash_result = edit_session_lines(with_bash_result=True)[-1]
    write_jsonl(session_file, [bash_result], append=True)
    json_of("sync", "-d", local)
    later = json_of("push", "-d", local, "--to", pg_url, "--no-sync")
    assert (later["tool_calls_sent"], later["tool_results_sent"]) == (0, 1)
    assert later["rate_limits_sent"] == 0
    mine = tool_views(local)
    bash = [r for r in mine["tools"]["rows"] if r["tool_name"] == "Bash"]
    assert [(r["failures"], r["avg_duration_seconds"]) for r in bash] == [(1, 4.0)]
    (edited,) = [r for r in mine["efficiency"]["rows"] if r["session"] == TOOL_SESSION]
    assert (edited["lines_changed"], edited["edit_calls"]) == (3, 1)
    assert any(row["official_rate_limits"] for row in mine["blocks"]["rows"])
    assert tool_views(pg_url) == mine
    (machine,) = pgtest.query(pg_url, "SELECT DISTINCT machine FROM tool_calls")
    assert machine == ("test-machine",)
    assert pgtest.query(pg_url, "SELECT DISTINCT machine FROM rate_limits") == [machine]
    # pushing again, or everything again, adds nothing
    counts = team_rows(pg_url)
    assert counts == (2, 1, 5)
    again = invoke("push", "-d", local, "--to", pg_url, "--no-sync")
    assert "Nothing new to push" in again.output
    full = json_of("push", "-d", local, "--to", pg_url, "--no-sync", "--full")
    assert (full["tool_calls_sent"], full["tool_results_sent"]) == (2, 1)
    assert team_rows(pg_url) == counts
    assert tool_views(pg_url) == mine
    (mark,) = pgtest.query(
        pg_url,
        "SELECT tool_call_change, tool_result_change, rate_limit_change FROM push_watermarks",
    )
    assert mark == (2, 1, 5)


def tool_rows(n: int) -> tuple[list[ToolCall | ToolResult], list[RateLimitSnapshot]]:
    t = int(T0.timestamp() * 1000)
    calls: list[ToolCall | ToolResult] = [
        ToolCall(f"cc:{i}", "claude_code", "Edit", t + i, f"s{i % 7}", lines_added=i % 5)
        for i in range(n)
    ]
    calls = [replace(c, from_log=True) for c in calls if isinstance(c, ToolCall)]
    results = [ToolResult(f"cc:{i}", "claude_code", t + i + 900, i % 3 != 0) for i in range(n)]
    limits = [
        RateLimitSnapshot("codex", "primary", t + 60_000 * i, i % 100, 300, None, "cx")
        for i in range(n // 2)
    ]
    return [*calls, *results], limits


def test_a_push_killed_among_tool_rows_resumes_to_the_same_rows(tmp_path: Path) -> None:
    script = tmp_path / "push.py"
    script.write_text(PUSH_SCRIPT)
    local = tmp_path / "local.db"
    items, limits = tool_rows(1000)
    with Ledger(local) as ledger:
        ledger.record_batch([ev(f"k{i}", at=T0 + timedelta(minutes=i)) for i in range(10)])
        # results read by a later sync than their calls: stored as rows of their own
        calls = [item for item in items if isinstance(item, ToolCall)]
        ledger.record_batch([], tool_calls=calls, rate_limits=limits)
        ledger.record_batch([], tool_calls=[i for i in items if isinstance(i, ToolResult)])
    with pgtest.fresh_database() as killed_url, pgtest.fresh_database() as clean_url:
        # batches: 1 of requests, 1 of their session, 4 of calls (300 each, then 100), then
        # results: killed in the second batch of results
        proc = pusher(script, local, killed_url, 300, stop_in=8)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"inside"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert team_rows(killed_url) == (1000, 300, 0)
        (mark,) = pgtest.query(
            killed_url,
            "SELECT event_id, tool_call_change, tool_result_change, rate_limit_change "
            "FROM push_watermarks",
        )
        assert mark == (10, 1000, 300, 0)
        resumed = pusher(script, local, killed_url, 300)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err.decode()
        clean = pusher(script, local, clean_url, 300)
        assert clean.wait(timeout=120) == 0
        assert team_rows(killed_url) == team_rows(clean_url) == (1000, 1000, 500)
        with Ledger(killed_url) as a, Ledger(clean_url) as b, Ledger(local) as mine:
            everything = Filters()
            want = mine.store.tool_call_rows(everything)
            assert a.store.tool_call_rows(everything) == b.store.tool_call_rows(everything) == want
            assert sum(1 for r in want if r.success is False) == 334
            limits_seen = mine.store.rate_limits(everything)
            assert a.store.rate_limits(everything) == limits_seen == b.store.rate_limits(everything)


def test_a_first_push_of_changed_requests_finds_none_already_there(
    tmp_path: Path, pg_url: str
) -> None:
    local = str(tmp_path / "local.db")
    with Ledger(local) as ledger:
        ledger.record_batch([ev("k1", 10), ev("k2", 20)])
        ledger.record_batch([ev("k1", 99), ev("k3", 30)])  # k1's reply grew: a local change
    result = invoke("push", "-d", local, "--to", pg_url, "--no-sync")
    assert result.exit_code == 0, result.output
    assert "Pushed 3 new and 0 changed requests, 1 session records" in result.output
    assert "already there" not in result.output
    again = json_of("push", "-d", local, "--to", pg_url, "--full", "--no-sync")
    assert (again["requests_created"], again["requests_unchanged"]) == (0, 3)
    assert "(3 already there)" in invoke("push", "-d", local, "--to", pg_url, "--full").output


def test_an_event_retracted_on_the_team_ledger_is_never_pushed_back(
    tmp_path: Path, pg_url: str, team: Store
) -> None:
    with Ledger(tmp_path / "one.db") as local:
        local.record_batch([ev("a"), ev("forged", 5_000_000)])
        push(local, team)
    with Ledger(pg_url) as admin:
        assert admin.retract(["forged"], "posted by a web page") == ["forged"]
    # the machine starts over and pushes everything again: the retracted event stays out
    with Ledger(tmp_path / "two.db") as local:
        local.record_batch([ev("a"), ev("forged", 5_000_000), ev("b")])
        summary = push(local, team)
    assert summary.created == 1
    assert set(entries(team)) == {"a", "b"}
    assert team.status().retracted == 1
    assert team.totals(Filters()).output == 20
