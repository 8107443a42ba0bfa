"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
served by a real uvicorn server on a loopback port: pages render with data from a realistic
ledger, charts draw, filters change the numbers, a session opens, placeholders show, markup in
user content stays text, and new usage appears without a reload.

Screenshots go to ``test-artifacts/`` (git-ignored). Skipped only when /usr/bin/chromium is
missing (``apt-get install -y chromium``; CI installs it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboard_data import (
    OPUS,
    TOOL_SESSION,
    XSS,
    Built,
    build_active_ledger,
    build_ledger,
    dashboard_app,
    isolated_home,
    serving,
)
from tokentrail.ingest import UsageReport, event_from_report
from tokentrail.ledger import Ledger
from tokentrail.model_names import model_alias

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="the browser tests need Debian's chromium at /usr/bin/chromium "
    "(apt-get install -y chromium); CI installs it",
)

PAINTED = """(selector) => {
  const canvas = document.querySelector(selector + " canvas");
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Ledger, str]]:
    root = tmp_path_factory.mktemp("browser")
    with isolated_home(root) as home:
        built = build_ledger(home, root / "ledger.db")
        with Ledger(root / "ledger.db") as ledger, serving(dashboard_app(ledger)) as url:
            yield built, ledger, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    tab.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    tab.problems = problems
    yield tab
    context.close()
    assert not problems, problems


def open_page(tab: Any, url: str) -> None:
    tab.goto(url)
    tab.wait_for_selector("body[data-charts-ready]", state="attached", timeout=15_000)


def shot(tab: Any, name: str) -> None:
    tab.wait_for_timeout(450)  # let the charts' short entry animation finish
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_overview_renders_and_its_charts_draw(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/")
    assert page.locator("#card-lifetime .big").inner_text().startswith("$")
    assert "This run" in page.locator("#this-run").inner_text()
    for chart in ("#chart-daily", "#chart-timeline", "#chart-heatmap"):
        assert page.evaluate(PAINTED, chart) > 500, chart
    assert page.locator("body").get_attribute("data-charts-ready") == "3"
    # the sessions of the one session count: the idle SDK session is counted apart
    assert page.locator("#recent-sessions tbody tr").count() == 6
    assert page.locator("#top-sessions tbody tr").first.inner_text().count("$") >= 1
    shot(page, "overview")


def test_heatmap_metric_switches_in_place(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/")
    before = page.url
    page.click("#heatmap-metric a[data-metric=sessions]")
    page.wait_for_url(re.compile(r"metric=sessions"))
    assert page.locator("#heatmap-metric a.active").inner_text() == "Sessions"
    assert page.evaluate(PAINTED, "#chart-heatmap") > 500
    assert before != page.url  # the URL keeps the choice: a reload shows the same
    page.reload()
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    assert page.locator("#heatmap-metric a.active").inner_text() == "Sessions"


def test_a_filter_changes_the_numbers(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/")
    card = page.locator("#card-1 .big")  # the selected range (last 30 days)
    everything = card.inner_text()
    tokens_before = page.locator("#card-1 dd").first.inner_text()
    page.select_option("select[name=model]", model_alias(OPUS))  # one choice per model
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile("model=claude-opus"))
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    only_opus = page.locator("#card-1 .big").inner_text()
    assert only_opus != everything
    assert page.locator("#card-1 dd").first.inner_text() != tokens_before
    assert page.locator("#recent-sessions tbody tr").count() == 1  # only the Opus session
    # the filter follows the navigation
    page.click("nav a:has-text('Sessions')")
    page.wait_for_url(re.compile(r"/sessions\?.*model=claude-opus"))
    assert "1 session" in page.locator("#session-count").inner_text()
    shot(page, "filtered-by-model")


def test_a_session_detail_opens(page: Any, site: Any) -> None:
    built, _, url = site
    open_page(page, url + "/")
    page.click("#top-sessions a.session-link >> nth=0")
    page.wait_for_url(re.compile(f"/sessions/{built.opus_session}"))
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    assert page.evaluate(PAINTED, "#chart-session") > 500
    assert page.locator("#requests tbody tr").count() == 7  # with its subagent's
    assert page.locator("#subagents tbody tr").count() == 1
    assert "Rolled-up total" in page.locator("#subagents tfoot").inner_text()
    assert page.locator("#card-total .big").inner_text().startswith("$")
    shot(page, "session-detail")


def test_missing_data_shows_a_placeholder(page: Any, site: Any) -> None:
    built, _, url = site
    # the session without usage is listed on demand (it is counted apart)
    open_page(page, url + "/sessions?range=all&without_usage=1")
    row = page.locator("#sessions tbody tr", has_text="Waiting for review")
    placeholder = row.locator(".na", has_text="no usage")
    assert placeholder.is_visible()
    assert "No usage has been recorded" in placeholder.get_attribute("title")
    runtime = row.locator(".na", has_text="not reported")
    assert runtime.is_visible() and "end time" in runtime.get_attribute("title")
    unpriced = page.locator("#sessions .na.unpriced").first
    assert unpriced.is_visible() and "mystery-model-9" in unpriced.get_attribute("title")
    assert row.locator("td.num").last.inner_text() != "$0.00"
    shot(page, "sessions")
    open_page(page, url + f"/sessions/{built.idle_session}")
    assert page.locator("#card-total .big .na").inner_text() == "no usage"
    shot(page, "session-without-usage")


def test_markup_in_titles_and_paths_is_shown_as_text(browser: Any, site: Any) -> None:
    built, _, url = site
    # without the page's Content-Security-Policy: escaping alone must keep the script inert
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        for path in ("/", "/sessions?range=all", f"/sessions/{built.xss_session}"):
            open_page(tab, url + path)
            tab.wait_for_timeout(200)
            assert tab.get_by_text(XSS).first.is_visible(), path
            injected = tab.evaluate(
                "() => [...document.scripts].filter(s => s.textContent.includes('alert(1)')"
                " && !s.type.includes('json')).length"
            )
            assert injected == 0, path
        assert tab.locator("#session-title").inner_text() == XSS
        shot(tab, "markup-as-text")
        assert not dialogs
    finally:
        context.close()


def test_narrow_window_and_dark_mode(browser: Any, site: Any) -> None:
    _, _, url = site
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2
    )
    tab = context.new_page()
    try:
        open_page(tab, url + "/")
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert tab.evaluate(PAINTED, "#chart-heatmap") > 500
        assert tab.locator("#recent-sessions thead th.opt").first.is_hidden()
        tab.screenshot(path=str(ARTIFACTS / "overview-narrow-dark.png"))
        open_page(tab, url + "/sessions?range=all")
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390
        tab.screenshot(path=str(ARTIFACTS / "sessions-narrow-dark.png"))
    finally:
        context.close()


def test_new_usage_appears_without_a_reload(browser: Any, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with Ledger(tmp_path / "live.db") as ledger:

        def record(index: int) -> None:
            report = UsageReport(
                event_id=f"live-{index}",
                session_key="live-session",
                source="sdk",
                model="claude-sonnet-4-5-20250929",
                timestamp=now - timedelta(minutes=1),
                input_tokens=10_000,
                output_tokens=2_000,
            )
            ledger.record_events([event_from_report(report)])

        ledger.update_session("live-session", source="sdk", title="Live session")
        record(0)
        with serving(dashboard_app(ledger, poll_ms=200)) as url:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            tab = context.new_page()
            try:
                open_page(tab, url + f"/?tz={KOLKATA}")
                tab.evaluate("() => { window.__sameDocument = true; }")
                before = tab.locator("#card-lifetime dd").first.inner_text()
                record(1)
                deadline = time.monotonic() + 10
                while tab.locator("#card-lifetime dd").first.inner_text() == before:
                    assert time.monotonic() < deadline, "the page did not update itself"
                    tab.wait_for_timeout(100)
                assert tab.evaluate("() => window.__sameDocument") is True  # not reloaded
                assert tab.locator("#card-lifetime dd").first.inner_text() == "24k"
                updated = tab.locator("#live").inner_text()
                # the page's zone and a 24-hour clock, as every other time on the page
                shown = re.fullmatch(r"Updated (\d\d):(\d\d):\d\d", updated.strip())
                assert shown, updated
                local = datetime.now(ZoneInfo(KOLKATA))
                minutes = int(shown[1]) * 60 + int(shown[2])
                apart = abs(minutes - (local.hour * 60 + local.minute))
                assert min(apart, 24 * 60 - apart) <= 2, updated
                assert tab.evaluate(PAINTED, "#chart-timeline") > 500  # charts redrawn
            finally:
                context.close()


def test_the_budget_card_shows_spend_against_the_projection(browser: Any, tmp_path: Path) -> None:
    """A configured budget renders on the overview: name, spend of amount, its level, the
    gauge with the projection tick, and the projected figure (budgets: tests/test_budgets.py)."""
    from tokentrail.config import Budget, Config
    from tokentrail.usage import Tokens, UsageEvent

    now = datetime.now(UTC)
    config = Config(budgets=(Budget("team <monthly>", "month", 0.0001), Budget("big", "week", 1e6)))
    with Ledger(tmp_path / "ledger.db", config=config) as ledger:
        ledger.record_events(
            [
                UsageEvent(
                    key="budget-1",
                    source="claude_code",
                    timestamp=now - timedelta(minutes=2),
                    model="claude-sonnet-4-5-20250929",
                    tokens=Tokens(input=5_000, output=1_000),
                )
            ]
        )
        with serving(dashboard_app(ledger)) as url:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            tab = context.new_page()
            try:
                open_page(tab, url + "/")
                cards = tab.locator("#budgets li.budget")
                assert cards.count() == 2
                first = cards.nth(0)
                assert "team <monthly>" in first.locator(".spend-name").inner_text()
                assert first.get_attribute("data-status") == "hard"
                assert "of $0.0001" in first.locator(".spend-cost").inner_text()
                assert first.locator(".gauge-spent").bounding_box()["width"] > 0
                assert "projected $" in first.locator(".budget-projection").inner_text()
                big = cards.nth(1)
                assert big.get_attribute("data-status") == "ok"
                assert big.locator(".gauge-projected").is_visible()
                shot(tab, "overview-budgets")
            finally:
                context.close()


SERIES = """(selector) => {
  const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
  if (!chart) return null;
  return chart.getOption().series.map((s) => ({name: s.name, points: s.data.length,
    last: s.data[s.data.length - 1][1]}));
}"""


def test_the_block_card_and_a_sessions_tools_and_running_total(
    browser: Any, isolated_home: Path, tmp_path: Path
) -> None:
    """With a 5-hour block in progress: the overview's block card (burn rate, the projection
    labelled an estimate, Codex's official figures); the session page's cumulative chart
    (its ECharts series), tools table (a tool name with markup shown as text) and efficiency;
    both also at phone width."""
    build_active_ledger(isolated_home, tmp_path / "ledger.db")
    with Ledger(tmp_path / "ledger.db") as ledger, serving(dashboard_app(ledger)) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))

        def dismiss(dialog: Any) -> None:  # a script from user content ran: it must not
            errors.append(dialog.message)
            dialog.dismiss()

        tab.on("dialog", dismiss)
        try:
            open_page(tab, url + "/")
            card = tab.locator("#card-block")
            assert card.get_attribute("data-active") == "true"
            assert card.locator("h2").inner_text().lower() == "active 5-hour block"
            assert card.locator("#block-cost").inner_text().startswith("$")
            assert "/h" in card.locator("#block-burn").inner_text()
            assert "ESTIMATE" in card.locator("#block-projection dt").inner_text().upper()
            official = card.locator("#block-official li[data-window=primary]")
            assert official.is_visible() and "42% used" in official.inner_text()
            assert "left" in card.locator("#block-left").inner_text()
            shot(tab, "overview-active-block")

            open_page(tab, url + f"/sessions/{TOOL_SESSION}")
            assert tab.locator("body").get_attribute("data-charts-ready") == "2"
            series = tab.evaluate(SERIES, "#chart-cumulative")
            assert [s["name"] for s in series] == ["Cumulative tokens", "Cumulative cost"]
            assert all(s["points"] == 4 for s in series)
            detail = ledger_detail(url)
            assert series[0]["last"] == detail["total_tokens"]
            assert tab.evaluate(PAINTED, "#chart-cumulative") > 500
            tool = tab.locator("#tools td.tool-name", has_text="alert(1)")
            assert tool.inner_text() == XSS  # text, not markup
            assert tab.locator("#tools tbody tr").count() == 3
            assert tab.locator("#eff-added dd").inner_text() == "+3"
            assert tab.locator("#eff-cache-share dd").inner_text() == "97%"
            shot(tab, "session-insights")

            tab.click("nav a:has-text('Tools')")
            tab.wait_for_selector("#tools")
            assert tab.locator("#tools td.tool-name", has_text="alert(1)").inner_text() == XSS
            assert tab.locator("#tools-total").inner_text().startswith("4 calls")
            shot(tab, "tools")
        finally:
            context.close()
        narrow = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        tab = narrow.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        try:
            for path, name in (
                ("/tools", "tools-narrow"),
                ("/", "overview-block-narrow"),
                (f"/sessions/{TOOL_SESSION}", "session-insights-narrow"),
            ):
                open_page(tab, url + path)
                assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390, path
                shot(tab, name)
            assert tab.evaluate(PAINTED, "#chart-cumulative") > 500
        finally:
            narrow.close()
        assert not errors, errors


def ledger_detail(url: str) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{url}/api/v1/sessions/{TOOL_SESSION}").json()  # type: ignore[no-any-return]


# -- issue 15: what was wrong (each test failed before its fix) ---------------------------------

OPUS_ALIAS = "claude-opus-4-1"
LAST_YEAR_SESSION = "last-year-session"
KOLKATA = "Asia/Kolkata"
CHART_DATA = "() => JSON.parse(document.getElementById('chart-data').textContent)"
OPTION = """([selector, key]) => {
  const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
  return chart ? chart.getOption()[key] : null;
}"""


def _record(
    ledger: Ledger, key: str, model: str, at: datetime, index: int, run_id: str | None = None
) -> None:
    report = UsageReport(
        event_id=f"{key}-{index}",
        session_key=key,
        run_id=run_id,
        source="sdk",
        model=model,
        timestamp=at,
        input_tokens=1_000 + index,
        output_tokens=500,
    )
    ledger.record_events([event_from_report(report)])


@pytest.fixture(scope="module")
def odd_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[datetime, str]]:
    """A ledger with one model under its alias and its dated id, and a session of last year."""
    root = tmp_path_factory.mktemp("odd")
    now = datetime.now(UTC).replace(microsecond=0)
    with Ledger(root / "ledger.db") as ledger:
        ledger.update_session("alias-session", source="sdk", title="Under the alias")
        ledger.update_session("dated-session", source="sdk", title="Under the dated id")
        ledger.update_session(LAST_YEAR_SESSION, source="sdk", title="Last year")
        noon = now.replace(hour=12, minute=0, second=0)
        for i in range(3):
            _record(ledger, "alias-session", OPUS_ALIAS, noon - timedelta(days=2, minutes=i), i)
            _record(ledger, "dated-session", OPUS, noon - timedelta(days=1, minutes=i), i)
        _record(ledger, "dated-session", OPUS, noon - timedelta(days=1, minutes=5), 9)
        last_year = now.replace(month=6, day=15, hour=9, minute=45, second=0) - timedelta(days=366)
        for i in range(3):
            _record(ledger, LAST_YEAR_SESSION, OPUS, last_year + timedelta(minutes=i), i)
        # a run that died without closing (nothing since yesterday) and one alive
        ledger.start_run(
            "worker",
            reason="restart after crash",
            run_id="run-dead",
            started_at=noon - timedelta(days=1, hours=1),
        )
        ledger.update_session("dead-session", source="sdk", run_id="run-dead", title="Dead work")
        for i in range(3):
            at = noon - timedelta(days=1) + timedelta(minutes=5 * i)
            _record(ledger, "dead-session", OPUS, at, i, run_id="run-dead")
        ledger.update_run("run-dead", peak_concurrency=3, sessions_launched=1)
        ledger.start_run("planner", reason="deploy", run_id="run-alive", started_at=now)
        with serving(dashboard_app(ledger)) as url:
            yield last_year, url


def test_the_session_page_draws_every_time_in_the_pages_zone(page: Any, site: Any) -> None:
    """The requests chart's axis and the table show the same local time (Asia/Kolkata is
    UTC+5:30, so a chart in UTC would differ)."""
    built, _, url = site
    open_page(page, url + f"/sessions/{built.opus_session}?tz={KOLKATA}")
    labels = page.evaluate(OPTION, ["#chart-session", "xAxis"])[0]["data"]
    oldest_in_table = page.locator("#requests tbody tr time").last.inner_text()
    assert labels[0][-5:] == oldest_in_table[-5:], (labels[0], oldest_in_table)
    details = page.locator("#card-meta time").first.inner_text()
    assert re.search(r"\d\d:\d\d$", details)


def test_times_of_another_year_keep_their_time(page: Any, odd_site: Any) -> None:
    last_year, url = odd_site
    open_page(page, url + f"/sessions/{LAST_YEAR_SESSION}?tz=UTC")
    first = last_year.astimezone(UTC)
    shown = page.locator("#requests tbody tr time").last.inner_text()
    assert shown == f"{first:%b} {first.day} {first.year}, {first:%H:%M}"
    started = page.locator("#card-meta time").first.inner_text()
    assert re.search(rf"{first.year}, \d\d:\d\d$", started), started


def test_a_dated_model_id_and_its_alias_are_one_model(page: Any, odd_site: Any) -> None:
    _, url = odd_site
    open_page(page, url + "/?range=all")
    options = page.locator("select[name=model] option").all_inner_texts()
    assert options.count(OPUS_ALIAS) == 1 and OPUS not in options, options
    names = page.locator("#spend-models .spend-name").all_inner_texts()
    assert names == [OPUS_ALIAS], names
    series = page.evaluate(CHART_DATA)["daily"]["series"]
    assert [s["model"] for s in series] == [OPUS_ALIAS]
    page.select_option("select[name=model]", OPUS_ALIAS)
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile("model=claude-opus-4-1"))
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    titles = page.locator("#recent-sessions a.session-link").all_inner_texts()
    expected = ["Dead work", "Last year", "Under the alias", "Under the dated id"]
    assert sorted(titles) == expected, titles
    open_page(page, url + "/sessions/dated-session")
    assert page.locator("#requests td.model").first.inner_text() == OPUS  # the raw id


def test_an_empty_token_chart_says_so(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/?since=2001-01-01&until=2001-01-31")
    for chart in ("#chart-timeline", "#chart-daily"):
        assert page.locator(f"{chart} .empty").inner_text() == "No usage in this range"
        assert page.locator(f"{chart} canvas").count() == 0


def test_every_bad_filter_is_named_once(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/?since=yesterday&tz=Mars/Base&until=2026-01-01")
    banner = page.locator("#filter-errors").inner_text()
    assert "since 'yesterday'" in banner and "Mars/Base" in banner, banner
    assert "since: since" not in banner and "tz: --tz" not in banner.lower(), banner
    assert page.locator("#card-1 .big").is_visible()  # the good filters still apply


def test_the_time_zone_box_shows_the_whole_name(page: Any, site: Any) -> None:
    _, _, url = site
    open_page(page, url + "/?tz=America/New_York")
    box = page.locator("input[name=tz]")
    assert box.evaluate("(e) => e.scrollWidth <= e.clientWidth"), "America/New_York is cut off"


def test_the_phone_heatmap_shows_the_year_its_header_names(browser: Any, site: Any) -> None:
    _, _, url = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    try:
        open_page(tab, url + "/")
        heat = tab.evaluate(CHART_DATA)["heatmap"]
        ranges = [c["range"] for c in tab.evaluate(OPTION, ["#chart-heatmap", "calendar"])]
        assert ranges[0][0] == heat["since"] and ranges[-1][-1] == heat["until"], ranges
        assert tab.evaluate(PAINTED, "#chart-heatmap") > 500
    finally:
        context.close()


# -- accessibility: an axe-core scan of every page, light and dark -----------------------------

AXE = Path(__file__).resolve().parent / "data" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " " + n.failureSummary) }));
}"""


def serious_violations(tab: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (axe is added to the
    page for the scan, so the context bypasses the page's CSP)."""
    tab.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = tab.evaluate(AXE_RUN)
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violation_on_any_page(
    browser: Any, site: Any, scheme: str
) -> None:
    built, _, url = site
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, color_scheme=scheme, bypass_csp=True
    )
    tab = context.new_page()
    try:
        found: dict[str, Any] = {}
        for path in (
            "/",
            "/sessions?range=all",
            f"/sessions/{built.opus_session}",
            f"/sessions/{built.idle_session}",
            "/runs?range=all",
            "/tools?range=all",
            "/?since=yesterday",
        ):
            open_page(tab, url + path)
            tab.wait_for_timeout(350)  # the charts' entry animation
            assert tab.locator("h1").count() == 1, path  # every page says what it is
            violations = serious_violations(tab)
            if violations:
                found[path] = violations
        (ARTIFACTS / f"axe-{scheme}.json").write_text(json.dumps(found, indent=1))
        assert not found, found
    finally:
        context.close()


def test_a_year_reads_as_weekly_bars_with_every_model_named(page: Any, site: Any) -> None:
    """At 1 year the cost chart draws one bar per ISO week (not ~365 hair-thin days), the top
    five models apart, and a legend that names every series at once (no paging)."""
    _, _, url = site
    open_page(page, url + "/?range=1y")
    daily = page.evaluate(CHART_DATA)["daily"]
    assert daily["interval"] == "week" and 52 <= len(daily["days"]) <= 54
    assert len(daily["series"]) <= 6
    assert page.evaluate(OPTION, ["#chart-daily", "legend"])[0]["type"] == "plain"
    labels = page.evaluate(OPTION, ["#chart-daily", "xAxis"])[0]["data"]
    assert labels[0].startswith("wk ")
    assert page.evaluate(PAINTED, "#chart-daily") > 500
    assert "per week" in page.locator("#chart-daily").locator("xpath=..").inner_text()
    shot(page, "overview-1y")


def test_the_overview_answers_whether_spend_is_going_up(page: Any, odd_site: Any) -> None:
    """Each card against the same length just before it, the range's active days, average
    and peak day, the month's end as an estimate, and the monthly view."""
    _, url = odd_site
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    open_page(page, url + f"/?since={yesterday}&until={yesterday}&tz=UTC")
    trend = page.locator("#card-1 .trend")
    # yesterday had 4 requests, the day before 3 (of the same model): spend went up
    assert re.fullmatch(r"▲ \+\d+(\.\d)?% vs \$[\d.,]+ the same length before", trend.inner_text())
    assert float(trend.get_attribute("data-change")) > 0
    assert page.locator("#trend-active-days dd").inner_text() == "1 of 1"
    open_page(page, url + "/?range=7d&tz=UTC")
    assert page.locator("#trend-active-days dd").inner_text() == "2 of 7"
    assert page.locator("#trend-peak dd").inner_text().startswith("$")
    projection = page.locator("#trend-projection")
    assert "estimate" in projection.inner_text().lower()
    assert projection.locator("dd").inner_text().startswith("$")
    months = page.locator("#months tbody tr")
    assert months.count() >= 1  # this month (and last, early in a month)
    assert "(so far)" in (months.first.text_content() or "")  # in the closed details


def test_an_empty_range_offers_the_days_with_data(page: Any, odd_site: Any) -> None:
    last_year, url = odd_site
    open_page(page, url + "/?since=2001-01-01&until=2001-01-31&tz=UTC")
    note = page.locator("#empty-range")
    assert "Nothing recorded" in note.inner_text()
    assert f"{last_year:%b} {last_year.day} {last_year.year}" in note.inner_text()
    note.locator("a").first.click()
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    assert page.locator("#empty-range").count() == 0
    assert page.locator("#card-1 .big").inner_text().startswith("$")


def test_a_run_that_died_without_closing_and_a_run_page(page: Any, odd_site: Any) -> None:
    """The runs list shows a run silent for hours as "no heartbeat since …", not running; its
    row opens the run's page: state, restart reason, peak concurrency, its sessions and its
    spend over time."""
    _, url = odd_site
    open_page(page, url + "/runs?range=all&tz=UTC")
    dead = page.locator("#runs tr[data-run=run-dead]")
    assert "no heartbeat" in dead.inner_text() and "since" in dead.inner_text()
    assert "running" not in dead.locator("td").nth(1).inner_text()
    alive = page.locator("#runs tr[data-run=run-alive]")
    assert alive.locator(".state").inner_text() == "running"
    dead.locator("a.session-link").click()
    page.wait_for_url(re.compile("/runs/run-dead"))
    page.wait_for_selector("body[data-charts-ready]", state="attached")
    assert page.locator("h1").inner_text() == "worker"
    assert "no heartbeat" in page.locator("#run-state").inner_text()
    assert "restart after crash" in page.locator("#card-run-meta").inner_text()
    assert page.locator("#run-peak dd").inner_text() == "3"
    assert page.locator("#run-sessions a.session-link").all_inner_texts() == ["Dead work"]
    assert page.evaluate(PAINTED, "#chart-cumulative") > 500
    series = page.evaluate(SERIES, "#chart-cumulative")
    assert series[0]["points"] == 3
    shot(page, "run-page")
    import httpx

    assert httpx.get(url + "/runs/no-such-run").status_code == 404


LEGENDS = """() => [...document.querySelectorAll('.chart')]
  .map((el) => window.echarts && window.echarts.getInstanceByDom(el)).filter(Boolean)
  .flatMap((chart) => (chart.getOption().legend || []).map((legend) => legend.type))"""
OVERFLOWING = """() => [...document.querySelectorAll('.table-wrap')]
  .filter((w) => w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1)
  .map((w) => (w.querySelector('table') || w).id || w.className)"""


def test_a_phone_keeps_the_columns_that_matter_and_folds_the_filters(
    browser: Any, site: Any
) -> None:
    """At 390 px no table scrolls sideways (Tokens and Cost stay in view), the filter fields
    fold behind a button that opens them, and the page is no wider than the screen."""
    built, _, url = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    tab = context.new_page()
    try:
        for path in (
            "/",
            "/sessions?range=all",
            f"/sessions/{built.opus_session}",
            f"/sessions/{built.webapp_session}",
            "/runs?range=all",
            f"/runs/{built.run_id}",
            "/tools?range=all",
        ):
            open_page(tab, url + path)
            assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390, path
            assert tab.evaluate(OVERFLOWING) == [], path
            assert tab.locator("select[name=model]").is_hidden(), path
        toggle = tab.locator("#filters-toggle")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.click()
        assert tab.locator("select[name=model]").is_visible()
        assert toggle.get_attribute("aria-expanded") == "true"
        open_page(tab, url + f"/sessions/{built.webapp_session}")
        costs = tab.locator("#requests tbody tr").first.locator("td.num").last
        assert costs.is_visible() and costs.inner_text().startswith("$")
    finally:
        context.close()


def test_a_column_no_row_reported_is_left_out_with_a_note(page: Any, site: Any) -> None:
    """A Claude session reports no reasoning tokens: no Reasoning column of placeholders but
    one line saying so."""
    built, _, url = site
    open_page(page, url + f"/sessions/{built.webapp_session}")
    headers = page.locator("#requests thead th").all_inner_texts()
    assert "REASONING" not in [h.upper() for h in headers], headers
    assert "Reasoning" in page.locator("#requests-hidden").inner_text()
    assert page.locator("#requests .na").count() == 0


@pytest.mark.parametrize(
    ("width", "scheme"), [(1440, "light"), (1440, "dark"), (390, "light"), (390, "dark")]
)
def test_screenshots_at_both_widths_and_both_themes(
    browser: Any, site: Any, width: int, scheme: str
) -> None:
    """Screenshots of every page for a look (test-artifacts/), with no page or console error."""
    built, _, url = site
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, device_scale_factor=1
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        for name, path in (
            ("overview", "/"),
            ("overview-all", "/?range=all"),
            ("sessions", "/sessions?range=all"),
            ("session", f"/sessions/{built.opus_session}"),
            ("runs", "/runs?range=all"),
            ("run", f"/runs/{built.run_id}"),
            ("tools", "/tools?range=all"),
        ):
            open_page(tab, url + path)
            assert "scroll" not in tab.evaluate(LEGENDS), path  # every series named at once
            shot(tab, f"{name}-{width}-{scheme}")
        assert not errors, errors
    finally:
        context.close()
