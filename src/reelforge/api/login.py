"""``/login`` and ``/logout``: put an API token into (or out of) an HTTP-only cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reelforge.api.auth import COOKIE_NAME, BearerAuth, safe_next
from reelforge.facekit.pages import render

__all__ = ["login_router"]


def login_router(auth: BearerAuth) -> APIRouter:
    router = APIRouter(tags=["pages"], include_in_schema=False)

    @router.get("/login")
    async def login_page(next: str = "/") -> HTMLResponse:
        return render("login.html", next=safe_next(next), error=None)

    @router.post("/login", response_model=None)
    async def login(
        request: Request,
        token: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if auth.enabled and not auth.accepts(token):
            return render(
                "login.html",
                status_code=401,
                next=safe_next(next),
                error="That token is not valid.",
            )
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    return router
