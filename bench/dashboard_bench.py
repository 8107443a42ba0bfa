"""Dashboard benchmark: the overview's API calls and its time to interactive on a ledger of
about a million requests.

    python bench/dashboard_bench.py [--events 1000000] [--rebuild] [--runs 7] [--strict]

Builds (once; kept as bench/out/dashboard-<N>.db, git-ignored) a ledger of ``--events``
requests through the ledger API in big batches: a year of usage by four agents and the SDK,
nine models (one without a price), thirty projects, thousands of sessions with subagents, and
orchestrator runs. Then serves it with a real uvicorn server on a free loopback port and:

* times each of the overview's API calls (``--runs`` times each; median and worst), target
  < 100 ms each;
* times the overview page itself (server-rendered HTML);
* opens the overview in headless Chromium (/usr/bin/chromium) and measures the time to
  interactive: navigation start to the charts drawn and the page answering input, target
  < 1.5 s (cold: first visit; warm: a reload with the assets cached);
* measures the time to charts drawn (navigation start to app.js's ``charts-drawn`` mark),
  warm, of the overview (default range and "All") and the largest session's page, targets
  500 ms, 500 ms and 600 ms.

Prints the figures and writes them as JSON to bench/out/. Exit status 2 with ``--strict`` when
a target is missed. Only loopback traffic.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
TARGET_API_MS = 100.0
TARGET_TTI_S = 1.5
TARGET_CHARTS_MS = {"overview": 500.0, "overview, All": 500.0, "session page": 600.0}
"""Time to charts drawn (warm: the assets cached), from navigation start (issue 15)."""
CHROMIUM = Path("/usr/bin/chromium")

SOURCES = (("claude_code", 0.55), ("codex", 0.2), ("gemini", 0.1), ("opencode", 0.05), ("sdk", 0.1))
MODELS = {
    "claude_code": ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5"),
    "codex": ("gpt-5-codex", "gpt-5"),
    "gemini": ("gemini-2.5-pro", "gemini-2.5-flash"),
    "opencode": ("acme-coder-9000",),  # no known price: unpriced usage
    "sdk": ("claude-sonnet-4-5-20250929", "gpt-5"),
}
VERBS = ("fix", "add", "refactor", "test")
PROJECTS = [
    f"/home/dev/code/{name}"
    for name in (
        "webapp",
        "api",
        "infra",
        "mobile",
        "docs",
        "billing",
        "search",
        "auth",
        "etl",
        "ml",
        "cli",
        "sdk",
        "admin",
        "gateway",
        "notifier",
        "reports",
        "scheduler",
        "cache",
        "ui-kit",
        "design",
        "payments",
        "ledger",
        "crawler",
        "parser",
        "bot",
        "android",
        "ios",
        "desktop",
        "firmware",
        "website",
    )
]


def build(path: Path, events: int, seed: int = 7) -> None:
    """A year of usage through :meth:`Ledger.record_batch`, in batches of 50,000 events."""
    from tokentrail.config import Config
    from tokentrail.ledger import Ledger
    from tokentrail.usage import Session, Tokens, UsageEvent

    rng = random.Random(seed)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=365)
    per_session = 120
    sessions_total = max(1, events // per_session)
    started = time.perf_counter()
    with Ledger(path, config=Config()) as ledger:
        runs = [
            ledger.start_run(
                "orchestrator", run_id=f"run-{i}", started_at=start + timedelta(days=7 * i)
            )
            for i in range(52)
        ]
        for run in runs[:-1]:
            ledger.update_run(
                run.run_id, state="stopped", stopped_at=run.started_at + timedelta(days=6)
            )
        batch_events: list[UsageEvent] = []
        batch_sessions: list[Session] = []
        written = 0
        names = [s for s, _ in SOURCES]
        weights = [w for _, w in SOURCES]
        for n in range(sessions_total):
            source = rng.choices(names, weights)[0]
            project = rng.choice(PROJECTS)
            # more usage lately: a growing habit
            at = start + timedelta(seconds=int(365 * 86400 * (rng.random() ** 0.7)))
            at = min(at, end - timedelta(hours=6))
            key = f"{source}-{n:07d}"
            parent = (
                f"{source}-{n - 1:07d}"
                if n and source == "claude_code" and rng.random() < 0.15
                else None
            )
            run_id = runs[min(51, (at - start).days // 7)].run_id if source == "sdk" else None
            count = max(1, int(rng.expovariate(1 / per_session)))
            count = (
                min(count, events - written - len(batch_events))
                if n == sessions_total - 1
                else count
            )
            model_choices = MODELS[source]
            minutes = 0.0
            for i in range(count):
                minutes += rng.expovariate(1 / 1.5)
                model = model_choices[0] if rng.random() < 0.7 else rng.choice(model_choices)
                cached = rng.randrange(0, 60_000)
                batch_events.append(
                    UsageEvent(
                        key=f"{key}:{i}",
                        source=source,
                        timestamp=at + timedelta(minutes=minutes),
                        tokens=Tokens(
                            input=rng.randrange(10, 4000),
                            cache_read=cached,
                            cache_write_5m=rng.randrange(0, 3000) if i % 5 == 0 else 0,
                            cache_write_1h=0,
                            output=rng.randrange(20, 4000),
                            reasoning=None,
                        ),
                        model=model,
                        session_key=key,
                        project=project,
                        run_id=run_id,
                    )
                )
            batch_sessions.append(
                Session(
                    key=key,
                    source=source,
                    parent_key=parent,
                    relationship="subagent" if parent else None,
                    project=project,
                    title=f"Task {n}: {rng.choice(VERBS)} {project.rsplit('/', 1)[1]}",
                    started_at=at,
                    ended_at=at + timedelta(minutes=minutes + 1),
                    model=model_choices[0],
                    run_id=run_id,
                    state="completed" if source == "sdk" else None,
                )
            )
            if len(batch_events) >= 50_000 or n == sessions_total - 1:
                ledger.record_batch(batch_events, batch_sessions)
                written += len(batch_events)
                batch_events, batch_sessions = [], []
                rate = written / (time.perf_counter() - started)
                print(f"\r  built {written:,} events ({rate:,.0f}/s)", end="", file=sys.stderr)
            if written >= events:
                break
    print(file=sys.stderr)


def serve(path: Path) -> tuple[Any, threading.Thread, str, Any]:
    import uvicorn

    from tokentrail.config import Config
    from tokentrail.ledger import Ledger
    from tokentrail.server import dashboard, read_api
    from tokentrail.server.app import create_app

    ledger = Ledger(path, config=Config())
    app = create_app(ledger, token=None)
    if not any(getattr(r, "path", None) == "/api/v1/overview" for r in app.routes):
        app.state.ledger = ledger
        app.include_router(read_api.router)
        app.include_router(dashboard.router)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}", ledger


OVERVIEW_CALLS = (
    # what the overview shows, each as the API serves it (30 days: the page's default range)
    ("summary (lifetime, today, current run)", "/api/v1/summary"),
    ("daily cost by model", "/api/v1/daily-cost-by-model?range=30d"),
    ("daily report, per model (CLI contract)", "/api/v1/daily?breakdown=true&since={since}"),
    ("token timeline", "/api/v1/timeline?range=30d"),
    ("heatmap (365 days)", "/api/v1/heatmap"),
    ("top sessions", "/api/v1/top-sessions?range=30d"),
    ("recent 20 sessions", "/api/v1/session-list?range=30d&limit=20"),
    ("spend by model", "/api/v1/models?range=30d"),
    ("spend by source", "/api/v1/sources?range=30d"),
    ("spend by project", "/api/v1/projects?range=30d&limit=12"),
    ("runs", "/api/v1/runs"),
    ("active 5-hour block (its card)", "/api/v1/blocks?active=true"),
    ("change marker (polled)", "/api/v1/version"),
)
WHOLE = (
    ("overview, all of it as JSON", "/api/v1/overview"),
    ("overview page (HTML)", "/"),
    ("sessions page (HTML)", "/sessions"),
)


def time_calls(base: str, calls: Any, runs: int) -> list[dict[str, Any]]:
    results = []
    since = (datetime.now().astimezone().date() - timedelta(days=29)).isoformat()
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, template in calls:
            path = template.format(since=since)
            client.get(path).raise_for_status()  # warm up
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            results.append(
                {
                    "call": label,
                    "path": path,
                    "median_ms": statistics.median(times),
                    "max_ms": max(times),
                }
            )
    return results


def time_to_interactive(base: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for run in ("cold", "warm"):
            t = time.perf_counter()
            if run == "cold":
                page.goto(base + "/")
            else:
                page.reload()
            page.wait_for_selector("body[data-charts-ready='3']", state="attached", timeout=30_000)
            # the page answers input: a click on the heatmap's metric switch redraws it
            page.click("#heatmap-metric a[data-metric=tokens]")
            page.wait_for_selector("#heatmap-metric a.active[data-metric=tokens]")
            figures[f"{run}_s"] = time.perf_counter() - t
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return {html: n.responseEnd, interactive: n.domInteractive}; }"
            )
            figures[f"{run}_html_ms"] = timing["html"]
            figures[f"{run}_dom_interactive_ms"] = timing["interactive"]
            if run == "cold":  # back to the default view for the warm run
                page.goto(base + "/")
                page.wait_for_selector("body[data-charts-ready]", state="attached")
        browser.close()
    return figures


CHARTS_DRAWN = "() => performance.getEntriesByName('charts-drawn')[0]?.startTime ?? null"


def time_to_charts(base: str, runs: int) -> list[dict[str, Any]]:
    """Navigation start to the charts drawn (app.js marks ``charts-drawn``), warm: each page
    is loaded once to cache its assets, then ``runs`` times; median and worst."""
    from playwright.sync_api import sync_playwright

    top = httpx.get(f"{base}/api/v1/top-sessions", params={"by": "tokens", "limit": 1}).json()
    key = top["rows"][0]["session_key"] if top["rows"] else None
    pages = [("overview", "/"), ("overview, All", "/?range=all")]
    if key:
        pages.append(("session page", f"/sessions/{quote(key, safe='')}"))
    results: list[dict[str, Any]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, path in pages:
            times: list[float] = []
            for run in range(runs + 1):
                page.goto(base + path)
                page.wait_for_function(CHARTS_DRAWN, timeout=30_000)
                if run:  # the first load fills the cache
                    times.append(float(page.evaluate(CHARTS_DRAWN)))
            results.append(
                {
                    "page": name,
                    "median_ms": statistics.median(times),
                    "max_ms": max(times),
                    "target_ms": TARGET_CHARTS_MS[name],
                }
            )
        browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"dashboard-{args.events}.db"
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"Building a ledger of {args.events:,} events at {path} …", file=sys.stderr)
        t = time.perf_counter()
        build(path, args.events)
        print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    server, thread, base, ledger = serve(path)
    try:
        with ledger.reading() as store:
            status = store.status()
        calls = time_calls(base, OVERVIEW_CALLS, args.runs)
        pages = time_calls(base, WHOLE, args.runs)
        tti = time_to_interactive(base) if CHROMIUM.exists() else {}
        drawn = time_to_charts(base, args.runs) if CHROMIUM.exists() else []
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ledger.close()
    print(
        f"\nLedger: {status.events:,} events, {status.sessions:,} sessions, "
        f"{(status.size_bytes or 0) / 2**20:,.0f} MiB ({platform.python_implementation()} "
        f"{platform.python_version()}, SQLite)\n"
    )
    print(f"{'overview API call':44} {'median':>9} {'worst':>9}")
    slow = []
    for row in calls:
        flag = "" if row["median_ms"] < TARGET_API_MS else "  > target"
        if flag:
            slow.append(row["call"])
        print(f"{row['call']:44} {row['median_ms']:8.1f}ms {row['max_ms']:8.1f}ms{flag}")
    print()
    for row in pages:
        print(f"{row['call']:44} {row['median_ms']:8.1f}ms {row['max_ms']:8.1f}ms")
    if tti:
        print(
            f"\nTime to interactive in headless Chromium (charts drawn, input answered): "
            f"cold {tti['cold_s']:.2f} s, warm {tti['warm_s']:.2f} s "
            f"(HTML received at {tti['cold_html_ms']:.0f} ms, DOM interactive at "
            f"{tti['cold_dom_interactive_ms']:.0f} ms)"
        )
    else:
        print(f"\nTime to interactive: skipped ({CHROMIUM} is missing)")
    if drawn:
        print(f"\n{'time to charts drawn, warm':44} {'median':>9} {'worst':>9} {'target':>9}")
    for row in drawn:
        flag = "" if row["median_ms"] <= row["target_ms"] else "  > target"
        if flag:
            slow.append(row["page"])
        print(
            f"{row['page']:44} {row['median_ms']:8.0f}ms {row['max_ms']:8.0f}ms "
            f"{row['target_ms']:8.0f}ms{flag}"
        )
    missed = bool(slow) or (tti and tti["cold_s"] >= TARGET_TTI_S)
    print(
        f"\nTargets: each call < {TARGET_API_MS:.0f} ms, interactive < {TARGET_TTI_S} s: "
        + ("missed" if missed else "met")
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT_DIR / f"dashboard-bench-{stamp}.json").write_text(
        json.dumps(
            {
                "events": status.events,
                "sessions": status.sessions,
                "calls": calls,
                "pages": pages,
                "time_to_interactive": tti,
                "time_to_charts_drawn": drawn,
            },
            indent=2,
        )
    )
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
