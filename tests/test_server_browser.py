"""What a web page in a real browser can do to ``tokentrail serve`` on loopback: nothing.

A real headless Chromium (Debian's ``chromium``, driven by Playwright) and a real uvicorn server
on a loopback port, with the Host rule of ``tokentrail serve``. A page of another site posts a
``text/plain`` form -- the one kind of cross-origin write a browser sends without asking --
whose body is a valid event batch; and a name of the attacker's resolving to 127.0.0.1 (DNS
rebinding, made with Chromium's host resolver rules) reads the API. Both are refused and
nothing is written. Skipped only when /usr/bin/chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from dashboard_data import serving
from tokentrail.ledger import Ledger
from tokentrail.server.app import create_app
from tokentrail.server.auth import allowed_hosts

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ATTACKER = "http://attacker.example/"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="the browser tests need Debian's chromium at /usr/bin/chromium "
    "(apt-get install -y chromium); CI installs it",
)


@pytest.fixture
def served(db_path: Path) -> Iterator[tuple[Ledger, str]]:
    with Ledger(db_path) as ledger:
        app = create_app(ledger, token=None, hosts=allowed_hosts("127.0.0.1"))
        with serving(app) as url:
            yield ledger, url


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # rebind.example resolves to this machine, as a rebinding attacker's name would
        rules = "--host-resolver-rules=MAP rebind.example 127.0.0.1"
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, rules])
        yield browser
        browser.close()


def forging_page(target: str) -> str:
    """A page that posts a valid event batch as a text/plain form: the browser sends
    ``name=value``, so the ``=`` is hidden inside a JSON string."""
    name = (
        '{"events": [{"event_id": "forged", "model": "claude-opus-4-1", '
        '"input_tokens": 5000000, "output_tokens": 1, "project": "x'
    )
    value = 'y"}]}'
    return (
        "<!doctype html><html><body>"
        f"<form id='f' method='POST' enctype='text/plain' action='{escape(target)}'>"
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'></form>"
        "<script>document.getElementById('f').submit()</script></body></html>"
    )


def recorded_events(ledger: Ledger) -> int:
    with ledger.reading() as store:
        return store.status().events


def test_another_sites_form_cannot_write_an_event(
    chromium: Any, served: tuple[Ledger, str]
) -> None:
    ledger, url = served
    context = chromium.new_context()
    page = context.new_page()
    page.route(
        ATTACKER,
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=forging_page(f"{url}/api/v1/events")
        ),
    )
    with page.expect_response(f"{url}/api/v1/events") as answer:
        page.goto(ATTACKER)
    response = answer.value
    assert response.request.method == "POST"
    assert response.request.headers["content-type"] == "text/plain"
    assert response.status == 403, response.text()
    assert "another web site" in response.json()["error"]["message"]
    assert recorded_events(ledger) == 0
    context.close()


def test_a_rebound_name_cannot_read_or_write(chromium: Any, served: tuple[Ledger, str]) -> None:
    ledger, url = served
    port = url.rsplit(":", 1)[1]
    context = chromium.new_context()
    page = context.new_page()
    own = page.goto(f"http://127.0.0.1:{port}/api/v1/summary")
    assert own is not None and own.status == 200
    for path in ("/api/v1/summary", "/", "/api/v1/sessions"):
        rebound = page.goto(f"http://rebind.example:{port}{path}")
        assert rebound is not None and rebound.status == 421, path
        assert "rebind.example" in rebound.json()["error"]["message"]
    # the rebound page's own script writes same-origin JSON: the Host rule refuses it too
    status = page.evaluate(
        """async () => (await fetch("/api/v1/events", {method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({events: [{event_id: "rebound", input_tokens: 5000000}]})
        })).status"""
    )
    assert status == 421
    assert recorded_events(ledger) == 0
    context.close()
