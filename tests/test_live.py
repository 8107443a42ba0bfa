"""``tokentrail live`` in a real pseudo-terminal: it shows the active block from a Claude Code
log, and updates when the log grows."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from builders import claude_assistant, claude_session_file, claude_user, write_jsonl

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _read_until(fd: int, pattern: bytes, buffer: bytearray, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            buffer.extend(chunk)
            if pattern in _ANSI.sub(b"", bytes(buffer)):
                return True
    return False


def test_live_view_follows_a_growing_log(tmp_path: Path, isolated_home: Path) -> None:
    now = datetime.now(UTC)
    log = claude_session_file(isolated_home, "live-session")
    write_jsonl(
        log,
        [
            claude_user("live-session", _stamp(now - timedelta(minutes=20))),
            claude_assistant(
                "live-session",
                _stamp(now - timedelta(minutes=19)),
                "msg_live_1",
                input_tokens=1200,
                output_tokens=300,
            ),
        ],
    )
    env = {
        **os.environ,
        "HOME": str(isolated_home),
        "TOKENTRAIL_DB": str(tmp_path / "ledger.db"),
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "40",
    }
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "live", "--tz", "UTC", "--refresh", "0.3"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
        # Ctrl-C at a terminal: SIGINT as the shell leaves it for a foreground program. A
        # runner that started the tests in the background (SIGINT ignored, and inherited)
        # must not make the child deaf to it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(follower)
    screen = bytearray()
    try:
        assert _read_until(leader, b"Requests", screen, 30), screen.decode(errors="replace")
        assert _read_until(leader, b"1,500", screen, 10), screen.decode(errors="replace")
        text = _ANSI.sub(b"", bytes(screen)).decode(errors="replace")
        assert "Active block" in text and "Burn rate" in text and "Today" in text

        # the agent writes another reply: the screen shows it without a restart
        write_jsonl(
            log,
            [
                claude_assistant(
                    "live-session",
                    _stamp(datetime.now(UTC)),
                    "msg_live_2",
                    input_tokens=2000,
                    output_tokens=500,
                )
            ],
            append=True,
        )
        screen.clear()
        assert _read_until(leader, b"4,000", screen, 30), screen.decode(errors="replace")
        text = _ANSI.sub(b"", bytes(screen)).decode(errors="replace")
        assert re.search(r"Requests\s+2", text), text
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            # keep reading, as a terminal does: a full terminal would block its last writes
            _read_until(leader, b"never shown", screen, 15)
            code = process.wait(timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
            os.close(leader)
    assert code == 0  # a clean exit, not a traceback
