"""OTLP exports mapped to the ledger: each agent's events, rejects, metrics, and a request seen
both through OpenTelemetry and in its log file counted once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import pgtest
from builders import (
    claude_assistant,
    claude_session_file,
    codex_file,
    codex_meta,
    codex_tokens,
    codex_turn,
    write_jsonl,
)
from otlp_builders import (
    CLAUDE_RESOURCE,
    CODEX_RESOURCE,
    GEMINI_RESOURCE,
    claude_api_request,
    claude_tool_result,
    codex_sse_completed,
    gemini_api_response,
    gemini_semantic_details,
    genai_spans,
    histogram_metric,
    log_record,
    logs_request,
    metrics_request,
    sum_metric,
)
from tokentrail.ledger import Ledger
from tokentrail.otlp import mapping
from tokentrail.otlp.batch import OtlpBatch
from tokentrail.periods import resolve_timezone
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.reconciliation import reconciliation_report
from tokentrail.store.base import Filters
from tokentrail.sync import sync

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# the two-channel tests use recent requests: OTLP copies arrive live (see
# tokentrail.correlate.ALIAS_HORIZON_MS)
RECENT = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
RECENT_DAY = RECENT.date()


def at(seconds: int) -> str:
    """An ISO timestamp ``seconds`` after RECENT, as agents write them."""
    return (RECENT + timedelta(seconds=seconds)).isoformat().replace("+00:00", ".000Z")


@pytest.fixture(params=pgtest.BACKENDS)
def ledger(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Ledger]:
    with pgtest.ledger_on(request.param, db_path) as opened:
        yield opened


@pytest.fixture
def sqlite_ledger(db_path: Path) -> Iterator[Ledger]:
    """A ledger whose file a test reads byte by byte."""
    with Ledger(db_path) as opened:
        yield opened


def _entries(ledger: Ledger) -> dict[str, object]:
    with ledger.reading() as store:
        return {e.event.key: e for batch in store.iter_entries() for e in batch}


def _totals(ledger: Ledger, *sources: str) -> tuple[int, int]:
    with ledger.reading() as store:
        t = store.totals(Filters(sources=sources))
    return t.requests, t.input + t.cache_read + t.cache_write_5m + t.cache_write_1h + t.output


def _ingest(ledger: Ledger, request: object) -> OtlpBatch:
    batch = mapping.map_request("logs", request)  # type: ignore[arg-type]
    mapping.record(ledger, batch)
    return batch


# -- Claude Code ------------------------------------------------------------------------------


def test_claude_api_request_with_string_counts_becomes_one_event(ledger: Ledger) -> None:
    record = claude_api_request(
        "sess-1",
        "req_011A",
        input_tokens=12,
        output_tokens=480,
        cache_read=31133,
        cache_creation=156,
        cost=0.0187215,
        speed="fast",
    )
    batch = _ingest(ledger, logs_request([record], CLAUDE_RESOURCE))
    assert (batch.items, batch.rejected, len(batch.events)) == (1, 0, 1)
    entry = _entries(ledger)["claude_code:req:req_011A"]
    event = entry.event  # type: ignore[attr-defined]
    assert event.source == "claude_code"
    assert event.session_key == "sess-1"
    assert event.model == "claude-sonnet-4-5-20250929"
    assert event.provider == "anthropic"
    # input EXCLUDES the cache, as Claude Code reports it
    assert event.tokens.input == 12
    assert event.tokens.cache_read == 31133
    assert event.tokens.cache_write_5m == 156
    assert event.tokens.output == 480
    assert event.reported_cost_usd == pytest.approx(0.0187215)
    assert event.pricing_context == (("speed", "fast"),)
    assert event.timestamp == datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)
    with ledger.reading() as store:
        assert "sess-1" in store.sessions_by_key(["sess-1"])


def test_claude_undefined_count_is_not_reported_not_zero(ledger: Ledger) -> None:
    # cli.js writes String(undefined) when the API left a count out
    record = claude_api_request("s", "req_u", cache_read="undefined", cache_creation="undefined")
    _ingest(ledger, logs_request([record], CLAUDE_RESOURCE))
    event = _entries(ledger)["claude_code:req:req_u"].event  # type: ignore[attr-defined]
    assert event.tokens.cache_read is None
    assert event.tokens.cache_write_5m is None
    assert event.tokens.input == 100


def test_resent_batch_is_counted_once(ledger: Ledger) -> None:
    request = logs_request(
        [claude_api_request("s", "req_a"), claude_api_request("s", "req_b")], CLAUDE_RESOURCE
    )
    _ingest(ledger, request)
    _ingest(ledger, request)
    assert _totals(ledger, "claude_code") == (2, 300)


def test_old_claude_code_without_request_id_still_counts_idempotently(ledger: Ledger) -> None:
    request = logs_request([claude_api_request("s", None, sequence=7)], CLAUDE_RESOURCE)
    _ingest(ledger, request)
    _ingest(ledger, request)
    keys = list(_entries(ledger))
    assert len(keys) == 1 and keys[0].startswith("claude_code:otlp:")


def test_tool_result_is_counted_without_its_text(sqlite_ledger: Ledger, db_path: Path) -> None:
    ledger = sqlite_ledger
    _ingest(ledger, logs_request([claude_tool_result("s")], CLAUDE_RESOURCE))
    with ledger.reading() as store:
        stats = store.tool_call_stats(Filters())
    assert [(t.source, t.tool_name, t.calls, t.failures, t.duration_ms) for t in stats] == [
        ("claude_code", "Bash", 1, 0, 632)
    ]
    assert _totals(ledger) == (0, 0)  # a tool call is not usage
    ledger.close()
    assert b"SECRET-TOOL-INPUT" not in db_path.read_bytes()


# -- malformed values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "invalid_count"),
        ("-5", "invalid_count"),
        ("12.5", "invalid_count"),
        ("1e3", "invalid_count"),
        (-5, "invalid_count"),
        (2.5, "invalid_count"),
        (True, "invalid_count"),
        (10**13, "invalid_count"),
    ],
)
def test_malformed_counts_are_counted_rejects(ledger: Ledger, value: object, reason: str) -> None:
    good = claude_api_request("s", "req_good")
    bad = claude_api_request("s", "req_bad")
    del bad.attributes[:]
    bad.attributes.extend(
        claude_api_request("s", "req_bad", input_tokens=0).attributes  # type: ignore[arg-type]
    )
    for kv in bad.attributes:
        if kv.key == "input_tokens":
            if isinstance(value, bool):
                kv.value.bool_value = value
            elif isinstance(value, int):
                kv.value.int_value = value
            elif isinstance(value, float):
                kv.value.double_value = value
            else:
                kv.value.string_value = str(value)
    batch = _ingest(ledger, logs_request([good, bad], CLAUDE_RESOURCE))
    assert batch.rejected == 1
    assert batch.reasons == {reason: 1}
    assert "input_tokens" in batch.message
    assert list(_entries(ledger)) == ["claude_code:req:req_good"]


def test_impossible_timestamps_and_empty_usage_are_rejects(ledger: Ledger) -> None:
    future = claude_api_request("s", "req_f", when="2031-01-01T00:00:00.000Z")
    empty = log_record(
        {"event.name": "api_request", "session.id": "s", "request_id": "req_e"},
        when="2026-03-02T10:00:00Z",
        body="claude_code.api_request",
    )
    batch = _ingest(ledger, logs_request([future, empty], CLAUDE_RESOURCE))
    assert batch.reasons == {"bad_timestamp": 1, "empty_usage": 1}
    assert _entries(ledger) == {}


def test_other_events_are_ignored_not_rejected(ledger: Ledger) -> None:
    prompt = log_record(
        {"event.name": "user_prompt", "prompt": "SECRET PROMPT", "prompt_length": "13"},
        when="2026-03-02T10:00:00Z",
        body="claude_code.user_prompt",
    )
    batch = _ingest(ledger, logs_request([prompt], CLAUDE_RESOURCE))
    assert (batch.items, batch.ignored, batch.rejected) == (1, 1, 0)


# -- Codex and Gemini -------------------------------------------------------------------------


def test_codex_completed_response_input_includes_cached(ledger: Ledger) -> None:
    records = [
        codex_sse_completed("conv-1", input_tokens=1200, cached=1000, output=300, reasoning=200),
        log_record(
            {
                "event.name": "codex.sse_event",
                "event.kind": "response.output_item.done",
                "conversation.id": "conv-1",
            },
            when="2026-03-02T10:00:04Z",
        ),
    ]
    batch = _ingest(ledger, logs_request(records, CODEX_RESOURCE))
    assert (batch.ignored, batch.rejected, len(batch.events)) == (1, 0, 1)
    event = batch.events[0]
    assert event.key == "codex:fp:conv-1:1200:1000:300"
    assert (event.tokens.input, event.tokens.cache_read) == (200, 1000)
    assert (event.tokens.output, event.tokens.reasoning) == (300, 200)
    assert (event.source, event.session_key, event.model) == ("codex", "conv-1", "gpt-5-codex")


def test_gemini_response_drops_text_and_bills_thoughts_as_output(
    sqlite_ledger: Ledger, db_path: Path
) -> None:
    ledger = sqlite_ledger
    records = [
        gemini_api_response("g-1", input_tokens=1200, cached=1000, output=80, thoughts=40),
        gemini_semantic_details("g-1"),  # the same response in GenAI terms: not counted again
    ]
    batch = _ingest(ledger, logs_request(records, {**GEMINI_RESOURCE, "session.id": "g-1"}))
    assert (len(batch.events), batch.ignored) == (1, 1)
    event = batch.events[0]
    assert (event.tokens.input, event.tokens.cache_read) == (200, 1000)
    assert (event.tokens.output, event.tokens.reasoning) == (120, 40)
    assert event.session_key == "gemini:g-1"
    ledger.close()
    assert b"SECRET-RESPONSE-TEXT" not in db_path.read_bytes()


def test_generic_genai_spans_input_includes_cache(ledger: Ledger) -> None:
    request = genai_spans(
        "my-agent",
        [
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.cache_read.input_tokens": 600,
                "gen_ai.usage.cache_creation.input_tokens": 100,
                "gen_ai.usage.output_tokens": 50,
                "gen_ai.input.messages": "SECRET",
            },
            {"gen_ai.operation.name": "chat"},  # no usage: ignored
        ],
    )
    batch = mapping.map_traces(request, now=NOW)
    mapping.record(ledger, batch)
    assert (batch.items, batch.ignored, len(batch.events)) == (2, 1, 1)
    event = batch.events[0]
    assert event.key == "my-agent:otlp:0102030405060708090a0b0c0d0e0f10:0000000000000001"
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.cache_write_5m) == (
        300,
        600,
        100,
    )
    assert (event.model, event.provider, event.source) == (
        "gpt-4o-2024-08-06",
        "openai",
        "my-agent",
    )
    # the agents' own spans repeat their log events: not counted
    codex_spans = genai_spans("codex_cli_rs", [{"gen_ai.usage.input_tokens": 5}])
    assert mapping.map_traces(codex_spans, now=NOW).events == []


# -- metrics ----------------------------------------------------------------------------------


def test_metrics_are_kept_for_reconciliation_never_in_totals(ledger: Ledger) -> None:
    attrs = {"session.id": "s", "model": "claude-sonnet-4-5-20250929"}
    request = metrics_request(
        CLAUDE_RESOURCE,
        [
            sum_metric(
                "claude_code.token.usage",
                [
                    ({**attrs, "type": "input"}, 100.0, "2026-03-02T10:01:00Z"),
                    ({**attrs, "type": "input"}, 150.0, "2026-03-02T10:02:00Z"),
                    ({**attrs, "type": "output"}, 50.0, "2026-03-02T10:02:00Z"),
                ],
                cumulative=True,
            ),
            sum_metric(
                "claude_code.cost.usage", [(attrs, 0.01, "2026-03-02T10:02:00Z")], cumulative=False
            ),
            sum_metric(
                "claude_code.session.count", [(attrs, 1, "2026-03-02T10:02:00Z")], cumulative=False
            ),
            histogram_metric(
                "codex.turn.token_usage",
                [({"token_type": "input", "model": "gpt-5"}, 900.0, 3, "2026-03-02T10:02:00Z")],
            ),
        ],
    )
    batch = mapping.map_metrics(request)
    mapping.record(ledger, batch)
    mapping.record(ledger, mapping.map_metrics(request))  # resent: no new points
    assert (batch.items, batch.ignored, batch.rejected, len(batch.samples)) == (6, 1, 0, 5)
    assert _totals(ledger) == (0, 0)
    zone, name = resolve_timezone("UTC")
    query = ReportQuery(zone=zone, zone_name=name, since=date(2026, 3, 2), until=date(2026, 3, 2))
    with ledger.reading() as store:
        report = reconciliation_report(store, query)
    by_source = {row.source: row for row in report.rows}
    claude = by_source["claude_code"]
    # cumulative: 100 then 150 is an increase of 150 in all, not 250
    assert claude.metric_tokens == {"input": 150.0, "output": 50.0}
    assert claude.metrics.cost_usd == pytest.approx(0.01)
    assert by_source["codex"].metric_tokens == {"input": 900.0}


def test_negative_metric_points_are_rejected(ledger: Ledger) -> None:
    request = metrics_request(
        CLAUDE_RESOURCE,
        [
            sum_metric(
                "claude_code.token.usage",
                [({"type": "input"}, -3.0, "2026-03-02T10:01:00Z")],
                cumulative=False,
            )
        ],
    )
    batch = mapping.map_metrics(request)
    assert (batch.rejected, batch.samples) == (1, [])


def test_implausible_metric_points_are_rejected_like_log_lines(ledger: Ledger) -> None:
    when = "2026-03-02T10:01:00Z"
    request = metrics_request(
        CLAUDE_RESOURCE,
        [
            sum_metric(
                "claude_code.token.usage", [({"type": "input"}, 1e20, when)], cumulative=True
            ),
            sum_metric(
                "claude_code.token.usage", [({"type": "output"}, 2.0**63, when)], cumulative=True
            ),
            sum_metric("claude_code.cost.usage", [({}, 5e6, when)], cumulative=False),
            sum_metric(
                "claude_code.token.usage", [({"type": "input"}, 700.0, when)], cumulative=True
            ),
            histogram_metric(
                "codex.turn.token_usage", [({"token_type": "input"}, 9.0, 2**63, when)]
            ),
        ],
    )
    batch = mapping.map_metrics(request)
    mapping.record(ledger, batch)  # nothing left that the ledger cannot hold
    assert batch.rejected == 4
    assert [sample.value for sample in batch.samples] == [700.0]


# -- one request, two channels ----------------------------------------------------------------


def _claude_log(home: Path, *, output: int = 50, write_1h: int = 0) -> Path:
    line = claude_assistant(
        "sess-1",
        at(1),
        "msg_01",
        request_id="req_01",
        input_tokens=12,
        output_tokens=output,
        cache_read=31133,
        cache_write=156,
    )
    if write_1h:
        line["message"]["usage"]["cache_creation"] = {
            "ephemeral_5m_input_tokens": 0,
            "ephemeral_1h_input_tokens": 156,
        }
    return write_jsonl(claude_session_file(home, "sess-1"), [line])


def _claude_otlp(output: int = 480) -> object:
    return logs_request(
        [
            claude_api_request(
                "sess-1",
                "req_01",
                input_tokens=12,
                output_tokens=output,
                cache_read=31133,
                cache_creation=156,
                cost=0.0187,
                when=at(5),
            )
        ],
        CLAUDE_RESOURCE,
    )


@pytest.mark.parametrize("otlp_first", [False, True])
def test_claude_request_seen_in_log_and_otlp_is_counted_once(
    ledger: Ledger, isolated_home: Path, otlp_first: bool
) -> None:
    _claude_log(isolated_home, output=1, write_1h=156)  # a partial streaming snapshot
    if otlp_first:
        _ingest(ledger, _claude_otlp())
        sync(ledger, workers=1)
    else:
        sync(ledger, workers=1)
        _ingest(ledger, _claude_otlp())
    _ingest(ledger, _claude_otlp())  # resent
    sync(ledger, workers=1)  # and read again
    entries = list(_entries(ledger).values())
    assert len(entries) == 1
    event = entries[0].event  # type: ignore[attr-defined]
    assert _totals(ledger) == (1, 12 + 31133 + 156 + 480)
    # the log file's buckets (its 1-hour cache write), OpenTelemetry's final output and cost
    assert (event.tokens.cache_write_5m, event.tokens.cache_write_1h) == (0, 156)
    assert event.tokens.output == 480
    assert event.reported_cost_usd == pytest.approx(0.0187)
    assert event.project == "/home/dev/code/webapp"  # attribution from the log file
    assert event.timestamp == RECENT + timedelta(seconds=1)


def test_claude_both_copies_in_one_batch_are_one_request(ledger: Ledger, tmp_path: Path) -> None:
    from tokentrail.agents.claude_code.reader import ClaudeCodeSource
    from tokentrail.sources.files import ParseState, SourceFile

    # a folder of the test's own: on PostgreSQL the ledger's location is a URL, not a path
    path = _claude_log(tmp_path / "h", output=480)
    parsed = ClaudeCodeSource().parse(SourceFile("claude_code", str(path)), ParseState())
    batch = mapping.map_logs(_claude_otlp(), now=NOW)  # type: ignore[arg-type]
    ledger.record_batch([*batch.events, *parsed.events])
    assert _totals(ledger) == (1, 12 + 31133 + 156 + 480)


def test_codex_request_seen_in_rollout_and_otlp_is_counted_once(
    ledger: Ledger, isolated_home: Path
) -> None:
    session = "019a0000-0000-7000-8000-000000000001"
    write_jsonl(
        codex_file(isolated_home, RECENT_DAY.isoformat(), session),
        [
            codex_meta(session, at(0)),
            codex_turn(at(1)),
            codex_tokens(at(5), (1200, 1000, 300, 200), (1200, 1000, 300, 200)),
            codex_tokens(at(65), (2500, 1100, 80, 0), (3700, 2100, 380, 200)),
        ],
    )
    sync(ledger, workers=1)
    request = logs_request(
        [
            codex_sse_completed(
                session, input_tokens=1200, cached=1000, output=300, reasoning=200, when=at(5)
            ),
            codex_sse_completed(
                session,
                input_tokens=2500,
                cached=1100,
                output=80,
                reasoning=0,
                when=at(65),
            ),
        ],
        CODEX_RESOURCE,
    )
    _ingest(ledger, request)
    assert _totals(ledger, "codex") == (2, 1200 + 300 + 2500 + 80)


def test_gemini_request_seen_in_chat_and_otlp_is_counted_once(
    ledger: Ledger, isolated_home: Path
) -> None:
    chats = isolated_home / ".gemini" / "tmp" / "webapp" / "chats"
    chats.mkdir(parents=True)
    reply = {
        "id": "r1",
        "timestamp": "2025-11-03T09:15:10.500Z",
        "type": "gemini",
        "content": "Looking at the failing test now.",
        "tokens": {
            "input": 1200,
            "output": 80,
            "cached": 1000,
            "thoughts": 40,
            "tool": 0,
            "total": 1320,
        },
        "model": "gemini-2.5-pro",
    }
    (chats / "session-2025-11-03T09-15-g1.jsonl").write_bytes(
        orjson.dumps(
            {"sessionId": "g-1", "projectHash": "abc", "startTime": "2025-11-03T09:15:02.118Z"}
        )
        + b"\n"
        + orjson.dumps(reply)
        + b"\n"
    )
    _ingest(
        ledger,
        logs_request(
            [gemini_api_response("g-1", input_tokens=1200, cached=1000, output=80, thoughts=40)],
            GEMINI_RESOURCE,
        ),
    )
    sync(ledger, workers=1)
    assert _totals(ledger, "gemini") == (1, 1200 + 120)
    (event,) = [e.event for e in _entries(ledger).values()]  # type: ignore[attr-defined]
    assert event.rank.startswith("0|")  # the chat recording's copy is the record


def test_reconciliation_explains_both_channels(ledger: Ledger, isolated_home: Path) -> None:
    _claude_log(isolated_home, output=1)
    sync(ledger, workers=1)
    _ingest(
        ledger,
        logs_request(
            [
                *_claude_otlp().resource_logs[0].scope_logs[0].log_records,  # type: ignore[attr-defined]
                claude_api_request(
                    "ci-sess",
                    "req_ci",
                    input_tokens=10,
                    output_tokens=5,
                    cache_read=0,
                    cache_creation=0,
                    cost=0.0001,
                    when=at(30),
                ),
            ],
            CLAUDE_RESOURCE,
        ),
    )
    zone, name = resolve_timezone("UTC")
    query = ReportQuery(zone=zone, zone_name=name, since=RECENT_DAY, until=RECENT_DAY)
    with ledger.reading() as store:
        (row,) = reconciliation_report(store, query).rows
    assert (row.ledger.requests, row.otlp.requests, row.logs.requests) == (2, 2, 1)
    assert (row.both, row.only_otlp, row.only_logs) == (1, 1, 0)
    assert row.ledger.tokens == 12 + 31133 + 156 + 480 + 15
    assert row.logs.tokens == 12 + 31133 + 156 + 480
    assert row.otlp.reported_cost_usd == pytest.approx(0.0188)
    assert any("only through OpenTelemetry" in note for note in row.notes)
    assert any("counted once" in note for note in row.notes)


def test_otlp_copy_recorded_first_meets_an_old_log_line(
    ledger: Ledger, isolated_home: Path
) -> None:
    # weeks later, the first sync of the machine's logs: no alias index needed for this way round
    line = claude_assistant(
        "old-sess",
        "2026-03-02T10:00:01.000Z",
        "msg_old",
        request_id="req_old",
        input_tokens=7,
        output_tokens=70,
    )
    write_jsonl(claude_session_file(isolated_home, "old-sess"), [line])
    _ingest(
        ledger,
        logs_request(
            [claude_api_request("old-sess", "req_old", input_tokens=7, output_tokens=70)],
            CLAUDE_RESOURCE,
        ),
    )
    sync(ledger, workers=1)
    assert _totals(ledger) == (1, 77)
