"""Who may talk to the server: loopback without a token, anything else only with one.

When a token is configured, every request (reads, writes, the schema) must carry
``Authorization: Bearer <token>``; the comparison is constant-time. A browser cannot send that
header, so opening any page once with ``?token=<token>`` stores the token in an HttpOnly,
SameSite=Strict cookie and redirects to the same page without it; the cookie is then accepted
for reads (GET and HEAD) only, so a cookie never authorises a write.

With or without a token, :class:`BrowserGuard` keeps other web sites' pages out: a loopback
server answers only to loopback names (DNS rebinding), and writes must be JSON and not come
from another site's page (see docs/http-api.md, "What a web page may do").
"""

from __future__ import annotations

import hmac
import ipaddress
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from tokentrail.errors import ConfigError

TOKEN_ENV = "TOKENTRAIL_TOKEN"
COOKIE_NAME = "tokentrail_token"
_READS = ("GET", "HEAD")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not token and not is_loopback(host):
        raise ConfigError(
            f"--host {host} is reachable from other machines: set a token with --token or "
            f"the {TOKEN_ENV} environment variable (clients then send "
            "'Authorization: Bearer <token>'), or bind to 127.0.0.1"
        )


class BearerAuth:
    """ASGI middleware: answers 401 to any HTTP request without the right bearer token (or,
    for reads, the right cookie; see the module's docs)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("BearerAuth needs a non-empty token")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        from starlette.responses import RedirectResponse

        from tokentrail.server.errors import error_response

        if scope["method"] in _READS and self._query_token_ok(scope):
            redirect = RedirectResponse(self._without_token(scope), status_code=303)
            redirect.set_cookie(
                COOKIE_NAME, self._token.decode(), httponly=True, samesite="strict", path="/"
            )
            await redirect(scope, receive, send)
            return
        response = error_response(
            401,
            "unauthorized",
            "this server needs 'Authorization: Bearer <token>' with its token "
            "(in a browser: open the page once with ?token=<token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers", ()))
        # the scheme is case-insensitive; the token itself is compared in constant time
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token):
            return True
        if scope["method"] not in _READS or b"cookie" not in headers:
            return False
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(headers[b"cookie"].decode("latin-1"))
        except Exception:  # a malformed cookie header is just not a credential
            return False
        morsel = cookie.get(COOKIE_NAME)
        return morsel is not None and hmac.compare_digest(
            morsel.value.encode("latin-1", "replace"), self._token
        )

    def _query_token_ok(self, scope: Scope) -> bool:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = [value for name, value in query if name == "token"]
        return len(given) == 1 and hmac.compare_digest(
            given[0].encode("latin-1", "replace"), self._token
        )

    @staticmethod
    def _without_token(scope: Scope) -> str:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        kept = urlencode([(name, value) for name, value in query if name != "token"])
        path: str = scope.get("root_path", "") + scope["path"]
        return path + (f"?{kept}" if kept else "")


# -- what a browser may do: Host, Origin and Content-Type -------------------------------------

MIN_TOKEN_CHARS = 16
"""Fewest non-blank characters a server token may have: a short token is guessed."""

_WRITES = ("POST", "PUT", "PATCH", "DELETE")
_JSON = "application/json"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot protect a server (None when it can)."""
    if sum(not c.isspace() for c in token) < MIN_TOKEN_CHARS:
        return (
            f"a token needs at least {MIN_TOKEN_CHARS} non-blank characters; make one with "
            "'openssl rand -hex 32'"
        )
    return None


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """The names a request's Host header may carry, or None for any.

    On loopback a web page can reach the server through a name of its own that resolves to
    127.0.0.1 (DNS rebinding): only the loopback names and the bound one are accepted. Off
    loopback a token is required, which a rebound page does not have, and the names the
    machine is reached by are not known here: any Host is accepted."""
    if not is_loopback(bind_host):
        return None
    return frozenset({*_LOOPBACK_NAMES, _host_name(bind_host)})


def _host_name(host: str) -> str:
    """The name of a Host header value or bound host, without port and brackets, lowercase."""
    value = host.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class BrowserGuard:
    """ASGI middleware against web pages that talk to the server behind the user's back.

    * Host: with ``hosts`` (see :func:`allowed_hosts`), a request whose Host names another
      server is answered 421: it reached us through DNS rebinding or a misconfigured proxy.
    * Origin: a write (POST, PUT, PATCH, DELETE) from a page of another origin -- its
      ``Origin`` is not this server's, or ``Sec-Fetch-Site`` says ``cross-site`` or
      ``same-site`` -- is answered 403. Clients that are not browsers send neither header.
    * Content-Type: a write under ``/api/`` must say ``application/json`` (415 otherwise). A
      page can post ``text/plain`` anywhere without asking; JSON needs a CORS preflight that
      this server never grants. The OTLP routes check their own types (protobuf or JSON).
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                from tokentrail.server.errors import error_response

                status, code, message = refusal
                await error_response(status, code, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = {name: value.decode("latin-1") for name, value in scope.get("headers", ())}
        host = headers.get(b"host", "")
        if self.hosts is not None and _host_name(host) not in self.hosts:
            return (
                421,
                "misdirected_request",
                f"this server does not answer to the name {host[:100]!r}; open it as "
                "http://127.0.0.1:<port>/ or http://localhost:<port>/",
            )
        if scope["method"] not in _WRITES:
            return None
        site = headers.get(b"sec-fetch-site", "").strip().lower()
        origin = headers.get(b"origin")
        if site in ("cross-site", "same-site") or (
            origin is not None and not _same_origin(origin, host)
        ):
            return (
                403,
                "forbidden",
                "writes from another web site's page are refused; send them from a program "
                "(no Origin header) or from this server's own pages",
            )
        path: str = scope.get("path", "")
        if path.startswith("/api/") and scope["method"] != "DELETE":
            media = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
            if media != _JSON:
                return (
                    415,
                    "unsupported_media_type",
                    f"Content-Type {media or '(none)'!r} is not accepted; send the body as "
                    "JSON with the header 'Content-Type: application/json'",
                )
        return None


def _same_origin(origin: str, host: str) -> bool:
    """True when a browser's ``Origin`` is the server the request was sent to (its Host)."""
    scheme, _, rest = origin.strip().lower().partition("://")
    return scheme in ("http", "https") and bool(rest) and rest.rstrip("/") == host.strip().lower()
