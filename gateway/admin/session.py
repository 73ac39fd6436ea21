"""Admin sessions: log in with the admin key, get a signed cookie; CSRF tokens for every POST.

The cookie is ``<payload>.<signature>``: the payload (base64 JSON) holds the expiry and the
session's CSRF token; the signature is HMAC-SHA256 under a key derived from the admin key, so
changing the admin key logs every session out. The cookie is HttpOnly, SameSite=Strict, scoped to
``/admin`` and Secure when the request came over HTTPS. Forms carry the CSRF token in a hidden
field; a POST without the session's token is refused, and so is one whose Origin is another site.

Scripts can skip the cookie: ``Authorization: Bearer <admin key>`` works on every admin path, and is
the only way into the JSON endpoints under ``/admin/api``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from gateway.auth import is_admin

__all__ = ["COOKIE", "Session", "SessionSigner", "read_form", "same_origin", "safe_next"]

COOKIE = "faas_admin"
LIFETIME = 12 * 3600
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str | None  # None: authenticated by the Bearer header, which no other site can send
    expires: int


class SessionSigner:
    def __init__(self, admin_key: str) -> None:
        self._key = hmac.new(admin_key.encode(), b"faas admin session v1", hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> tuple[str, Session]:
        session = Session(csrf=secrets.token_urlsafe(24), expires=int((now or time.time()) + LIFETIME))
        payload = json.dumps({"exp": session.expires, "csrf": session.csrf}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}", session

    def verify(self, cookie: str, now: float | None = None) -> Session | None:
        encoded, _, signature = cookie.partition(".")
        try:
            payload = _unb64(encoded)
        except ValueError:
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            data = json.loads(payload)
            session = Session(csrf=str(data["csrf"]), expires=int(data["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (now or time.time()) else None

    def session(self, request: Request, admin_key: str) -> Session | None:
        """The caller's session: a valid cookie, or the admin key as a Bearer token."""
        if is_admin(request, admin_key):
            return Session(csrf=None, expires=0)
        cookie = request.cookies.get(COOKIE)
        return self.verify(cookie) if cookie else None


def csrf_ok(session: Session, form: dict[str, str]) -> bool:
    if session.csrf is None:
        return True
    return hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode())


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin or Referer).

    Behind a reverse proxy the browser's host arrives as ``Host`` or ``X-Forwarded-Host``.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "").split(",")[0].strip()}
    return urlsplit(source).netloc in hosts - {""}


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each field)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


LANDING = "/admin/schedules"  # where a login without a page to return to lands: schedules first


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path of ours, never another site."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return LANDING


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad base64") from exc
