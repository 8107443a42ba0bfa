"""``serve`` (the dashboard, the REST API and the OpenTelemetry receiver), ``otel-env`` (an
agent's settings that send to it) and ``reconcile`` (what OpenTelemetry, the logs and the
agents' metrics each saw)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import SOURCE, TZ, database_option, json_option
from tokentrail.cli_types import DAY, OtelAgent
from tokentrail.errors import ConfigError, OptionError

if TYPE_CHECKING:
    from tokentrail.reports.reconciliation import Reconciliation


def _server_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The server's token, or None; a token too short to protect anything is a usage error."""
    if not value:
        return None
    from tokentrail.server.auth import token_problem

    problem = token_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--token' / TOKENTRAIL_TOKEN")
    return value


@click.command(cls=TokentrailCommand)
@database_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs --token.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="TCP port."
)
@click.option(
    "--token",
    envvar="TOKENTRAIL_TOKEN",
    metavar="TOKEN",
    callback=_server_token,
    help="Require 'Authorization: Bearer TOKEN' on every request (at least 16 non-blank "
    "characters). Default: $TOKENTRAIL_TOKEN (prefer it: other users can see a command line).",
)
@click.option(
    "--otlp-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Also receive OpenTelemetry on this port (4318 is OTLP/HTTP's own); the API's port "
    "receives it at /v1/logs, /v1/metrics and /v1/traces either way.",
)
@click.option(
    "--sync/--no-sync",
    "keep_syncing",
    default=True,
    show_default=True,
    help="Keep reading the agents' logs into the ledger while serving (on every change, "
    "and at least every 30 seconds).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def serve(
    database: str | None,
    host: str,
    port: int,
    token: str | None,
    otlp_port: int | None,
    keep_syncing: bool,
    open_browser: bool,
) -> None:
    """Serve the dashboard (/), the REST API (/api/v1, schema at /openapi.json) and the
    OpenTelemetry receiver (/v1/logs, /v1/metrics), on loopback by default."""
    from tokentrail.server.auth import allowed_hosts, check_bind

    token = token or None
    check_bind(host, token)
    hosts = allowed_hosts(host)
    import asyncio

    import uvicorn

    from tokentrail.cli.common import open_ledger
    from tokentrail.server.app import create_app
    from tokentrail.server.otlp_routes import create_otlp_app, serve_together
    from tokentrail.watch import BackgroundSync

    with open_ledger(database) as ledger:
        app = create_app(ledger, token=token, hosts=hosts)
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{port}"
        click.echo(_serving_line(base, ledger.location, otlp_port, token, keep_syncing), err=True)
        servers = [
            uvicorn.Server(
                uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
            )
        ]
        if otlp_port:
            otlp_app = create_otlp_app(ledger, token=token, hosts=hosts)
            config = uvicorn.Config(
                otlp_app, host=host, port=otlp_port, log_level="info", access_log=False
            )
            servers.append(uvicorn.Server(config))
        syncing = BackgroundSync(ledger) if keep_syncing else None
        if syncing is not None:
            syncing.start()
        if open_browser:
            import threading
            import webbrowser

            threading.Timer(1.0, webbrowser.open, args=(f"{base}/",)).start()
        try:
            asyncio.run(serve_together(*servers))
        finally:
            if syncing is not None:
                syncing.stop()


def _serving_line(
    base: str, location: str, otlp_port: int | None, token: str | None, keep_syncing: bool
) -> str:
    """What ``serve`` says on start: where everything is, and what it needs."""
    return (
        f"tokentrail dashboard on {base}/ and API on {base}/api/v1 (ledger "
        f"{location}); endpoints at {base}/docs; OpenTelemetry at {base}/v1/logs"
        + (f" and on port {otlp_port}" if otlp_port else "")
        + (
            "; bearer token required (browsers: open the page once with ?token=...)"
            if token
            else ""
        )
        + ("" if keep_syncing else "; not syncing the agents' logs (--no-sync)")
    )


@click.command("otel-env", cls=TokentrailCommand)
@click.argument("agent", type=OtelAgent())
@click.option(
    "--endpoint",
    default="http://127.0.0.1:8787",
    show_default=True,
    metavar="URL",
    help="Where tokentrail serve listens, as the agent's machine reaches it.",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="The server's token (its --token); printed into the snippet.",
)
def otel_env(agent: str, endpoint: str, token: str | None) -> None:
    """Print the settings that send AGENT's OpenTelemetry usage to tokentrail serve."""
    from tokentrail.otel_env import agent_commands, snippet

    if agent not in agent_commands():
        known = ", ".join(agent_commands())
        raise ConfigError(f"unknown agent {agent!r}; choose one of {known}")
    click.echo(snippet(agent, endpoint, token), nl=False)


@click.command(cls=TokentrailCommand)
@database_option
@click.option("--since", type=DAY, help="First local day (default: 6 days ago).")
@click.option("--until", type=DAY, help="Last local day (default: today).")
@TZ
@SOURCE
@json_option()
def reconcile(
    database: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: Sequence[str],
    as_json: bool,
) -> None:
    """Compare, per source and day, what OpenTelemetry, log files and the agents' metrics saw."""
    from tokentrail.cli.common import open_ledger
    from tokentrail.ingest import InvalidUsage
    from tokentrail.reports.reconciliation import reconciliation_report
    from tokentrail.server.otlp_routes import reconcile_query

    try:
        query = reconcile_query(tz=tz, since=since, until=until, sources=list(sources))
    except InvalidUsage as error:
        raise OptionError(f"--{error.field}: {error.message}") from None
    with open_ledger(database, sources=sources) as ledger, ledger.reading() as store:
        report = reconciliation_report(store, query)
    if as_json:
        import orjson

        click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print_reconciliation(report)


def _print_reconciliation(report: Reconciliation) -> None:
    from rich.table import Table

    from tokentrail.output import new_console

    def n(value: int | float | None) -> str:
        return "—" if value is None else f"{value:,}"

    def usd(value: float | None) -> str:
        return "—" if value is None else f"${value:,.4f}"

    shown_on = new_console()
    if not report.rows:
        shown_on.print(
            f"Nothing recorded from {report.since} to {report.until} ({report.timezone})."
        )
        return
    table = Table(title=f"Reconciliation {report.since} to {report.until} ({report.timezone})")
    for column in ("Day", "Source", "Ledger", "Logs", "OTLP", "Metrics", "Both", "Only OTLP"):
        table.add_column(column, justify="left" if column in ("Day", "Source") else "right")
    for row in report.rows:
        table.add_row(
            row.period,
            row.source,
            f"{n(row.ledger.requests)} req\n{n(row.ledger.tokens)} tok\n{usd(row.ledger.cost_usd)}",
            f"{n(row.logs.requests)} req\n{n(row.logs.tokens)} tok\n{usd(row.logs.cost_usd)}",
            f"{n(row.otlp.requests)} req\n{n(row.otlp.tokens)} tok\n"
            f"{usd(row.otlp.reported_cost_usd)} rep.",
            f"{n(row.metrics.tokens)} tok\n{usd(row.metrics.cost_usd)}",
            n(row.both),
            n(row.only_otlp),
        )
    shown_on.print(table)
    for row in report.rows:
        for note in row.notes:
            shown_on.print(f"{row.period} {row.source}: {note}")
