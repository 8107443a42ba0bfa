"""The dashboard's pages (tokentrail.server.dashboard), rendered by the app: content, filters
kept in the URL, placeholders for missing data, escaping of user content, assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dashboard_data import SONNET, UNKNOWN_MODEL, XSS, Built, build_ledger, dashboard_app
from tokentrail.ledger import Ledger
from tokentrail.server.dashboard import (
    format_duration,
    format_share,
    format_tokens,
    format_usd,
    short_path,
)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Ledger]]:
    from conftest import _AGENT_VARIABLES

    root = tmp_path_factory.mktemp("dashboard")
    home = root / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in _AGENT_VARIABLES:
            mp.delenv(name, raising=False)
        mp.setenv("HOME", str(home))
        mp.setenv("TOKENTRAIL_CONFIG", str(root / "config.toml"))
        mp.setenv("TOKENTRAIL_MACHINE", "test-machine")
        mp.setenv("TZ", "UTC")
        built = build_ledger(home, root / "ledger.db")
        with Ledger(root / "ledger.db") as ledger:
            yield built, ledger


@pytest.fixture(scope="module")
def client(realistic: tuple[Built, Ledger]) -> TestClient:
    return TestClient(dashboard_app(realistic[1]))


def text_of(html: str) -> str:
    """The page's visible text, roughly (tags dropped, entities decoded)."""
    no_data = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", no_data)))


def titles_of(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'class="na[^"]*" title="([^"]*)"', html)]


def test_pages_render_with_their_content(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    overview = client.get("/")
    assert overview.status_code == 200
    text = text_of(overview.text)
    for heading in (
        "Lifetime totals",
        "Last 30 days",
        "This month",
        "Today",
        "Daily cost by model",
        "Token timeline",
        "Activity",
        "Top sessions",
        "Spend by model",
        "Spend by agent",
        "Spend by project",
        "Recent sessions",
    ):
        assert heading in text, heading
    assert "This run orchestrator" in text  # the run still going: "this run / all time"
    assert 'id="chart-data"' in overview.text

    sessions = client.get("/sessions", params={"range": "all"})
    assert "8 sessions" in text_of(sessions.text)
    detail = client.get(f"/sessions/{built.opus_session}")
    detail_text = text_of(detail.text)
    assert "Subagents and forks" in detail_text and "Rolled-up total" in detail_text
    assert "claude-opus-4-1-20250805" in detail_text
    runs = client.get("/runs")
    assert "orchestrator" in text_of(runs.text) and "nightly" in text_of(runs.text)


def test_pages_send_security_headers_and_own_assets_only(client: TestClient) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(unescape(asset)).status_code == 200, asset
    for path in ("vendor/echarts/LICENSE", "vendor/echarts/NOTICE", "vendor/README.md"):
        assert client.get(f"/static/{path}").status_code == 200


def test_user_content_is_escaped(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    for url in ("/", "/sessions?range=all", f"/sessions/{built.xss_session}"):
        html = client.get(url).text
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        # the embedded chart data cannot close its <script> element either
        for blob in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
            assert "<" not in blob


def test_filters_are_kept_in_every_link(client: TestClient) -> None:
    page = client.get("/", params={"source": "codex", "tz": "Asia/Tokyo", "range": "90d"})
    html = page.text
    for path in ("/", "/sessions", "/runs"):
        assert f'href="{path}?range=90d&amp;tz=Asia%2FTokyo&amp;source=codex"' in html
    assert '<option value="codex" selected>' in html
    assert re.search(r'class="chip active" href="\?[^"]*range=90d', html)
    assert "Last 90 days" in text_of(html)
    assert "Times in Asia/Tokyo" in text_of(html)


def test_a_filter_changes_the_numbers(client: TestClient) -> None:
    everything = text_of(client.get("/sessions", params={"range": "all"}).text)
    codex = text_of(client.get("/sessions", params={"range": "all", "source": "codex"}).text)
    assert "8 sessions" in everything and "1 session " in codex
    sonnet = client.get("/api/v1/overview", params={"model": SONNET}).json()
    whole = client.get("/api/v1/overview").json()
    assert 0 < sonnet["selected"]["requests"] < whole["selected"]["requests"]


def test_a_bad_filter_is_reported_on_the_page(client: TestClient) -> None:
    page = client.get("/", params={"since": "last tuesday", "source": "codex"})
    assert page.status_code == 200
    assert "Filter not applied" in page.text and "since" in page.text
    assert '<option value="codex" selected>' in page.text  # the good filters still apply
    assert client.get("/sessions", params={"tz": "Nowhere/Special"}).status_code == 200


def test_missing_data_shows_a_placeholder_with_its_reason(
    client: TestClient, realistic: Any
) -> None:
    built: Built = realistic[0]
    html = client.get("/sessions", params={"range": "all"}).text
    reasons = titles_of(html)
    assert "No usage has been recorded here yet" in reasons  # the idle session's cost
    assert any("No end time recorded" in r for r in reasons)  # its runtime
    assert any(UNKNOWN_MODEL in r and "could be priced" in r for r in reasons)
    assert re.search(r'class="na unpriced"[^>]*>unpriced<', html)
    detail = client.get(f"/sessions/{built.sdk_session}").text
    assert any("cache write" in r for r in titles_of(detail))  # the SDK reported none
    assert ">not reported<" in detail
    overview = client.get("/").text
    assert 'id="unpriced-note"' in overview and UNKNOWN_MODEL in text_of(overview)


def test_sessions_sort_page_and_search(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    page = client.get("/sessions", params={"range": "all", "sort": "cost", "per": 25}).text
    keys = re.findall(r'<a class="session-link" href="/sessions/([^"?]+)', page)
    assert keys[0] == built.opus_session
    assert 'aria-sort="descending"' in page
    # the header link flips the order and keeps the filters
    assert "?range=all&amp;per=25&amp;sort=cost&amp;order=asc" in page
    small = client.get("/sessions", params={"range": "all", "per": 25, "page": 2}).text
    assert "Page 1 of 1" in small  # past the end: the last page
    found = text_of(client.get("/sessions", params={"range": "all", "q": "export"}).text)
    assert "1 session " in found and "Implement the export command" in found


def test_unknown_session_is_a_404_page(client: TestClient) -> None:
    page = client.get("/sessions/no-such-session")
    assert page.status_code == 404 and "No such session" in page.text


def test_runs_page_filters_by_start(client: TestClient) -> None:
    assert "nightly" in client.get("/runs").text
    old = client.get("/runs", params={"since": "2020-01-01", "until": "2020-01-31"}).text
    assert "nightly" not in old and "1 older or newer not shown" in text_of(old)


def test_number_formats() -> None:
    assert [format_usd(v) for v in (0, 0.004217, 0.00001, 0.42, 12.345, 1234.5, None)] == [
        "$0.00",
        "$0.0042",
        "<$0.0001",
        "$0.42",
        "$12.35",
        "$1,234",
        "",
    ]
    assert [format_tokens(v) for v in (0, 950, 9_999, 12_345, 123_456, 4_560_000, 1.2e9)] == [
        "0",
        "950",
        "10k",
        "12.3k",
        "123k",
        "4.56M",
        "1.2B",
    ]
    assert [format_duration(s) for s in (45, 750, 3 * 3600 + 300, 52 * 3600)] == [
        "45s",
        "12m 30s",
        "3h 05m",
        "2d 4h",
    ]
    assert [format_share(v) for v in (0.0004, 0.05, 0.5)] == ["<0.1%", "5.0%", "50%"]
    assert short_path("/home/dev/code/webapp") == "code/webapp" and short_path(None) == ""


def test_page_works_on_an_empty_ledger(tmp_path: Path) -> None:
    with Ledger(tmp_path / "empty.db") as ledger:
        client = TestClient(dashboard_app(ledger))
        for url in ("/", "/sessions", "/runs"):
            page = client.get(url)
            assert page.status_code == 200, url
        assert "No sessions" in client.get("/sessions").text
        assert "No orchestrator runs recorded yet" in client.get("/runs").text


def test_background_sync_brings_new_log_lines_in(isolated_home: Path, db_path: Path) -> None:
    import time

    from builders import claude_assistant, claude_session_file, write_jsonl
    from tokentrail.server.dashboard import BackgroundSync

    path = claude_session_file(isolated_home, "bg-1")
    write_jsonl(path, [claude_assistant("bg-1", "2026-05-04T09:30:00.000Z", "m1")])
    with Ledger(db_path) as ledger:
        client = TestClient(dashboard_app(ledger))
        # a long interval: the second round can only come from the file system's event
        syncing = BackgroundSync(ledger, interval_s=120)
        syncing.start()
        try:
            deadline = time.monotonic() + 20
            while client.get("/api/v1/session-list?range=all").json()["total"] < 1:
                assert time.monotonic() < deadline, syncing.last_error
                time.sleep(0.05)
            marker = client.get("/api/v1/version").json()["version"]
            write_jsonl(
                path, [claude_assistant("bg-1", "2026-05-04T09:31:00.000Z", "m2")], append=True
            )
            while client.get("/api/v1/version").json()["version"] == marker:
                assert time.monotonic() < deadline, syncing.last_error
                time.sleep(0.05)
        finally:
            syncing.stop()
        assert syncing.last_error is None and syncing.rounds >= 2
        rows = client.get("/api/v1/session-list?range=all").json()["rows"]
        assert rows[0]["requests"] == 2


def test_background_sync_survives_a_failing_round(tmp_path: Path) -> None:
    import time

    from tokentrail.server.dashboard import BackgroundSync

    calls: list[int] = []

    def flaky(ledger: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk unavailable")

    syncing = BackgroundSync(object(), interval_s=0.01, sync=flaky, watch=False)
    syncing.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    syncing.stop()
    assert syncing.last_error is None and syncing.rounds >= 3
