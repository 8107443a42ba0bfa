"""HTTP ingest benchmark: concurrent clients posting event batches to ``tokentrail serve``.

    python bench/ingest_bench.py [--clients 4] [--events 100000] [--batch-size 500]
                                 [--resend-every 10] [--max-seconds 120] [--strict]

Starts ``tokentrail serve`` as a subprocess on a free loopback port with a fresh temporary
ledger, starts one run (``POST /api/v1/runs``), then ``--clients`` threads post batches of
``--batch-size`` distinct events (``POST /api/v1/events``) until ``--events`` have been sent
(or ``--max-seconds`` passed). Every ``--resend-every``-th batch is deliberately sent a second
time, as a client retrying after a lost answer would. It prints:

* events/s: distinct events recorded per second of wall time (and requests/s);
* p50 / p99 / max request latency, in milliseconds;
* the check: the server answered ``created`` exactly once per distinct event and
  ``duplicate`` for every resent one, and ``GET /api/v1/summary`` counts exactly the distinct
  events sent (none lost, none doubled).

Only loopback traffic; bounded in count and time. Results are also written as JSON to
bench/out/. Exit status: 1 if an event was lost, doubled or refused, 2 with ``--strict`` if
a target (>= 5,000 events/s, p99 < 100 ms) was missed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
TARGET_EVENTS_PER_S = 5000.0
TARGET_P99_MS = 100.0
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "gpt-5", "gemini-2.5-pro")


@dataclass
class ClientStats:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    resent: int = 0
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Result:
    clients: int
    batch_size: int
    events: int
    resent_events: int
    requests: int
    seconds: float
    events_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    created: int
    duplicate: int
    rejected: int
    recorded: int
    server_cpu_seconds: float
    server_cpu_us_per_event: float
    ok: bool
    targets_met: bool
    machine: str = field(default_factory=platform.node)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 0)
    python: str = field(default_factory=platform.python_version)
    when: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(database: Path, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOKENTRAIL_CONFIG": str(workdir / "absent.toml"),
        "HOME": str(workdir),
    }
    env.pop("TOKENTRAIL_TOKEN", None)
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tokentrail", "serve", "-d", str(database), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base_url}/api/v1/capabilities", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s")


def make_batch(size: int, run_id: str, rng: random.Random) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    batch = []
    for _ in range(size):
        output = rng.randint(1, 4000)
        batch.append(
            {
                "event_id": uuid.uuid4().hex,
                "session_key": f"bench-session-{rng.randint(1, 50)}",
                "run_id": run_id,
                "timestamp": (now - timedelta(seconds=rng.randint(0, 30 * 86400))).isoformat(),
                "model": rng.choice(MODELS),
                "input_tokens": rng.randint(0, 5000),
                "cache_read_tokens": rng.randint(0, 100_000),
                "cache_write_tokens": rng.randint(0, 10_000),
                "output_tokens": output,
                "reasoning_tokens": rng.randint(0, output),
            }
        )
    return batch


def client_loop(
    base_url: str,
    run_id: str,
    batches: int,
    batch_size: int,
    resend_every: int,
    max_seconds: float,
    seed: int,
    stats: ClientStats,
    ready: threading.Barrier,
) -> None:
    rng = random.Random(seed)
    # the batches are made before the clock starts: the figures are the server's
    bodies = []
    for _ in range(batches):
        batch = make_batch(batch_size, run_id, rng)
        bodies.append((len(batch), json.dumps({"events": batch}).encode()))
    ready.wait()
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for number, (size, body) in enumerate(bodies, start=1):
            if time.monotonic() > deadline:
                break
            sends = 2 if resend_every and number % resend_every == 0 else 1
            for attempt in range(sends):
                started = time.perf_counter()
                try:
                    response = http.post(
                        "/api/v1/events",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                except httpx.TransportError as exc:
                    stats.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                stats.latencies_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    stats.failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                for item in response.json()["results"]:
                    if item["status"] == "created":
                        stats.created += 1
                    elif item["status"] == "duplicate":
                        stats.duplicate += 1
                    else:
                        stats.rejected += 1
                if attempt == 0:
                    stats.sent += size
                else:
                    stats.resent += size


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(args: argparse.Namespace) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="tokentrail-ingest-bench-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(workdir / "ledger.db", port, workdir)
    try:
        wait_until_up(base_url, server)
        run_id = httpx.post(f"{base_url}/api/v1/runs", json={"app": "ingest-bench"}).json()[
            "run_id"
        ]
        total_batches = max(1, args.events // args.batch_size)
        per_client = [total_batches // args.clients] * args.clients
        for i in range(total_batches % args.clients):
            per_client[i] += 1
        stats = [ClientStats() for _ in range(args.clients)]
        ready = threading.Barrier(args.clients + 1)
        threads = [
            threading.Thread(
                target=client_loop,
                args=(
                    base_url,
                    run_id,
                    per_client[i],
                    args.batch_size,
                    args.resend_every,
                    args.max_seconds,
                    args.seed + i,
                    stats[i],
                    ready,
                ),
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        ready.wait()
        cpu_before = process_cpu_seconds(server.pid)
        started = time.perf_counter()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        server_cpu = process_cpu_seconds(server.pid) - cpu_before
        summary = httpx.get(f"{base_url}/api/v1/summary", timeout=30).json()
        recorded = summary["lifetime"]["requests"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            workdir.rmdir()
        else:
            print(f"kept {workdir}")
    latencies = [ms for s in stats for ms in s.latencies_ms]
    sent = sum(s.sent for s in stats)
    resent = sum(s.resent for s in stats)
    created = sum(s.created for s in stats)
    duplicate = sum(s.duplicate for s in stats)
    rejected = sum(s.rejected for s in stats)
    failures = [f for s in stats for f in s.failures]
    for failure in failures[:5]:
        print(f"request failed: {failure}", file=sys.stderr)
    ok = (
        not failures
        and rejected == 0
        and created == sent
        and duplicate == resent
        and recorded == sent
    )
    events_per_s = sent / seconds if seconds else 0.0
    p99 = percentile(latencies, 0.99)
    return Result(
        clients=args.clients,
        batch_size=args.batch_size,
        events=sent,
        resent_events=resent,
        requests=len(latencies),
        seconds=round(seconds, 3),
        events_per_s=round(events_per_s, 1),
        requests_per_s=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=round(percentile(latencies, 0.50), 2),
        p99_ms=round(p99, 2),
        max_ms=round(max(latencies, default=float("nan")), 2),
        created=created,
        duplicate=duplicate,
        rejected=rejected,
        recorded=recorded,
        server_cpu_seconds=round(server_cpu, 2),
        server_cpu_us_per_event=round(server_cpu / (sent + resent) * 1e6, 1) if sent else 0.0,
        ok=ok,
        targets_met=events_per_s >= TARGET_EVENTS_PER_S and p99 < TARGET_P99_MS,
    )


def report(result: Result) -> None:
    mark = "ok" if result.ok else "MISMATCH"
    print(
        f"clients {result.clients}, batches of {result.batch_size}: {result.events:,} events "
        f"(+{result.resent_events:,} resent) in {result.requests:,} requests, "
        f"{result.seconds:.2f} s"
    )
    print(
        f"throughput  {result.events_per_s:,.0f} events/s  ({result.requests_per_s:,.1f} "
        f"requests/s)   target >= {TARGET_EVENTS_PER_S:,.0f}"
    )
    print(
        f"latency     p50 {result.p50_ms:.1f} ms   p99 {result.p99_ms:.1f} ms   "
        f"max {result.max_ms:.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms"
    )
    print(
        f"server CPU  {result.server_cpu_seconds:.2f} s "
        f"({result.server_cpu_seconds / result.seconds:.0%} of one core), "
        f"{result.server_cpu_us_per_event:.0f} us per event posted"
    )
    print(
        f"check       created {result.created:,}, duplicate {result.duplicate:,} (resent "
        f"{result.resent_events:,}), rejected {result.rejected:,}; summary counts "
        f"{result.recorded:,} of {result.events:,} sent: {mark}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--events", type=int, default=100_000, help="distinct events to send")
    parser.add_argument("--batch-size", type=int, default=100, help="events per request")
    parser.add_argument(
        "--resend-every", type=int, default=10, help="resend every Nth batch (0: never)"
    )
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary ledger")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    args = parser.parse_args()
    if args.clients < 1 or args.batch_size < 1 or args.events < 1:
        parser.error("--clients, --batch-size and --events must be positive")
    result = run(args)
    report(result)
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT_DIR / f"ingest-bench-{stamp}.json").write_text(json.dumps(asdict(result), indent=2))
    if not result.ok:
        return 1
    if args.strict and not result.targets_met:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
