"""How the dashboard's pages are made: the Jinja environment and its filters (numbers, money
and durations from :mod:`tokentrail.formatting`, as the CLI), content-hashed static assets,
agents' labels and colours, a page's filters read from its URL (each bad one named on the
page), and the menus of the filter bar. The routes are in :mod:`tokentrail.server.dashboard`."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tokentrail import formatting
from tokentrail.ingest import InvalidUsage
from tokentrail.model_names import aliases_of, model_alias
from tokentrail.server.view import (
    PAGE_DEFAULT_RANGE,
    RANGES,
    View,
    parse_view,
)

STATIC_PREFIX = "/static"
DEFAULT_POLL_MS = 5_000
"""How often pages ask ``/api/v1/version`` whether the ledger changed (``app.state.
dashboard_poll_ms`` overrides it)."""
PER_PAGE_CHOICES = (25, 50, 100, 200)
COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
)
RANGE_TITLES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "1y": "Last 12 months",
}
OTHER_SOURCE_LABELS = {"sdk": "SDK"}
"""Labels of sources that are not agents (the agents' come from the registry)."""


def source_labels() -> dict[str, str]:
    """Every known source's label: the registered agents', then the HTTP API's ``sdk``."""
    from tokentrail.agents import all_agents

    return {**{a.name: a.label for a in all_agents()}, **OTHER_SOURCE_LABELS}


def agent_colours() -> str:
    """A CSS rule per registered agent giving its colour to its ``.source-<name>`` marker (the
    stylesheet has the others'); goes in an inline ``<style>``, which the CSP allows."""
    from tokentrail.agents import all_agents

    return "".join(
        f".source-{a.name}::before {{ background: {a.colour}; }}\n" for a in all_agents()
    )


IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of a content-hashed asset: its name changes whenever its content does."""


def _static_dir() -> Path:
    return Path(str(resources.files("tokentrail.server") / "static"))


@cache
def static_assets() -> tuple[dict[str, str], dict[str, Path]]:
    """The static files: each one's content-hashed name (``app.js`` → ``app.1a2b3c4d5e.js``)
    and the file behind every name, hashed or plain (licences are linked by their plain names)."""
    root = _static_dir()
    hashed: dict[str, str] = {}
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        stem, dot, suffix = name.rpartition(".")
        hashed[name] = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
        files[name] = path
        files[hashed[name]] = path
    return hashed, files


def asset_url(name: str) -> str:
    """The URL of a static file under its content-hashed name (cached for a year)."""
    return f"{STATIC_PREFIX}/{static_assets()[0][name]}"


def _parse_moment(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def format_time(value: datetime | str | None, zone: tzinfo, today: date | None = None) -> str:
    """A moment in the view's zone, always with its time on a 24-hour clock: "today 14:05",
    "yesterday 14:05", "Mon 14:05" this week, "Mar 3, 14:05" this year, else "Dec 31 2025,
    14:05" (a moment of another year keeps its time too)."""
    moment = _parse_moment(value)
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    today = today or datetime.now(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"today {clock}"
    if local.date() == today - timedelta(days=1):
        return f"yesterday {clock}"
    if timedelta(0) < today - local.date() < timedelta(days=7):
        return f"{local:%a} {clock}"
    if local.year == today.year:
        return f"{local:%b} {local.day}, {clock}"
    return f"{local:%b} {local.day} {local.year}, {clock}"


def format_full_time(value: datetime | str | None, zone: tzinfo) -> str:
    moment = _parse_moment(value)
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def source_label(name: str | None) -> str:
    if not name:
        return ""
    return source_labels().get(name, name)


def short_path(path: str | None) -> str:
    """The last two parts of a project path (the full one goes in a title)."""
    if not path:
        return ""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    return "/".join(parts[-2:]) if len(parts) > 2 else path


def short_key(key: str) -> str:
    return key if len(key) <= 14 else key[:8] + "…"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("tokentrail.server", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        usd=formatting.usd,
        usd_exact=formatting.usd_exact,
        tokens=formatting.tokens,
        int=formatting.integer,
        duration=formatting.duration,
        duration_s=formatting.seconds,
        share=formatting.share,
        percent=formatting.percent,
        source_label=source_label,
        short_path=short_path,
        short_key=short_key,
        model_alias=model_alias,
        change=formatting.change,
        day=formatting.day,
    )
    env.globals["agent_colours"] = agent_colours
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return env


_ENV = _env()


def render(
    request: Request,
    template: str,
    view: View,
    *,
    page_params: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    zone = view.query.zone
    today = datetime.now(zone).date()
    extra = {k: v for k, v in (page_params or {}).items() if v}

    def href(**changes: str | None) -> str:
        """This page's query string (filters and its own parameters) with ``changes``."""
        pairs = [(k, v) for k, v in view.given if k not in changes]
        pairs += [(k, v) for k, v in extra.items() if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return urlencode(pairs)

    zones = list(COMMON_ZONES)
    if view.query.zone_name not in zones:
        zones.insert(0, view.query.zone_name)
    poll_ms = int(getattr(request.app.state, "dashboard_poll_ms", DEFAULT_POLL_MS))
    page = _ENV.get_template(template).render(
        poll_ms=poll_ms,
        href=href,
        zones=zones,
        request=request,
        view=view,
        zone=zone,
        today=today,
        offset_min=int((datetime.now(zone).utcoffset() or timedelta(0)).total_seconds() // 60),
        static=lambda name: Markup(asset_url(name)),
        time=lambda value: format_time(value, zone, today),
        full_time=lambda value: format_full_time(value, zone),
        ranges=tuple(RANGES),
        range_titles=RANGE_TITLES,
        **context,
    )
    return HTMLResponse(
        page,
        headers={
            "Cache-Control": "no-store",
            # nothing runs but our own files: no inline script, nothing from elsewhere
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def page_view(request: Request) -> tuple[View, list[str]]:
    """The filters of a page; each bad one is named on the page (every one of them, not only
    the first) and left out, the rest still applies."""
    params = request.query_params
    given: dict[str, Any] = {
        "since": params.get("since"),
        "until": params.get("until"),
        "range_": params.get("range"),
        "tz": params.get("tz"),
        "sources": params.getlist("source"),
        "project": params.get("project"),
        "models": params.getlist("model"),
    }
    errors: list[str] = []
    for name in ("tz", "since", "until", "range_"):
        if not given[name]:
            continue
        try:  # each filter alone, so that every bad one is named
            parse_view(**{name: given[name]})
        except InvalidUsage as exc:
            errors.append(_error_text(exc))
            given[name] = None
    try:
        return parse_view(**given, default_range=PAGE_DEFAULT_RANGE), errors
    except InvalidUsage as exc:  # good alone, not together (since after until)
        errors.append(_error_text(exc))
        for name in ("since", "until"):
            given[name] = None
        return parse_view(**given, default_range=PAGE_DEFAULT_RANGE), errors


def _error_text(exc: InvalidUsage) -> str:
    """The message naming its filter once ("since 'x' is not a date", not "since: since …")."""
    message = exc.message.removeprefix("--")  # the zone's message is the CLI's ("--tz …")
    if message.startswith(exc.field):
        return message
    return f"{exc.field}: {message}"


def filter_choices(store: Any) -> dict[str, list[str]]:
    """Every source, model and project the ledger knows, for the filter menus."""
    names = {by: store.group_names(by) for by in ("source", "model", "project")}
    names["model"] = aliases_of(names["model"])  # a dated id and its alias: one choice
    return names


def unpriced_names(models: list[Any]) -> str:
    """The unpriced models' names, for the page's note about them."""
    return ", ".join(m.model for m in models)
