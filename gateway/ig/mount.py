"""The IG sub-application, mounted by the app factory at ``/ig``.

A sub-application so that it answers in HTML (the API answers in FHIR and OAuth JSON) and carries
its own security headers, whatever the API's handlers do.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from gateway.context import Gateway
from gateway.ig import disclosure_pages, override_pages, pages, signin
from gateway.ig.context import Ig, PageRefused, install
from gateway.ig.settings import IgSettings
from gateway.ig.throttle import SignInThrottle
from gateway.ig.web import STATIC, PageHeaders, html, make_environment


def build_ig_app(gateway: Gateway, settings: IgSettings | None = None) -> FastAPI:
    settings = settings or IgSettings()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    env = make_environment()
    throttle = SignInThrottle(
        address_per_minute=settings.signin_address_per_minute,
        address_burst=settings.signin_address_burst,
        account_per_minute=settings.signin_account_per_minute,
        account_burst=settings.signin_account_burst,
    )
    install(app, Ig(gateway=gateway, settings=settings, env=env, oauth=_oauth(settings), throttle=throttle))
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.include_router(disclosure_pages.router)
    app.include_router(override_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(PageRefused)
    async def _refused(_request: Request, exc: PageRefused) -> Response:
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        title = "Page not found" if exc.status_code == 404 else "Something went wrong"
        return html(
            env,
            "error.html",
            {"title": title, "message": "Check the address, or go back.", "staff": None},
            exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Names the parameters only: a value (an identifier pasted into a URL) is never echoed back.
        where = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return html(
            env,
            "error.html",
            {
                "title": "This address is not valid",
                "message": f"Check {', '.join(where) or 'the address'}, or go back and try again.",
                "staff": None,
            },
            400,
        )

    app.add_middleware(PageHeaders)
    return app


def _oauth(settings: IgSettings) -> object | None:
    if not settings.oidc_enabled:
        return None
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    client: object = oauth.register(
        name="staff",
        server_metadata_url=str(settings.oidc_issuer).rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"},
    )
    return client
