"""Signing in and out: local accounts (argon2id, lockout) and OIDC (Authlib's Starlette client)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from gateway.audit.events import AuditEvent, Outcome
from gateway.db import unit_of_work
from gateway.ig import accounts, actions, sessions
from gateway.ig.accounts import SignIn
from gateway.ig.context import current, ig_of, now, page, require_csrf, safe_next, transaction
from gateway.ig.web import clear_session_cookie, set_session_cookie

router = APIRouter()

FAILED = "Sign-in failed. Check your username and password."


def _sign_in_page(
    request: Request,
    nonce: str,
    errors: list[tuple[str, str]],
    username: str,
    next_path: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    ig = ig_of(request)
    response = page(
        request,
        "sign_in.html",
        None,
        status,
        title="Sign in",
        errors=errors,
        username=username,
        next_path=next_path,
        csrf_token=sessions.signin_csrf_token(_form_key(request), nonce),
        lockout_attempts=ig.settings.lockout_attempts,
        lockout_minutes=ig.settings.lockout_minutes,
        oidc_label=ig.settings.oidc_label if ig.oauth is not None else None,
    )
    response.headers.update(headers or {})
    response.set_cookie(sessions.SIGNIN_COOKIE, nonce, path="/", secure=True, httponly=True, samesite="strict")
    return response


def _form_key(request: Request) -> bytes:
    return ig_of(request).gateway.keyring.hmac_key


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/ig/") -> Response:
    """The form. It writes nothing: its CSRF token is a signed cookie, not a session row."""
    ig = ig_of(request)
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    if cookie:
        signed_in = unit_of_work.read(
            ig.gateway.sessions, lambda tx: sessions.peek(tx, cookie, now=now(), idle=ig.idle)
        )
        if signed_in is not None:
            return RedirectResponse(safe_next(next), status_code=303)
    nonce = request.cookies.get(sessions.SIGNIN_COOKIE) or sessions.new_signin_nonce()
    return _sign_in_page(request, nonce[:100], [], "", safe_next(next))


@router.post("/sign-in")
def sign_in(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/ig/"),
) -> Response:
    """Read the account, close the transaction, check the password, then judge it in a new one.

    The argon2id check is slow on purpose; made inside a transaction it would hold the database (on
    SQLite, its one write lock) and stall every disclosure behind a sign-in. Throttled attempts are
    refused before any hash is made.
    """
    ig = ig_of(request)
    username = username.strip().lower()
    nonce = request.cookies.get(sessions.SIGNIN_COOKIE)
    if not sessions.signin_csrf_ok(_form_key(request), nonce, csrf_token):
        with transaction(request):
            require_csrf(request, None, None)  # refuses, and the refusal is logged
    assert nonce is not None
    errors = []
    if not username:
        errors.append(("username", "Enter your username"))
    if not password:
        errors.append(("password", "Enter your password"))
    if errors:
        return _sign_in_page(request, nonce, errors, username, safe_next(next), 400)
    address = request.client.host if request.client else "unknown"
    limited = ig.throttle.take(address, username) if ig.throttle is not None else None
    if limited is not None:
        if limited.log:
            with transaction(request) as session:
                found = accounts.find_by_username(session, username)
                reason = "sign-in:throttled"
                actions.record(
                    session,
                    AuditEvent.IG_SIGNIN_FAILED,
                    found.id if found else None,
                    outcome=Outcome.DENIED,
                    reason=reason,
                )
        message = f"Too many sign-in attempts. Wait {limited.retry_after} seconds, then try again."
        retry = {"Retry-After": str(limited.retry_after)}
        return _sign_in_page(request, nonce, [("username", message)], username, safe_next(next), 429, retry)
    candidate = unit_of_work.read(ig.gateway.sessions, lambda tx: accounts.candidate(tx, username, now=now()))
    checked = accounts.check_password(candidate, password, ig.passwords)  # no transaction open: see the docstring
    with transaction(request) as session:
        result = accounts.settle(
            session,
            candidate,
            checked,
            now=now(),
            max_attempts=ig.settings.lockout_attempts,
            lockout=timedelta(minutes=ig.settings.lockout_minutes),
        )
        staff_id = result.account.id if result.account else None
        if result.outcome is not SignIn.OK or result.account is None:
            if result.just_locked:
                actions.record(session, AuditEvent.IG_LOCKED, staff_id, outcome=Outcome.DENIED, reason="attempts")
            reason = f"sign-in:{result.outcome.value}" if staff_id else "sign-in:unknown-account"
            actions.record(session, AuditEvent.IG_SIGNIN_FAILED, staff_id, outcome=Outcome.DENIED, reason=reason)
            # One message whatever the cause, so the page never says whether an account exists.
            return _sign_in_page(request, nonce, [("username", FAILED)], username, safe_next(next), 401)
        previous = current(request, session)
        if previous is not None:
            sessions.end(session, previous)
        sessions.purge_expired(session, now())  # housekeeping: sessions nobody came back to
        fresh = sessions.start(session, result.account, now=now(), lifetime=ig.lifetime)
        actions.record(session, AuditEvent.IG_SIGNIN, result.account.id, reason="password")
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, fresh)
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: str = Form("")) -> Response:
    with transaction(request) as session:
        cur = current(request, session)
        require_csrf(request, cur, csrf_token)
        assert cur is not None
        if cur.staff is not None:
            actions.record(session, AuditEvent.IG_SIGNOUT, cur.staff.id)
        sessions.end(session, cur)
    response = RedirectResponse("/ig/sign-in", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/oidc/start")
async def oidc_start(request: Request) -> Response:
    """Send the browser to the organisation's identity provider (authorization code flow, with PKCE)."""
    ig = ig_of(request)
    if ig.oauth is None:
        return RedirectResponse("/ig/sign-in", status_code=303)
    with transaction(request) as session:
        cur = current(request, session) or sessions.start(session, None, now=now(), lifetime=ig.idle)
        # Authlib keeps its state and nonce in request.session: here, our server-side session's data.
        request.scope["session"] = dict(cur.row.data)
        redirect_uri = ig.gateway.settings.issuer.rstrip("/") + "/ig/oidc/callback"
        response: Response = await ig.oauth.authorize_redirect(request, redirect_uri)
        cur.row.data = dict(request.scope["session"])
    set_session_cookie(response, cur)
    return response


@router.get("/oidc/callback")
async def oidc_callback(request: Request) -> Response:
    from authlib.integrations.base_client import OAuthError

    ig = ig_of(request)
    if ig.oauth is None:
        return RedirectResponse("/ig/sign-in", status_code=303)
    with transaction(request) as session:
        cur = current(request, session)
        if cur is None:
            return RedirectResponse("/ig/sign-in", status_code=303)
        request.scope["session"] = dict(cur.row.data)
        try:
            token = await ig.oauth.authorize_access_token(request)
        except (OAuthError, ValueError, KeyError):
            token = None
        cur.row.data = dict(request.scope["session"])
        claims = (token or {}).get("userinfo") or {}
        subject = f"{claims.get('iss', '')}|{claims.get('sub', '')}" if claims.get("sub") else None
        account = accounts.find_by_oidc_subject(session, subject) if subject else None
        if account is None or account.disabled_at is not None:
            reason = "oidc:no-token" if token is None else "oidc:no-account"
            actions.record(
                session,
                AuditEvent.IG_SIGNIN_FAILED,
                account.id if account else None,
                outcome=Outcome.DENIED,
                reason=reason,
            )
            return _sign_in_page(
                request,
                request.cookies.get(sessions.SIGNIN_COOKIE) or sessions.new_signin_nonce(),
                [
                    (
                        "oidc",
                        "Sign-in through your organisation failed, or your account has no access "
                        "to these pages. Ask an IG administrator.",
                    )
                ],
                "",
                "/ig/",
                401,
            )
        account.last_sign_in_at = now()
        sessions.end(session, cur)
        fresh = sessions.start(session, account, now=now(), lifetime=ig.lifetime)
        actions.record(session, AuditEvent.IG_SIGNIN, account.id, reason="oidc")
    response = RedirectResponse("/ig/", status_code=303)
    set_session_cookie(response, fresh)
    return response
