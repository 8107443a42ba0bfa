"""The dashboard's pages (tokentrail.server.dashboard), rendered by the app: content, filters
kept in the URL, placeholders for missing data, escaping of user content, assets."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import tokentrail.server
from dashboard_data import (
    SONNET,
    TOOL_SESSION,
    UNKNOWN_MODEL,
    XSS,
    Built,
    build_active_ledger,
    build_ledger,
    dashboard_app,
    isolated_home,
)
from tokentrail.ledger import Ledger
from tokentrail.model_names import model_alias
from tokentrail.server.rendering import short_path


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Ledger]]:
    root = tmp_path_factory.mktemp("dashboard")
    with isolated_home(root) as home:
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
        "Cost by model",
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
    assert "7 sessions" in text_of(sessions.text)
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


def test_the_vendored_chart_library_is_the_build_its_readme_names() -> None:
    # the build is reproducible (tools/echarts/build.sh): a file changed by hand, or rebuilt
    # without updating the table, is caught here
    vendor = Path(tokentrail.server.__file__).parent / "static" / "vendor"
    stated = re.search(r"sha256 `([0-9a-f]{64})`", (vendor / "README.md").read_text())
    assert stated is not None
    built = hashlib.sha256((vendor / "echarts" / "echarts.min.js").read_bytes()).hexdigest()
    assert built == stated.group(1)


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
    assert "7 sessions" in everything and "1 session: 1 with requests" in codex
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
    html = client.get("/sessions", params={"range": "all", "without_usage": "1"}).text
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


def test_short_paths() -> None:
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


# -- insights on the pages: the active 5-hour block, a session's tools and efficiency ---------


@pytest.fixture(scope="module")
def active(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A ledger with a 5-hour block in progress, tool calls and Codex's official figures."""
    root = tmp_path_factory.mktemp("active")
    with isolated_home(root) as home:
        build_active_ledger(home, root / "ledger.db")
        with Ledger(root / "ledger.db") as ledger:
            yield TestClient(dashboard_app(ledger))


def block_card(html: str) -> str:
    match = re.search(r'<(article|p) class="[^"]*" id="card-block".*?</\1>', html, re.S)
    assert match, "no block card"
    return match.group(0)


def test_the_active_block_card_shows_the_block_in_progress(active: TestClient) -> None:
    card = block_card(active.get("/").text)
    text = text_of(card)
    assert 'data-active="true"' in card and "Active 5-hour block" in text
    api = active.get("/api/v1/blocks", params={"active": "true"}).json()["rows"][0]
    # the same figures as the API: cost, tokens, burn rate, projection (an estimate)
    assert f"${api['cost_usd']:.6f}" in card
    assert f"{api['requests']} requests" in text
    assert re.search(r"\$[\d.]+/h", text) and "tokens/min" in text
    assert "estimate" in text and f"{api['projection']['total_tokens']:,}" not in text
    assert re.search(r"\dh \d\dm left", text)
    # Codex's own figures, labelled official, with the reset time
    official = re.search(r'<ul class="official".*?</ul>', card, re.S)
    assert official
    lines = text_of(official.group(0))
    assert "official Codex CLI 5-hour window: 42% used · resets" in lines
    assert "Codex CLI weekly window: 7.5% used" in lines


def test_without_an_active_block_a_placeholder_line(
    active: TestClient, tmp_path: Path, realistic: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from tokentrail.usage import Tokens, UsageEvent

    with Ledger(tmp_path / "old.db") as ledger:
        ledger.record_events(
            [
                UsageEvent(
                    key="old-1",
                    source="claude_code",
                    timestamp=datetime.now(UTC) - timedelta(days=2),
                    model=SONNET,
                    tokens=Tokens(input=100, output=50),
                )
            ]
        )
        card = block_card(TestClient(dashboard_app(ledger)).get("/").text)
    assert 'data-active="false"' in card and text_of(card).strip() == "No active block."
    # the agent filter applies: no Gemini usage, no block for it
    filtered = block_card(active.get("/", params={"source": "gemini"}).text)
    assert "No active block for the agents and project chosen" in text_of(filtered)
    with Ledger(tmp_path / "empty.db") as ledger:
        assert "No active block" in TestClient(dashboard_app(ledger)).get("/").text


def test_the_session_page_shows_tools_efficiency_and_running_totals(active: TestClient) -> None:
    import json

    html = active.get(f"/sessions/{TOOL_SESSION}").text
    tools = re.search(r'<table class="rows compact" id="tools">.*?</table>', html, re.S)
    assert tools
    rows = [text_of(r).split() for r in re.findall(r"<tr>.*?</tr>", tools.group(0), re.S)]
    by_name = {r[0]: r[1:] for r in rows[1:] if r[0] in ("Edit", "Bash")}
    assert by_name["Edit"][:2] == ["2", "0"] and by_name["Bash"][:2] == ["1", "1"]
    # a tool name from the logs with markup in it is text, never markup
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in tools.group(0)
    panel = re.search(r'id="efficiency".*?</dl>', html, re.S)
    assert panel
    efficiency = text_of(panel.group(0))
    assert "Lines added +3" in efficiency and "Lines removed −2" in efficiency
    assert "Cache read share 97%" in efficiency
    assert re.search(r"Cost per changed line \$[\d.]+", efficiency)
    # the figures of `tokentrail efficiency` for this session
    rows = active.get("/api/v1/efficiency", params={"by": "session"}).json()["rows"]
    (row,) = [r for r in rows if r["session"] == TOOL_SESSION]
    assert f"Saved by cache ${row['cache_savings_usd']:.2f}" in efficiency
    assert f"Cost per changed line ${row['cost_per_changed_line']:.2f}" in efficiency
    assert (row["lines_added"], row["lines_removed"]) == (3, 2)
    assert 'id="chart-cumulative"' in html
    blob = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
    assert blob and "<" not in blob.group(1)
    points = json.loads(blob.group(1))["cumulative"]
    detail = active.get(f"/api/v1/sessions/{TOOL_SESSION}").json()
    assert len(points) == 4 and points[-1]["tokens"] == detail["total_tokens"]
    assert points[-1]["cost"] == pytest.approx(detail["cost_usd"])
    assert [p["tokens"] for p in points] == sorted(p["tokens"] for p in points)


def test_the_session_page_says_which_insights_are_missing(
    client: TestClient, realistic: Any
) -> None:
    built: Built = realistic[0]
    sdk = client.get(f"/sessions/{built.sdk_session}").text  # usage only, no tool calls
    reasons = titles_of(sdk)
    assert any("show no tool calls" in r for r in reasons)
    assert 'id="tools"' not in sdk
    assert reasons.count("No edit tool call of this session reported the lines it changed") == 3
    # what the SDK did report is shown: its cache reads
    share = re.search(r'id="eff-cache-share".*?</div>', sdk, re.S)
    assert share and text_of(share.group(0)).split()[-1].endswith("%")
    idle = client.get(f"/sessions/{built.idle_session}").text  # no usage at all
    reasons = titles_of(idle)
    assert "No request of this session reported cache reads" in reasons
    assert "No priced request of this session reported cache reads" in reasons
    assert 'id="chart-cumulative"' not in idle


def test_the_tools_page_lists_tool_calls_per_name(active: TestClient, realistic: Any) -> None:
    html = active.get("/tools").text
    table = re.search(r'<table class="rows" id="tools">.*?</table>', html, re.S)
    assert table and XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table.group(0)
    rows = [text_of(r).split() for r in re.findall(r"<tr>.*?</tr>", table.group(0), re.S)]
    assert [r[:2] for r in rows[1:] if r[0] in ("Edit", "Bash")] == [["Edit", "2"], ["Bash", "1"]]
    total = re.search(r'id="tools-total">(.*?)</p>', html, re.S)
    assert total and text_of(total.group(1)).split()[:3] == ["4", "calls", "of"]
    # the JSON link covers the same days as the page
    link = unescape(re.search(r'href="(/api/v1/tools\?[^"]*)"', html).group(1))  # type: ignore[union-attr]
    assert "since=" in link and active.get(link).json()["totals"]["calls"] == 4
    # no calls in the range, or none recorded (the realistic ledger's agents logged none)
    old = active.get("/tools", params={"since": "2020-01-01", "until": "2020-01-31"}).text
    assert 'id="tools-none"' in old and 'id="tools"' not in old
    assert 'aria-current="page">Tools<' in old


def test_a_run_whose_process_went_silent_says_so_instead_of_pulsing(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tokentrail.usage import Tokens, UsageEvent

    now = datetime.now(UTC)
    with Ledger(tmp_path / "runs.db") as ledger:
        run = ledger.start_run("orchestrator", started_at=now - timedelta(hours=3))
        last = now - timedelta(hours=2)
        ledger.record_batch(
            [
                UsageEvent(
                    key="sdk:last",
                    source="sdk",
                    timestamp=last,
                    tokens=Tokens(input=10, output=5),
                    model=SONNET,
                    provider="anthropic",
                    session_key="s1",
                    run_id=run.run_id,
                )
            ]
        )
        html = TestClient(dashboard_app(ledger)).get("/").text
        [line] = re.findall(r'<p class="subline" id="this-run">.*?</p>', html, re.S)
        assert "no heartbeat since" in text_of(line)
        assert "orchestrator running for 3h 00m" in text_of(line)
        assert 'class="pulse"' not in line
        ledger.record_batch(
            [
                UsageEvent(
                    key="sdk:now",
                    source="sdk",
                    timestamp=now,
                    tokens=Tokens(input=10, output=5),
                    model=SONNET,
                    provider="anthropic",
                    session_key="s1",
                    run_id=run.run_id,
                )
            ]
        )
        html = TestClient(dashboard_app(ledger)).get("/").text
        [line] = re.findall(r'<p class="subline" id="this-run">.*?</p>', html, re.S)
        assert 'class="pulse"' in line and "no heartbeat" not in line


def test_the_session_list_names_untitled_sessions_and_shows_the_models_that_served_them(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tokentrail.usage import Session, Tokens, UsageEvent

    opus = "claude-opus-4-1-20250805"
    start = datetime.now(UTC) - timedelta(hours=1)
    key = "0f3c9a7e-5d2b-4c1a-9e8f-7a6b5c4d3e2f"

    def request(n: int, model: str) -> UsageEvent:
        return UsageEvent(
            key=f"claude_code:m{n}",
            source="claude_code",
            timestamp=start + timedelta(minutes=n),
            tokens=Tokens(input=10, output=5),
            model=model,
            provider="anthropic",
            session_key=key,
            project="/home/dev/code/webapp",
        )

    with Ledger(tmp_path / "names.db") as ledger:
        ledger.record_batch(
            [request(0, SONNET), request(1, SONNET), request(2, opus)],
            [
                Session(
                    key=key,
                    source="claude_code",
                    project="/home/dev/code/webapp",
                    started_at=start,
                    model=opus,  # declared, but Sonnet served most of it
                )
            ],
        )
        client = TestClient(dashboard_app(ledger))
        html = client.get("/sessions?range=all").text
        page = client.get(f"/sessions/{key}").text
    [title] = re.findall(r'<h1 id="session-title">(.*?)</h1>', page, re.S)
    assert text_of(title).strip() == f"webapp · {start:%Y-%m-%d %H:%M} · {SONNET}"
    facts = text_of(page)
    assert "Span 2m" in facts.replace("  ", " ") and "Active 2m" in facts.replace("  ", " ")
    [served] = re.findall(r"<dt>Models</dt><dd>(.*?)</dd>", page, re.S)
    # most-used first, each dated id shown as its alias
    assert text_of(served).split() == [model_alias(SONNET), model_alias(opus)]
    [row] = re.findall(r"<tr>\s*<td class=\"session-cell\">.*?</tr>", html, re.S)
    text = text_of(row)
    assert f"webapp · {start:%Y-%m-%d %H:%M} · {SONNET}" in text
    assert key[:8] not in text.split("webapp")[0]  # not only a bare 8-character id
    assert f"{model_alias(SONNET)} +1" in text


def test_the_sessions_page_states_the_one_session_count(client: TestClient) -> None:
    html = client.get("/sessions?range=all").text
    [header] = re.findall(r'<span class="sub" id="session-count">.*?</span>\s*<a', html, re.S)
    # the list holds the sessions counted: the idle SDK session is counted apart and listed
    # on demand; the subagent is rolled up
    said = " ".join(text_of(header).replace("( ", "(").replace(" )", ")").split())
    assert "7 sessions: 7 with requests, 1 without usage (list them) · 1 subagent session" in said
    assert len(re.findall(r'<td class="session-cell">', html)) == 7
    [shown] = re.findall(r'href="\?([^"]*)" id="without-usage"', html)
    every = client.get(f"/sessions?{shown.replace('&amp;', '&')}").text
    assert "8 sessions" in text_of(every) and "listed · hide" in text_of(every)
    assert len(re.findall(r'<td class="session-cell">', every)) == 8
    summary = client.get("/api/v1/summary").json()["lifetime"]
    assert summary["sessions"] == 7 and summary["sessions_without_usage"] == 1
    # every list and export of sessions holds the same sessions as the count
    listed = client.get("/api/v1/session-list", params={"range": "all"}).json()
    api = client.get("/api/v1/sessions", params={"limit": 100}).json()["rows"]
    exported = client.get("/api/v1/export/sessions.csv", params={"range": "all"}).text
    assert listed["total"] == len(api) == exported.count("\n") - 1 == summary["sessions"]
    assert all(r["requests"] > 0 for r in [*listed["rows"], *api])
    idle = client.get("/api/v1/sessions", params={"limit": 100, "without_usage": "true"})
    assert len(idle.json()["rows"]) == 8


def test_assets_have_hashed_names_cached_for_a_year_and_responses_are_compressed(
    client: TestClient, realistic: Any
) -> None:
    built: Built = realistic[0]
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    scripts = re.findall(r'<script src="(/static/[^"]+)"', page.text)
    assert any(re.fullmatch(r"/static/app\.[0-9a-f]{10}\.js", s) for s in scripts), scripts
    library = next(s for s in scripts if "echarts" in s)
    served = client.get(library, headers={"Accept-Encoding": "gzip"})
    assert served.status_code == 200 and served.headers["content-encoding"] == "gzip"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.num_bytes_downloaded < 500_000 < len(served.content)  # 1.1 MB uncompressed
    plain = client.get("/static/app.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    assert client.get("/static/app.0000000000.js").status_code == 404  # not its content
    assert client.get("/static/../dashboard.py").status_code == 404
    # the chart library only where a chart is drawn
    assert "echarts" in client.get(f"/sessions/{built.opus_session}").text
    for path in ("/sessions?range=all", "/runs?range=all", "/tools?range=all"):
        assert "echarts" not in client.get(path).text, path


def test_a_silent_run_is_not_shown_as_alive(tmp_path: Path) -> None:
    """A run still marked running with nothing recorded for hours: the overview's "this run"
    line and the runs list say "no heartbeat since …"; a fresh one is running."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.start_run("worker", run_id="run-silent", started_at=now - timedelta(hours=3))
        client = TestClient(dashboard_app(ledger))
        overview = text_of(client.get("/").text)
        assert "This run worker running for 3h 00m , no heartbeat since" in overview
        runs = client.get("/runs").text
        assert "no heartbeat" in text_of(runs) and "state-running" not in runs
        ledger.start_run("planner", run_id="run-fresh", started_at=now)
        assert "no heartbeat" not in text_of(client.get("/").text)  # the newest run: alive
        assert "state-running" in client.get("/runs").text


def test_the_overview_counts_the_sessions_of_the_ledger_as_it_is_now(tmp_path: Path) -> None:
    # the session counts' families are kept between pages: never past a change of the ledger
    from datetime import UTC, datetime, timedelta

    from tokentrail.usage import Tokens, UsageEvent

    now = datetime.now(UTC)

    def record(key: str) -> None:
        usage = UsageEvent(
            key=f"sdk:{key}",
            source="sdk",
            timestamp=now - timedelta(minutes=5),
            tokens=Tokens(input=10, output=5),
            model=SONNET,
            provider="anthropic",
            session_key=key,
        )
        ledger.record_batch([usage])

    def lifetime_sessions(client: TestClient) -> str:
        html = client.get("/?range=all").text
        [life] = re.findall(r"<dt>Sessions</dt><dd>([^<]*)</dd>", html)[:1]
        return life

    with Ledger(tmp_path / "counts.db") as ledger:
        client = TestClient(dashboard_app(ledger))
        record("s1")
        assert lifetime_sessions(client) == "1"
        assert lifetime_sessions(client) == "1"  # the kept families, same ledger
        record("s2")
        assert lifetime_sessions(client) == "2"


def test_a_page_of_sessions_is_the_one_of_filtering_and_sorting_every_session(
    realistic: Any,
) -> None:
    # a page is counted from the sessions' sorted moments and taken from an order kept per
    # sort: the same page as filtering, valuing and sorting every session (as it was done)
    import heapq
    from itertools import product

    from tokentrail.store import sqlite_dashboard as views
    from tokentrail.store.base import SESSION_SORTS, Filters, SessionPageQuery

    def expected(store: Any, query: SessionPageQuery) -> tuple[int, int | None, list[str]]:
        index = store._session_views().get(store._rows, query.models)
        chosen = [e for e in index.sessions if views._matches(e, query)]
        runtimes = [e.runtime_ms for e in chosen if e.runtime_ms is not None]
        valued = [(views._sort_value(e, query.sort), e) for e in chosen]
        end = query.offset + query.limit
        first = heapq.nlargest if query.descending else heapq.nsmallest
        known = first(
            end, ((v, e) for v, e in valued if v is not None), key=lambda p: (p[0], p[1].key)
        )
        ordered = [e for _, e in known] + sorted(
            (e for v, e in valued if v is None), key=lambda e: e.key, reverse=query.descending
        )
        keys = [e.key for e in ordered[query.offset : end]]
        return len(chosen), sum(runtimes) if runtimes else None, keys

    ledger: Ledger = realistic[1]
    with ledger.reading() as store:
        moments = sorted(
            e.last_ms for e in store._session_views().get(store._rows, ()).sessions if e.last_ms
        )
        middle = moments[len(moments) // 2]  # a session's own moment: the bounds' edges
        bounds = [(None, None), (middle, None), (None, middle), (moments[0], moments[-1] + 1)]
        for (since, until), sort, descending, idle, models, offset, sources in product(
            bounds,
            SESSION_SORTS,
            (True, False),
            (False, True),
            ((), (SONNET,)),
            (0, 2),
            ((), ("claude_code",)),
        ):
            query = SessionPageQuery(
                filters=Filters(since_ms=since, until_ms=until, sources=sources),
                models=models,
                sort=sort,
                descending=descending,
                limit=3,
                offset=offset,
                without_usage=idle,
            )
            page = store.session_page(query)
            got = (page.total, page.runtime_ms, [r.session.key for r in page.rows])
            assert got == expected(store, query), query
