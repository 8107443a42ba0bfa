"""OTLP ingest benchmark: concurrent exporters posting log batches to ``tokentrail serve``.

    python bench/otlp_bench.py [--clients 4] [--records 40000] [--batch-size 200]
                               [--encoding protobuf|json] [--no-gzip] [--max-seconds 120]
                               [--strict]

Starts ``tokentrail serve --otlp-port P`` as a subprocess on free loopback ports with a fresh
temporary ledger, then ``--clients`` threads post ``ExportLogsServiceRequest`` batches of
``--batch-size`` Claude Code ``api_request`` records (string-typed counts, as Claude Code
sends them; gzip-compressed protobuf by default, as the OpenTelemetry SDKs send them) to
``http://127.0.0.1:P/v1/logs`` until ``--records`` have been sent (or ``--max-seconds``
passed). Every 10th batch is sent twice, as an exporter retrying would. It prints records/s
(distinct records recorded per second of wall time), request latency percentiles, and checks
that the ledger counts exactly the distinct records sent.

Only loopback traffic; bounded in count and time. Results are also written as JSON to
bench/out/. Exit status: 1 if a record was lost, doubled or refused; 2 with ``--strict`` if the
target (>= 5,000 records/s) was missed; else 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TARGET_RECORDS_PER_S = 5_000
OUT = Path(__file__).parent / "out"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kv(key: str, value: str | int) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, int):
        any_value.int_value = value
    else:
        any_value.string_value = value
    return KeyValue(key=key, value=any_value)


def build_batch(client: int, batch: int, size: int, encoding: str, gzipped: bool) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(
        [_kv("service.name", "claude-code"), _kv("service.version", "2.1.112")]
    )
    records = resource_logs.scope_logs.add().log_records
    base = int(time.time() * 1e9) - 3_600_000_000_000
    for index in range(size):
        n = (client * 1_000_000) + batch * size + index
        record = records.add()
        record.time_unix_nano = base + n * 1_000_000
        record.body.string_value = "claude_code.api_request"
        record.attributes.extend(
            [
                _kv("session.id", f"bench-session-{client}-{batch // 10}"),
                _kv("event.name", "api_request"),
                _kv("event.sequence", n),
                _kv("model", "claude-sonnet-4-5-20250929"),
                _kv("input_tokens", str(10 + n % 50)),
                _kv("output_tokens", str(100 + n % 900)),
                _kv("cache_read_tokens", str(20_000 + n % 5000)),
                _kv("cache_creation_tokens", str(n % 700)),
                _kv("cost_usd", "0.0123"),
                _kv("duration_ms", "845"),
                _kv("request_id", f"req_bench_{n:012d}"),
                _kv("speed", "normal"),
                _kv("user.email", "bench@example.com"),
                _kv("terminal.type", "tmux"),
            ]
        )
    body = (
        json_format.MessageToJson(request, indent=None).encode()
        if encoding == "json"
        else request.SerializeToString()
    )
    return gzip.compress(body, compresslevel=6) if gzipped else body


def _wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"tokentrail serve exited with {process.returncode}")
        try:
            httpx.post(url, content=b"", headers={"content-type": "application/x-protobuf"})
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("tokentrail serve did not start in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--encoding", choices=("protobuf", "json"), default="protobuf")
    parser.add_argument("--no-gzip", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    gzipped = not args.no_gzip
    batches_per_client = max(1, args.records // (args.clients * args.batch_size))

    with tempfile.TemporaryDirectory(prefix="otlp-bench-") as tmp:
        db = Path(tmp) / "ledger.db"
        api_port, otlp_port = _free_port(), _free_port()
        env = {**os.environ, "TOKENTRAIL_CONFIG": str(Path(tmp) / "absent.toml")}
        env.pop("TOKENTRAIL_TOKEN", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tokentrail",
                "serve",
                "-d",
                str(db),
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--otlp-port",
                str(otlp_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{otlp_port}/v1/logs"
        try:
            _wait_until_up(url, process, time.monotonic() + 30)
            bodies = [
                [
                    build_batch(c, b, args.batch_size, args.encoding, gzipped)
                    for b in range(batches_per_client)
                ]
                for c in range(args.clients)
            ]
            headers = {
                "content-type": "application/json"
                if args.encoding == "json"
                else "application/x-protobuf"
            }
            if gzipped:
                headers["content-encoding"] = "gzip"
            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()
            deadline = time.monotonic() + args.max_seconds
            sent = [0] * args.clients

            def client(index: int) -> None:
                with httpx.Client(timeout=60) as http:
                    for number, body in enumerate(bodies[index]):
                        if time.monotonic() > deadline:
                            return
                        for attempt in range(2 if number % 10 == 9 else 1):
                            started = time.perf_counter()
                            response = http.post(url, content=body, headers=headers)
                            elapsed = time.perf_counter() - started
                            with lock:
                                latencies.append(elapsed)
                                if response.status_code != 200:
                                    failures.append(f"{response.status_code} {response.text[:200]}")
                                elif args.encoding == "protobuf":
                                    parsed = ExportLogsServiceResponse.FromString(response.content)
                                    if parsed.partial_success.rejected_log_records:
                                        failures.append(parsed.partial_success.error_message)
                            if attempt == 0:
                                sent[index] += args.batch_size

            started = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            summary = httpx.get(f"http://127.0.0.1:{api_port}/api/v1/summary").json()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    distinct = sum(sent)
    recorded = int(summary["lifetime"]["requests"])
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    rate = distinct / wall if wall else 0.0
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "clients": args.clients,
        "batch_size": args.batch_size,
        "encoding": args.encoding + (" gzip" if gzipped else ""),
        "records_sent": distinct,
        "requests": len(latencies),
        "wall_seconds": round(wall, 3),
        "records_per_s": round(rate),
        "latency_ms": {
            "p50": round(pct(0.5), 1),
            "p99": round(pct(0.99), 1),
            "max": round(latencies[-1] * 1000, 1),
        },
        "ledger_requests": recorded,
        "failures": failures[:5],
    }
    print(
        f"OTLP logs ingest: {distinct:,} records in {wall:.2f} s = {rate:,.0f} records/s "
        f"({args.clients} clients, {args.batch_size} records/batch, {result['encoding']})"
    )
    print(
        f"latency p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms, "
        f"max {result['latency_ms']['max']} ms over {len(latencies)} requests"
    )
    ok = recorded == distinct and not failures
    print(
        f"check: ledger counts {recorded:,} requests for {distinct:,} distinct records sent "
        f"(every 10th batch resent): {'OK' if ok else 'MISMATCH'}"
    )
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"otlp-bench-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    if not ok:
        return 1
    if args.strict and rate < TARGET_RECORDS_PER_S:
        print(f"target missed: {rate:,.0f} < {TARGET_RECORDS_PER_S:,} records/s")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
