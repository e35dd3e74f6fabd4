"""What every page shares: who is signed in and what they may do, CSRF, size limits and the
headers every page carries. The pages are in `balancer.web.pages`, `balancer.web.runs`,
`balancer.web.intake`, `balancer.web.commitments` and `balancer.web.checkpoints`; the application
is put together in `balancer.web.server`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from balancer.web.accounts import PERMISSIONS

MAX_UPLOAD_BYTES = 50 * 2**20
"""One request's body at most: a scenario with its tables (1M cases in CSV are about 30 MB)."""
MAX_FILES = 20
MAX_FIELD_BYTES = 64 * 2**10
"""A form's text field (a reason, a case id)."""

PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class Throttle:
    """Failed sign-ins by account name: after `limit` in a row the name is refused for `lock`
    seconds, right password or not, so a password cannot be guessed at the server's speed. (Kept
    in memory: a restart forgets it; locking someone out takes their name and a few tries.)"""

    def __init__(self, limit: int = 5, lock: float = 60.0) -> None:
        self.limit, self.lock = limit, lock
        self._failed: dict[str, tuple[int, float]] = {}

    def locked(self, name: str) -> bool:
        count, since = self._failed.get(name, (0, 0.0))
        return count >= self.limit and time.monotonic() - since < self.lock

    def failed(self, name: str) -> None:
        if len(self._failed) > 10_000:  # names typed at random must not fill the memory
            self._failed.clear()
        count, _ = self._failed.get(name, (0, 0.0))
        self._failed[name] = (count + 1, time.monotonic())

    def succeeded(self, name: str) -> None:
        self._failed.pop(name, None)


class SignInFirst(Exception):
    """No one is signed in: every page but the sign-in page sends them there."""


@dataclass(frozen=True)
class Visit:
    """Who asks, with what roles, and the form they sent (POST)."""

    user: str
    roles: frozenset[str]
    form: FormData | None

    def may(self, permission: str) -> bool:
        return bool(self.roles & PERMISSIONS[permission])

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


def render(request: Request, template: str, visit: Visit | None = None, status_code: int = 200, **context):
    """A page, with what its layout needs: who is signed in, what they may do, the CSRF token."""
    return request.app.state.templates.TemplateResponse(
        request, template, {"visit": visit, "csrf": csrf_token(request), **context}, status_code=status_code)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on its first page), sent back in every POST form."""
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


async def read_form(request: Request) -> FormData:
    """The POSTed form, within the limits, its CSRF token checked (403 without the session's)."""
    form = await request.form(max_files=MAX_FILES, max_fields=50, max_part_size=MAX_FIELD_BYTES)
    sent, expected = form.get("csrf"), request.session.get("csrf")
    if not (isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)):
        raise HTTPException(403, "This form's security token is missing or stale: reload the page and try again.")
    return form


def allowed(permission: str | None):
    """A dependency: the signed-in visit (anonymous: to the sign-in page), its POSTed form checked
    for CSRF, refused (403) unless one of its roles has `permission` (None: any signed-in user)."""

    async def visit(request: Request) -> Visit:
        user = request.session.get("user")
        roles = request.app.state.accounts.roles(user) if isinstance(user, str) else set()
        if not roles:  # no session, or an account that no longer exists
            request.session.pop("user", None)
            raise SignInFirst()
        form = await read_form(request) if request.method == "POST" else None
        found = Visit(user, frozenset(roles), form)
        if permission is not None and not found.may(permission):
            raise HTTPException(403, f"Your roles ({', '.join(sorted(roles))}) do not allow this: it needs "
                                     f"{' or '.join(sorted(PERMISSIONS[permission]))}.")
        return found

    return visit


async def error_page(request: Request, exc: StarletteHTTPException):
    return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, message=exc.detail)


async def security_headers(request: Request, call_next):
    """No page is framed, cached, sniffed or allowed to load anything from elsewhere; the report
    (inline SVG and styles, no script) sets a stricter policy of its own."""
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class _TooLarge(Exception):
    pass


class LimitBody:
    """Refuse (413) a request body over `limit` bytes: by its Content-Length before it is read, and
    by counting as it arrives (a chunked upload names no length)."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            return await self._refuse(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        text = f"The upload is larger than this server takes ({self.limit // 2**20} MB at most)."
        await PlainTextResponse(text, status_code=413)(scope, receive, send)
