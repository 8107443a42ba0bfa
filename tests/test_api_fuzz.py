"""Schema-driven fuzzing of every endpoint: hypothesis builds requests from the app's own
OpenAPI schema — valid values, values just outside the rules, random JSON, random bytes,
odd path segments and unknown parameters — and no answer may be a 5xx, every error must
carry the JSON error body, and every success must match its documented schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokentrail.ledger import Ledger
from tokentrail.server.app import create_app

JSON_HEADERS = {"Content-Type": "application/json"}
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
TIMESTAMPS = st.sampled_from(
    [
        "2026-05-04T09:30:00Z",
        "2026-05-04T09:30:00+05:30",
        "2026-05-04T09:30:00",
        "2026-05-04",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "2026-02-30T00:00:00Z",
        "",
    ]
) | st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1), timezones=st.timezones()
).map(lambda d: d.isoformat())
ODD_TEXT = st.text(max_size=40) | st.sampled_from(
    ["", "..", "../..", "%00", "a/b", "\u0000", "💥", "x" * 201, "UTC", "Europe/Berlin"]
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "ledger.db"
    with Ledger(db) as ledger:
        app = create_app(ledger, token=None, max_body_bytes=64_000, max_batch_events=50)
        with TestClient(app, raise_server_exceptions=False) as client:
            client.post("/api/v1/runs", json={"app": "fuzz", "run_id": "run-1"})
            client.put("/api/v1/sessions/s1", json={"state": "running"})
            yield client, app.openapi()


COUNTS = st.none() | st.integers(min_value=0, max_value=10**7)
PLAUSIBLE_EVENTS = st.fixed_dictionaries(
    {"event_id": st.text(min_size=1, max_size=40), "input_tokens": COUNTS},
    optional={
        "session_key": ODD_TEXT,
        "run_id": st.sampled_from(["run-1", "unknown-run"]),
        "timestamp": TIMESTAMPS,
        "source": st.sampled_from(["sdk", "claude_code", "my agent", ""]),
        "model": ODD_TEXT | st.sampled_from(["claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro"]),
        "provider": ODD_TEXT,
        "cache_read_tokens": COUNTS,
        "cache_write_tokens": COUNTS,
        "cache_write_1h_tokens": COUNTS,
        "output_tokens": COUNTS,
        "reasoning_tokens": COUNTS,
        "cost_usd": st.none() | st.floats(min_value=0, max_value=1e6),
        "project": ODD_TEXT,
    },
)
"""Events that are mostly valid, so the ledger's write path (pricing, rollups) is fuzzed too."""


def encode(value: Any) -> bytes:
    # the standard encoder: integers beyond 64 bits are part of the fuzz
    return json.dumps(value, allow_nan=False).encode()


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def from_schema(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A strategy for values the schema describes, sometimes bent just outside it."""
    schema = resolve(schema, spec)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, spec, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.text(max_size=10)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if depth > 3 or not properties:
            return st.dictionaries(st.text(max_size=8), JSON_LEAVES, max_size=3)
        fields = {name: from_schema(prop, spec, depth + 1) for name, prop in properties.items()}
        return st.fixed_dictionaries(
            {name: fields[name] for name in schema.get("required", [])},
            optional={
                **{name: s for name, s in fields.items() if name not in schema.get("required", [])},
                "unknown_field": JSON_LEAVES,
            },
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), spec, depth + 1), max_size=5)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        edges = [v for b in (low, high) if b is not None for v in (b - 1, b, b + 1)]
        return st.integers(min_value=-(10**13), max_value=10**13) | st.sampled_from(edges or [0])
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if schema.get("format") == "date-time":
            return TIMESTAMPS
        return ODD_TEXT
    return ANY_JSON


def mutate(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly schema-shaped values, sometimes any JSON at all."""
    return st.one_of(valid, valid, valid, ANY_JSON)


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, methods in sorted(spec["paths"].items())
        for method, op in sorted(methods.items())
    ]


@st.composite
def requests(draw: st.DrawFn, spec: dict[str, Any]) -> tuple[str, str, Any, dict[str, str]]:
    method, path, op = draw(st.sampled_from(operations(spec)))
    query: list[tuple[str, str]] = []
    for param in op.get("parameters", []):
        value = draw(st.one_of(from_schema(param.get("schema", {}), spec), ODD_TEXT))
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = item if isinstance(item, str) else encode(item).decode()
            if param["in"] == "path":
                path = path.replace("{" + param["name"] + "}", quote(text, safe="/") or "x")
            elif draw(st.booleans()):
                query.append((param["name"], text))
    if draw(st.booleans()):
        query.append((draw(st.text(min_size=1, max_size=8)), draw(ODD_TEXT)))
    path = re.sub(r"\{[^}]+\}", "x", path)
    body: Any = None
    headers: dict[str, str] = {}
    if "requestBody" in op:
        ref = op["requestBody"]["content"]["application/json"]["schema"]
        choice = draw(st.integers(min_value=0, max_value=5))
        if choice == 5:
            body = draw(st.binary(max_size=200))
            headers["Content-Type"] = draw(
                st.sampled_from(["application/json", "text/plain", "application/x-www-form"])
            )
        else:
            body = encode(draw(mutate(from_schema(ref, spec))))
            headers["Content-Type"] = "application/json"
    return (
        method.upper(),
        path
        + (
            "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
            if query
            else ""
        ),
        body,
        headers,
    )


def check_answer(response: Any, method: str, url: str) -> None:
    assert response.status_code < 500, (method, url, response.status_code, response.text)
    if url.startswith("/v1/"):
        check_otlp_answer(response)
    elif response.status_code < 400 and url.startswith("/api/v1/export/"):
        assert response.headers["content-type"].startswith("text/csv")
    elif response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    else:
        assert isinstance(response.json(), dict)


def check_otlp_answer(response: Any) -> None:
    """OTLP/HTTP answers are fixed by its specification: an ExportServiceResponse on
    success, a google.rpc.Status on failure, in the request's encoding."""
    if response.headers["content-type"].startswith("application/json"):
        answer = response.json()
        assert isinstance(answer, dict)
        if response.status_code >= 400:
            assert isinstance(answer["code"], int) and isinstance(answer["message"], str)
    else:
        assert response.headers["content-type"].startswith("application/x-protobuf")


def test_no_request_gets_a_5xx(api: tuple[TestClient, dict[str, Any]]) -> None:
    client, spec = api

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(spec))
    def fuzz(request: tuple[str, str, Any, dict[str, str]]) -> None:
        method, url, body, headers = request
        response = client.request(method, url, content=body, headers=headers)
        check_answer(response, method, url)

    fuzz()


def test_event_batches_never_get_a_5xx(api: tuple[TestClient, dict[str, Any]]) -> None:
    client, spec = api
    item = from_schema({"$ref": "#/components/schemas/EventIn"}, spec)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(items=st.lists(PLAUSIBLE_EVENTS | mutate(item), max_size=60))
    def fuzz(items: list[Any]) -> None:
        response = client.post(
            "/api/v1/events", content=encode({"events": items}), headers=JSON_HEADERS
        )
        check_answer(response, "POST", "/api/v1/events")
        if response.status_code == 200:
            results = response.json()["results"]
            assert len(results) == len(items)
            for result in results:
                assert result["status"] in ("created", "duplicate", "rejected")
                assert (result["error"] is None) == (result["status"] != "rejected")
        else:
            assert len(items) > 50 and response.status_code == 413

    fuzz()
    # whatever was recorded, every report over it still answers
    for path in ("summary", "daily", "weekly", "monthly", "runs", "sessions"):
        for tz in ("UTC", "Pacific/Kiritimati", "America/St_Johns"):
            report = client.get(f"/api/v1/{path}", params={"tz": tz, "breakdown": "true"})
            check_answer(report, "GET", path)
    for row in client.get("/api/v1/sessions", params={"limit": 20}).json()["rows"]:
        detail = client.get(f"/api/v1/sessions/{quote(row['session_key'], safe='/')}")
        check_answer(detail, "GET", "/api/v1/sessions/{key}")
