"""What was drawn, read: a run's page (its record, the report, the files, why a case went where
it did, its draw replayed), the register's history and its chain. Replays solve again, so they
run as jobs, like a preview."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from balancer.errors import InputError
from balancer.web.app import Visit, allowed, render
from balancer.web.pages import plain, scenario_of, start_job, storage_of

router = APIRouter()

REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
"""report.html holds inline styles and SVG and no script; served in a sandbox all the same."""


# --- results ----------------------------------------------------------------------------------


def run_of(request: Request, sid: str, rid: str, kind: str = "runs") -> Path:
    """A run's folder (`kind` "intakes": an intake's); 404 for any other ids."""
    try:
        return storage_of(request).run_folder(sid, rid, kind)
    except LookupError:
        raise HTTPException(404, "No such run.") from None


@router.get("/runs/{sid}/{rid}")
def results(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("results"))):
    return _results(request, visit, sid, rid)


def _results(request: Request, visit: Visit, sid: str, rid: str, **shown):
    """The run's page: its record, report and files, and whatever was asked of it (`shown`)."""
    run = run_of(request, sid, rid)
    files = sorted(p.name for p in run.iterdir() if p.is_file())
    return render(request, "results.html", visit, sid=sid, rid=rid, summary=summary_of(run), files=files, **shown)


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


@router.get("/runs/{sid}/{rid}/report")
def report(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("results"))):
    return report_in(run_of(request, sid, rid))


def report_in(run: Path) -> Response:
    """A run folder's report.html, in its sandbox."""
    html = (run / "report.html").read_bytes()
    return Response(html, media_type="text/html", headers={"Content-Security-Policy": REPORT_POLICY})


@router.get("/runs/{sid}/{rid}/files/{name}")
def download(request: Request, sid: str, rid: str, name: str, visit: Visit = Depends(allowed("results"))):
    return file_in(run_of(request, sid, rid), name)


def file_in(run: Path, name: str) -> FileResponse:
    """One of a run folder's files, for download."""
    if name not in {p.name for p in run.iterdir() if p.is_file()}:  # only the run's own files, by name
        raise HTTPException(404, "No such file in this run.")
    return FileResponse(run / name, filename=name)


@router.post("/runs/{sid}/{rid}/explain")
def explain_case(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("results"))):
    """Why a case went where it did (`balancer.explain`), replayed from the stored scenario. The
    case id travels in the form, not the address (addresses end up in logs), nor the job's name."""
    run_of(request, sid, rid)  # 404 now, not on the job's page
    scenario_of(request, sid)
    case = visit.field("case")
    return start_job(request, visit, "Explaining a case", lambda: _explain(request, sid, rid, case))


def _explain(request: Request, sid: str, rid: str, case: str):
    from balancer.explain import explain

    run, (folder, file) = run_of(request, sid, rid), scenario_of(request, sid)
    try:
        found, problem = explain(run, case, folder / file, within=folder), None
    except InputError as e:
        found, problem = None, plain(e.message, folder, run)
    return lambda request, visit: _results(request, visit, sid, rid, case=case, explained=found, problem=problem)


@router.get("/runs/{sid}/{rid}/verify")
def verify_run(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("verify"))):
    run_of(request, sid, rid)  # 404 now, not on the job's page
    scenario_of(request, sid)
    return start_job(request, visit, "Verifying a draw", lambda: _verify_run(request, sid, rid))


def _verify_run(request: Request, sid: str, rid: str):
    """What `balancer verify RECORD --inputs SCENARIO` checks, for this run: its record replayed
    from the stored scenario, how its seed was fixed, and that its summary.json names the record."""
    from balancer.register import load_recorded, replay, seed_problems, summary_problems

    run, (folder, file) = run_of(request, sid, rid), scenario_of(request, sid)
    summary, reg = summary_of(run), _register(request)
    if not isinstance(summary.get("register"), dict) or reg is None:
        raise HTTPException(404, "Nothing was recorded for this run.")
    with reg:
        rec = reg.get(int(summary["register"]["id"]))
        problems = seed_problems(reg, rec) + summary_problems(reg, summary)[1]
    try:
        problems += replay(rec, load_recorded(rec, folder / file, within=folder))
    except InputError as e:  # the stored files no longer load: they were changed behind the page's back
        problems.append(plain(e.message, folder))
    return lambda request, visit: _results(request, visit, sid, rid, verified=not problems, problems=problems,
                                           record=rec)


# --- the register -----------------------------------------------------------------------------


def _register(request: Request):
    from balancer.register import MissingRegister, Register

    try:
        return Register(storage_of(request).register, create=False)
    except MissingRegister:
        return None


@router.get("/history")
def history(request: Request, visit: Visit = Depends(allowed("history"))):
    from balancer.register import claimed_records

    reg = _register(request)
    if reg is None:
        return render(request, "history.html", visit, records=[], counts={}, runs={})
    with reg:
        records, counts = reg.history(), reg.redraw_counts()
    # Each record's page: a draw's run, or the intake one of whose days it is.
    runs = {rec: url for url, _, summary in _folders(request) for rec, _ in claimed_records(summary)
            if isinstance(rec, int)}
    return render(request, "history.html", visit, records=list(reversed(records)), counts=counts, runs=runs)


def _folders(request: Request) -> list[tuple[str, str, dict]]:
    """Each draw's and intake's folder on this server, newest first: its page, its name, its summary."""
    storage = storage_of(request)
    return [(f"/{kind}/{sid}/{rid}", rid, summary_of(storage.run_folder(sid, rid, kind)))
            for kind, sid, rid in storage.all_runs()]


@router.get("/verify")
def verify(request: Request, visit: Visit = Depends(allowed("verify"))):
    return verify_page(request, visit)


def verify_page(request: Request, visit: Visit, checking=None, status_code: int = 200, **shown):
    """The register's chain (`verify --chain`), every run and intake folder here against it
    (`--summaries`), and what `checking(register, chain report)` adds to the page (the
    checkpoints uploaded: `balancer.web.checkpoints`), all read in one look at the register."""
    from balancer.register import summary_problems

    reg, server_key = _register(request), storage_of(request).public_key.is_file()
    if reg is None:
        return render(request, "verify.html", visit, status_code=status_code, report=None, **shown)
    with reg:
        report = reg.verify_chain()
        runs = [(url, rid, summary_problems(reg, summary)[1]) for url, rid, summary in _folders(request)]
        shown.update(checking(reg, report) if checking is not None else {})
    return render(request, "verify.html", visit, status_code=status_code, report=report, runs=runs,
                  server_key=server_key, **shown)
