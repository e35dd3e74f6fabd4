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
    reg = _register(request)
    if reg is None:
        return render(request, "history.html", visit, records=[], counts={}, runs={})
    with reg:
        records, counts = reg.history(), reg.redraw_counts()
    runs = {rec: f"/runs/{sid}/{rid}" for (sid, rid), (rec, _) in _claims(request).items()}
    return render(request, "history.html", visit, records=list(reversed(records)), counts=counts, runs=runs)


def _claims(request: Request) -> dict[tuple[str, str], tuple[int | None, dict]]:
    """Each run folder on this server: the record its summary.json claims, and the summary."""
    found = {}
    for sid, rid in storage_of(request).all_runs():
        summary = summary_of(storage_of(request).run_folder(sid, rid))
        claimed = summary.get("register") if isinstance(summary.get("register"), dict) else {}
        found[sid, rid] = (claimed.get("id"), summary)
    return found


@router.get("/verify")
def verify(request: Request, visit: Visit = Depends(allowed("verify"))):
    """The register's chain (`verify --chain`), and every run folder here against it (`--summaries`)."""
    from balancer.register import summary_problems

    reg = _register(request)
    if reg is None:
        return render(request, "verify.html", visit, report=None)
    with reg:
        report = reg.verify_chain()
        runs = [(f"/runs/{sid}/{rid}", rid, summary_problems(reg, summary)[1])
                for (sid, rid), (_, summary) in _claims(request).items()]
    return render(request, "verify.html", visit, report=report, runs=runs)
