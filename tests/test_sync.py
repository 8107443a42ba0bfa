"""Incremental sync on real files and real ledgers: only new bytes, nothing counted twice,
nothing lost when a sync is killed or two run at once."""

from __future__ import annotations

import os
import pickle
import random
import resource
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from builders import (
    claude_assistant,
    claude_session_file,
    claude_user,
    codex_file,
    codex_message,
    codex_meta,
    codex_tokens,
    codex_turn,
    write_jsonl,
)
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sync import JOB_BYTES, JOB_BYTES_MAX, SyncSummary, job_bytes, sync


def run(db: Path, **kw: Any) -> SyncSummary:
    with Ledger(db) as ledger:
        return sync(ledger, **kw)


def totals(db: Path) -> tuple[int, ...]:
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT COUNT(*), SUM(COALESCE(input,0)), SUM(COALESCE(output,0)), "
        "SUM(COALESCE(cache_read,0)), SUM(COALESCE(cost_micro,0)) FROM events"
    ).fetchone()
    rolled = conn.execute(
        "SELECT SUM(requests), SUM(input), SUM(output), SUM(cache_read), SUM(cost_micro) "
        "FROM rollups"
    ).fetchone()
    conn.close()
    assert tuple(x or 0 for x in rolled) == tuple(x or 0 for x in row), "rollups out of step"
    return tuple(x or 0 for x in row)


def claude_lines(session: str, n: int, start_minute: int = 0) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for i in range(n):
        ts = f"2026-05-04T{9 + (start_minute + i) // 60:02d}:{(start_minute + i) % 60:02d}:00.000Z"
        lines.append(claude_user(session, ts))
        lines.append(
            claude_assistant(
                session,
                ts,
                f"msg_{session}_{start_minute + i}",
                output_tokens=10 + i,
                cache_read=1000,
                cache_write=50,
            )
        )
    return lines


def test_sync_reads_each_agent_then_nothing_when_unchanged(
    isolated_home: Path, db_path: Path
) -> None:
    write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 5))
    write_jsonl(
        codex_file(isolated_home, "2026-05-04", "c-1"),
        [
            codex_meta("c-1", "2026-05-04T10:00:00Z"),
            codex_turn("2026-05-04T10:00:01Z"),
            codex_message("2026-05-04T10:00:02Z"),
            codex_tokens("2026-05-04T10:00:03Z", (1000, 200, 50, 10), (1000, 200, 50, 10)),
        ],
    )
    first = run(db_path)
    assert first.new_events == 6
    assert first.new_by_source == {"claude_code": 5, "codex": 1}
    before = totals(db_path)
    second = run(db_path)
    assert (second.files_read, second.files_unchanged, second.new_events) == (0, 2, 0)
    assert totals(db_path) == before


def test_appended_bytes_only_are_read_and_partials_grow_not_double(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 3))
    run(db_path)
    size = path.stat().st_size
    # the reply being streamed: first snapshot now, the final one in a later sync
    partial = claude_assistant("s-a", "2026-05-04T11:00:00.000Z", "msg_stream", output_tokens=1)
    write_jsonl(path, [partial], append=True)
    grew = run(db_path)
    assert grew.bytes_read == path.stat().st_size - size
    assert grew.new_events == 1
    final = claude_assistant("s-a", "2026-05-04T11:00:07.000Z", "msg_stream", output_tokens=900)
    write_jsonl(path, [final, *claude_lines("s-a", 1, start_minute=200)], append=True)
    last = run(db_path)
    assert (last.new_events, last.updated_events) == (1, 1)
    conn = sqlite3.connect(db_path)
    row = conn.execute(
        "SELECT output, ts_ms FROM events WHERE event_key LIKE '%msg_stream'"
    ).fetchone()
    conn.close()
    assert row[0] == 900
    assert row[1] == 1777892400000  # 11:00:00, the first snapshot's time
    assert totals(db_path)[0] == 5


@pytest.mark.parametrize("change", ["truncated", "replaced", "rewritten_same_size"])
def test_a_file_changed_under_us_is_reread_without_double_counting(
    isolated_home: Path, db_path: Path, change: str
) -> None:
    path = write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 6))
    run(db_path)
    before = totals(db_path)
    data = path.read_bytes()
    if change == "truncated":  # e.g. compaction rewrote the transcript shorter
        lines = data.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:4]))
    elif change == "replaced":  # written elsewhere and renamed over it: a new inode
        other = path.with_suffix(".tmp")
        other.write_bytes(data)
        other.replace(path)
    else:  # same size, same inode, different first bytes
        with open(path, "r+b") as handle:
            handle.write(data[:10].replace(b"{", b" ", 1).replace(b'"', b'"', 1))
        os.utime(path, ns=(time.time_ns(), time.time_ns()))
    summary = run(db_path)
    if change == "rewritten_same_size":
        # the first line is no longer valid JSON but nothing recorded may be lost
        assert summary.files_reread == 1
    else:
        assert summary.files_reread == 1
    assert summary.new_events == 0
    assert totals(db_path) == before


def test_records_stay_when_the_agent_deletes_its_logs(isolated_home: Path, db_path: Path) -> None:
    path = write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 4))
    run(db_path)
    before = totals(db_path)
    path.unlink()
    run(db_path)
    assert totals(db_path) == before


def test_a_codex_rollout_moved_to_the_archive_is_not_counted_twice(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_jsonl(
        codex_file(isolated_home, "2026-05-04", "c-1"),
        [
            codex_meta("c-1", "2026-05-04T10:00:00Z"),
            codex_turn("2026-05-04T10:00:01Z"),
            codex_tokens("2026-05-04T10:00:03Z", (1000, 200, 50, 10), (1000, 200, 50, 10)),
            codex_tokens("2026-05-04T10:01:03Z", (2000, 1200, 80, 0), (3000, 1400, 130, 10)),
        ],
    )
    run(db_path)
    before = totals(db_path)
    archive = isolated_home / ".codex" / "archived_sessions" / path.name
    archive.parent.mkdir(parents=True)
    path.replace(archive)
    summary = run(db_path)
    assert summary.files_read == 1 and summary.new_events == 0
    assert totals(db_path) == before


def test_bad_and_hostile_lines_are_counted_with_their_place_never_fatal(
    isolated_home: Path, db_path: Path
) -> None:
    good = claude_lines("s-a", 2)
    hostile: list[Any] = [
        b'{"type":"assistant","message":{"usage":',  # cut short
        b'\xff\xfe not utf-8 "usage"',
        b"[" * 100_000 + b'"usage"' + b"]" * 100_000,  # nesting past any parser's limit
        b'{"type":"assistant","message":{"usage": 5}}',
        orjson.dumps(claude_assistant("s-a", "2026-05-04T12:00:00Z", "neg", output_tokens=-5)),
        orjson.dumps(claude_assistant("s-a", "not a time", "badts")),
        b'"usage"' * 200_000,  # a very long line
    ]
    path = write_jsonl(
        claude_session_file(isolated_home, "s-a"), [good[0], good[1], *hostile, good[2], good[3]]
    )
    summary = run(db_path)
    assert summary.new_events == 2
    assert summary.skips.total == len(hostile)
    assert summary.skips.counts["invalid_count"] >= 1
    examples = [e for places in summary.skips.examples.values() for e in places]
    assert any(e.startswith(f"{path}:3") for e in examples)


def test_parallel_parsing_gives_the_same_ledger(isolated_home: Path, tmp_path: Path) -> None:
    for n in range(12):
        write_jsonl(claude_session_file(isolated_home, f"s-{n}"), claude_lines(f"s-{n}", 400))
    run(tmp_path / "one.db", workers=1)
    run(tmp_path / "two.db", workers=2)
    assert dump(tmp_path / "one.db") == dump(tmp_path / "two.db")


# -- crash and concurrency ------------------------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything in a ledger that must not depend on how the sync was interrupted."""
    conn = sqlite3.connect(db)
    out = {
        "events": conn.execute(
            "SELECT event_key, source, session_key, ts_ms, model, input, cache_read, "
            "cache_write_5m, cache_write_1h, output, reasoning, cost_status, cost_micro, "
            "project, rank FROM events ORDER BY event_key"
        ).fetchall(),
        "rollups": conn.execute("SELECT * FROM rollups ORDER BY 1, 2, 3, 4, 5").fetchall(),
        "session_totals": conn.execute("SELECT * FROM session_totals ORDER BY 1, 2").fetchall(),
        "sessions": conn.execute("SELECT * FROM sessions ORDER BY 1").fetchall(),
        "cursors": conn.execute(
            "SELECT path, offset, line_no, memory FROM cursors ORDER BY 1"
        ).fetchall(),
    }
    conn.close()
    return out


def build_corpus(home: Path) -> None:
    rng = random.Random(7)
    for n in range(40):
        session = f"sess-{n:03d}"
        lines = claude_lines(session, 150, start_minute=n)
        # a resumed session repeats earlier replies; a few replies stream in snapshots
        if n % 5 == 4:
            lines += claude_lines(f"sess-{n - 1:03d}", 20, start_minute=n - 1)
        for i in rng.sample(range(1, len(lines), 2), 10):
            lines.insert(
                i,
                {
                    **lines[i],
                    "message": {
                        **lines[i]["message"],
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                },
            )
        write_jsonl(claude_session_file(home, session), lines)
    for n in range(10):
        rows: list[Any] = [
            codex_meta(f"cx-{n}", "2026-05-05T10:00:00Z"),
            codex_turn("2026-05-05T10:00:01Z"),
        ]
        total = [0, 0, 0, 0]
        for i in range(100):
            last = (1000 + i, 500, 40 + i, 5)
            total = [a + b for a, b in zip(total, last, strict=True)]
            rows += [
                codex_message(f"2026-05-05T10:{i % 60:02d}:02Z"),
                codex_tokens(f"2026-05-05T10:{i % 60:02d}:03Z", last, tuple(total)),
            ]
        write_jsonl(codex_file(home, "2026-05-05", f"cx-{n}"), rows)


def sync_process(db: Path, home: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOME": str(home),
        "TOKENTRAIL_DB": str(db),
        "TOKENTRAIL_CONFIG": str(tmp / "none.toml"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "sync", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def event_count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # killed before the schema was written
        return 0
    finally:
        conn.close()


def wait_for_a_commit(proc: subprocess.Popen[bytes], db: Path, total: int) -> None:
    """Return once ``db`` holds more requests than when called (a batch was committed), or
    the sync has ended."""
    before = event_count(db)
    while proc.poll() is None and before == event_count(db) < total:
        time.sleep(0.005)


def test_sync_killed_at_random_moments_converges_to_a_clean_sync(
    isolated_home: Path, tmp_path: Path
) -> None:
    build_corpus(isolated_home)
    clean = tmp_path / "clean.db"
    started = time.perf_counter()
    assert sync_process(clean, isolated_home, tmp_path).wait() == 0
    duration = time.perf_counter() - started
    total = event_count(clean)
    killed = tmp_path / "killed.db"
    rng = random.Random(11)
    kills = partial = 0
    for attempt in range(30):
        proc = sync_process(killed, isolated_home, tmp_path)
        if attempt % 2:
            # at a random moment; the clean sync's duration only bounds it, so on a loaded
            # machine most of these land before the first commit or after the last
            time.sleep(rng.uniform(0.05, max(duration * 0.6, 0.1)))
        else:
            # right after a commit: the moment a partial ledger exists, whatever the load
            wait_for_a_commit(proc, killed, total)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        recorded = event_count(killed)
        partial += 0 < recorded < total
        if kills >= 5 and partial >= 2:
            break
        if recorded == total:
            # this run got to the end: start again from nothing to interrupt it anew (also once
            # five kills are in: a ledger left complete could never show a partial state again)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{killed}{suffix}").unlink(missing_ok=True)
    assert kills >= 5 and partial >= 2, (kills, partial)
    assert sync_process(killed, isolated_home, tmp_path).wait() == 0
    assert dump(killed) == dump(clean)


def test_two_syncs_at_once_never_double_count(isolated_home: Path, tmp_path: Path) -> None:
    build_corpus(isolated_home)
    clean = tmp_path / "clean.db"
    assert sync_process(clean, isolated_home, tmp_path).wait() == 0
    both = tmp_path / "both.db"
    procs = [sync_process(both, isolated_home, tmp_path) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
    assert dump(both)["events"] == dump(clean)["events"]
    assert dump(both)["rollups"] == dump(clean)["rollups"]
    assert dump(both)["session_totals"] == dump(clean)["session_totals"]


# -- resumed Claude Code sessions -----------------------------------------------------------

ORIGINAL = "s-b-original"
RESUMER = "s-a-resumer"  # sorts first: a tie on anything but the rule would hand it the copies


def resumed_copy(lines: list[dict[str, Any]], session: str) -> list[dict[str, Any]]:
    """What Claude Code writes when a session is resumed or backgrounded: the earlier lines,
    verbatim (same uuids, timestamps, message ids), under the new sessionId."""
    return [{**line, "sessionId": session} for line in lines]


def owned_requests(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT session_key, SUM(requests) FROM session_totals GROUP BY session_key"
    ).fetchall()
    conn.close()
    return {key: int(n) for key, n in rows if n}


@pytest.mark.parametrize("order", ["together", "copy_first", "original_first", "original_deleted"])
def test_a_resumed_session_never_takes_its_parents_requests(
    isolated_home: Path, db_path: Path, order: str
) -> None:
    original_lines = claude_lines(ORIGINAL, 5)
    own_lines = claude_lines(RESUMER, 3, start_minute=300)
    original = claude_session_file(isolated_home, ORIGINAL)
    resumer = claude_session_file(isolated_home, RESUMER)

    def write_original() -> None:
        write_jsonl(original, original_lines)

    def write_resumer() -> None:
        write_jsonl(resumer, [*resumed_copy(original_lines, RESUMER), *own_lines])

    if order == "together":
        write_original()
        write_resumer()
    elif order == "copy_first":
        write_resumer()
        run(db_path)
        # the original never seen: the copy's session keeps the requests meanwhile
        assert owned_requests(db_path) == {RESUMER: 8}
        write_original()
    elif order == "original_first":
        write_original()
        run(db_path)
        write_resumer()
    else:
        write_original()
        run(db_path)
        original.unlink()  # the ledger remembers who wrote them
        write_resumer()
    run(db_path)
    assert owned_requests(db_path) == {ORIGINAL: 5, RESUMER: 3}
    assert totals(db_path)[0] == 8
    # and a later sync of a grown continuation moves nothing back
    write_jsonl(resumer, claude_lines(RESUMER, 1, start_minute=400), append=True)
    run(db_path)
    assert owned_requests(db_path) == {ORIGINAL: 5, RESUMER: 4}


# -- Gemini CLI streaming chats ---------------------------------------------------------------


def gemini_reply(message_id: str, output: int, minute: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "timestamp": f"2026-05-04T10:{minute:02d}:00.000Z",
        "type": "gemini",
        "content": "Done. " * 40,
        "model": "gemini-2.5-pro",
        "tokens": {
            "input": 900,
            "output": output,
            "cached": 100,
            "thoughts": 0,
            "tool": 0,
            "total": 900 + output,
        },
    }


def test_a_gemini_rewind_rewritten_in_place_never_removes_billed_requests(
    isolated_home: Path, db_path: Path
) -> None:
    chats = isolated_home / ".gemini" / "tmp" / "webapp" / "chats"
    path = chats / "session-2026-05-04T10-00-5f0c1f2e.jsonl"
    meta = {"sessionId": "5f0c1f2e", "projectHash": "9c2d", "startTime": "2026-05-04T10:00:00Z"}
    user = {"id": "u1", "timestamp": "2026-05-04T10:00:00Z", "type": "user", "content": "hi"}
    write_jsonl(path, [meta, user, gemini_reply("r1", 10, 1), gemini_reply("r2", 20, 2)])
    run(db_path)
    # the reply grows in place (its record written again), then the user rewinds to u1:
    # gemini-cli rewrites the file without r2 and carries on
    write_jsonl(
        path,
        [
            meta,
            user,
            gemini_reply("r1", 15, 1),
            {"$set": {"lastUpdated": "2026-05-04T10:05:00Z"}},
            {"$rewindTo": "u1"},
            gemini_reply("r3", 30, 6),
        ],
    )
    run(db_path)
    conn = sqlite3.connect(db_path)
    rows = dict(conn.execute("SELECT event_key, output FROM events").fetchall())
    conn.close()
    assert rows == {"gemini:5f0c1f2e:r1": 15, "gemini:5f0c1f2e:r2": 20, "gemini:5f0c1f2e:r3": 30}
    assert totals(db_path)[0] == 3


def test_a_ledger_recorded_before_the_rule_gives_the_copies_back_once_upgraded(
    isolated_home: Path, db_path: Path
) -> None:
    from tokentrail.agents.claude_code.reader import ClaudeCodeSource
    from tokentrail.sources.files import ParseState, SourceFile

    original_lines = claude_lines(ORIGINAL, 5)
    original = write_jsonl(claude_session_file(isolated_home, ORIGINAL), original_lines)
    resumer = write_jsonl(
        claude_session_file(isolated_home, RESUMER),
        [*resumed_copy(original_lines, RESUMER), *claude_lines(RESUMER, 3, start_minute=300)],
    )
    # what an older tokentrail stored: ranks without the history's end, the copies won by
    # the resumed session (its key sorts first)
    parsed = ClaudeCodeSource().parse(SourceFile("claude_code", str(resumer)), ParseState())
    old = [e.evolve(rank=e.rank.rsplit("|", 1)[0] + "|") for e in parsed.events]
    with Ledger(db_path) as ledger:
        ledger.record_batch(old)
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM _migrations WHERE name = '0013_claude_code_ranks_read_again'")
    conn.commit()
    conn.close()
    assert owned_requests(db_path) == {RESUMER: 8}
    assert original.exists()
    run(db_path)  # the upgrade's migration, then both files read with the new ranks
    assert owned_requests(db_path) == {ORIGINAL: 5, RESUMER: 3}


# -- hostile files and numbers -------------------------------------------------------------


def as_unprivileged(job: Any) -> Any:
    """``job()``, run where file permissions apply: as it is for a normal user, and in a
    forked child that became ``nobody`` when the tests run as root (root reads a ``chmod 000``
    file all the same, so the test could not fail)."""
    if os.geteuid() != 0:
        return job()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, pickle.dumps(job()))
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the unprivileged sync failed (see the captured stderr)"
    return pickle.loads(data)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged child can use (pytest's own are root's, mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="tokentrail-unprivileged-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_an_unreadable_file_or_folder_is_reported_each_sync_and_read_once_readable(
    shared_dir: Path,
) -> None:
    home, db = shared_dir / "home", shared_dir / "ledger.db"
    write_jsonl(claude_session_file(home, "s-ok"), claude_lines("s-ok", 2))
    locked_file = write_jsonl(claude_session_file(home, "s-file"), claude_lines("s-file", 3))
    locked_dir = claude_session_file(home, "s-dir", project="-home-dev-code-locked").parent
    write_jsonl(locked_dir / "s-dir.jsonl", claude_lines("s-dir", 4))
    rollout = codex_file(home, "2026-05-04", "c-1")
    write_jsonl(
        rollout,
        [
            codex_meta("c-1", "2026-05-04T10:00:00Z"),
            codex_turn("2026-05-04T10:00:01Z"),
            codex_tokens("2026-05-04T10:00:03Z", (1000, 200, 50, 10), (1000, 200, 50, 10)),
        ],
    )
    codex_day = rollout.parent
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(shared_dir)], check=True)
    env = {"HOME": str(home)}

    def sync_as_user(into: Path = db) -> SyncSummary:
        with Ledger(into, config=Config(), machine="test-machine") as ledger:
            return sync(ledger, env=env, workers=1)

    # once as ourselves into another ledger, so every module a sync imports is loaded before
    # the child drops to a user who may not read the Python installation
    assert sync_as_user(shared_dir / "warm-up.db").new_events == 10
    locked_file.chmod(0)
    locked_dir.chmod(0)
    codex_day.chmod(0)
    for _ in range(2):  # reported on every sync, not once
        summary = as_unprivileged(sync_as_user)
        assert summary.new_by_source == ({"claude_code": 2} if _ == 0 else {})
        reported = "\n".join(summary.unreadable)
        assert f"{locked_file}: Permission denied" in reported
        assert f"{locked_dir}: cannot list this folder: Permission denied" in reported
        assert f"{codex_day}: cannot list this folder: Permission denied" in reported
    locked_file.chmod(0o644)
    locked_dir.chmod(0o755)
    codex_day.chmod(0o755)
    summary = as_unprivileged(sync_as_user)
    assert summary.unreadable == []
    assert summary.new_by_source == {"claude_code": 7, "codex": 1}


@pytest.mark.parametrize("huge", [b"1e+20", str(2**63).encode(), str(2**64 + 1).encode()])
def test_a_huge_count_skips_its_line_and_every_other_request_is_recorded(
    isolated_home: Path, db_path: Path, huge: bytes
) -> None:
    write_jsonl(claude_session_file(isolated_home, "s-ok"), claude_lines("s-ok", 2))
    bad = orjson.dumps(claude_assistant("s-bad", "2026-05-04T12:00:00Z", "m", output_tokens=7))
    write_jsonl(
        claude_session_file(isolated_home, "s-bad"),
        [bad.replace(b'"output_tokens":7', b'"output_tokens":' + huge)],
    )
    tokens = orjson.dumps(codex_tokens("2026-05-04T10:00:03Z", (9, 0, 7, 0), (9, 0, 7, 0)))
    write_jsonl(
        codex_file(isolated_home, "2026-05-04", "c-1"),
        [
            codex_meta("c-1", "2026-05-04T10:00:00Z"),
            codex_turn("2026-05-04T10:00:01Z"),
            tokens.replace(b'"output_tokens":7', b'"output_tokens":' + huge),
        ],
    )
    summary = run(db_path)
    assert summary.new_by_source == {"claude_code": 2}
    assert summary.skips.counts["invalid_count"] == 2
    places = "\n".join(summary.skips.examples["invalid_count"])
    assert "is not a plausible token count" in places
    assert run(db_path).new_events == 0  # and the next sync is a clean one


def test_a_fifo_or_a_link_to_a_device_is_skipped_with_a_reason_never_read(
    isolated_home: Path, tmp_path: Path
) -> None:
    write_jsonl(claude_session_file(isolated_home, "s-ok"), claude_lines("s-ok", 2))
    sessions = codex_file(isolated_home, "2026-05-04", "c-1").parent
    sessions.mkdir(parents=True)
    os.mkfifo(sessions / "rollout-fifo.jsonl")  # hangs a reader that opens it
    (sessions / "rollout-zero.jsonl").symlink_to("/dev/zero")  # never ends
    env = {
        **os.environ,
        "HOME": str(isolated_home),
        "TOKENTRAIL_DB": str(tmp_path / "ledger.db"),
    }
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "tokentrail", "sync"],
            env=env,
            capture_output=True,
            timeout=120,
            # a reader that reads /dev/zero runs out of memory here, not on the machine
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)),
        )
        outputs.append(done.stdout.decode() + done.stderr.decode())
        assert done.returncode == 0, outputs[-1]
    assert "New requests: 2 (claude_code 2)" in outputs[0]
    assert "not_a_regular_file: 2" in outputs[0]
    assert "(a FIFO)" in outputs[0] and "(a character device)" in outputs[0]
    assert "Skipped" not in outputs[1]  # unchanged since: not read, not reported again
    os.utime(sessions / "rollout-fifo.jsonl")
    with Ledger(tmp_path / "ledger.db") as ledger:
        summary = sync(ledger)
    assert summary.skips.counts == {"not_a_regular_file": 1}
    assert summary.skips.examples["not_a_regular_file"] == [
        f"{sessions / 'rollout-fifo.jsonl'} (a FIFO)"
    ]


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper that may never come)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition: Any, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="sync starts workers on 2 cores or more")
@pytest.mark.parametrize("kill_with", [signal.SIGKILL, signal.SIGTERM])
def test_killing_sync_ends_its_workers_and_closes_the_callers_pipe(
    isolated_home: Path, tmp_path: Path, kill_with: signal.Signals
) -> None:
    build_corpus(isolated_home)
    env = {**os.environ, "HOME": str(isolated_home), "TOKENTRAIL_DB": str(tmp_path / "l.db")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "sync"],
        env=env,
        stdout=subprocess.PIPE,  # what $(tokentrail sync) reads to its end
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    workers: set[int] = set()
    try:
        # the two workers are there once the parallel parse has started
        assert wait_for(lambda: len(children_of(proc.pid)) >= 2, 60), "no workers seen"
        workers = children_of(proc.pid)
        assert proc.poll() is None, "the sync ended before it could be killed"
        proc.send_signal(kill_with)
        assert proc.wait(timeout=30) == -kill_with
        assert wait_for(lambda: not any(is_running(pid) for pid in workers), 20), workers
        # nothing holds the pipe any more: the caller reads to its end
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready
        proc.stdout.read()  # returns: the end of the pipe is reached
    finally:
        for pid in workers:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_file_rewritten_in_place_past_its_first_bytes_is_read_again(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 30))
    assert run(db_path).new_events == 30
    data = path.read_bytes()
    assert len(data) > 3 * 4096 and data.count(b"msg_s-a_29") == 2  # message and request ids
    # the same inode, the same first 4 KiB, but the last reply read is another one now
    with open(path, "r+b") as handle:
        handle.write(data.replace(b"msg_s-a_29", b"msg_s-a_X9"))
    write_jsonl(path, claude_lines("s-a", 1, start_minute=300), append=True)
    summary = run(db_path)
    assert summary.files_reread == 1
    assert summary.new_events == 2  # the rewritten reply and the appended one


def test_a_cursor_from_before_the_tail_hash_resumes_without_reading_again(
    isolated_home: Path, db_path: Path
) -> None:
    path = write_jsonl(claude_session_file(isolated_home, "s-a"), claude_lines("s-a", 30))
    run(db_path)
    conn = sqlite3.connect(db_path)
    with conn:  # what an older tokentrail wrote: a hash of the head only
        conn.execute(
            "UPDATE cursors SET head_hash = substr(head_hash, 1, instr(head_hash, ':') - 1)"
        )
    conn.close()
    write_jsonl(path, claude_lines("s-a", 1, start_minute=300), append=True)
    summary = run(db_path)
    assert (summary.files_reread, summary.new_events) == (0, 1)


def test_a_worker_without_the_kernels_help_still_ends_with_its_parent() -> None:
    # where PR_SET_PDEATHSIG is not available, each worker watches its parent's pid itself
    from tokentrail.sync_workers import exit_when_orphaned

    read_end, write_end = os.pipe()
    parent = os.fork()
    if parent == 0:  # the sync that starts a worker, then dies without stopping it
        sync_pid = os.getpid()
        worker = os.fork()
        if worker == 0:
            os.close(read_end)
            exit_when_orphaned(sync_pid)  # returns only by exiting the process
            os._exit(0)  # pragma: no cover
        os.write(write_end, f"{worker}\n".encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        worker_pid = int(pipe.readline() or b"0")
        os.waitpid(parent, 0)
        assert worker_pid and wait_for(lambda: not is_running(worker_pid), 20), worker_pid
        # the worker held the pipe's write end too: the pipe closes with it
        assert pipe.read() == b""


def _titles(db: Path) -> dict[str, str | None]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT session_key, title FROM sessions").fetchall())
    finally:
        conn.close()


def test_a_later_rename_replaces_the_stored_title(isolated_home: Path, db_path: Path) -> None:
    """A Codex thread renamed later, a Claude Code custom title set later: the newest title
    wins on an incremental sync (appended bytes only) and on a sync from scratch; a later
    Claude summary line never replaces the user's custom title."""
    claude = write_jsonl(
        claude_session_file(isolated_home, "s-a"),
        [
            {"type": "summary", "summary": "Checkout work", "leafUuid": "u0"},
            *claude_lines("s-a", 2),
            {"type": "custom-title", "customTitle": "first name", "sessionId": "s-a"},
        ],
    )
    codex = write_jsonl(
        codex_file(isolated_home, "2026-05-04", "c-1"),
        [
            codex_meta("c-1", "2026-05-04T10:00:00Z"),
            codex_turn("2026-05-04T10:00:01Z"),
            codex_tokens("2026-05-04T10:00:03Z", (1000, 200, 50, 10), (1000, 200, 50, 10)),
            {
                "timestamp": "2026-05-04T10:00:04Z",
                "type": "event_msg",
                "payload": {"type": "thread_name_updated", "thread_id": "c-1", "thread_name": "a"},
            },
        ],
    )
    run(db_path)
    assert _titles(db_path) == {"s-a": "first name", "c-1": "a"}
    sizes = claude.stat().st_size + codex.stat().st_size
    write_jsonl(
        claude,
        [
            {"type": "custom-title", "customTitle": "renamed", "sessionId": "s-a"},
            *claude_lines("s-a", 1, start_minute=30),
            {"type": "summary", "summary": "Auto summary", "leafUuid": "u9"},
        ],
        append=True,
    )
    write_jsonl(
        codex,
        [
            {
                "timestamp": "2026-05-04T11:00:00Z",
                "type": "event_msg",
                "payload": {
                    "type": "thread_name_updated",
                    "thread_id": "c-1",
                    "thread_name": "billing fix",
                },
            },
            codex_tokens("2026-05-04T11:00:03Z", (10, 0, 5, 0), (1010, 200, 55, 10)),
        ],
        append=True,
    )
    grew = run(db_path)
    assert grew.bytes_read == claude.stat().st_size + codex.stat().st_size - sizes
    assert _titles(db_path) == {"s-a": "renamed", "c-1": "billing fix"}
    fresh = db_path.with_name("fresh.db")
    run(fresh)
    assert _titles(fresh) == {"s-a": "renamed", "c-1": "billing fix"}


@pytest.mark.parametrize("workers", [1, 2, 8])
def test_a_larger_sync_groups_more_while_every_worker_keeps_eight_jobs(workers: int) -> None:
    mib = 1 << 20
    sizes = [job_bytes(total, workers) for total in (0, 100 * mib, 1 << 30, 1 << 31, 1 << 40)]
    assert sizes == sorted(sizes) and sizes[0] == JOB_BYTES and sizes[-1] == JOB_BYTES_MAX
    for total in (100 * mib, 1 << 30, 1 << 31):
        size = job_bytes(total, workers)
        assert size == JOB_BYTES or total // size >= 8 * workers
