"""Efficiency, tool usage, session summaries and session timelines, from realistic log files
written here and read by the real sync into real ledgers."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tokentrail.agents.claude_code.edits import count_lines as claude_edit_lines
from tokentrail.cli import cli
from tokentrail.insights.efficiency import efficiency_report
from tokentrail.insights.sessions import session_extras, summary_text
from tokentrail.insights.tools import p95, tool_usage
from tokentrail.ledger import Ledger
from tokentrail.reports.query import ReportQuery
from tokentrail.server.app import create_app
from tokentrail.sources import edits
from tokentrail.store.base import Filters
from tokentrail.sync import sync

MODEL = "claude-sonnet-4-5-20250929"


def write(path: Path, lines: list[dict[str, Any]], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as handle:
        for line in lines:
            handle.write(orjson.dumps(line).decode() + "\n")


def assistant(
    session: str,
    ts: str,
    message_id: str,
    content: list[dict[str, Any]],
    *,
    cache_read: int = 0,
    input_tokens: int = 100,
    model: str = MODEL,
) -> dict[str, Any]:
    return {
        "type": "assistant",
        "sessionId": session,
        "cwd": "/home/dev/webapp",
        "timestamp": ts,
        "requestId": f"req_{message_id}",
        "message": {
            "id": message_id,
            "role": "assistant",
            "model": model,
            "content": content,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": 50,
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": 0,
            },
        },
    }


def tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def result(session: str, ts: str, call_id: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": "secret tool output " * 10,
    }
    if error:
        block["is_error"] = True
    return {
        "type": "user",
        "sessionId": session,
        "timestamp": ts,
        "message": {"role": "user", "content": [block]},
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "TOKENTRAIL_CLAUDE_CODE_PATHS": str(tmp_path / "claude"),
        "TOKENTRAIL_CODEX_PATHS": str(tmp_path / "codex"),
        "TOKENTRAIL_GEMINI_PATHS": str(tmp_path / "gemini"),
        "TOKENTRAIL_OPENCODE_PATHS": str(tmp_path / "opencode"),
    }


def claude_file(tmp_path: Path, session: str) -> Path:
    return tmp_path / "claude" / "-home-dev-webapp" / f"{session}.jsonl"


def edit_session(tmp_path: Path) -> Path:
    """A session with an Edit, a MultiEdit, a Write and a failed Bash call."""
    path = claude_file(tmp_path, "s-edit")
    write(
        path,
        [
            assistant(
                "s-edit",
                "2026-05-04T10:00:00.000Z",
                "msg_1",
                [
                    tool_use(
                        "toolu_1",
                        "Edit",
                        {"file_path": "a.py", "old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"},
                    )
                ],
                cache_read=900,
            ),
            result("s-edit", "2026-05-04T10:00:01.000Z", "toolu_1"),
            assistant(
                "s-edit",
                "2026-05-04T10:10:00.000Z",
                "msg_2",
                [
                    tool_use(
                        "toolu_2",
                        "MultiEdit",
                        {
                            "file_path": "b.py",
                            "edits": [
                                {"old_string": "x = 1", "new_string": "x = 2"},
                                {"old_string": "y\nz", "new_string": ""},
                            ],
                        },
                    ),
                    tool_use("toolu_3", "Write", {"file_path": "c.py", "content": "1\n2\n3\n"}),
                ],
                cache_read=900,
            ),
            result("s-edit", "2026-05-04T10:10:03.000Z", "toolu_2"),
            result("s-edit", "2026-05-04T10:10:02.000Z", "toolu_3"),
            assistant(
                "s-edit",
                "2026-05-04T11:12:00.000Z",
                "msg_3",
                [tool_use("toolu_4", "Bash", {"command": "make lint-secret"})],
                cache_read=900,
            ),
            result("s-edit", "2026-05-04T11:12:04.000Z", "toolu_4", error=True),
        ],
    )
    return path


def test_edit_line_counts_from_the_arguments() -> None:
    assert edits.replacement("a\nb\nc", "a\nB\nc\nd") == (2, 1)
    assert claude_edit_lines("Write", {"content": "1\n2\n3\n"}) == (3, None)
    assert claude_edit_lines("Read", {"file_path": "x"}) == (None, None)
    multi = {"edits": [{"old_string": "x = 1", "new_string": "x = 2"}, {"old_string": "y\nz"}]}
    assert claude_edit_lines("MultiEdit", multi) == (1, 1)
    patch = (
        "*** Begin Patch\n*** Update File: src/app.py\n@@ def main():\n-    old()\n+    new()\n"
        "+    more()\n     same()\n*** Add File: NEW.md\n+# New\n+text\n*** End Patch"
    )
    assert edits.patch(patch) == (4, 1)


def test_a_huge_repetitive_edit_is_counted_without_stalling_the_sync() -> None:
    # thousands of near-identical lines make an in-order diff take minutes; past the bound the
    # lines are compared as multisets, which gives the same count when no line moved
    old = "\n".join("    }" if i % 2 else "" for i in range(5000))
    new = "\n".join("    }" if i % 3 else "x" for i in range(5000))
    assert edits.replacement(old, new) == (2500, 2500)
    scattered_old = "\n".join(f"line {i}" for i in range(3000))
    scattered_new = "\n".join(f"line {i}" if i % 3 else f"changed {i}" for i in range(3000))
    assert edits.replacement(scattered_old, scattered_new) == (1000, 1000)
    # common first and last lines are set aside before comparing
    assert edits.replacement("head\n" + old + "\ntail", "head\n" + old + "\nx\ntail") == (1, 0)


def test_claude_code_edits_failures_durations_and_summary(
    tmp_path: Path, env: dict[str, str]
) -> None:
    edit_session(tmp_path)
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
        store = ledger.store
        calls = {c.tool_name: c for c in store.tool_call_rows(Filters())}
        assert (calls["Edit"].lines_added, calls["Edit"].lines_removed) == (2, 1)
        # MultiEdit: "x = 1" -> "x = 2" is 1 + 1; "y\nz" -> "" removes 2
        assert (calls["MultiEdit"].lines_added, calls["MultiEdit"].lines_removed) == (1, 3)
        assert (calls["Write"].lines_added, calls["Write"].lines_removed) == (3, None)
        assert (calls["Bash"].lines_added, calls["Bash"].success) == (None, False)
        assert calls["Edit"].duration_ms == 1000 and calls["Bash"].duration_ms == 4000

        tools = tool_usage(store, Filters())
        assert tools.totals.calls == 4 and tools.totals.failures == 1
        assert tools.totals.p95_duration_seconds == 4.0
        assert tools.totals.avg_duration_seconds == 2.5  # (1 + 3 + 2 + 4) / 4

        report = efficiency_report(store, ReportQuery(zone=UTC, zone_name="UTC"), "session")
        row = report.rows[0].as_dict("session")
        assert (row["lines_added"], row["lines_removed"], row["lines_changed"]) == (6, 4, 10)
        assert row["edit_calls"] == 3
        assert row["cost_per_changed_line"] == pytest.approx(row["cost_usd"] / 10, abs=1e-6)
        assert row["tokens_per_changed_line"] == pytest.approx(row["total_tokens"] / 10, abs=0.1)
        # 900 cache-read tokens of 1,000 input tokens per request
        assert row["cache_read_share"] == 0.9
        # Sonnet 4.5: $3/M input, $0.30/M cache read -> 2,700 tokens save 2,700 * 2.7e-6
        assert row["cache_savings_usd"] == pytest.approx(2700 * 2.7e-6)

        extras = session_extras(store, ["s-edit"], {})
    summary = summary_text(
        report.rows[0].figures,
        [MODEL],
        None,
        None,
        extras.edits["s-edit"],
        extras.tools["s-edit"],
    )
    assert summary.startswith(f"3 requests to {MODEL}, $0.0040, ")
    assert summary.endswith("90% of input from cache, 10 lines changed, 1 failed tool call")


def test_session_json_summary_and_no_edit_data_is_none(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_session(tmp_path)
    write(
        claude_file(tmp_path, "s-chat"),
        [assistant("s-chat", "2026-05-04T12:00:00.000Z", "msg_chat", [{"type": "text"}])],
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = str(tmp_path / "ledger.db")
    out = CliRunner().invoke(cli, ["session", "-d", db, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["session_key"]: r for r in json.loads(out.output)["rows"]}
    assert rows["s-edit"]["summary"].startswith(f"3 requests to {MODEL} over 1h 12m, $0.0040, ")
    assert rows["s-chat"]["summary"].startswith(f"1 request to {MODEL}, $0.0010")
    assert "lines" not in rows["s-chat"]["summary"]

    out = CliRunner().invoke(cli, ["efficiency", "-d", db, "--no-sync", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    chat = next(r for r in data["rows"] if r["session"] == "s-chat")
    assert chat["lines_changed"] is None and chat["cost_per_changed_line"] is None
    assert chat["tokens_per_changed_line"] is None and chat["cache_read_share"] == 0.0

    out = CliRunner().invoke(cli, ["tools", "-d", db, "--no-sync", "--csv"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].startswith("tool_name,session_key,calls,failures")

    out = CliRunner().invoke(cli, ["efficiency", "-d", db, "--no-sync", "--by", "model"])
    assert out.exit_code == 0 and "Efficiency by model" in out.output

    out = CliRunner().invoke(cli, ["sessions", "-d", db, "--no-sync", "--summary"])
    assert out.exit_code == 0, out.output
    lines = dict(line.split("  ", 1) for line in out.output.splitlines())
    assert lines["s-edit"] == rows["s-edit"]["summary"]
    out = CliRunner().invoke(cli, ["sessions", "-d", db, "--no-sync", "--json"])
    listed = {r["session_key"]: r["summary"] for r in json.loads(out.output)["rows"]}
    assert listed["s-chat"] == rows["s-chat"]["summary"]


def test_a_call_and_its_result_in_two_syncs(tmp_path: Path, env: dict[str, str]) -> None:
    path = claude_file(tmp_path, "s-split")
    write(
        path,
        [
            assistant(
                "s-split",
                "2026-05-04T10:00:00.000Z",
                "msg_a",
                [tool_use("toolu_a", "Bash", {"command": "make"})],
            )
        ],
    )
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
        [pending] = ledger.store.tool_call_rows(Filters())
        assert (pending.success, pending.duration_ms) == (None, None)
        assert tool_usage(ledger.store, Filters()).totals.p95_duration_seconds is None
        write(path, [result("s-split", "2026-05-04T10:00:07.500Z", "toolu_a", error=True)], "a")
        sync(ledger, env=env)
        sync(ledger, env=env)  # nothing new: nothing doubled
        [done] = ledger.store.tool_call_rows(Filters())
        assert (done.success, done.duration_ms) == (False, 7500)


def test_p95_is_the_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([5]) == 5
    assert p95(list(range(1, 101))) == 95
    assert p95(list(range(1, 11))) == 10


def codex_line(ts: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": ts, "type": kind, "payload": payload}


def test_codex_apply_patch_and_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-old\n+new\n+newer\n*** End Patch\n"
    day = tmp_path / "codex" / "2026" / "05" / "04"
    write(
        day / "rollout-2026-05-04T10-00-00-0196a0c4-0000-7000-8000-000000000001.jsonl",
        [
            codex_line(
                "2026-05-04T10:00:00.000Z",
                "session_meta",
                {"id": "0196a0c4-0000-7000-8000-000000000001", "cwd": "/home/dev/api"},
            ),
            codex_line("2026-05-04T10:00:01.000Z", "turn_context", {"model": "gpt-5-codex"}),
            codex_line(
                "2026-05-04T10:00:02.000Z",
                "response_item",
                {
                    "type": "custom_tool_call",
                    "call_id": "c1",
                    "name": "apply_patch",
                    "input": patch,
                },
            ),
            codex_line(
                "2026-05-04T10:00:02.400Z",
                "response_item",
                {
                    "type": "custom_tool_call_output",
                    "call_id": "c1",
                    "output": json.dumps({"output": "Done", "metadata": {"exit_code": 0}}),
                },
            ),
            codex_line(
                "2026-05-04T10:00:03.000Z",
                "response_item",
                {
                    "type": "function_call",
                    "call_id": "c2",
                    "name": "shell",
                    "arguments": json.dumps({"command": ["bash", "-lc", "pytest"]}),
                },
            ),
            codex_line(
                "2026-05-04T10:00:09.000Z",
                "response_item",
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": "Exit code: 1\nWall time: 6 seconds\nOutput:\nFAILED",
                },
            ),
        ],
    )
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
        calls = {c.tool_name: c for c in ledger.store.tool_call_rows(Filters())}
    patch_call = calls["apply_patch"]
    assert (patch_call.lines_added, patch_call.lines_removed, patch_call.success) == (2, 1, True)
    assert patch_call.duration_ms == 400 and patch_call.model == "gpt-5-codex"
    assert (calls["shell"].success, calls["shell"].duration_ms) == (False, 6000)
    assert calls["shell"].lines_added is None


def test_gemini_replace_and_write_file(tmp_path: Path, env: dict[str, str]) -> None:
    chats = tmp_path / "gemini" / "proj" / "chats"
    chats.mkdir(parents=True)
    reply = {
        "id": "m1",
        "type": "gemini",
        "timestamp": "2026-05-04T10:00:05Z",
        "model": "gemini-2.5-pro",
        "content": "done",
        "tokens": {"input": 1000, "output": 100, "cached": 400, "thoughts": 0, "tool": 0},
        "toolCalls": [
            {
                "id": "replace-1",
                "name": "replace",
                "args": {"file_path": "a", "old_string": "a\nb", "new_string": "a\nc"},
                "status": "success",
                "timestamp": "2026-05-04T10:00:04Z",
            },
            {
                "id": "write-1",
                "name": "write_file",
                "args": {"file_path": "b", "content": "x\ny"},
                "status": "error",
                "timestamp": "2026-05-04T10:00:05Z",
            },
        ],
    }
    document = {"sessionId": "g1", "startTime": "2026-05-04T10:00:00Z", "messages": [reply]}
    (chats / "session-g1.json").write_text(json.dumps(document))
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
        calls = {c.tool_name: c for c in ledger.store.tool_call_rows(Filters())}
    assert (calls["replace"].lines_added, calls["replace"].lines_removed) == (1, 1)
    assert (calls["write_file"].lines_added, calls["write_file"].success) == (2, False)
    assert calls["replace"].duration_ms is None  # Gemini records no start time


def test_api_and_session_page_show_the_summary_escaped(tmp_path: Path, env: dict[str, str]) -> None:
    write(
        claude_file(tmp_path, "s-html"),
        [
            assistant(
                "s-html",
                "2026-05-04T10:00:00.000Z",
                "msg_h",
                [tool_use("toolu_h", "Write", {"file_path": "x", "content": "1\n2"})],
                model="<b>evil</b>",
            ),
            result("s-html", "2026-05-04T10:00:01.000Z", "toolu_h"),
        ],
    )
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
        client = TestClient(create_app(ledger, token=None))
        detail = client.get("/api/v1/sessions/s-html").json()
        assert detail["summary"] == (
            "1 request to <b>evil</b>, 0% of input from cache, 2 lines changed, "
            "no failed tool calls"
        )
        assert detail["lines_added"] == 2 and detail["lines_removed"] is None
        assert detail["tools"][0]["tool_name"] == "Write"
        assert detail["timeline"][0]["cumulative_tokens"] == 150
        rows = client.get("/api/v1/sessions").json()["rows"]
        assert rows[0]["summary"] == detail["summary"]
        tools = client.get("/api/v1/tools", params={"session": "s-html"}).json()
        assert tools["totals"]["calls"] == 1
        efficiency = client.get("/api/v1/efficiency", params={"by": "model"}).json()
        assert efficiency["rows"][0]["model"] == "<b>evil</b>"
        assert efficiency["rows"][0]["cost_per_changed_line"] is None  # unpriced model
        timeline = client.get("/api/v1/session-timeline", params={"key": "s-html"}).json()
        assert timeline["rows"][-1]["cumulative_tokens"] == 150
        assert client.get("/api/v1/session-timeline", params={"key": "nope"}).status_code == 404
        features = client.get("/api/v1/capabilities").json()["features"]
        assert {"tools", "efficiency", "session_summary"} <= set(features)
        page = client.get("/sessions/s-html").text
    assert "1 request to &lt;b&gt;evil&lt;/b&gt;, 0% of input" in page
    assert "<b>evil</b>" not in page


def test_tool_output_text_is_never_stored(tmp_path: Path, env: dict[str, str]) -> None:
    edit_session(tmp_path)
    with Ledger(tmp_path / "ledger.db") as ledger:
        sync(ledger, env=env)
    data = (tmp_path / "ledger.db").read_bytes()
    assert b"secret tool output" not in data and b"lint-secret" not in data


def test_a_result_read_with_its_call_is_kept_in_the_calls_row(tmp_path: Path) -> None:
    import sqlite3

    from tokentrail.usage import ToolCall, ToolResult

    def call(key: str) -> ToolCall:
        return ToolCall(key, "claude_code", "Bash", 1_000_000, "s1", from_log=True)

    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        # one batch: call and result together; another: a call whose result comes later
        ledger.record_batch(
            [], tool_calls=[call("a"), ToolResult("a", "claude_code", 1_004_000, False, "s1")]
        )
        ledger.record_batch([], tool_calls=[call("b")])
        ledger.record_batch([], tool_calls=[ToolResult("b", "claude_code", 1_002_000, True)])
        # a replay of "a" without its outcome changes nothing; one of "c" with it fills it in
        ledger.record_batch([], tool_calls=[call("a"), call("c")])
        ledger.record_batch(
            [], tool_calls=[call("c"), ToolResult("c", "claude_code", 1_001_000, True, "s1")]
        )
        found = sorted((r.duration_ms, r.success) for r in ledger.store.tool_call_rows(Filters()))
    assert found == [(1000, True), (2000, True), (4000, False)]
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT call_key FROM tool_results").fetchall()
    conn.close()
    assert stored == [("b",)]  # only the result whose call was read before it


def test_efficiency_table_formats_shares_dollars_and_numbers_right_aligned(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_session(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = str(tmp_path / "ledger.db")
    out = CliRunner().invoke(cli, ["efficiency", "-d", db, "--by", "model", "--json"])
    (row,) = json.loads(out.output)["rows"]
    table = CliRunner().invoke(
        cli, ["efficiency", "-d", db, "--no-sync", "--by", "model"], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    header = next(line for line in lines if "Cache %" in line)
    line = next(line for line in lines if line.strip().startswith(MODEL))
    share = f"{row['cache_read_share']:.0%}"  # 0.xxxx -> xx% (tokentrail.formatting.share)
    saved = f"${row['cache_savings_usd']:.4f}"  # under a cent: four decimals
    per_line = f"{row['tokens_per_changed_line']:,.1f}"
    for text in (share, saved, per_line):
        assert text in line, (text, line)
    assert str(row["cache_read_share"]) not in table.output  # never the raw fraction
    # right-aligned: each figure ends where its header ends
    assert line.index(share) + len(share) == header.index("Cache %") + len("Cache %")
    assert line.index(saved) + len(saved) == header.index("Saved") + len("Saved")
    assert line.index(per_line) + len(per_line) == header.index("Tok/line") + len("Tok/line")


def test_tools_by_session_tells_a_subagent_from_its_parent(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = "0b7c5e2a-1111-4222-8333-444455556666"
    main = claude_file(tmp_path, parent)
    write(
        main,
        [
            assistant(parent, "2026-05-04T10:00:00.000Z", "m1", [tool_use("t1", "Read", {})]),
            result(parent, "2026-05-04T10:00:01.000Z", "t1"),
        ],
    )
    sub = main.parent / parent / "subagents" / "agent-a1b2c3d4.jsonl"
    write(
        sub,
        [
            assistant(parent, "2026-05-04T10:01:00.000Z", "m2", [tool_use("t2", "Grep", {})]),
            result(parent, "2026-05-04T10:01:01.000Z", "t2"),
        ],
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = str(tmp_path / "ledger.db")
    data = CliRunner().invoke(cli, ["tools", "-d", db, "--by-session", "--json"])
    keys = {r["tool_name"]: r["session_key"] for r in json.loads(data.output)["rows"]}
    assert keys == {"Read": parent, "Grep": f"{parent}:agent-a1b2c3d4"}
    table = CliRunner().invoke(
        cli, ["tools", "-d", db, "--no-sync", "--by-session"], env={"COLUMNS": "200"}
    )
    cells = [line.split() for line in table.output.splitlines()]
    rows = {c[0]: c[1] for c in cells if c and c[0] in ("Read", "Grep")}
    assert rows["Read"] == "0b7c5e2a…"
    assert rows["Grep"] == "0b7c5e2a…:agent-a1b2c3d4"
