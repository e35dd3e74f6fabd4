"""The commitment procedure, for an office that fixes a draw's seed before anyone can see its
result (`balancer commit`, then `balancer run --reveal`): each party commits here to a secret of
their own, and/or names a public value to come; at the draw the clerk uploads the parties' sealed
secrets and enters the public value (the draw page), and `balancer.drawing.revealing` derives the
seed from them all, as on the CLI.

The server does not keep a party's secret: it is shown once, to the party who committed, to be
saved and kept sealed until the draw. A secret lost is a commitment the draw must abandon, which
needs a reason and is flagged in the register."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Request

from balancer.errors import InputError
from balancer.web.app import Visit, allowed, render
from balancer.web.pages import load_to_draw, move_budget, plain, scenario_of, start_job

router = APIRouter()


@router.post("/scenarios/{sid}/commit")
def commit_to(request: Request, sid: str, visit: Visit = Depends(allowed("commit"))):
    _, file = scenario_of(request, sid)
    party, public = visit.field("party") or visit.user, visit.field("public") or None
    secret, settings = visit.field("secret") == "yes", move_budget(visit.field("moves"))
    return start_job(request, visit, f"Committing to the draw of {file}",
                     lambda: _commit(request, sid, visit.user, party, public, secret, settings))


def _commit(request: Request, sid: str, user: str, party: str, public: str | None, secret: bool, settings: dict):
    """`balancer commit` for the scenario as it will be drawn (with its move budget, `settings`:
    a commitment names the inputs' digest, which a budget is part of)."""
    from balancer.drawing import commit

    folder, file = scenario_of(request, sid)
    sealed: list[str] = []
    try:
        sc = load_to_draw(request, sid, settings)  # a commitment names these inputs: they are kept as they are
        done = commit(sc, request.app.state.storage.register, operator=user, party=party, public=public,
                      seal=sealed.append if secret else None)
    except InputError as e:
        message = plain(e.message, folder)
        return lambda request, visit: render(request, "draw.html", visit, status_code=409, sid=sid, file=file,
                                             refused=message, earlier=request.app.state.storage.runs_of(sid), reason="", moves="")
    context = dict(sid=sid, file=file, record=done.record, opened=done.opened,
                   named=done.record.ceremony.get("public") or next(
                       (c.ceremony["public"] for c in done.opened if (c.ceremony or {}).get("public")), None))
    had_secret = bool(sealed)

    def page(request, visit):
        """The sealed secret, on the first showing only (a job's page may be asked for again), and
        forgotten then: the job is kept an hour, the secret not."""
        text = sealed.pop() if sealed else None
        link = base64.b64encode(text.encode()).decode("ascii") if text else None
        return render(request, "commitment.html", visit, sealed=text, link=link, had_secret=had_secret, **context)

    return page
