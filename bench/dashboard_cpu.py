"""The dashboard pages' server time, in process: each page's handler called directly (no HTTP,
no browser), timed by the CPU time of the calling thread, which other work on the machine
distorts far less than wall time. Best (and median) of ``--runs`` after one warm-up call.

    python bench/dashboard_cpu.py LEDGER [--runs 7] [--page all] [--profile all]

LEDGER is a ledger file (e.g. bench/out/dashboard-1000000.db, built by dashboard_bench.py).
``--profile PAGE`` prints the top of a cProfile of one more call of that page instead.
Run it with two checkouts' interpreters on the same ledger copy, alternately, to compare them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote

PAGES = {
    "overview": ("/", ""),
    "all": ("/", "range=all"),
    "session": ("/sessions/{key}", ""),
    "sessions": ("/sessions", ""),
}


def _request(app: Any, path: str, query: str) -> Any:
    from starlette.requests import Request

    scope = {
        "type": "http",
        "app": app,
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1")],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "path_params": {},
    }
    return Request(scope)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--page", action="append", choices=sorted(PAGES))
    parser.add_argument("--profile", choices=sorted(PAGES))
    args = parser.parse_args()

    from tokentrail.config import Config
    from tokentrail.ledger import Ledger
    from tokentrail.server import dashboard
    from tokentrail.server.app import create_app

    ledger = Ledger(args.ledger, config=Config())
    app = create_app(ledger, token=None)
    app.state.ledger = ledger
    with ledger.reading() as store:
        from tokentrail.reports.query import ReportQuery
        from tokentrail.reports.sessions import top_sessions

        top = top_sessions(store, ReportQuery(UTC, "UTC"), by="tokens", limit=1)
        key = top.rows[0].session.key if top.rows else ""

    def call(page: str) -> int:
        path, query = PAGES[page]
        if page == "session":
            request = _request(app, path.format(key=quote(key, safe="")), query)
            return len(dashboard.session_page(request, key).body)
        if page == "sessions":
            return len(dashboard.sessions_page(_request(app, path, query)).body)
        return len(dashboard.overview_page(_request(app, path, query)).body)

    if args.profile:
        call(args.profile)
        profiler = cProfile.Profile(time.thread_time)
        profiler.runcall(call, args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        return 0
    for page in args.page or sorted(PAGES):
        size = call(page)  # warm: the session index and the caches filled
        times = []
        for _ in range(args.runs):
            t = time.thread_time()
            call(page)
            times.append((time.thread_time() - t) * 1000)
        print(
            f"{page:10} best {min(times):7.1f} ms  median {statistics.median(times):7.1f} ms"
            f"  ({size:,} bytes)",
            flush=True,
        )
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
