"""The application put together (`create_app`): the data folder, accounts, jobs, sessions and
limits of `balancer.web.app`, and the pages of `balancer.web.pages`, `balancer.web.runs`,
`balancer.web.intake`, `balancer.web.commitments` and `balancer.web.checkpoints`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from balancer.web import checkpoints, commitments, intake, pages, runs
from balancer.web.accounts import Accounts
from balancer.web.app import MAX_UPLOAD_BYTES, LimitBody, SignInFirst, Throttle, error_page, security_headers
from balancer.web.jobs import Jobs
from balancer.web.storage import Storage


def create_app(data_dir: str | Path, *, scenarios: str | Path | None = None, https_only: bool = False,
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The web application over the data folder `data_dir` (made if missing). `scenarios`: a
    folder of scenarios kept on the server, offered to planners beside the uploaded ones.
    `https_only`: the session cookie is sent over TLS only (set it behind a TLS proxy)."""
    storage = Storage(Path(data_dir), None if scenarios is None else Path(scenarios))
    app = FastAPI(title="balancer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.storage, app.state.accounts, app.state.throttle = storage, Accounts(storage.root), Throttle()
    app.state.jobs = Jobs()
    app.state.templates = Jinja2Templates(env=Environment(loader=PackageLoader("balancer.web"), autoescape=True))
    app.add_middleware(SessionMiddleware, secret_key=storage.secret_key(), session_cookie="balancer_session",
                       same_site="strict", https_only=https_only, max_age=12 * 3600)
    app.add_middleware(LimitBody, limit=max_upload_bytes)
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(packages=[("balancer.web", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(runs.router)
    app.include_router(intake.router)
    app.include_router(commitments.router)
    app.include_router(checkpoints.router)
    app.add_exception_handler(SignInFirst, lambda request, exc: RedirectResponse("/signin", status_code=303))
    app.add_exception_handler(StarletteHTTPException, error_page)
    return app
