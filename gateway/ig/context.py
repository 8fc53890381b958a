"""What every IG route needs: the gateway, the IG settings, templates; and the request helpers
that decide who is asking (session, role, CSRF). Refusals are raised as :class:`PageRefused`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response

from gateway.audit.events import AuditEvent, Outcome
from gateway.context import Gateway
from gateway.db import unit_of_work
from gateway.ig import actions, sessions
from gateway.ig.accounts import PRODUCTION, Passwords, Role
from gateway.ig.plain import Glossary
from gateway.ig.settings import IgSettings
from gateway.ig.throttle import SignInThrottle
from gateway.ig.web import html, set_session_cookie


@dataclass
class Ig:
    gateway: Gateway
    settings: IgSettings
    env: Environment
    oauth: Any = None  # authlib StarletteOAuth2App when OIDC is configured
    throttle: SignInThrottle | None = None
    # How sign-in checks passwords. Always PRODUCTION in the product; the suite's page tests put in a
    # cheaper argon2id (tests/ig/conftest.py) so that their accounts do not cost 64 MiB hashes each.
    passwords: Passwords = PRODUCTION
    matrix_cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changes_cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_max_hours)


@dataclass(frozen=True)
class Logged:
    """What the log records of a refused staff action (``ig:refused``): fixed texts, never typed ones."""

    event: AuditEvent
    staff_id: str | None
    reason: str

    def record(self, session: Session) -> str:
        return actions.record(session, self.event, self.staff_id, outcome=Outcome.DENIED, reason=self.reason)


class PageRefused(Exception):
    """Raised by the helpers below; the IG app answers with ``response``. A refusal with ``logged`` is
    written to the log by :func:`transaction` after the request's own work is rolled back."""

    def __init__(self, response: Response, logged: Logged | None = None) -> None:
        super().__init__(response.status_code)
        self.response = response
        self.logged = logged


def install(app: Starlette, ig: Ig) -> None:
    """Keep ``ig`` on the IG application for :func:`ig_of` (the one attribute of its ``app.state``)."""
    app.state.ig = ig


def ig_of(request: Request) -> Ig:
    ig = getattr(request.app.state, "ig", None)
    if not isinstance(ig, Ig):  # fail closed: a page outside the IG application serves nothing
        raise LookupError("this application has no IG context (build it with gateway.ig.mount.build_ig_app)")
    return ig


def now() -> datetime:
    return datetime.now(UTC)


def transaction(request: Request) -> AbstractContextManager[Session]:
    """One unit of work per request (:func:`gateway.db.unit_of_work.refusing`). A refusal rolls back
    whatever the request did, and its log entry, if it has one, is then written on its own."""
    return unit_of_work.refusing(ig_of(request).gateway.sessions, PageRefused, _log_refusal)


def _log_refusal(session: Session, refused: PageRefused) -> None:
    if refused.logged is not None:
        refused.logged.record(session)


def current(request: Request, session: Session) -> sessions.Current | None:
    ig = ig_of(request)
    return sessions.load(session, request.cookies.get(sessions.COOKIE_NAME), now=now(), idle=ig.idle)


def page(request: Request, template: str, cur: sessions.Current | None, status: int = 200, **context: Any) -> Response:
    """Render a page for the session ``cur`` (its CSRF token goes into every form)."""
    staff = cur.staff if cur else None
    response = html(
        ig_of(request).env,
        template,
        {
            "staff": staff,
            "is_admin": staff is not None and staff.role == Role.ADMIN,
            "csrf_token": cur.csrf_token if cur else "",
            "path": request.url.path,
            "glossary": Glossary(),
            **context,
        },
        status,
    )
    set_session_cookie(response, cur)
    return response


def not_found_page(request: Request, cur: sessions.Current | None, what: str) -> Response:
    """The 404 page for a record (a disclosure, a run, a client) that is not there."""
    return page(request, "error.html", cur, 404, title="Page not found", message=f"There is no {what} here.")


def require_staff(request: Request, session: Session) -> sessions.Current:
    """The signed-in session, or a redirect to the sign-in page that comes back here afterwards."""
    cur = current(request, session)
    if cur is None or cur.staff is None:
        target = request.url.path if request.method == "GET" else "/ig/"
        raise PageRefused(RedirectResponse(f"/ig/sign-in?next={quote(target)}", status_code=303))
    return cur


def require_admin(request: Request, cur: sessions.Current, action: str) -> None:
    """Admins only; an auditor is refused (403) and the refusal is logged."""
    assert cur.staff is not None
    if cur.staff.role == Role.ADMIN:
        return
    message = (
        f"This needs the {Role.ADMIN} role; your account has the {cur.staff.role} role. The attempt has been recorded."
    )
    raise _forbidden(request, cur, "You cannot do this", message, f"role:{action}")


def require_csrf(request: Request, cur: sessions.Current | None, submitted: str | None) -> None:
    """A form must carry its session's CSRF token; a forged or stale one is refused (403) and logged."""
    if sessions.csrf_ok(cur, submitted):
        return
    message = (
        "The form was not sent from this service's own page, or it had expired. "
        "Nothing was changed. Go back, reload the page and try again."
    )
    raise _forbidden(request, cur, "This form could not be accepted", message, "csrf")


def _forbidden(request: Request, cur: sessions.Current | None, title: str, message: str, reason: str) -> PageRefused:
    """A 403 page, and the refusal logged (``ig:staff:refused``) under the staff member, when signed in."""
    staff_id = cur.staff.id if cur and cur.staff else None
    return PageRefused(
        page(request, "error.html", cur, 403, title=title, message=message),
        Logged(AuditEvent.IG_REFUSED, staff_id, reason),
    )


def safe_next(target: str | None) -> str:
    """Only a path inside the IG pages: never another site (open redirect)."""
    if target and target.startswith("/ig/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ig/"
