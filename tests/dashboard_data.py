"""A realistic ledger for the dashboard, read API and export tests, built the way a user's is:
agents' log files (written with :mod:`builders`) read by a sync, and an orchestrator recording
through the SDK. Dates are relative to today, so the default 30-day view has data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from builders import (
    claude_assistant,
    claude_session_file,
    claude_user,
    codex_file,
    codex_meta,
    codex_tokens,
    codex_turn,
    write_jsonl,
)
from tokentrail.ledger import Ledger
from tokentrail.sync import sync

XSS = "<script>alert(1)</script>"
SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-1-20250805"
UNKNOWN_MODEL = "mystery-model-9"


@dataclass(frozen=True, slots=True)
class Built:
    """What the realistic ledger holds, for assertions."""

    now: datetime
    webapp_session: str = "c0ffee00-0000-4000-8000-000000000001"
    opus_session: str = "c0ffee00-0000-4000-8000-000000000002"
    xss_session: str = "c0ffee00-0000-4000-8000-000000000003"
    unpriced_session: str = "c0ffee00-0000-4000-8000-000000000004"
    old_session: str = "c0ffee00-0000-4000-8000-000000000005"
    codex_session: str = "0199aaaa-0000-7000-8000-00000000c0de"
    sdk_session: str = "issue-42"
    idle_session: str = "issue-43"
    run_id: str = "run-1"


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def build_ledger(home: Path, database: Path, *, now: datetime | None = None) -> Built:
    """Write agents' logs under ``home``, sync them into ``database`` and record an
    orchestrator's run; returns the keys and the moment used as now."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    built = Built(now=now)
    today = now.replace(hour=0, minute=0, second=0)

    def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
        moment = today - timedelta(days=days_ago) + timedelta(hours=hour, minutes=minute)
        # in the past, but never before the day it is meant for (just after midnight, five
        # minutes ago is yesterday)
        return min(moment, max(now - timedelta(minutes=5), today))

    # Claude Code: a Sonnet session over two days, with a summary line as its title
    s = built.webapp_session
    lines: list[dict[str, object]] = [
        {"type": "summary", "summary": "Fix the login redirect", "leafUuid": "leaf-1"}
    ]
    for i in range(6):
        moment = at(2 - i // 3, 9 + i, 5)
        lines.append(claude_user(s, _ts(moment - timedelta(minutes=1))))
        lines.append(
            claude_assistant(
                s,
                _ts(moment),
                f"msg_web_{i}",
                input_tokens=1200 + 100 * i,
                output_tokens=800 + 50 * i,
                cache_read=20_000,
                cache_write=3_000 if i == 0 else 0,
            )
        )
    write_jsonl(claude_session_file(home, s), lines)

    # an Opus session today with a subagent of its own
    s = built.opus_session
    lines = [
        claude_assistant(
            s, _ts(at(0, 1, 10 * i)), f"msg_opus_{i}", model=OPUS, output_tokens=2_000 + i
        )
        for i in range(4)
    ]
    write_jsonl(claude_session_file(home, s), lines)
    subagent = claude_session_file(home, s).parent / s / "subagents" / "agent-a1b2c3.jsonl"
    write_jsonl(
        subagent,
        [
            claude_assistant(
                s,
                _ts(at(0, 1, 15 + i)),
                f"msg_sub_{i}",
                sidechain=True,
                agent_id="a1b2c3",
                output_tokens=500,
            )
            for i in range(3)
        ],
    )

    # a session whose title and working directory carry markup (user content)
    s = built.xss_session
    evil_cwd = f"/home/dev/code/{XSS}"
    write_jsonl(
        claude_session_file(home, s, project="-home-dev-code-evil"),
        [
            {"type": "custom-title", "customTitle": XSS, "sessionId": s},
            claude_user(s, _ts(at(1, 14)), cwd=evil_cwd),
            claude_assistant(s, _ts(at(1, 14, 1)), "msg_xss_0", cwd=evil_cwd),
        ],
    )

    # a model without a price: its cost is unknown, never $0
    s = built.unpriced_session
    write_jsonl(
        claude_session_file(home, s, project="-home-dev-code-lab"),
        [
            claude_assistant(
                s,
                _ts(at(3, 11, i)),
                f"msg_unk_{i}",
                model=UNKNOWN_MODEL,
                cwd="/home/dev/code/lab",
                output_tokens=4_000,
            )
            for i in range(2)
        ],
    )

    # an old session, outside a 30-day view
    s = built.old_session
    write_jsonl(
        claude_session_file(home, s, project="-home-dev-code-legacy"),
        [
            claude_assistant(
                s, _ts(at(60, 10)), "msg_old_0", cwd="/home/dev/code/legacy", output_tokens=9_000
            )
        ],
    )

    # Codex CLI: one session five days ago
    day = at(5, 10)
    c = built.codex_session
    write_jsonl(
        codex_file(home, day.strftime("%Y-%m-%d"), c),
        [
            codex_meta(c, _ts(day)),
            codex_turn(_ts(day)),
            codex_tokens(
                _ts(day + timedelta(minutes=1)), (5_000, 1_000, 700, 200), (5_000, 1_000, 700, 200)
            ),
            codex_tokens(
                _ts(day + timedelta(minutes=3)),
                (6_000, 4_000, 900, 300),
                (11_000, 5_000, 1_600, 500),
            ),
        ],
    )

    with Ledger(database) as ledger:
        sync(ledger, env={"HOME": str(home)})
        # an orchestrator: a run still going, a session with usage and one without
        ledger.start_run("orchestrator", reason="nightly", run_id=built.run_id, started_at=at(0, 0))
        ledger.update_session(
            built.sdk_session,
            source="sdk",
            run_id=built.run_id,
            identifier="ENG-42",
            title="Implement the export command",
            project="/srv/orchestrator/work",
            model=SONNET,
            started_at=at(0, 0, 5),
            ended_at=at(0, 0, 50),
            state="completed",
            turns=7,
        )
        ledger.update_session(
            built.idle_session,
            source="sdk",
            run_id=built.run_id,
            identifier="ENG-43",
            title="Waiting for review",
            project="/srv/orchestrator/work",
            started_at=at(0, 0, 55),
            state="running",
        )
        from tokentrail.ingest import UsageReport, event_from_report

        events = [
            event_from_report(
                UsageReport(
                    event_id=f"sdk-{i}",
                    session_key=built.sdk_session,
                    run_id=built.run_id,
                    source="sdk",
                    model=SONNET,
                    project="/srv/orchestrator/work",
                    timestamp=at(0, 0, 10 + i),
                    input_tokens=3_000,
                    output_tokens=1_500,
                    cache_read_tokens=10_000,
                )
            )
            for i in range(5)
        ]
        ledger.record_events(events)
        ledger.update_run(built.run_id, peak_concurrency=2, sessions_launched=2)
    return built


def dashboard_app(ledger: Ledger, *, poll_ms: int | None = None) -> Any:
    """The served app (``create_app``) with the dashboard and the read API in it."""
    from tokentrail.server.app import create_app

    app = create_app(ledger, token=None)
    if poll_ms is not None:
        app.state.dashboard_poll_ms = poll_ms
    return app


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- a ledger with a block in progress, tool calls and official rate limits ---------------------

TOOL_SESSION = "c0ffee00-0000-4000-8000-0000000000aa"
CODEX_ACTIVE = "0199bbbb-0000-7000-8000-00000000beef"


def _with_tools(line: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    line["message"]["content"] = [*line["message"]["content"], *calls]
    return line


def _tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def _tool_result(session: str, ts: str, call_id: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "content": "ok"}
    if error:
        block["is_error"] = True
    line = claude_user(session, ts)
    line["message"] = {"role": "user", "content": [block]}
    return line


def build_active_ledger(home: Path, database: Path, *, now: datetime | None = None) -> datetime:
    """A Claude Code session of the last half hour with edits, a failed call and a tool whose
    name carries markup (tool names come from logs), and a Codex rollout logging its official
    rate limits (the 5-hour window resets in two hours): a 5-hour block is active at ``now``."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    s = TOOL_SESSION
    start = now - timedelta(minutes=40)
    lines: list[dict[str, Any]] = [
        {"type": "summary", "summary": "Add the tools table", "leafUuid": "leaf-t"}
    ]
    steps: list[tuple[str, dict[str, Any], bool]] = [
        ("Edit", {"file_path": "a.py", "old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"}, False),
        ("Bash", {"command": "make test"}, True),
        (XSS, {"anything": 1}, False),
        ("Edit", {"file_path": "b.py", "old_string": "x = 1", "new_string": "x = 2"}, False),
    ]
    for i, (name, arguments, failed) in enumerate(steps):
        moment = start + timedelta(minutes=8 * i)
        call = f"toolu_{i}"
        lines.append(claude_user(s, _ts(moment - timedelta(seconds=30))))
        lines.append(
            _with_tools(
                claude_assistant(
                    s,
                    _ts(moment),
                    f"msg_tool_{i}",
                    input_tokens=900,
                    output_tokens=400,
                    cache_read=30_000,
                ),
                [_tool_use(call, name, arguments)],
            )
        )
        lines.append(_tool_result(s, _ts(moment + timedelta(seconds=2 + i)), call, error=failed))
    write_jsonl(claude_session_file(home, s), lines)

    c = CODEX_ACTIVE
    when = now - timedelta(minutes=20)
    resets = int((now + timedelta(hours=2)).timestamp())
    tokens = codex_tokens(
        _ts(when + timedelta(minutes=1)), (5_000, 1_000, 700, 200), (5_000, 1_000, 700, 200)
    )
    tokens["payload"]["rate_limits"] = {
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets},
        "secondary": {"used_percent": 7.5, "window_minutes": 10080, "resets_in_seconds": 86_400},
    }
    write_jsonl(
        codex_file(home, when.strftime("%Y-%m-%d"), c),
        [codex_meta(c, _ts(when)), codex_turn(_ts(when)), tokens],
    )
    with Ledger(database) as ledger:
        sync(ledger, env={"HOME": str(home)})
    return now


@contextmanager
def isolated_home(root: Path) -> Iterator[Path]:
    """A module-wide home under ``root`` with no agent variables, a config file of its own,
    a fixed machine name and UTC: yields the home (module fixtures cannot use conftest's
    function-scoped one)."""
    import pytest

    from conftest import isolated_variables

    home = root / "home"
    home.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        for name in isolated_variables():
            mp.delenv(name, raising=False)
        mp.setenv("HOME", str(home))
        mp.setenv("TOKENTRAIL_CONFIG", str(root / "config.toml"))
        mp.setenv("TOKENTRAIL_MACHINE", "test-machine")
        mp.setenv("TZ", "UTC")
        yield home
