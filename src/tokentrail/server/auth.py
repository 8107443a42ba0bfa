"""Who may talk to the server: loopback without a token, anything else only with one.

When a token is configured, every request (reads, writes, the schema) must carry
``Authorization: Bearer <token>``; the comparison is constant-time.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from tokentrail.errors import ConfigError

TOKEN_ENV = "TOKENTRAIL_TOKEN"


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
    """ASGI middleware: answers 401 to any HTTP request without the right bearer token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("BearerAuth needs a non-empty token")
        self.app = app
        self._expected = b"bearer " + token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        from tokentrail.server.errors import error_response

        response = error_response(
            401,
            "unauthorized",
            "this server needs 'Authorization: Bearer <token>' with its token",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        # the scheme is case-insensitive; the token itself is compared in constant time
        scheme, _, credentials = given.partition(b" ")
        expected_scheme, _, expected = self._expected.partition(b" ")
        scheme_ok = scheme.lower() == expected_scheme
        token_ok = hmac.compare_digest(credentials.strip(), expected)
        return scheme_ok and token_ok
