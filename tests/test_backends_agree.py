"""The same data gives the same reports, to the byte, on SQLite and on PostgreSQL: recorded
directly into each backend, and pushed from a local SQLite ledger into a team ledger."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import pgtest
from tokentrail.ledger import Ledger
from tokentrail.periods import resolve_timezone
from tokentrail.push import push
from tokentrail.reports.periods import period_report, session_report
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import Summary, runs_report, summary_report
from tokentrail.reports.sessions import recent_sessions, session_detail
from tokentrail.store.base import Filters
from tokentrail.usage import Session, Tokens, UsageEvent

START = datetime(2025, 10, 20, tzinfo=UTC)  # spans both DST changes of 2025/26
MODELS = (
    ("claude_code", "claude-sonnet-4-5-20250929", "anthropic"),
    ("claude_code", "claude-opus-4-5", "anthropic"),
    ("claude_code", "claude-haiku-4-5", "anthropic"),
    ("codex", "gpt-5-codex", "openai"),
    ("gemini", "gemini-2.5-pro", "google"),
    ("opencode", "acme-coder-9000", "acme"),  # no known price
)
PROJECTS = ("/home/dev/webapp", "/home/dev/api", "/srv/build/infra", None)
MACHINES = ("laptop", "buildbox", "desk")


def dataset(seed: int = 5) -> list[tuple[list[UsageEvent], list[Session]]]:
    """Batches of events and sessions: streamed snapshots that grow, subagents, runs, nulls."""
    rng = random.Random(seed)
    batches: list[tuple[list[UsageEvent], list[Session]]] = []
    for b in range(12):
        events: list[UsageEvent] = []
        sessions: list[Session] = []
        for s in range(6):
            key = f"s{b}-{s}"
            source, model, provider = MODELS[rng.randrange(len(MODELS))]
            project = PROJECTS[rng.randrange(len(PROJECTS))]
            machine = MACHINES[rng.randrange(len(MACHINES))]
            began = START + timedelta(minutes=rng.randrange(0, 200 * 24 * 60))
            parent = f"s{b}-{s - 1}" if s and rng.random() < 0.3 else None
            sessions.append(
                Session(
                    key,
                    source,
                    parent_key=parent,
                    relationship="subagent" if parent else None,
                    project=project,
                    title=f"Task {b}.{s}",
                    started_at=began,
                    ended_at=began + timedelta(minutes=rng.randrange(1, 300)),
                    model=model,
                )
            )
            for r in range(rng.randrange(5, 40)):
                at = began + timedelta(seconds=rng.randrange(0, 6 * 3600))
                cache = rng.random() < 0.7
                events.append(
                    UsageEvent(
                        key=f"{source}:{key}:{r}",
                        source=source,
                        timestamp=at,
                        tokens=Tokens(
                            input=rng.randrange(0, 5000),
                            cache_read=rng.randrange(0, 200_000) if cache else None,
                            cache_write_5m=rng.randrange(0, 9000) if cache else None,
                            cache_write_1h=rng.randrange(0, 900) if rng.random() < 0.1 else None,
                            output=rng.randrange(1, 4000),
                            reasoning=rng.randrange(0, 500) if source == "codex" else None,
                        ),
                        model=model if rng.random() < 0.97 else None,
                        provider=provider,
                        session_key=key,
                        project=project,
                        reported_cost_usd=round(rng.random() / 50, 7)
                        if rng.random() < 0.2
                        else None,
                        run_id=f"run-{b % 3}" if rng.random() < 0.3 else None,
                        machine=machine,
                    )
                )
        # some replies were written again, bigger (streaming), in a later batch
        if batches:
            for old in rng.sample(batches[-1][0], 10):
                tokens = old.tokens
                grown = Tokens(
                    tokens.input,
                    tokens.cache_read,
                    tokens.cache_write_5m,
                    tokens.cache_write_1h,
                    (tokens.output or 0) + rng.randrange(1, 999),
                    tokens.reasoning,
                )
                events.append(old.evolve(tokens=grown, timestamp=old.timestamp + timedelta(1)))
        batches.append((events, sessions))
    return batches


def record(ledger: Ledger) -> None:
    for n, (events, sessions) in enumerate(dataset()):
        if n % 4 == 0:
            ledger.start_run("orch", run_id=f"run-{n // 4}", started_at=START + timedelta(n))
        ledger.record_batch(events, sessions)
    ledger.update_run("run-1", peak_concurrency=3, sessions_launched=7)


def query(tz: str, **kw: Any) -> ReportQuery:
    zone, name = resolve_timezone(tz)
    return ReportQuery(zone=zone, zone_name=name, **kw)


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("UTC", {}),
    ("America/New_York", {}),
    ("America/New_York", {"breakdown": True}),
    ("Asia/Kolkata", {"breakdown": True}),
    ("Asia/Kathmandu", {"sources": ("codex", "gemini")}),
    ("Australia/Lord_Howe", {}),  # a half-hour DST shift
    ("Europe/Berlin", {"project": "dev", "since": date(2025, 11, 1), "until": date(2026, 3, 31)}),
    ("Pacific/Chatham", {"breakdown_by": "machine"}),
    ("UTC", {"machines": ("laptop", "desk"), "breakdown_by": "machine"}),
    ("UTC", {"breakdown_by": "user"}),
]


def reports_of(ledger: Ledger) -> dict[str, Any]:
    """Every report, as the JSON the CLI and API print."""
    out: dict[str, Any] = {}
    store = ledger.store
    for n, (tz, kw) in enumerate(QUERIES):
        for kind in ("daily", "weekly", "monthly"):
            out[f"{kind}-{n}"] = period_report(store, kind, query(tz, **kw)).as_dict()
        if kw.get("breakdown_by") is None:
            out[f"session-{n}"] = session_report(store, query(tz, **kw)).as_dict()
    now = START + timedelta(days=30)
    summary: Summary = summary_report(store, query("Asia/Kolkata"), now=now)
    out["summary"] = summary.as_dict()
    out["runs"] = [r.as_dict() for r in runs_report(store)]
    out["recent"] = [r.as_dict() for r in recent_sessions(store, query("UTC"), limit=50)]
    detail = session_detail(store, "s3-1")
    out["detail"] = detail.as_dict() if detail else None
    out["unpriced"] = [repr(u) for u in store.unpriced_models(Filters())]
    return out


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pgtest.fresh_database() as url:
        yield url


def test_the_same_data_gives_identical_reports(tmp_path: Path, pg_url: str) -> None:
    with Ledger(tmp_path / "local.db") as local:
        record(local)
        expected = reports_of(local)
    with Ledger(pg_url) as team:
        record(team)
        got = reports_of(team)
    assert expected["daily-0"]["totals"]["requests"] > 1000
    assert expected["daily-0"]["unpriced_models"]  # the dataset has unpriced usage
    for name in expected:
        assert orjson.dumps(got[name]) == orjson.dumps(expected[name]), name


def test_a_pushed_ledger_reports_like_its_source(tmp_path: Path, pg_url: str) -> None:
    with Ledger(tmp_path / "local.db") as local:
        record(local)
        expected = reports_of(local)
        with Ledger(pg_url) as team:
            summary = push(local, team.store, batch_size=500)
            assert summary.created == local.store.status().events
            got = reports_of(team)
    for name in expected:
        assert orjson.dumps(got[name]) == orjson.dumps(expected[name]), name
