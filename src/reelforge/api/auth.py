"""Bearer-token auth for every route but health, docs and public media URLs.

Tokens come from settings (``auth.tokens``, e.g. ``REELFORGE_AUTH__TOKENS='["..."]'``) and are
compared in constant time. API clients send ``Authorization: Bearer <token>``; a browser signs in
once at ``/login`` and the token rides in an HTTP-only, same-site cookie. Auth is off only when
``auth.enabled`` is explicitly false.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from reelforge.errors import ConfigurationError, Unauthorized
from reelforge.settings import AuthSettings

__all__ = ["COOKIE_NAME", "BearerAuth", "LoginRequired", "PageAuth", "safe_next"]

COOKIE_NAME = "reelforge_token"


class LoginRequired(Exception):
    """A page was asked for without a valid token: send the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.location = f"/login?next={quote(safe_next(next_path))}"


def safe_next(path: str) -> str:
    """Only same-site absolute paths, so sign-in can never redirect elsewhere."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


class BearerAuth(SecurityBase):
    """A FastAPI dependency checking the bearer token (or the sign-in cookie). A security
    scheme to FastAPI, so the OpenAPI document names it on every route it guards."""

    def __init__(self, settings: AuthSettings) -> None:
        self.model = HTTPBearerModel(description="An API token from auth.tokens")
        self.scheme_name = "bearer"
        if settings.enabled and not settings.tokens:
            raise ConfigurationError(
                "API auth is on but no token is configured: set REELFORGE_AUTH__TOKENS "
                "(a JSON list), or turn auth off explicitly with REELFORGE_AUTH__ENABLED=false.",
            )
        self.enabled = settings.enabled
        self._tokens = [t.get_secret_value().encode() for t in settings.tokens]

    def accepts(self, presented: str) -> bool:
        candidate = presented.strip().encode()
        # Compare against every token so timing does not reveal which one nearly matched.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(candidate, token)
        return matched and bool(candidate)

    def authorized(self, request: Request) -> bool:
        if not self.enabled:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and presented:
            return self.accepts(presented)
        cookie = request.cookies.get(COOKIE_NAME)
        return cookie is not None and self.accepts(cookie)

    async def __call__(self, request: Request) -> None:
        if self.authorized(request):
            return
        if request.headers.get("authorization") or request.cookies.get(COOKIE_NAME):
            raise Unauthorized("The API token is not valid.")
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")


class PageAuth:
    """The same check for web pages, which redirect to the sign-in page instead of a 401."""

    def __init__(self, auth: BearerAuth) -> None:
        self._auth = auth

    async def __call__(self, request: Request) -> None:
        if not self._auth.authorized(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
