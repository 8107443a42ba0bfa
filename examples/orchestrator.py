"""An example orchestrator that records its agents' usage in tokentrail.

It runs several fake agent sessions at once (one per "issue"), each a few turns long; a turn
first tries a primary model, which sometimes fails and is replaced by a fallback attempt on
another model — the failed attempt's usage must leave nothing behind. Usage is recorded either
straight into a ledger with the Python SDK (``--database``) or through a tokentrail server's
HTTP API (``--url``).

    python examples/orchestrator.py --database /tmp/ledger.db --boot 1
    python examples/orchestrator.py --url http://127.0.0.1:8787 --boot 2

Every request it has been told is recorded is appended to ``--log`` (one event id a line,
flushed), so a test can kill it at any moment and check that nothing acknowledged was lost.
The tests in ``tests/test_examples.py`` do exactly that.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PRIMARY = "claude-opus-4-1"
FALLBACK = "claude-sonnet-4-5"


class PrimaryModelFailed(Exception):
    """The primary model gave up (overloaded, timed out): the turn falls back."""


def tokens_for(event_id: str) -> dict[str, int]:
    """Deterministic usage per event id, so a test can recompute every expected total."""
    seed = sum(event_id.encode())
    return {
        "input_tokens": 100 + seed % 400,
        "cache_read_tokens": 5_000 + seed % 7_000,
        "cache_write_tokens": seed % 900,
        "output_tokens": 50 + seed % 250,
    }


class AckLog:
    """Appends acknowledged event ids to a file, one line each, flushed to the OS at once."""

    def __init__(self, path: Path | None) -> None:
        self._handle = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, event_ids: list[str]) -> None:
        if self._handle is None:
            return
        with self._lock:
            self._handle.write("".join(f"{e}\n" for e in event_ids))
            self._handle.flush()
            os.fsync(self._handle.fileno())


def run_agent_turns(
    issue: str,
    turns: int,
    rng: random.Random,
    attempt: Callable[[str, str, list[tuple[str, dict[str, Any]]]], None],
    pause: float,
) -> None:
    """One fake agent: each turn tries the primary model, falling back when it fails."""
    for turn in range(turns):
        for number, model in enumerate((PRIMARY, FALLBACK)):
            ids = [f"{issue}-t{turn}-a{number}-r{n}" for n in range(rng.randint(1, 3))]
            requests = [(event_id, tokens_for(event_id)) for event_id in ids]
            try:
                fails = number == 0 and rng.random() < 0.35
                attempt(model, "fail" if fails else "ok", requests)
                break
            except PrimaryModelFailed:
                continue
        time.sleep(pause)


def with_sdk(args: argparse.Namespace, log: AckLog) -> None:
    from tokentrail import Ledger

    with Ledger(args.database) as ledger, ledger.run(app=args.app, reason=args.reason) as run:

        def agent(index: int) -> None:
            issue = f"boot{args.boot}-issue{index}"
            rng = random.Random(f"{args.seed}-{issue}")
            with run.session(
                issue, issue_id=str(index), identifier=f"ENG-{index}", model=FALLBACK
            ) as session:

                def attempt(model: str, outcome: str, requests: list[tuple[str, Any]]) -> None:
                    with session.attempt() as block:
                        for event_id, tokens in requests:
                            block.record(event_id=event_id, model=model, **tokens)
                        if outcome == "fail":
                            raise PrimaryModelFailed(model)
                    log.write([event_id for event_id, _ in requests])

                run_agent_turns(issue, args.turns, rng, attempt, args.pause)
                session.finish(state="completed", turns=args.turns)

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(agent, range(args.sessions)))


def with_http(args: argparse.Namespace, log: AckLog) -> None:
    from tokentrail.client import Client

    peak = active = launched = 0
    counter = threading.Lock()
    with Client(args.url, token=args.token) as client:
        run_id = client.start_run(args.app, reason=args.reason)["run_id"]

        def agent(index: int) -> None:
            nonlocal peak, active, launched
            issue = f"boot{args.boot}-issue{index}"
            rng = random.Random(f"{args.seed}-{issue}")
            with counter:
                active += 1
                launched += 1
                peak = max(peak, active)
                figures = {"peak_concurrency": peak, "sessions_launched": launched}
            client.update_run(run_id, **figures)
            client.put_session(
                issue,
                run_id=run_id,
                issue_id=str(index),
                identifier=f"ENG-{index}",
                model=FALLBACK,
                state="running",
                started_at=_now(),
            )

            def attempt(model: str, outcome: str, requests: list[tuple[str, Any]]) -> None:
                # an attempt's usage is only sent once the attempt succeeded
                if outcome == "fail":
                    raise PrimaryModelFailed(model)
                batch = [
                    {
                        "event_id": event_id,
                        "session_key": issue,
                        "run_id": run_id,
                        "model": model,
                        "timestamp": _now(),
                        **tokens,
                    }
                    for event_id, tokens in requests
                ]
                results = client.record(batch)
                log.write([r["event_id"] for r in results if r["status"] != "rejected"])

            run_agent_turns(issue, args.turns, rng, attempt, args.pause)
            client.put_session(issue, state="completed", turns=args.turns, completed_at=_now())
            with counter:
                active -= 1

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(agent, range(args.sessions)))
        client.update_run(run_id, state="stopped", stopped_at=_now())


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--database", help="record with the Python SDK into this ledger")
    where.add_argument("--url", help="record through this tokentrail server")
    parser.add_argument("--token", default=os.environ.get("TOKENTRAIL_TOKEN"))
    parser.add_argument("--app", default="example-orchestrator")
    parser.add_argument("--reason", default=None)
    parser.add_argument("--boot", type=int, default=1, help="which boot this is (names issues)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between turns")
    parser.add_argument("--seed", default="tokentrail")
    parser.add_argument("--log", type=Path, help="append acknowledged event ids here")
    args = parser.parse_args()
    log = AckLog(args.log)
    if args.database:
        with_sdk(args, log)
    else:
        with_http(args, log)
    print(f"boot {args.boot} done ({uuid.uuid4().hex[:6]})")


if __name__ == "__main__":
    main()
