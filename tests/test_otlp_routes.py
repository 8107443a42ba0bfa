"""The OTLP/HTTP receiver through an in-process app: encodings, status codes, authentication,
the reconciliation view, the CLI's otel-env and reconcile, and a fuzz test (never a 5xx)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otlp_builders import (
    CLAUDE_RESOURCE,
    CODEX_RESOURCE,
    GEMINI_RESOURCE,
    claude_api_request,
    codex_sse_completed,
    encode,
    gemini_api_response,
    genai_spans,
    logs_request,
    metrics_request,
    otlp_json_logs,
    sum_metric,
)
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.server.otlp_routes import create_otlp_app
from tokentrail.store.base import Filters

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    with Ledger(db_path) as opened:
        yield opened


@pytest.fixture
def client(ledger: Ledger) -> TestClient:
    return TestClient(create_otlp_app(ledger, token=TOKEN))


def _requests(ledger: Ledger) -> int:
    with ledger.reading() as store:
        return store.totals(Filters()).requests


REQUESTS = {
    "claude": lambda: logs_request(
        [claude_api_request("s", "req_1"), claude_api_request("s", "req_2", sequence=2)],
        CLAUDE_RESOURCE,
    ),
    "codex": lambda: logs_request([codex_sse_completed("conv-1")], CODEX_RESOURCE),
    "gemini": lambda: logs_request([gemini_api_response("g-1")], GEMINI_RESOURCE),
}


@pytest.mark.parametrize("agent", sorted(REQUESTS))
@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_each_agent_in_each_encoding(
    client: TestClient, ledger: Ledger, agent: str, encoding: str, gzipped: bool
) -> None:
    request = REQUESTS[agent]()
    body, headers = encode(request, encoding, gzipped=gzipped)
    response = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert response.status_code == 200
    assert response.headers["content-type"] == headers["content-type"]
    if encoding == "json":
        assert response.json() == {}  # full success: no partial_success
    else:
        assert ExportLogsServiceResponse.FromString(response.content).ByteSize() == 0
    records = len(request.resource_logs[0].scope_logs[0].log_records)
    assert _requests(ledger) == records


def test_hand_written_otlp_json_with_string_int_values(client: TestClient, ledger: Ledger) -> None:
    body = otlp_json_logs(
        [
            {
                "timeUnixNano": "1772445605000000000",
                "body": {"stringValue": "claude_code.api_request"},
                "attributes": [
                    {"key": "event.name", "value": {"stringValue": "api_request"}},
                    {"key": "session.id", "value": {"stringValue": "s"}},
                    {"key": "request_id", "value": {"stringValue": "req_json"}},
                    {"key": "model", "value": {"stringValue": "claude-sonnet-4-5-20250929"}},
                    {"key": "input_tokens", "value": {"intValue": "120"}},
                    {"key": "output_tokens", "value": {"stringValue": "45"}},
                    {"key": "cost_usd", "value": {"doubleValue": 0.0123}},
                    {"key": "unknownField", "value": {"stringValue": "x"}},
                ],
                "traceId": "",
                "spanId": "",
                "someFutureField": 1,
            }
        ],
        "claude-code",
    )
    response = client.post(
        "/v1/logs", content=orjson.dumps(body), headers={"content-type": "application/json", **AUTH}
    )
    assert response.status_code == 200, response.text
    assert _requests(ledger) == 1


def test_string_typed_garbage_counters_are_partial_success(
    client: TestClient, ledger: Ledger
) -> None:
    request = logs_request(
        [
            claude_api_request("s", "req_ok"),
            claude_api_request("s", "req_bad", output_tokens="lots"),
        ],
        CLAUDE_RESOURCE,
    )
    body, headers = encode(request, "protobuf")
    response = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert response.status_code == 200
    partial = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_log_records == 1
    assert "invalid_count" in partial.error_message and "output_tokens" in partial.error_message
    assert _requests(ledger) == 1
    body, headers = encode(request, "json")
    response = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"


def test_metrics_and_traces_routes(client: TestClient, ledger: Ledger) -> None:
    metrics = metrics_request(
        CLAUDE_RESOURCE,
        [
            sum_metric(
                "claude_code.token.usage",
                [
                    ({"type": "input"}, 10.0, "2026-03-02T10:01:00Z"),
                    ({"type": "output"}, -1.0, "2026-03-02T10:01:00Z"),
                ],
                cumulative=False,
            )
        ],
    )
    body, headers = encode(metrics, "protobuf", gzipped=True)
    response = client.post("/v1/metrics", content=body, headers={**headers, **AUTH})
    assert response.status_code == 200
    partial = ExportMetricsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_data_points == 1
    spans = genai_spans(
        "my-agent", [{"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}]
    )
    body, headers = encode(spans, "json")
    response = client.post("/v1/traces", content=body, headers={**headers, **AUTH})
    assert response.status_code == 200
    assert json_format.Parse(response.content, ExportTraceServiceResponse()).ByteSize() == 0
    assert _requests(ledger) == 1  # the span; metrics never count


# -- errors -----------------------------------------------------------------------------------


def test_malformed_bodies_are_400(client: TestClient, ledger: Ledger) -> None:
    protobuf = {"content-type": "application/x-protobuf", **AUTH}
    json = {"content-type": "application/json", **AUTH}
    assert client.post("/v1/logs", content=b"\xff\xff\xff", headers=protobuf).status_code == 400
    assert client.post("/v1/logs", content=b"{not json", headers=json).status_code == 400
    assert client.post("/v1/logs", content=b'{"resourceLogs": 5}', headers=json).status_code == 400
    bad_gzip = {**protobuf, "content-encoding": "gzip"}
    assert client.post("/v1/logs", content=b"not gzip", headers=bad_gzip).status_code == 400
    truncated = gzip.compress(b"x" * 1000)[:20]
    assert client.post("/v1/logs", content=truncated, headers=bad_gzip).status_code == 400
    response = client.post("/v1/metrics", content=b"\xff\xff\xff", headers=protobuf)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    from google.rpc.status_pb2 import Status

    status = Status.FromString(response.content)  # the body is a google.rpc.Status
    assert status.code == 3 and "not a valid OTLP metrics protobuf body" in status.message
    assert _requests(ledger) == 0


def test_wrong_content_type_or_encoding_is_415(client: TestClient) -> None:
    response = client.post(
        "/v1/logs", content=b"{}", headers={"content-type": "text/plain", **AUTH}
    )
    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["message"]
    response = client.post("/v1/logs", content=b"", headers=AUTH)
    assert response.status_code == 415
    headers = {"content-type": "application/x-protobuf", "content-encoding": "br", **AUTH}
    assert client.post("/v1/logs", content=b"", headers=headers).status_code == 415


def test_oversize_bodies_are_413(client: TestClient) -> None:
    headers = {"content-type": "application/x-protobuf", **AUTH}
    big = b"\x00" * (5 * 1024 * 1024 + 1)
    assert client.post("/v1/logs", content=big, headers=headers).status_code == 413
    bomb = gzip.compress(b"\x00" * (6 * 1024 * 1024))  # small on the wire, too large unzipped
    assert len(bomb) < 100_000
    response = client.post(
        "/v1/logs", content=bomb, headers={**headers, "content-encoding": "gzip"}
    )
    assert response.status_code == 413


def test_empty_export_is_fine(client: TestClient) -> None:
    headers = {"content-type": "application/x-protobuf", **AUTH}
    assert client.post("/v1/logs", content=b"", headers=headers).status_code == 200
    json = {"content-type": "application/json", **AUTH}
    assert client.post("/v1/logs", content=b"{}", headers=json).status_code == 200


# -- authentication ---------------------------------------------------------------------------


def test_token_in_header_or_path(client: TestClient, ledger: Ledger) -> None:
    body, headers = encode(REQUESTS["claude"](), "protobuf")
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 401
    wrong = {**headers, "authorization": "Bearer nope"}
    assert client.post("/v1/logs", content=body, headers=wrong).status_code == 401
    assert client.post(f"/otlp/{TOKEN}x/v1/logs", content=body, headers=headers).status_code == 401
    assert _requests(ledger) == 0
    response = client.post(f"/otlp/{TOKEN}/v1/logs", content=body, headers=headers)
    assert response.status_code == 200
    assert _requests(ledger) == 2


def test_no_token_on_loopback_needs_none(ledger: Ledger) -> None:
    client = TestClient(create_otlp_app(ledger, token=None))
    body, headers = encode(REQUESTS["codex"](), "json")
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 200
    assert client.post("/otlp/anything/v1/logs", content=body, headers=headers).status_code == 200
    assert _requests(ledger) == 1


def test_mounted_on_the_api_app_with_its_bearer_auth(ledger: Ledger) -> None:
    from tokentrail.server.app import create_app

    client = TestClient(create_app(ledger, token=TOKEN))
    body, headers = encode(REQUESTS["gemini"](), "protobuf", gzipped=True)
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 401
    assert client.post("/v1/logs", content=body, headers={**headers, **AUTH}).status_code == 200
    path = f"/otlp/{TOKEN}/v1/logs"
    assert client.post(path, content=body, headers=headers).status_code == 200
    assert client.get("/api/v1/reconciliation").status_code == 401
    response = client.get(
        "/api/v1/reconciliation", params={"since": "2025-11-01", "tz": "UTC"}, headers=AUTH
    )
    assert response.status_code == 200
    (row,) = response.json()["rows"]
    assert (row["source"], row["otlp"]["requests"], row["only_otlp"]) == ("gemini", 1, 1)


def test_reconciliation_rejects_bad_days(client: TestClient) -> None:
    response = client.get("/api/v1/reconciliation", params={"since": "yesterday"}, headers=AUTH)
    assert response.status_code == 422
    response = client.get(
        "/api/v1/reconciliation",
        params={"since": "2026-03-05", "until": "2026-03-01"},
        headers=AUTH,
    )
    assert response.status_code == 422


# -- fuzz -------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceLogs",
                    "scopeLogs",
                    "logRecords",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "intValue",
                    "doubleValue",
                    "body",
                    "timeUnixNano",
                    "resourceMetrics",
                    "scopeMetrics",
                    "metrics",
                    "sum",
                    "dataPoints",
                    "asInt",
                    "resourceSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "name",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300) | _json_values.map(lambda v: json.dumps(v).encode()),
    signal=st.sampled_from(["logs", "metrics", "traces"]),
    content_type=st.sampled_from(["application/x-protobuf", "application/json"]),
    gzipped=st.booleans(),
)
def test_random_bodies_never_get_a_5xx(
    client: TestClient, body: bytes, signal: str, content_type: str, gzipped: bool
) -> None:
    headers = {"content-type": content_type, **AUTH}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    response = client.post(f"/v1/{signal}", content=body, headers=headers)
    assert response.status_code in (200, 400, 413, 415), response.content


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    attrs=st.dictionaries(
        st.sampled_from(
            [
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_creation_tokens",
                "cost_usd",
                "request_id",
                "session.id",
                "model",
                "speed",
                "event.timestamp",
            ]
        ),
        st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=True), st.booleans()),
    )
)
def test_random_claude_attributes_never_crash(client: TestClient, attrs: dict[str, object]) -> None:
    record = claude_api_request("s", "req_fuzz")
    for key, value in attrs.items():
        for kv in record.attributes:
            if kv.key == key:
                kv.value.Clear()
                if isinstance(value, bool):
                    kv.value.bool_value = value
                elif isinstance(value, int):
                    kv.value.int_value = max(min(value, 2**63 - 1), -(2**63))
                elif isinstance(value, float):
                    kv.value.double_value = value
                else:
                    kv.value.string_value = str(value)
    body, headers = encode(logs_request([record], CLAUDE_RESOURCE), "protobuf")
    response = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert response.status_code == 200


# -- CLI --------------------------------------------------------------------------------------


def test_otel_env_prints_each_agents_settings() -> None:
    runner = CliRunner()
    claude = runner.invoke(cli, ["otel-env", "claude", "--token", "t0k"])
    assert claude.exit_code == 0, claude.output
    for line in (
        "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "export OTEL_LOGS_EXPORTER=otlp",
        "export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8787",
        'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer t0k"',
    ):
        assert line in claude.output
    codex = runner.invoke(cli, ["otel-env", "codex", "--endpoint", "http://box:4318/"])
    assert codex.exit_code == 0
    assert "[otel]" in codex.output
    assert 'endpoint = "http://box:4318/v1/logs", protocol = "binary"' in codex.output
    assert "Authorization" not in codex.output
    import tomllib

    toml = "\n".join(line for line in codex.output.splitlines() if not line.startswith("#"))
    assert tomllib.loads(toml)["otel"]["exporter"]["otlp-http"]["protocol"] == "binary"
    gemini = runner.invoke(cli, ["otel-env", "gemini", "--token", "t0k"])
    assert "export GEMINI_TELEMETRY_OTLP_ENDPOINT=http://127.0.0.1:8787/otlp/t0k" in gemini.output
    assert '"otlpProtocol": "http"' in gemini.output
    assert runner.invoke(cli, ["otel-env", "cursor"]).exit_code != 0


def test_reconcile_command(ledger: Ledger, db_path: Path) -> None:
    from tokentrail.otlp.mapping import map_logs, record

    record(ledger, map_logs(REQUESTS["claude"]()))  # type: ignore[arg-type]
    ledger.close()
    runner = CliRunner()
    args = [
        "reconcile",
        "-d",
        str(db_path),
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-03",
        "--tz",
        "UTC",
    ]
    shown = runner.invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    assert "claude_code" in shown.output and "only through OpenTelemetry" in shown.output
    as_json = runner.invoke(cli, [*args, "--json"])
    (row,) = orjson.loads(as_json.output)["rows"]
    assert (row["otlp"]["requests"], row["ledger"]["requests"]) == (2, 2)
    bad = runner.invoke(cli, ["reconcile", "-d", str(db_path), "--since", "nope"])
    assert bad.exit_code != 0 and "--since" in bad.output


def test_a_full_disk_is_507_and_the_exporter_retries(client: TestClient, ledger: Ledger) -> None:
    conn = ledger.store._conn  # type: ignore[attr-defined]
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's "database or disk is full"
    records = [claude_api_request(f"s{i}", f"req_{i}", sequence=i) for i in range(300)]
    body, headers = encode(logs_request(records, CLAUDE_RESOURCE), "protobuf")
    response = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert response.status_code == 507, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert _requests(ledger) == 0
    conn.execute("PRAGMA max_page_count = 1073741823")
    retried = client.post("/v1/logs", content=body, headers={**headers, **AUTH})
    assert retried.status_code == 200 and _requests(ledger) == 300
