"""A day's new cases, taken by a clerk against a stored scenario: the table uploaded, allocated day
by day and each day recorded by `balancer.drawing.intake` (as `balancer intake` does), then the
intake's report and files. The table is kept beside the intake's folder: its days' records name it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from balancer.errors import BalancerError, InputError
from balancer.web.app import Visit, allowed, render
from balancer.web.pages import load_to_draw, plain, scenario_of, start_job, storage_of, table_of
from balancer.web.runs import file_in, report_in, run_of, summary_of
from balancer.web.storage import check_content, clean_name

router = APIRouter()


@router.get("/scenarios/{sid}/intake")
def intake_page(request: Request, sid: str, visit: Visit = Depends(allowed("intake"))):
    _, file = scenario_of(request, sid)
    return render(request, "intake.html", visit, sid=sid, file=file, earlier=storage_of(request).intakes_of(sid))


@router.post("/scenarios/{sid}/intake")
def take(request: Request, sid: str, visit: Visit = Depends(allowed("intake"))):
    _, file = scenario_of(request, sid)
    upload = visit.form.get("new_cases")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(400, "Choose the table of new cases (.csv, .xlsx or .parquet).")
    try:
        name = clean_name(upload.filename)
        if Path(name).suffix.lower() not in (".csv", ".xlsx", ".parquet"):
            raise InputError(f"{name} is not a table", field="new_cases", expected="a .csv, .xlsx or .parquet file")
        data = upload.file.read()
        check_content(name, data)
    except InputError as e:
        raise HTTPException(400, e.message) from None
    user, reason, sheet = visit.user, visit.field("reason") or None, visit.field("sheet") or None
    return start_job(request, visit, f"Taking new cases into {file}",
                     lambda: _take(request, sid, name, data, sheet, user, reason))


def _take(request: Request, sid: str, name: str, data: bytes, sheet: str | None, user: str, reason: str | None):
    """`balancer intake SCENARIO NEW_CASES`, the signed-in user its operator: the same checks,
    the same records, the same folder."""
    from balancer.drawing import DaysDrawnBefore, intake
    from balancer.scenario import load_new_cases

    import shutil

    folder, file = scenario_of(request, sid)
    storage = storage_of(request)
    out = storage.new_run(sid, "intakes")
    kept = out.with_name(out.name + ".new")
    try:
        sc = load_to_draw(request, sid)
        table = storage.keep_new_cases(out, name, data)
        try:
            cases, shown, sha = load_new_cases(table, sc, sheet)
        except InputError:
            shutil.rmtree(kept)  # a table refused is named by no record: not kept
            raise
        intake(sc, cases, out, file=shown, sha256=sha, register=storage.register, operator=user, reason=reason)
    except BalancerError as e:  # refused as `intake` refuses it, or failed outside the input
        message = (f"{e.problem} Give a reason below." if isinstance(e, DaysDrawnBefore) else
                   plain(e.message if isinstance(e, InputError) else f"The intake failed: {e}", kept, folder))
        return lambda request, visit: render(request, "intake.html", visit, status_code=409, sid=sid, file=file,
                                             refused=message, earlier=storage.intakes_of(sid), reason=reason or "")
    return lambda request, visit: RedirectResponse(f"/intakes/{sid}/{out.name}", status_code=303)


@router.get("/intakes/{sid}/{rid}")
def intake_results(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("results"))):
    """The intake's days (each with its record), its report and its files."""
    import pandas as pd

    from balancer.intake import DAY_COLUMNS

    run = run_of(request, sid, rid, "intakes")
    summary = summary_of(run)
    days = pd.DataFrame(summary.get("days", []), columns=DAY_COLUMNS).drop(columns="record_hash")
    files = sorted(p.name for p in run.iterdir() if p.is_file())
    return render(request, "intake_results.html", visit, sid=sid, rid=rid, summary=summary, files=files,
                  table=table_of(days))


@router.get("/intakes/{sid}/{rid}/report")
def intake_report(request: Request, sid: str, rid: str, visit: Visit = Depends(allowed("results"))):
    return report_in(run_of(request, sid, rid, "intakes"))


@router.get("/intakes/{sid}/{rid}/files/{name}")
def intake_file(request: Request, sid: str, rid: str, name: str, visit: Visit = Depends(allowed("results"))):
    return file_in(run_of(request, sid, rid, "intakes"), name)
