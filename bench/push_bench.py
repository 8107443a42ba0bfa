"""Push benchmark: a 1M-event local ledger pushed into a fresh PostgreSQL team ledger.

    python bench/push_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                               [--events 1000000] [--batch 10000] [--runs 5] [--keep]

1. Builds a local SQLite ledger of ``--events`` requests through the ledger's own API
   (``Ledger.record_batch`` in batches of 50,000: priced, merged, rolled up as a sync does):
   half a year of a team member's usage, 4 models, 3 agents, 30 projects, ~6,000 sessions.
2. Creates a fresh database on the server (through the maintenance database of ``--url``,
   default ``$TOKENTRAIL_TEST_POSTGRES_URL``), pushes the whole ledger into it and prints the
   throughput (requests/s), then a no-change push.
3. Times the ``daily`` report on PostgreSQL over those requests (best and median of
   ``--runs``, in the America/New_York zone so the day grouping crosses both DST changes),
   with ``--breakdown`` and ``monthly`` beside it, and the same reports on the local SQLite
   ledger; both must print identical JSON.

Targets (issue 5): push >= 20,000 requests/s, daily < 300 ms. Results are also written as
JSON to bench/out/. Exit status 2 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg

from tokentrail.ledger import Ledger
from tokentrail.periods import resolve_timezone
from tokentrail.push import push
from tokentrail.reports.periods import period_report
from tokentrail.reports.query import ReportQuery
from tokentrail.store.base import Store
from tokentrail.store.postgres import redact_url
from tokentrail.usage import Session, Tokens, UsageEvent

OUT_DIR = Path(__file__).resolve().parent / "out"
TARGET_PUSH_PER_S = 20_000
TARGET_DAILY_S = 0.3
BUILD_BATCH = 50_000
START = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = 182
MODELS = (
    ("claude_code", "claude-sonnet-4-5-20250929", "anthropic", 0.55),
    ("claude_code", "claude-opus-4-5", "anthropic", 0.15),
    ("codex", "gpt-5-codex", "openai", 0.2),
    ("gemini", "gemini-2.5-pro", "google", 0.1),
)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def generate(n: int, seed: int = 1) -> Any:
    """Batches of (events, sessions): sessions of 20-300 requests spread over half a year,
    working hours in a few zones, the odd unknown model and reported cost."""
    rng = random.Random(seed)
    projects = [f"/home/dev/code/project-{i:02d}" for i in range(30)]
    weights = [m[3] for m in MODELS]
    made = 0
    session_no = 0
    events: list[UsageEvent] = []
    sessions: list[Session] = []
    while made < n:
        session_no += 1
        source, model, provider, _ = rng.choices(MODELS, weights)[0]
        key = f"{source}:sess-{session_no:06d}"
        project = rng.choice(projects)
        began = START + timedelta(
            days=rng.randrange(DAYS), hours=rng.choice((1, 8, 9, 13, 14, 16, 22))
        )
        length = min(rng.randrange(20, 300), n - made)
        at = began
        for i in range(length):
            at += timedelta(seconds=rng.randrange(5, 120))
            cached = source != "gemini" or rng.random() < 0.5
            events.append(
                UsageEvent(
                    key=f"{key}:{i}",
                    source=source,
                    timestamp=at,
                    tokens=Tokens(
                        input=rng.randrange(1, 4000),
                        cache_read=rng.randrange(0, 150_000) if cached else None,
                        cache_write_5m=rng.randrange(0, 8000) if source == "claude_code" else None,
                        output=rng.randrange(1, 3000),
                        reasoning=rng.randrange(0, 800) if source == "codex" else None,
                    ),
                    model=model if rng.random() > 0.002 else "acme-internal-1",
                    provider=provider,
                    session_key=key,
                    project=project,
                    git_branch="main",
                    reported_cost_usd=round(rng.random() / 20, 6) if rng.random() < 0.05 else None,
                    raw_usage=b'{"input_tokens":%d}' % i,
                )
            )
        sessions.append(
            Session(key, source, project=project, started_at=began, ended_at=at, model=model)
        )
        made += length
        if len(events) >= BUILD_BATCH:
            yield events, sessions
            events, sessions = [], []
    if events:
        yield events, sessions


def timed(runs: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("TOKENTRAIL_TEST_POSTGRES_URL"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the ledger and database.")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url postgresql://... or set TOKENTRAIL_TEST_POSTGRES_URL")
    os.environ.setdefault("TOKENTRAIL_MACHINE", "bench-laptop")
    os.environ.setdefault("TOKENTRAIL_CONFIG", "/nonexistent/tokentrail-bench.toml")
    workdir = Path(tempfile.mkdtemp(prefix="tokentrail-push-bench-"))
    local_path = workdir / "local.db"
    dbname = f"tokentrail_push_bench_{uuid.uuid4().hex[:8]}"
    admin = with_database(args.url, "postgres")
    figures: dict[str, Any] = {
        "events": args.events,
        "batch": args.batch,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }

    print(f"building a local ledger of {args.events:,} requests in {local_path} ...", flush=True)
    started = time.perf_counter()
    with Ledger(local_path) as local:
        for events, sessions in generate(args.events):
            local.record_batch(events, sessions)
        build_s = time.perf_counter() - started
        status = local.store.status()
    figures["build_s"] = round(build_s, 2)
    figures["local_size_mb"] = round((status.size_bytes or 0) / 1e6, 1)
    print(
        f"  {status.events:,} requests, {status.sessions:,} sessions in {build_s:.1f} s "
        f"({status.events / build_s:,.0f}/s), {figures['local_size_mb']} MB"
    )

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
        server_version = conn.execute("SHOW server_version").fetchone()
    url = with_database(args.url, dbname)
    figures["server"] = server_version[0] if server_version else None
    print(f"pushing into {redact_url(url)} (PostgreSQL {figures['server']}) ...", flush=True)
    try:
        with Ledger(local_path) as local, Ledger(url) as team:
            started = time.perf_counter()
            summary = push(local, team.store, batch_size=args.batch)
            push_s = time.perf_counter() - started
            rate = summary.created / push_s
            figures.update(push_s=round(push_s, 2), push_per_s=round(rate), pushed=summary.created)
            print(
                f"  {summary.created:,} requests, {summary.sessions:,} sessions in {push_s:.1f} s:"
                f" {rate:,.0f} requests/s  (target >= {TARGET_PUSH_PER_S:,})"
            )
            started = time.perf_counter()
            again = push(local, team.store)
            figures["noop_push_s"] = round(time.perf_counter() - started, 3)
            print(
                f"  no-change push: {figures['noop_push_s'] * 1000:.0f} ms, {again.batches} batches"
            )
            assert team.store.status().events == status.events

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                (rollups,) = conn.execute("SELECT COUNT(*) FROM rollups").fetchone() or (0,)
            figures["rollup_rows"] = rollups
            reports = _reports(local.store, team.store, args.runs, figures)
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            for suffix in ("", "-wal", "-shm"):
                Path(f"{local_path}{suffix}").unlink(missing_ok=True)
            workdir.rmdir()
        else:
            print(f"kept {local_path} and database {dbname}")
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = OUT_DIR / f"push-bench-{stamp}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out}")
    missed = figures["push_per_s"] < TARGET_PUSH_PER_S or reports > TARGET_DAILY_S
    return 2 if args.strict and missed else 0


def _reports(local: Store, team: Store, runs: int, figures: dict[str, Any]) -> float:
    zone, name = resolve_timezone("America/New_York")
    plain = ReportQuery(zone=zone, zone_name=name)
    broken = ReportQuery(zone=zone, zone_name=name, breakdown=True)
    cases = (
        ("daily", "daily", plain),
        ("daily --breakdown", "daily", broken),
        ("monthly", "monthly", plain),
    )
    print(f"reports over {figures['pushed']:,} requests ({figures['rollup_rows']:,} rollup rows):")
    daily_best = 0.0
    for label, kind, query in cases:
        pg_best, pg_median, pg_report = timed(
            runs, lambda k=kind, q=query: period_report(team, k, q)
        )
        lite_best, _, lite_report = timed(runs, lambda k=kind, q=query: period_report(local, k, q))
        same = orjson.dumps(pg_report.as_dict()) == orjson.dumps(lite_report.as_dict())
        key = label.replace(" --", "_")
        figures[f"{key}_pg_best_ms"] = round(pg_best * 1000, 1)
        figures[f"{key}_pg_median_ms"] = round(pg_median * 1000, 1)
        figures[f"{key}_sqlite_best_ms"] = round(lite_best * 1000, 1)
        figures[f"{key}_identical"] = same
        if label == "daily":
            daily_best = pg_best
        print(
            f"  {label:<18} PostgreSQL best {pg_best * 1000:6.1f} ms, median "
            f"{pg_median * 1000:6.1f} ms | SQLite best {lite_best * 1000:6.1f} ms | "
            f"{len(pg_report.rows)} rows, identical JSON: {same}"
        )
    print(f"  target: daily on PostgreSQL < {TARGET_DAILY_S * 1000:.0f} ms")
    return daily_best


if __name__ == "__main__":
    sys.exit(main())
