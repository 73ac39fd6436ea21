"""What every admin page shares: the navigation, templates, the session check, CSRF-checked actions,
safe headers.

Handlers are written as ``async def handler(admin, request, session) -> Response`` and wrapped:
``page`` (GET; sends a logged-out browser to the login form), ``action`` (POST; also checks the
CSRF token and the Origin) and ``api`` (JSON; the admin key as a Bearer token, nothing else).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from faas.billing import dollars
from faas.exceptions import FaaSError
from faas.runtime import Runtime
from gateway.admin.session import Session, SessionSigner, csrf_ok, read_form, same_origin
from gateway.auth import ADMIN_ONLY, REFUSALS, authorize
from gateway.errors import admin_error, page_error

__all__ = ["SECTIONS", "Admin", "Endpoint", "Handler", "Section", "action", "api", "page", "redirect", "secure"]

HERE = Path(__file__).parent
# No inline script or style may run: the pages need neither, and CSP then blunts any injection.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One entry of the navigation; its module (``gateway/admin/<name>.py``) serves ``/admin/<slug>...``."""

    slug: str
    title: str
    summary: str  # one sentence, shown on the overview

    @property
    def path(self) -> str:
        return f"/admin/{self.slug}"


# The navigation, in the order the sidebar and the overview show it.
SECTIONS: tuple[Section, ...] = (
    Section(slug="schedules", title="Schedules",
            summary="Functions that run on a cron or rate schedule: next and last run, pause, resume, run now, "
            "and each schedule's run history."),
    Section(slug="functions", title="Functions",
            summary="Each function's settings, warm workers, and how its calls went over the last 24 hours."),
    Section(slug="invocations", title="Invocations",
            summary="Every call, newest first, with filters; open one to read its log."),
    Section(slug="bills", title="Bills",
            summary="What each function and each API key costs under AWS Lambda pricing, per month, as CSV too."),
    Section(slug="keys", title="API keys",
            summary="Keys for routes with auth = \"api_key\": create one (its secret is shown once), see them, "
            "revoke."),
    Section(slug="dead-letters", title="Dead letters",
            summary="Asynchronous calls that failed every retry, with their last error, kept until you replay them."),
)

Handler = Callable[["Admin", Request, Session], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Admin:
    """The admin pages' shared state: the runtime, the templates and the session signer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )
        self.env.filters.update(ms=_ms, when=_when, stamp=_stamp, ago=_ago, until=_until, local=_local,
                                dollars=_dollars, num=_num, mb=_mb, price=_price)
        self._signer: tuple[str, SessionSigner] | None = None

    @property
    def signer(self) -> SessionSigner:
        key = self.runtime.admin_key
        if self._signer is None or self._signer[0] != key:
            self._signer = (key, SessionSigner(key))
        return self._signer[1]

    def session(self, request: Request) -> Session | None:
        if not self.runtime.admin_key:
            return None
        return self.signer.session(request, self.runtime.admin_key)

    def render(self, request: Request, template: str, *, section: str, session: Session | None,
               status: int = 200, **context: Any) -> Response:
        context.setdefault("flash", None)  # a line saying what the last action did
        context.setdefault("refresh", None)  # seconds: reload while something runs (a meta refresh, no script)
        html = self.env.get_template(template).render(
            request=request, section=section, sections=SECTIONS, session=session,
            csrf=session.csrf if session else "", **context,
        )
        return secure(HTMLResponse(html, status))

    def refuse(self, request: Request, session: Session, *, section: str, status: int, title: str, message: str,
               back: str | None = None) -> Response:
        """An error page that says what went wrong and links back to where the user came from."""
        return self.render(request, "error.html", section=section, session=session, status=status, title=title,
                           message=message, back=back)

    def fail(self, request: Request, session: Session, exc: FaaSError, *, section: str,
             back: str | None = None) -> Response:
        """The error page for a core exception, in the admin table's words (gateway/errors.py)."""
        error = page_error(exc)
        return self.refuse(request, session, section=section, status=error.status, title=error.title,
                           message=error.message, back=back)


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(path: str, **params: str) -> Response:
    """After an action: see the result on a page (303, so a reload does not post again)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return secure(RedirectResponse(f"{path}?{query}" if query else path, 303))


def page(handler: Handler) -> Callable[[Admin], Endpoint]:
    """A GET page: logged-out browsers go to the login form and come back after."""

    def bind(admin: Admin) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            session = admin.session(request)
            if session is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return secure(RedirectResponse(f"/admin/login?next={quote(target, safe='')}", 303))
            return await handler(admin, request, session)

        return endpoint

    return bind


def action(handler: Handler) -> Callable[[Admin], Endpoint]:
    """A POST action: needs a session, a same-site Origin and the session's CSRF token."""

    def bind(admin: Admin) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            session = admin.session(request)
            if session is None:
                return secure(RedirectResponse("/admin/login", 303))
            form = await read_form(request)
            if not same_origin(request) or not csrf_ok(session, form):
                return admin.render(request, "error.html", section="", session=session, status=403,
                                    title="Refused", message="This form has expired or came from another site. "
                                    "Go back, reload the page and try again.")
            request.state.form = form
            return await handler(admin, request, session)

        return endpoint

    return bind


def api(handler: Callable[[Admin, Request], Awaitable[Response]]) -> Callable[[Admin], Endpoint]:
    """A JSON endpoint: only ``Authorization: Bearer <admin key>`` gets in (a cookie does not)."""

    def bind(admin: Admin) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                await authorize(admin.runtime, request.scope, ADMIN_ONLY)
            except REFUSALS as exc:
                return secure(admin_error(exc, hint="Unauthorized: send the admin key as Authorization: Bearer"))
            return secure(await handler(admin, request))

        return endpoint

    return bind


# --- template filters --------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.2f} ms"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _span(seconds: float) -> str:
    whole = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if whole >= size:
            return f"{whole // size} {unit}"
    return f"{whole} s"


def _ago(ts: float) -> str:
    return f"{_span(time.time() - ts)} ago"


def _until(ts: float) -> str:
    return f"in {_span(ts - time.time())}"


def _local(ts: float, zone: str) -> str:
    """A time as the wall clock of ``zone`` shows it (a schedule's timezone)."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _dollars(value: Decimal) -> str:
    return dollars(value)


def _price(value: Decimal) -> str:
    return f"{value:f}"


def _num(value: int | float | Decimal) -> str:
    if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral_value()):
        return f"{int(value):,}"
    return f"{value:,.3f}"


def _mb(value: int) -> str:
    return f"{value:,} MB"
