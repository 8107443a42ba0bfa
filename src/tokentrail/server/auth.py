"""Who may talk to the server: loopback without a token, anything else only with one.

When a token is configured, every request (reads, writes, the schema) must carry
``Authorization: Bearer <token>``; the comparison is constant-time. A browser cannot send that
header, so opening any page once with ``?token=<token>`` stores the token in an HttpOnly,
SameSite=Strict cookie and redirects to the same page without it; the cookie is then accepted
for reads (GET and HEAD) only, so a cookie never authorises a write.
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
