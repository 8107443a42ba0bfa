"""Incremental sync on real files and real ledgers: only new bytes, nothing counted twice,
nothing lost when a sync is killed or two run at once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
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
from tokentrail.ledger import Ledger
from tokentrail.sync import SyncSummary, sync


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
    for _ in range(30):
        proc = sync_process(killed, isolated_home, tmp_path)
        time.sleep(rng.uniform(0.05, max(duration * 0.6, 0.1)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        recorded = event_count(killed)
        partial += 0 < recorded < total
        if kills >= 5 and partial >= 2:
            break
        if recorded == total and kills < 5:
            # this run got to the end: start again from nothing to interrupt it anew
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
    from tokentrail.sources.base import ParseState, SourceFile
    from tokentrail.sources.claude_code import ClaudeCodeSource

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
