"""Builders of realistic agent log lines for tests: real shapes, with the prompt, tool and
thinking text that makes up most of a real log's bytes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

_counter = itertools.count(1)

FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20

_MODULES_SCRIPT = (
    "import sys\n"
    "from tokentrail.launch import main\n"
    "out = sys.argv[1]\n"
    "sys.argv = ['tokentrail', *sys.argv[2:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "open(out, 'w').write('\\n'.join(sys.modules))\n"
)


def iso_minutes_ago(minutes: float) -> str:
    """A transcript's timestamp ``minutes`` before now (UTC, to the millisecond, ``Z``)."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_recording_modules(
    args: Sequence[str], out: Path, stdin: bytes = b""
) -> tuple[str, set[str]]:
    """``tokentrail ARGS`` as the installed command runs it, in a new interpreter (no
    terminal width or colour from the test's environment): what it printed and every module
    it imported, which ``out`` is written with."""
    plain = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_SCRIPT, str(out), *args],
        input=stdin,
        capture_output=True,
        check=False,
        env={**plain, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode(), set(out.read_text().splitlines())


def claude_user(
    session: str, ts: str, text: str = "Please fix the failing test", **extra: Any
) -> dict[str, Any]:
    return {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": extra.pop("cwd", "/home/dev/code/webapp"),
        "sessionId": session,
        "version": "2.0.14",
        "gitBranch": "main",
        "type": "user",
        "message": {"role": "user", "content": text + " " + FILLER},
        "uuid": f"u-{next(_counter)}",
        "timestamp": ts,
        **extra,
    }


def claude_assistant(
    session: str,
    ts: str,
    message_id: str,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 100,
    output_tokens: int = 50,
    cache_read: int = 0,
    cache_write: int = 0,
    request_id: str | None = "auto",
    cwd: str = "/home/dev/code/webapp",
    sidechain: bool = False,
    agent_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "parentUuid": f"u-{next(_counter)}",
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.0.14",
        "gitBranch": "main",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [
                {"type": "thinking", "thinking": FILLER, "signature": "sig"},
                {"type": "text", "text": "Here is the fix. " + FILLER},
            ],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": cache_write,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        },
        "type": "assistant",
        "uuid": f"a-{next(_counter)}",
        "timestamp": ts,
    }
    if request_id == "auto":
        line["requestId"] = f"req_{message_id}"
    elif request_id is not None:
        line["requestId"] = request_id
    if agent_id is not None:
        line["agentId"] = agent_id
    line.update(extra)
    return line


def write_jsonl(
    path: Path, lines: Sequence[dict[str, Any] | bytes], *, append: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab" if append else "wb") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else orjson.dumps(line))
            handle.write(b"\n")
    return path


def claude_session_file(home: Path, session: str, project: str = "-home-dev-code-webapp") -> Path:
    return home / ".claude" / "projects" / project / f"{session}.jsonl"


def codex_meta(
    session: str, ts: str, cwd: str = "/home/dev/code/api", **payload: Any
) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "session_meta",
        "payload": {
            "id": session,
            "timestamp": ts,
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "instructions": FILLER,
            "git": {"branch": "main", "commit_hash": "abc123"},
            **payload,
        },
    }


def codex_turn(ts: str, model: str = "gpt-5-codex") -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "turn_context",
        "payload": {"cwd": "/home/dev/code/api", "approval_policy": "on-request", "model": model},
    }


def codex_message(ts: str, text: str = "Working on it") -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "response_item",
        "payload": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text + " " + FILLER}],
        },
    }


def codex_tokens(ts: str, last: Sequence[int], total: Sequence[int]) -> dict[str, Any]:
    """``last``/``total`` are (input, cached, output, reasoning)."""

    def usage(values: Sequence[int]) -> dict[str, int]:
        i, c, o, r = values
        return {
            "input_tokens": i,
            "cached_input_tokens": c,
            "output_tokens": o,
            "reasoning_output_tokens": r,
            "total_tokens": i + o,
        }

    return {
        "timestamp": ts,
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {"total_token_usage": usage(total), "last_token_usage": usage(last)},
            "rate_limits": {"primary": {"used_percent": 12.0, "window_minutes": 300}},
        },
    }


def codex_file(home: Path, day: str, session: str) -> Path:
    y, m, d = day.split("-")
    return home / ".codex" / "sessions" / y / m / d / f"rollout-{day}T10-00-00-{session}.jsonl"
