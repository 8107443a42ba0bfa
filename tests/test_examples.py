"""End to end: the example orchestrator killed with SIGKILL mid-run, then started again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "orchestrator.py"
sys.path.insert(0, str(EXAMPLE.parent))

from orchestrator import tokens_for  # noqa: E402


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_acks(log: Path, count: int, proc: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= count:
            return
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} acknowledged events after {limit} s")


def ledger_rows(db: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def check_ledger(db: Path, acked_before_kill: set[str]) -> None:
    events = ledger_rows(
        db, "SELECT event_key, run_id, input, cache_read, cache_write_5m, output FROM events"
    )
    ids = {key.split(":", 1)[1] for key, *_ in events}
    # nothing acknowledged before the kill was lost
    assert acked_before_kill <= ids, sorted(acked_before_kill - ids)[:5]
    # nothing doubled or inflated: each request has exactly its own usage
    for key, _, *buckets in events:
        expected = tokens_for(key.split(":", 1)[1])
        assert buckets == [
            expected["input_tokens"],
            expected["cache_read_tokens"],
            expected["cache_write_tokens"],
            expected["output_tokens"],
        ]
    # a failed (superseded) attempt leaves nothing: one attempt per turn at most
    turns = Counter(event_id.rsplit("-a", 1)[0] for event_id in ids)
    attempts = {event_id.rsplit("-r", 1)[0] for event_id in ids}
    per_turn = Counter(a.rsplit("-a", 1)[0] for a in attempts)
    assert max(per_turn.values()) == 1, [t for t, n in per_turn.items() if n > 1][:5]
    assert turns
    # the first run was closed as crashed, the second stopped cleanly
    runs = ledger_rows(db, "SELECT run_id, state, stopped_ms FROM runs ORDER BY started_ms")
    assert [state for _, state, _ in runs] == ["crashed", "stopped"]
    assert all(stopped is not None for _, _, stopped in runs)
    # lifetime totals equal the sum of both runs
    per_run = ledger_rows(db, "SELECT SUM(requests), SUM(input), SUM(output) FROM run_totals")
    lifetime = ledger_rows(db, "SELECT SUM(requests), SUM(input), SUM(output) FROM rollups")
    assert per_run == lifetime
    assert lifetime[0][0] == len(events)
    assert len({run_id for _, run_id, *_ in events}) == 2


def test_sdk_orchestrator_survives_a_kill(tmp_path: Path) -> None:
    db, log = tmp_path / "ledger.db", tmp_path / "acks.log"
    common = ["--database", str(db), "--log", str(log), "--sessions", "6", "--concurrency", "3"]
    first = start(*common, "--boot", "1", "--turns", "200", "--pause", "0.01")
    wait_for_acks(log, 40, first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    acked = set(log.read_text().split())
    second = start(*common, "--boot", "2", "--turns", "3", "--pause", "0")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    check_ledger(db, acked)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(db: Path, port: int, home: Path) -> subprocess.Popen[bytes]:
    """``tokentrail serve`` as a user runs it, on its own loopback port and ledger."""
    import urllib.request

    env = {**os.environ, "HOME": str(home), "TOKENTRAIL_CONFIG": str(home / "absent.toml")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokentrail",
            "serve",
            "--no-sync",
            "-d",
            str(db),
            "--port",
            f"{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/capabilities", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    raise AssertionError("tokentrail serve did not answer within 60 s")


def test_http_orchestrator_and_server_survive_a_kill(tmp_path: Path) -> None:
    """Both the orchestrator and the server are killed with SIGKILL mid-run: every event the
    server acknowledged is in the ledger, once, and the restarted pair completes the work."""
    db, log, home = tmp_path / "ledger.db", tmp_path / "acks.log", tmp_path / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    common = ["--url", url, "--log", str(log), "--sessions", "6", "--concurrency", "3"]
    server = start_server(db, port, home)
    first = start(*common, "--boot", "1", "--turns", "200", "--pause", "0.01")
    try:
        wait_for_acks(log, 40, first)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        os.killpg(first.pid, signal.SIGKILL)
        server.wait()
        first.wait()
    acked = set(log.read_text().split())
    server = start_server(db, port, home)
    try:
        second = start(*common, "--boot", "2", "--turns", "3", "--pause", "0")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
    check_ledger(db, acked)
