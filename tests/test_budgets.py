"""Budgets (tokentrail.budgets): periods in non-UTC zones and across DST changes, spend, burn
rate, projection and its range, levels, unpriced usage, the config file's [[budgets]], the
``tokentrail budget`` command and its ``--check`` exit codes, the webhook (posted to a real
local HTTP server), the API route and the overview's budget card.

Ledgers are real SQLite files (and PostgreSQL where noted) written through
``Ledger.record_events``, priced by the real pricer.
"""

from __future__ import annotations

import http.server
import math
import statistics
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner

import pgtest
from tokentrail.budgets import HISTORY_DAYS, budget_report, level, notify, redact_webhook
from tokentrail.cli import cli
from tokentrail.config import Budget, Config, load_config, parse_config
from tokentrail.errors import ConfigError
from tokentrail.ledger import Ledger
from tokentrail.periods import period_bounds_ms
from tokentrail.store.base import Filters
from tokentrail.usage import Tokens, UsageEvent

SONNET = "claude-sonnet-4-5-20250929"
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def event(
    key: str,
    at: datetime,
    *,
    output: int = 10_000,
    source: str = "claude_code",
    model: str = SONNET,
    project: str = "/home/dev/code/webapp",
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source=source,
        timestamp=at,
        model=model,
        provider="anthropic" if model == SONNET else None,
        tokens=Tokens(input=2_000, cache_read=50_000, cache_write_5m=0, output=output),
        session_key=f"session-{key}",
        project=project,
    )


def cost_of(ledger: Ledger, **filters: Any) -> float:
    return ledger.store.totals(Filters(**filters)).cost_micro / 1_000_000


def report_at(ledger: Ledger, budgets: list[Budget], now: datetime, zone: str = "UTC") -> Any:
    return budget_report(ledger.store, budgets, ZoneInfo(zone), zone, now=now)


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    with Ledger(db_path) as opened:
        yield opened


# -- periods -------------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_week_and_month_bounds_in_berlin_across_the_spring_dst_change() -> None:
    # Berlin moves from +01:00 to +02:00 on Sunday 2026-03-29 at 02:00 local
    now = _ms(datetime(2026, 3, 29, 12, tzinfo=UTC))
    start, end = period_bounds_ms(now, BERLIN, "week")
    assert start == _ms(datetime(2026, 3, 22, 23, tzinfo=UTC))  # Monday 00:00 +01:00
    assert end == _ms(datetime(2026, 3, 29, 22, tzinfo=UTC))  # next Monday 00:00 +02:00
    assert (end - start) / 3_600_000 == 167
    start, end = period_bounds_ms(now, BERLIN, "month")
    assert start == _ms(datetime(2026, 2, 28, 23, tzinfo=UTC))
    assert end == _ms(datetime(2026, 3, 31, 22, tzinfo=UTC))
    start, end = period_bounds_ms(now, BERLIN, "day")
    assert (end - start) / 3_600_000 == 23


def test_a_day_in_a_half_hour_zone_and_the_autumn_change_in_new_york() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    start, end = period_bounds_ms(_ms(datetime(2026, 5, 4, 18, 40, tzinfo=UTC)), kolkata, "day")
    assert start == _ms(datetime(2026, 5, 4, 18, 30, tzinfo=UTC))  # 5 May 00:00 +05:30
    assert end - start == 86_400_000
    new_york = ZoneInfo("America/New_York")
    start, end = period_bounds_ms(_ms(datetime(2026, 11, 1, 12, tzinfo=UTC)), new_york, "day")
    assert (end - start) / 3_600_000 == 25


def test_spend_of_a_week_and_a_month_in_berlin_counts_local_days_across_dst(
    ledger: Ledger,
) -> None:
    ledger.record_events(
        [
            event("sunday-late", datetime(2026, 3, 22, 22, 30, tzinfo=UTC)),  # Sun 23:30 local
            event("monday-early", datetime(2026, 3, 22, 23, 30, tzinfo=UTC)),  # Mon 00:30 local
            event("dst-sunday", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # Sun 03:30 CEST
            event("march-first", datetime(2026, 2, 28, 23, 30, tzinfo=UTC)),  # 1 Mar 00:30
            event("april-first", datetime(2026, 3, 31, 22, 30, tzinfo=UTC)),  # 1 Apr 00:30
        ]
    )
    one = cost_of(ledger) / 5
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)
    week = Budget("week", "week", 100.0)
    month = Budget("month", "month", 100.0)
    result = report_at(ledger, [week, month], now, "Europe/Berlin")
    w, m = result.rows
    assert w.label == "2026-W13"
    assert w.requests == 2 and w.spent_usd == pytest.approx(2 * one)
    assert w.start.isoformat() == "2026-03-23T00:00:00+01:00"
    assert w.end.isoformat() == "2026-03-30T00:00:00+02:00"
    assert w.elapsed_hours == 157 and w.remaining_hours == 10
    assert m.label == "2026-03"
    assert m.requests == 4  # 1 April (local) is next month, though still 31 March in UTC
    assert m.as_dict()["start"] == "2026-03-01T00:00:00+01:00"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_both_backends_give_the_same_budget(kind: str, tmp_path: Path) -> None:
    def build(location: str) -> dict[str, Any]:
        with Ledger(location) as ledger:
            base = datetime(2026, 3, 20, 9, tzinfo=UTC)
            ledger.record_events(
                [event(f"e{i}", base + timedelta(hours=7 * i), output=1_000 * i) for i in range(30)]
            )
            now = datetime(2026, 3, 29, 12, tzinfo=UTC)
            data = report_at(ledger, [Budget("w", "week", 5.0)], now, "Europe/Berlin").as_dict()
            data.pop("at")
            return data

    expected = build(str(tmp_path / "ledger.db"))
    if kind == "postgres":
        with pgtest.fresh_database() as url:
            assert build(url) == expected
    else:
        assert expected["rows"][0]["requests"] > 0


# -- figures -------------------------------------------------------------------------------


def test_no_data_at_all(ledger: Ledger) -> None:
    now = datetime(2026, 5, 4, 9, tzinfo=UTC)
    row = report_at(ledger, [Budget("m", "month", 50.0)], now).rows[0]
    assert row.spent_usd == 0 and row.requests == 0 and row.complete
    assert row.burn_usd_per_hour == 0 and row.projected_usd == 0
    assert row.projected_low_usd is None and row.projected_high_usd is None
    assert row.history_days == 0 and row.runs_out_at is None
    assert row.status == "ok" and row.projected_status == "ok"


def test_a_budget_with_no_spend_in_its_scope(ledger: Ledger) -> None:
    now = datetime(2026, 5, 4, 9, tzinfo=UTC)
    ledger.record_events(
        [event(f"c{i}", now - timedelta(days=i, hours=1), source="codex") for i in range(20)]
    )
    quiet = Budget("claude", "day", 1.0, source="claude_code")
    other_project = Budget("p", "week", 1.0, project="/srv/elsewhere")
    rows = report_at(ledger, [quiet, other_project], now).rows
    for row in rows:
        assert row.spent_usd == 0 and row.requests == 0 and row.status == "ok"
        assert row.history_days == 0  # no usage ever in this scope: no history, not 0s


def test_one_request_in_the_first_hour_of_a_month(ledger: Ledger) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    ledger.record_events([event("first", start + timedelta(minutes=5))])
    spent = cost_of(ledger)
    now = start + timedelta(minutes=20)
    row = report_at(ledger, [Budget("m", "month", 1000.0)], now).rows[0]
    assert row.requests == 1 and row.spent_usd == pytest.approx(spent)
    assert row.elapsed_hours == pytest.approx(1 / 3)
    # the rate divides by at least an hour: one request is not read as three an hour
    assert row.burn_usd_per_hour == pytest.approx(spent)
    assert row.burn_usd_per_day == pytest.approx(24 * spent)
    remaining = 31 * 24 - 1 / 3
    assert row.projected_usd == pytest.approx(spent + spent * remaining)
    assert row.history_days == 0 and row.projected_low_usd is None


def test_exactly_at_the_start_of_a_period(ledger: Ledger) -> None:
    start = datetime(2026, 5, 4, tzinfo=UTC)
    ledger.record_events([event("yesterday", start - HOUR)])
    row = report_at(ledger, [Budget("d", "day", 1.0)], start).rows[0]
    assert row.elapsed_hours == 0 and row.remaining_hours == 24
    assert row.spent_usd == 0 and row.projected_usd == 0 and row.runs_out_at is None
    assert row.history_days == 1  # yesterday only: too little for a range
    assert row.projected_low_usd is None


def test_burn_rate_projection_range_and_run_out(ledger: Ledger) -> None:
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    today = datetime(2026, 5, 20, tzinfo=UTC)
    events = []
    for back in range(1, 25):  # 24 past days, 1 to 4 requests each
        for i in range(1 + back % 4):
            events.append(event(f"d{back}-{i}", today - timedelta(days=back) + (i + 9) * HOUR))
    events += [event(f"today-{i}", today + (i + 1) * HOUR) for i in range(6)]
    ledger.record_events(events)
    per_request = cost_of(ledger) / len(events)
    history = [(1 + back % 4) * per_request for back in range(HISTORY_DAYS, 0, -1)]
    spread = statistics.stdev(history)

    month_so_far = cost_of(ledger, since_ms=_ms(datetime(2026, 5, 1, tzinfo=UTC)))
    budget = Budget("m", "month", month_so_far * 1.5)
    row = report_at(ledger, [budget], now).rows[0]
    elapsed = 19 * 24 + 12
    remaining = 31 * 24 - elapsed
    assert row.spent_usd == pytest.approx(month_so_far)
    assert row.burn_usd_per_hour == pytest.approx(month_so_far / elapsed)
    assert row.projected_usd == pytest.approx(month_so_far * (1 + remaining / elapsed))
    assert row.history_days == HISTORY_DAYS
    assert row.daily_spread_usd == pytest.approx(spread)
    half = spread * math.sqrt(remaining / 24)
    assert row.projected_low_usd == pytest.approx(row.projected_usd - half)
    assert row.projected_high_usd == pytest.approx(row.projected_usd + half)
    hours_left = (budget.amount - month_so_far) / row.burn_usd_per_hour
    assert row.runs_out_at is not None
    assert row.runs_out_at == pytest.approx(now + timedelta(hours=hours_left), abs=HOUR / 1000)
    assert row.status == "ok" and row.projected_status == "hard"


def test_the_range_never_goes_below_what_is_spent(ledger: Ledger) -> None:
    today = datetime(2026, 5, 20, tzinfo=UTC)
    ledger.record_events(
        [event(f"d{d}", today - timedelta(days=d) + 10 * HOUR, output=d * 40_000) for d in (1, 3)]
        + [event("now", today + HOUR)]
    )
    row = report_at(ledger, [Budget("d", "day", 100.0)], today + 23 * HOUR).rows[0]
    assert row.projected_low_usd == row.spent_usd
    assert row.projected_high_usd is not None and row.projected_high_usd > row.projected_usd


def test_quiet_days_after_the_first_day_of_the_window_count_as_zero(ledger: Ledger) -> None:
    today = datetime(2026, 5, 20, tzinfo=UTC)
    ledger.record_events(
        [event("long-ago", today - timedelta(days=40))]
        + [event(f"d{d}", today - timedelta(days=d) + 9 * HOUR) for d in (10, 2)]
    )
    row = report_at(ledger, [Budget("w", "week", 100.0)], today + 12 * HOUR).rows[0]
    assert row.history_days == 10  # days -10 to -1: two with spend, eight at $0
    one = cost_of(ledger) / 3
    assert row.daily_spread_usd == pytest.approx(statistics.stdev([one] + [0.0] * 7 + [one, 0.0]))


def test_soft_and_hard_levels(ledger: Ledger) -> None:
    now = datetime(2026, 5, 4, 15, tzinfo=UTC)
    ledger.record_events([event(f"e{i}", now - i * HOUR) for i in range(5)])
    spent = cost_of(ledger)
    budgets = [
        Budget("ok", "day", spent * 2),
        Budget("soft", "day", spent / 0.9),
        Budget("at-soft", "day", spent / 0.5, soft=0.5),
        Budget("hard", "day", spent),
        Budget("over", "day", spent / 2),
    ]
    result = report_at(ledger, budgets, now)
    assert [r.status for r in result.rows] == ["ok", "soft", "soft", "hard", "hard"]
    assert result.status == "hard"
    assert result.rows[3].runs_out_at is None  # already reached
    assert level(Budget("x", "day", 10.0), 7.999999) == "ok"
    assert level(Budget("x", "day", 10.0), 8.0) == "soft"


def test_unpriced_usage_is_named_not_counted_as_zero(ledger: Ledger) -> None:
    now = datetime(2026, 5, 4, 15, tzinfo=UTC)
    ledger.record_events(
        [
            event("priced", now - HOUR),
            event("mystery-1", now - 2 * HOUR, model="mystery-model-9", source="opencode"),
            event("mystery-2", now - 3 * HOUR, model="mystery-model-9", source="opencode"),
        ]
    )
    row = report_at(ledger, [Budget("d", "day", 10.0)], now).rows[0]
    assert not row.complete and row.unpriced_requests == 2 and row.requests == 3
    assert row.spent_usd == pytest.approx(cost_of(ledger, sources=("claude_code",)))
    assert [m.model for m in row.unpriced_models] == ["mystery-model-9"]
    data = row.as_dict()
    assert data["complete"] is False
    assert data["unpriced_models"][0]["requests"] == 2
    assert "2 requests have no price (mystery-model-9)" in row.message()
    assert "at least $" in row.message()


# -- configuration ---------------------------------------------------------------------------


def test_budgets_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[[budgets]]
period = "month"
amount = 200

[[budgets]]
name = "agent"
period = "day"
amount = 12.5
soft = 0.5
source = "claude_code"
project = "/home/dev/code/webapp/"
webhook = "https://hooks.example.com/T000/B000/secret"

[[budgets]]
period = "week"
amount = 40.0
project = "/home/dev/code/api"
"""
    )
    config = load_config(path)
    monthly, agent, weekly = config.budgets
    assert monthly == Budget("monthly", "month", 200.0)
    assert agent.soft_amount == 6.25 and agent.source == "claude_code"
    assert agent.project == "/home/dev/code/webapp"
    assert agent.webhook == "https://hooks.example.com/T000/B000/secret"
    assert weekly.name == "weekly api"


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        ({"period": "month"}, "'amount' (USD per month, e.g. amount = 200.0) is required"),
        ({"amount": 5}, "'period' is missing; it must be one of day, week, month"),
        ({"period": "year", "amount": 5}, "'period' is 'year'; it must be one of day, week"),
        ({"period": "day", "amount": 0}, "'amount' must be more than 0 USD"),
        ({"period": "day", "amount": True}, "'amount' must be a number"),
        ({"period": "day", "amount": "10"}, "'amount' must be a number"),
        ({"period": "day", "amount": 5, "soft": 1.5}, "'soft' is the warning level"),
        ({"period": "day", "amount": 5, "soft": 0}, "more than 0 and at most 1"),
        ({"period": "day", "amount": 5, "limit": 3}, "unknown key(s) 'limit'"),
        ({"period": "day", "amount": 5, "project": ""}, "'project' must be a non-empty string"),
        ({"period": "day", "amount": 5, "webhook": "hooks.example.com"}, "http:// or https://"),
    ],
)
def test_config_errors_name_the_budget_and_the_fix(
    budgets: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"budgets": [budgets]}, tmp_path / "config.toml")
    assert message in str(caught.value)
    assert "[[budgets]] #1" in str(caught.value)


def test_config_errors_of_the_budgets_array(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match=r"'budgets' must be an array of tables"):
        parse_config({"budgets": {"period": "day"}}, path)
    with pytest.raises(ConfigError, match=r"#2: the name 'daily' is already used by budget #1"):
        parse_config(
            {"budgets": [{"period": "day", "amount": 1}, {"period": "day", "amount": 2}]}, path
        )


# -- the command -------------------------------------------------------------------------------

NOW = "2026-05-04T15:00:00+00:00"


def write_config(path: Path, *budgets: str) -> None:
    path.write_text("\n".join(f"[[budgets]]\n{b}\n" for b in budgets))


@pytest.fixture
def spent(tmp_path: Path, db_path: Path) -> float:
    """A ledger with five requests on 2026-05-04 (UTC); returns what they cost."""
    now = datetime.fromisoformat(NOW)
    with Ledger(db_path) as ledger:
        ledger.record_events([event(f"e{i}", now - i * HOUR) for i in range(5)])
        return cost_of(ledger)


def run(db_path: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["budget", "-d", str(db_path), "--no-sync", "--at", NOW, "--tz", "UTC", *args]
    )


def test_check_exit_codes(tmp_path: Path, db_path: Path, spent: float) -> None:
    config = tmp_path / "config.toml"
    write_config(config, f'period = "day"\namount = {spent * 2}')
    assert run(db_path, "--check").exit_code == 0
    write_config(
        config, f'period = "day"\namount = {spent * 2}', f'period = "week"\namount = {spent / 0.9}'
    )
    result = run(db_path, "--check")
    assert result.exit_code == 1
    assert "budget 'weekly' (2026-W19) is past its soft level" in result.stderr
    write_config(config, f'period = "month"\namount = {spent / 2}')
    result = run(db_path, "--check")
    assert result.exit_code == 2
    assert "past its hard level" in result.stderr
    assert run(db_path).exit_code == 0  # without --check: a report, whatever the levels


def test_errors_exit_4_so_they_never_read_as_a_level(
    tmp_path: Path, db_path: Path, spent: float
) -> None:
    write_config(tmp_path / "config.toml", 'period = "day"\namount = 1')
    for args in (["--check", "--tz", "Nowhere/Else"], ["--webhook", "http://x/"], ["--nope"]):
        result = run(db_path, *args)
        assert result.exit_code == 4, (args, result.output)
        assert "Traceback" not in result.output
    write_config(tmp_path / "config.toml", 'period = "fortnight"\namount = 1')
    result = run(db_path, "--check")
    assert result.exit_code == 4 and "'period' is 'fortnight'" in result.stderr


def test_json_and_csv_follow_the_reports_shape(tmp_path: Path, db_path: Path, spent: float) -> None:
    write_config(tmp_path / "config.toml", f'period = "day"\namount = {spent * 4}\nsoft = 0.2')
    data = orjson.loads(run(db_path, "--json").stdout)
    assert set(data) == {"rows", "status", "timezone", "at", "history_days"}
    (row,) = data["rows"]
    assert row["name"] == "daily" and row["label"] == "2026-05-04"
    assert row["spent_usd"] == pytest.approx(spent) and row["status"] == "soft"
    assert data["status"] == "soft" and data["at"] == "2026-05-04T15:00:00+00:00"
    csv_text = run(db_path, "--csv").stdout
    header, line = csv_text.splitlines()
    assert header.startswith("name,period,label,start,end")
    assert line.startswith("daily,day,2026-05-04,")


def test_the_table_and_no_budgets(tmp_path: Path, db_path: Path, spent: float) -> None:
    result = run(db_path)
    assert result.exit_code == 0
    assert "No budgets configured" in result.stdout and "[[budgets]]" in result.stdout
    assert orjson.loads(run(db_path, "--json").stdout)["rows"] == []
    assert run(db_path, "--check").exit_code == 0
    write_config(tmp_path / "config.toml", f'period = "day"\namount = {spent / 2}')
    table = run(db_path).stdout
    assert "daily" in table and "2026-05-04" in table and "hard" in table


# -- webhooks -------------------------------------------------------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]]
    answer = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, orjson.loads(body)))
        self.send_response(self.answer)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhooks_post_budgets_past_a_level(
    tmp_path: Path, db_path: Path, spent: float, hook_server: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook_server
    write_config(
        tmp_path / "config.toml",
        f'name = "team"\nperiod = "day"\namount = {spent / 2}\nwebhook = "{url}/own/secret"',
        f'period = "week"\namount = {spent / 0.9}',
        f'period = "month"\namount = {spent * 10}',
    )
    result = run(db_path, "--check")
    assert result.exit_code == 2, result.output
    # only the budget with its own webhook posts; the one under its soft level never does
    assert [(path, body["budget"]["name"]) for path, body in handler.received] == [
        ("/own/secret", "team")
    ]
    body = handler.received[0][1]
    assert body["event"] == "tokentrail.budget" and body["status"] == "hard"
    assert body["text"].startswith("tokentrail: budget 'team' (2026-05-04) is past its hard")
    assert body["budget"]["spent_usd"] == pytest.approx(spent)

    handler.received.clear()
    result = run(db_path, "--check", "--webhook", f"{url}/cli")
    assert result.exit_code == 2
    assert sorted((p, b["budget"]["name"], b["status"]) for p, b in handler.received) == [
        ("/cli", "team", "hard"),
        ("/cli", "weekly", "soft"),
    ]


def test_a_failed_webhook_exits_3_without_a_traceback(
    tmp_path: Path, db_path: Path, spent: float, hook_server: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook_server
    handler.answer = 500
    write_config(tmp_path / "config.toml", f'period = "day"\namount = {spent / 2}')
    result = run(db_path, "--check", "--webhook", f"{url}/token-abc")
    assert result.exit_code == 3
    assert "the webhook to http://127.0.0.1:" in result.stderr
    assert "answered 500" in result.stderr
    assert "token-abc" not in result.stderr  # a webhook's path is often its secret
    assert "Traceback" not in result.output
    assert handler.received  # it was tried

    refused = _closed_port()
    result = run(db_path, "--check", "--webhook", f"http://127.0.0.1:{refused}/secret-path")
    assert result.exit_code == 3
    assert "ConnectError" in result.stderr and "secret-path" not in result.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_notify_reports_each_delivery(ledger: Ledger, hook_server: tuple[str, type[_Hook]]) -> None:
    url, _ = hook_server
    now = datetime(2026, 5, 4, 15, tzinfo=UTC)
    ledger.record_events([event("e", now - HOUR)])
    result = report_at(ledger, [Budget("a", "day", 0.000001, webhook=url + "/a")], now)
    (delivery,) = notify(result)
    assert delivery.ok and delivery.budget == "a" and delivery.target == redact_webhook(url)
    assert redact_webhook("https://hooks.example.com/services/T/B/X?k=1") == (
        "https://hooks.example.com/…"
    )


# -- API and dashboard --------------------------------------------------------------------------


def test_api_budget_route_and_capabilities(db_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tokentrail.server.app import create_app

    now = datetime.now(UTC)
    config = Config(budgets=(Budget("monthly", "month", 100.0), Budget("d", "day", 1e-6)))
    with Ledger(db_path, config=config) as ledger:
        ledger.record_events([event("now", now - timedelta(minutes=1))])
        client = TestClient(create_app(ledger, token=None))
        response = client.get("/api/v1/budget", params={"tz": "UTC"})
        assert response.status_code == 200
        data = response.json()
        assert [r["name"] for r in data["rows"]] == ["monthly", "d"]
        assert data["rows"][1]["status"] == "hard" and data["status"] == "hard"
        assert client.get("/api/v1/budget", params={"tz": "Mars/Base"}).status_code == 422
        assert "budget" in client.get("/api/v1/capabilities").json()["features"]
    with Ledger(db_path, config=Config()) as ledger:
        client = TestClient(create_app(ledger, token=None))
        assert client.get("/api/v1/budget").json()["rows"] == []


def test_overview_shows_budgets_only_when_configured(db_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tokentrail.server.app import create_app

    now = datetime.now(UTC)
    with Ledger(db_path, config=Config()) as ledger:
        ledger.record_events([event("now", now - timedelta(minutes=1))])
        page = TestClient(create_app(ledger, token=None)).get("/").text
        assert 'id="budgets"' not in page
    xss = "<b>team</b>"
    config = Config(budgets=(Budget(xss, "month", 100.0),))
    with Ledger(db_path, config=config) as ledger:
        page = TestClient(create_app(ledger, token=None)).get("/").text
        assert 'id="budgets"' in page and xss not in page and "&lt;b&gt;team" in page


def test_the_readme_and_docs_budget_examples_parse(tmp_path: Path) -> None:
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    found = 0
    for doc in (root / "README.md", root / "docs" / "insights.md"):
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S):
            if "[[budgets]]" in block:
                config = parse_config(tomllib.loads(block), tmp_path / "config.toml")
                assert config.budgets
                found += 1
    assert found == 2


def test_a_budget_past_its_amount_says_since_when_and_by_how_much(
    tmp_path: Path, db_path: Path, spent: float
) -> None:
    write_config(tmp_path / "config.toml", f'name = "team"\nperiod = "month"\namount = {spent / 2}')
    table = " ".join(run(db_path).stdout.split())
    over = f"${spent - spent / 2:,.2f}"
    assert f"past since 2026-05-04, {over} over" in table
    assert "Runs out —" not in table and "hard" in table
    check = run(db_path, "--check")
    assert check.exit_code == 2
    assert f"; {over} over since 2026-05-04" in check.stderr
    (row,) = orjson.loads(run(db_path, "--json").stdout)["rows"]
    assert row["reached_on"] == "2026-05-04" and row["runs_out_at"] is None


def test_a_month_without_spend_yet_says_so_not_that_history_is_missing(
    tmp_path: Path, db_path: Path
) -> None:
    with Ledger(db_path) as ledger:  # spend in March and April, none in May
        ledger.record_events(
            [event(f"old{i}", datetime(2026, 3, 2 + i, 12, tzinfo=UTC)) for i in range(20)]
        )
    write_config(tmp_path / "config.toml", 'period = "month"\namount = 100')
    result = run(db_path)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "monthly: no spend this month yet ($0 so far), so nothing to project from" in text
    assert "2 days of history" not in text
    (row,) = orjson.loads(run(db_path, "--json").stdout)["rows"]
    assert (row["spent_usd"], row["reached_on"], row["status"]) == (0.0, None, "ok")
