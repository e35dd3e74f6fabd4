"""The planner's path, one page per step, each a few calls into the library: sign in; upload a
scenario or pick a stored one; validate (every error with its file, line and field); preview
(nothing drawn for real, nothing recorded), with a move budget and the frontier chart to choose
it by when rebalancing; draw (`balancer.drawing.draw`, as `balancer run`); results, history and
verify (in `balancer.web.runs`, the checkpoints in `balancer.web.checkpoints`); intake and
commitments (`balancer.web.intake`, `balancer.web.commitments`).

A preview and a draw run as jobs (`balancer.web.jobs`): no request waits on a solve, so no other
user's page does. Two draws at once are serialised by the register, as on the CLI."""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from balancer.errors import BalancerError, InputError, InputErrors
from balancer.web.app import Visit, allowed, read_form, render
from balancer.web.storage import Storage, check_content, clean_name, inside

router = APIRouter()

PREVIEW_ROWS = 50
MAX_SEALED = 4096
"""Bytes of one sealed secret (a party's is about 200)."""


def storage_of(request: Request) -> Storage:
    return request.app.state.storage


# --- signing in and out ---------------------------------------------------------------------


@router.get("/signin")
def signin_page(request: Request):
    return render(request, "signin.html")


@router.post("/signin")
async def signin(request: Request):
    form = await read_form(request)
    name, password, throttle = form.get("name"), form.get("password"), request.app.state.throttle
    if not (isinstance(name, str) and isinstance(password, str)):
        return render(request, "signin.html", status_code=401, failed=True)
    if throttle.locked(name):
        return render(request, "signin.html", status_code=429, locked=True)
    # argon2 takes a tenth of a second by design: in a worker thread, not the loop every page waits on.
    if not await run_in_threadpool(request.app.state.accounts.sign_in, name, password):
        throttle.failed(name)
        return render(request, "signin.html", status_code=401, failed=True)
    throttle.succeeded(name)
    request.session.clear()  # a new session for the signed-in user: nothing carried over from before
    request.session.update(user=name, csrf=secrets.token_urlsafe(32))
    return RedirectResponse("/", status_code=303)


@router.post("/signout")
def signout(request: Request, visit: Visit = Depends(allowed(None))):
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


# --- scenarios --------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, visit: Visit = Depends(allowed(None))):
    storage = storage_of(request)
    scenarios = [dict(s, drawn=len(storage.runs_of(s["id"]))) for s in request.app.state.accounts.scenarios()]
    files = {s["id"]: s["file"] for s in scenarios}
    # Draws and intakes alike: each is a folder with its page, `/runs/…` or `/intakes/…`.
    runs = [(f"/{kind}/{sid}/{rid}", "intake" if kind == "intakes" else "draw", rid, files.get(sid, ""))
            for kind, sid, rid in storage.all_runs()[:20]]
    return render(request, "home.html", visit, scenarios=scenarios, runs=runs,
                  on_server=storage.on_server() if visit.may("upload") else [])


@router.post("/scenarios")
def upload_new(request: Request, visit: Visit = Depends(allowed("upload"))):
    """A new scenario: its YAML (`scenario`) and the files it references (`files`)."""
    yaml = visit.form.get("scenario")
    if not isinstance(yaml, UploadFile) or not yaml.filename:
        raise HTTPException(400, "Choose the scenario's YAML file.")
    storage = storage_of(request)
    try:
        name = clean_name(yaml.filename)
        if Path(name).suffix.lower() not in (".yaml", ".yml"):
            raise InputError(f"{name} is not a YAML file", field="scenario", expected="the scenario's .yaml file")
        files = [(name, yaml.file.read()), *_uploads(visit)]  # every file checked before a folder is made
    except InputError as e:
        raise HTTPException(400, e.message) from None
    sid = storage.new_scenario()
    for upload_name, data in files:
        storage.save(sid, upload_name, data)
    request.app.state.accounts.add_scenario(sid, name, visit.user)
    return RedirectResponse(f"/scenarios/{sid}", status_code=303)


@router.post("/scenarios/{sid}/files")
def upload_more(request: Request, sid: str, visit: Visit = Depends(allowed("upload"))):
    """Add files to a scenario, or replace them by name (the fix after a failed validation). A
    scenario once drawn is kept as drawn: its files are the inputs its records name."""
    storage = storage_of(request)
    if scenario_of(request, sid)[0] == storage.shelf:
        raise HTTPException(409, "This scenario is kept on the server: its files are changed there, not here.")
    try:
        files = _uploads(visit)
    except InputError as e:
        raise HTTPException(400, e.message) from None
    with storage.lock(sid):  # not while a draw reads the files it will record
        if storage.frozen(sid):
            raise HTTPException(409, "This scenario has been drawn: its files stay as they were. Upload a new scenario.")
        for name, data in files:
            storage.save(sid, name, data)
    return RedirectResponse(f"/scenarios/{sid}", status_code=303)


def _uploads(visit: Visit) -> list[tuple[str, bytes]]:
    """The `files` of the form, each with its stored name and checked (InputError for a name or
    kind refused)."""
    files = [f for f in visit.form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    named = [(clean_name(f.filename), f.file.read()) for f in files]
    for name, data in named:
        check_content(name, data)
    return named


def scenario_of(request: Request, sid: str) -> tuple[Path, str]:
    """The scenario's folder (its uploads', or the server's folder of scenarios) and its YAML's
    path inside it; 404 for any other id."""
    storage, found = storage_of(request), request.app.state.accounts.scenario(sid)
    try:
        if found is None:
            raise LookupError(sid)
        file, on_server = found
        if on_server and (storage.shelf is None or not inside(storage.shelf, file).is_file()):
            raise LookupError(sid)  # the server was started without it, or it was taken away
        return (storage.shelf if on_server else storage.scenario_folder(sid)), file
    except (LookupError, InputError):
        raise HTTPException(404, "No such scenario.") from None


@router.post("/pick")
def pick(request: Request, visit: Visit = Depends(allowed("upload"))):
    """One of the scenarios kept on the server, offered among the uploaded ones (one id per file,
    so its draws are listed together)."""
    file, storage, accounts = visit.field("file"), storage_of(request), request.app.state.accounts
    if file not in storage.on_server():  # only a file the server lists: no path from the form is opened
        raise HTTPException(404, "No such scenario on this server.")
    sid = accounts.on_server(file)
    if sid is None:
        sid = storage.new_scenario(folder=False)
        accounts.add_scenario(sid, file, visit.user, on_server=True)
    return RedirectResponse(f"/scenarios/{sid}", status_code=303)


def _load(request: Request, sid: str, max_errors: int = 1, settings: dict | None = None):
    """The stored scenario, reading only files of its own folder, with `settings` applied as
    `--set` applies them (a move budget: `policy.moves.max`)."""
    from balancer.scenario import load_scenario

    folder, file = scenario_of(request, sid)
    return load_scenario(folder / file, settings=settings, max_errors=max_errors, within=folder)


def load_to_draw(request: Request, sid: str, settings: dict | None = None):
    """The stored scenario, loaded for a draw or an intake: from then on its files are the inputs
    the register names, kept as they are (frozen before the lock is let go)."""
    storage = storage_of(request)
    with storage.lock(sid):
        sc = _load(request, sid, settings=settings)
        storage.freeze(sid)
    return sc


def move_budget(given: str | None) -> dict:
    """The settings a move budget typed in a form stands for: `--set policy.moves.max=N` on the
    CLI, so that the draw is recorded with the same inputs. Empty: the scenario's own policy."""
    from balancer.scenario.bounds import MAX_MOVES

    given = (given or "").strip()
    if not given:
        return {}
    if not given.isdigit() or int(given) > MAX_MOVES:
        raise HTTPException(400, f"The move budget {given[:20]!r} is not a number of cases (0 or more, whole).")
    return {"policy.moves.max": int(given)}


def _error_rows(error: InputError, folder: Path) -> list[dict]:
    """Each input error as the page lists it, its file named as uploaded."""
    errors = error.errors if isinstance(error, InputErrors) else [error]
    return [{"file": plain(e.file or "", folder), "line": e.line, "field": e.field,
             "problem": plain(e.problem, folder), "expected": e.expected} for e in errors]


def plain(message: str, *folders: Path) -> str:
    """A message with the server's folders left out: files are named as the user knows them."""
    for folder in folders:
        message = message.replace(f"{folder}/", "")
    return message


@router.get("/scenarios/{sid}")
def validate(request: Request, sid: str, visit: Visit = Depends(allowed("validate"))):
    from balancer.drawing import pre_solve_findings
    from balancer.scenario.bounds import MAX_ERRORS

    folder, file = scenario_of(request, sid)
    on_server = folder == storage_of(request).shelf
    context = dict(sid=sid, file=file, on_server=on_server, frozen=storage_of(request).frozen(sid),
                   files=[] if on_server else storage_of(request).files(sid))
    try:
        sc = _load(request, sid, max_errors=MAX_ERRORS)
    except InputError as e:
        more = isinstance(e, InputErrors) and e.more
        return render(request, "validate.html", visit, errors=_error_rows(e, folder), more=more, **context)
    findings = pre_solve_findings(sc)
    return render(request, "validate.html", visit, sc=sc, findings=findings,
                  blocked=any(f.severity.value == "error" for f in findings), **context)


@router.get("/scenarios/{sid}/preview")
def preview(request: Request, sid: str, moves: str | None = None, visit: Visit = Depends(allowed("preview"))):
    _, file = scenario_of(request, sid)
    settings = move_budget(moves)
    return start_job(request, visit, f"Previewing {file}", lambda: _preview(request, sid, settings))


def _preview(request: Request, sid: str, settings: dict):
    """What a draw would aim at, from one lottery drawn here and thrown away: nothing is recorded
    or written, and the draw itself takes a fresh seed."""
    from balancer.indicators import indicators
    from balancer.pipeline import Status, solve
    from balancer.report import summary_sentences
    from balancer.tables import staff

    try:
        sc = _load(request, sid, settings=settings)
    except InputError as e:
        if not settings:  # the files themselves: validation lists what is wrong with them
            return lambda request, visit: RedirectResponse(f"/scenarios/{sid}", status_code=303)
        raise HTTPException(400, e.message) from None
    result = solve(sc)
    # The job keeps only what the page shows (a finished job is kept an hour; a scenario may be large).
    context = dict(sid=sid, name=sc.name, policy=sc.policy, findings=result.findings,
                   done=result.status is Status.DONE, held=_held(sc))
    if result.status is Status.DONE:
        people = staff(result).sort_values("utilisation", ascending=False)
        # The last sentence says where the draw was recorded: a preview's is nowhere, as the page says.
        context.update(sentences=summary_sentences(result, None)[:-1], metrics=result.metrics,
                       groups={k: table_of(v) for k, v in indicators(result).items()},
                       staff=table_of(people.head(PREVIEW_ROWS)), more_staff=max(0, len(people) - PREVIEW_ROWS))
    return lambda request, visit: render(request, "preview.html", visit, **context)


def _held(sc) -> bool:
    """Whether the scenario rebalances cases that already have a holder (a move budget applies)."""
    return bool(sc.cases["assigned_to"].notna().any()) if len(sc.cases) else False


@router.get("/scenarios/{sid}/frontier")
def frontier(request: Request, sid: str, step: str = "10", visit: Visit = Depends(allowed("budgets"))):
    """What each move budget buys (`balancer frontier`): its table and chart, to choose a budget by."""
    _, file = scenario_of(request, sid)
    if not step.isdigit() or not 1 <= int(step) <= 10**6:
        raise HTTPException(400, f"The budget step {step[:20]!r} is not a whole number of cases from 1.")
    return start_job(request, visit, f"Move budgets of {file}", lambda: _frontier(request, sid, int(step)))


def _frontier(request: Request, sid: str, step: int):
    """`balancer frontier`'s table and chart (`balancer.frontier`), the chart inlined in the page:
    nothing is drawn, recorded or kept on the server."""
    import base64
    import tempfile

    from balancer.frontier import moves_frontier, write_frontier

    folder = scenario_of(request, sid)[0]
    try:
        sc = _load(request, sid)
        found = moves_frontier(sc, step=step)
    except InputError as e:
        raise HTTPException(400, plain(e.message, folder)) from None
    context = dict(sid=sid, name=sc.name, findings=found.findings, step=found.step, policy=sc.policy.moves.max)
    if found.table is not None:
        with tempfile.TemporaryDirectory() as tmp:
            write_frontier(found, sc, tmp)
            chart = base64.b64encode((Path(tmp) / "frontier.png").read_bytes()).decode("ascii")
        context.update(chart=chart, table=table_of(found.table.drop(columns="solver_status")),
                       budgets=[int(b) for b in found.table["budget"]])
    return lambda request, visit: render(request, "frontier.html", visit, **context)


def table_of(df: pd.DataFrame) -> dict:
    """A table for a template: its columns and rows of text (shares as percentages)."""
    shares = [c for c in df.columns if "utilisation" in c or c in ("spread", "before_mean", "target_mean",
                                                                     "leximin_so_far", "gap_to_leximin")]
    rows = [[_cell(v, c in shares) for c, v in zip(df.columns, row)] for row in df.itertuples(index=False)]
    return {"columns": [c.replace("_", " ") for c in df.columns], "rows": rows}


def _cell(value, share: bool) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.1%}" if share else f"{value:,.1f}"
    return str(value)


# --- drawing ----------------------------------------------------------------------------------


@router.get("/scenarios/{sid}/draw")
def draw_page(request: Request, sid: str, moves: str | None = None, visit: Visit = Depends(allowed("draw"))):
    folder, file = scenario_of(request, sid)
    move_budget(moves)  # a budget from the frontier's page, checked before it is offered
    return render(request, "draw.html", visit, sid=sid, file=file, earlier=storage_of(request).runs_of(sid),
                  moves=moves or "")


@router.post("/scenarios/{sid}/draw")
def draw_and_record(request: Request, sid: str, visit: Visit = Depends(allowed("draw"))):
    _, file = scenario_of(request, sid)
    user, reason, settings = visit.user, visit.field("reason") or None, move_budget(visit.field("moves"))
    ceremony = (_sealed(visit), visit.field("public_value") or None)
    return start_job(request, visit, f"Drawing {file}", lambda: _draw(request, sid, user, reason, settings, ceremony))


def _sealed(visit: Visit) -> dict[str, str]:
    """The sealed secrets uploaded for a draw (`balancer commit`'s files), by file name."""
    found = {}
    for upload in visit.form.getlist("sealed"):
        if isinstance(upload, UploadFile) and upload.filename:
            data = upload.file.read(MAX_SEALED + 1)
            try:
                if len(data) > MAX_SEALED:
                    raise ValueError
                found[upload.filename[:100]] = data.decode("utf-8")
            except ValueError:
                raise HTTPException(400, f"{upload.filename[:100]} is not a sealed secret (a small JSON file "
                                         "written when the party committed).") from None
    return found


def _draw(request: Request, sid: str, user: str, reason: str | None, settings: dict,
          ceremony: tuple[dict[str, str], str | None]):
    """Draw as `balancer run` draws: the signed-in user is the operator; a re-draw, a chosen seed
    or open commitments need a reason, as they do there; sealed secrets and a public value are
    revealed as `run --reveal … --public-value …` reveals them."""
    from balancer.drawing import draw, open_commitments, revealing
    from balancer.register import OpenCommitments, RedrawWithoutReason

    folder, file = scenario_of(request, sid)
    storage = storage_of(request)
    try:
        sc = load_to_draw(request, sid, settings)
        out = storage.new_run(sid)
        sealed, public_value = ceremony
        taking_part = revealing(sc, open_commitments(storage.register, sc), sealed, public_value, reason)
        draw(sc, out, register=storage.register, operator=user, reason=reason, ceremony=taking_part,
             formats=("csv", "xlsx"))
    except BalancerError as e:  # refused as `run` refuses it, or failed outside the input (a disk, the register)
        message = (f"{e} Give a reason below." if isinstance(e, RedrawWithoutReason) else
                   f"{e} Upload every party's sealed secret (and the public value), or give a reason below."
                   if isinstance(e, OpenCommitments) else
                   plain(e.message if isinstance(e, InputError) else f"The draw failed: {e}", folder, storage.root))
        moves = str(settings.get("policy.moves.max", ""))
        return lambda request, visit: render(request, "draw.html", visit, status_code=409, sid=sid, file=file,
                                             refused=message, earlier=storage.runs_of(sid), reason=reason or "",
                                             moves=moves)
    return lambda request, visit: RedirectResponse(f"/runs/{sid}/{out.name}", status_code=303)


# --- long work --------------------------------------------------------------------------------


def start_job(request: Request, visit: Visit, what: str, work) -> RedirectResponse:
    """Run `work` as a job (`balancer.web.jobs`) and send the user to its page. `work` returns
    what the job's page then answers: a function of the request and visit that gives a response."""
    job = request.app.state.jobs.start(visit.user, what, work)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, visit: Visit = Depends(allowed(None))):
    from balancer.registry import STEPS

    job = request.app.state.jobs.get(job_id, visit.user)
    if job is None:
        raise HTTPException(404, "No such job (finished jobs are kept for an hour).")
    if job.error is not None:
        raise HTTPException(*job.error)
    if job.finished is None:
        steps = {s.name: s.what for s in STEPS} | {"register": "the draw recorded in the register"}
        step = steps.get(job.step, job.step) if job.step else "reading the scenario and its tables"
        return render(request, "working.html", visit, job=job, step=step[:1].upper() + step[1:])
    return job.outcome(request, visit)
