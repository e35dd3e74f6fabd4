"""`balancer serve` through its routes (FastAPI's TestClient, no browser): an anonymous request
reaches only the sign-in page; each role is refused what it may not do; every POST needs the
session's CSRF token; uploads are limited in size and kind and stay in their folder; validate
names file, line and field; preview records nothing; a draw records the signed-in user as its
operator and writes a whole run folder, as `balancer run` does; results, explain, history and
verify read what was drawn, and verify checks signed checkpoints uploaded with the office's public
key. A move budget chosen on the frontier, a day's new cases and the
parties' commitments are recorded as `balancer run --set policy.moves.max`, `balancer intake` and
`balancer commit` / `run --reveal` record them."""

from __future__ import annotations

import html
import io
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import openpyxl
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install '.[test]')")

from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from balancer.register import Register  # noqa: E402
from balancer.web import create_app  # noqa: E402
from balancer.web.accounts import PERMISSIONS, Accounts  # noqa: E402
from balancer.web import checkpoints, commitments, intake, pages, runs  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

PASSWORD = "correct horse battery"
USERS = {"paula": "planner", "clara": "clerk", "otto": "auditor"}

OFFICE = """\
name: web-office
case_types:
  - {id: theft, weight_hours: 6}
  - {id: fraud, weight_hours: 40, specialisation: fraud}
hours_per_fte: 1500
period: {start: 2025-01-01, end: 2025-03-31}
staff: staff.csv
cases: cases.csv
"""
STAFF = "id,fte,specialisations\nP1,1.0,fraud\nP2,1.0,\nP3,0.5,fraud\n"
CASES = "id,type\n" + "".join(f"C{i},{'fraud' if i % 4 == 0 else 'theft'}\n" for i in range(1, 25))
BROKEN_CASES = CASES.replace("C3,theft", "C3,burglary").replace("C10,theft", "C10,")

SID, RID = "0123456789ab", "20260101T000000Z-abcdef"
ROUTES = {  # every route that needs a role, with the permission it needs
    ("POST", "/scenarios"): "upload",
    ("POST", "/pick"): "upload",
    ("GET", "/scenarios/{sid}"): "validate",
    ("POST", "/scenarios/{sid}/files"): "upload",
    ("GET", "/scenarios/{sid}/preview"): "preview",
    ("GET", "/scenarios/{sid}/frontier"): "budgets",
    ("GET", "/scenarios/{sid}/draw"): "draw",
    ("GET", "/scenarios/{sid}/intake"): "intake",
    ("POST", "/scenarios/{sid}/intake"): "intake",
    ("GET", "/intakes/{sid}/{rid}"): "results",
    ("GET", "/intakes/{sid}/{rid}/report"): "results",
    ("GET", "/intakes/{sid}/{rid}/files/{name}"): "results",
    ("POST", "/scenarios/{sid}/draw"): "draw",
    ("POST", "/scenarios/{sid}/commit"): "commit",
    ("GET", "/runs/{sid}/{rid}"): "results",
    ("GET", "/runs/{sid}/{rid}/report"): "results",
    ("GET", "/runs/{sid}/{rid}/files/{name}"): "results",
    ("POST", "/runs/{sid}/{rid}/explain"): "results",
    ("GET", "/runs/{sid}/{rid}/verify"): "verify",
    ("GET", "/history"): "history",
    ("GET", "/verify"): "verify",
    ("POST", "/verify"): "verify",
}
OPEN = {("GET", "/signin"), ("POST", "/signin")}
ANY_USER = {("GET", "/"), ("POST", "/signout"), ("GET", "/jobs/{job_id}")}


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """argon2 at its lowest cost: the same code, without a tenth of a second per sign-in."""
    from argon2 import PasswordHasher

    from balancer.web import accounts

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    accounts = Accounts(folder)
    for name, role in USERS.items():
        accounts.add_user(name, [role], PASSWORD)
    return folder


@pytest.fixture
def app(data):
    return create_app(data)


@pytest.fixture
def server(data):
    """The application on a free loopback port, in a thread of this process; its URL and data folder."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(create_app(data), host="127.0.0.1", port=port, log_level="warning",
                                            access_log=False))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", data
    running.should_exit = True
    thread.join(timeout=20)


def client(app, user: str | None = None) -> TestClient:
    """A client of `app` (or of the server at the URL `app`), signed in as `user` if given."""
    c = TestClient(app, follow_redirects=False) if not isinstance(app, str) else \
        httpx.Client(base_url=app, follow_redirects=False, timeout=120)
    if user is not None:
        signed = c.post("/signin", data={"csrf": token(c, "/signin"), "name": user, "password": PASSWORD})
        assert signed.status_code == 303 and signed.headers["location"] == "/", signed.text
    return c


def token(c: TestClient, page: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(page).text).group(1)


def upload(c: TestClient, cases: str = CASES, scenario: str = OFFICE) -> str:
    """A new scenario uploaded by a signed-in planner; its id."""
    files = [("scenario", ("office.yaml", scenario.encode())), ("files", ("staff.csv", STAFF.encode())),
             ("files", ("cases.csv", cases.encode()))]
    done = c.post("/scenarios", data={"csrf": token(c)}, files=files)
    assert done.status_code == 303, done.text
    return done.headers["location"].rsplit("/", 1)[1]


def done(c, answer):
    """What a job's page finally answers, for a page that started one (a draw, a preview)."""
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/"), answer.text
    deadline = time.monotonic() + 120
    while 'id="working"' in (page := c.get(answer.headers["location"])).text and time.monotonic() < deadline:
        time.sleep(0.1)
    return page


def path(route: str) -> str:
    return route.format(sid=SID, rid=RID, name="summary.json", job_id="x")


def test_the_table_of_routes_here_is_every_route_of_the_app():
    found = {(m, r.path) for module in (pages, runs, intake, commitments, checkpoints) for r in module.router.routes if isinstance(r, APIRoute)
             for m in r.methods}
    assert found == set(ROUTES) | OPEN | ANY_USER


def test_an_anonymous_request_reaches_nothing_but_the_sign_in_page(app):
    c = client(app)
    assert c.get("/signin").status_code == 200
    assert c.get("/static/style.css").status_code == 200  # the sign-in page's own style
    for method, route in sorted(set(ROUTES) | ANY_USER):
        answer = c.request(method, path(route), data={"csrf": "x"})
        assert (answer.status_code, answer.headers.get("location")) == (303, "/signin"), (method, route)


@pytest.mark.parametrize("user", USERS)
def test_each_role_is_refused_what_it_may_not_do(app, user):
    c = client(app, user)
    csrf = token(c)
    for (method, route), permission in ROUTES.items():
        answer = c.request(method, path(route), data={"csrf": csrf} if method == "POST" else None)
        if USERS[user] in PERMISSIONS[permission]:
            assert answer.status_code != 403, (method, route)  # allowed: here 400/404 for made-up ids
        else:
            assert answer.status_code == 403 and "do not allow" in answer.text, (method, route)


def test_a_wrong_password_signs_nobody_in_and_signing_out_ends_the_session(app):
    c = client(app)
    wrong = c.post("/signin", data={"csrf": token(c, "/signin"), "name": "paula", "password": "guess"})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    nobody = c.post("/signin", data={"csrf": token(c, "/signin"), "name": "nobody", "password": PASSWORD})
    assert nobody.status_code == 401
    c = client(app, "paula")
    assert c.get("/").status_code == 200
    assert c.post("/signout", data={"csrf": token(c)}).status_code == 303
    assert c.get("/").headers["location"] == "/signin"


def test_after_five_wrong_passwords_the_name_is_locked_for_a_while(app):
    c = client(app)
    for _ in range(5):
        assert c.post("/signin", data={"csrf": token(c, "/signin"), "name": "otto", "password": "guess"}).status_code == 401
    locked = c.post("/signin", data={"csrf": token(c, "/signin"), "name": "otto", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
    client(app, "paula")  # other names are not held up
    app.state.throttle.lock = 0  # the minute is over
    client(app, "otto")


def test_a_post_without_the_session_csrf_token_is_refused(app):
    c = client(app, "paula")
    for sent in ({}, {"csrf": "forged"}):
        assert c.post("/signout", data=sent).status_code == 403
        files = [("scenario", ("office.yaml", OFFICE.encode()))]
        assert c.post("/scenarios", data=sent, files=files).status_code == 403
    other = client(app, "clara")  # another session's token is not this one's
    assert c.post("/signout", data={"csrf": token(other)}).status_code == 403
    assert client(app).post("/signin", data={"name": "paula", "password": PASSWORD}).status_code == 403
    assert c.get("/").status_code == 200  # still signed in: nothing was done


def test_uploads_are_limited_in_size_and_kind(data):
    c = client(create_app(data, max_upload_bytes=20_000), "paula")
    big = [("scenario", ("office.yaml", OFFICE.encode())), ("files", ("cases.csv", b"id,type\n" * 5000))]
    assert c.post("/scenarios", data={"csrf": token(c)}, files=big).status_code == 413
    for name, content in [("run.sh", b"echo"), ("cases.exe", b"MZ"), ("plan.xlsx", b"not a zip"),
                          (".hidden.csv", b"id\n"), ("..", b"")]:
        refused = c.post("/scenarios", data={"csrf": token(c)},
                         files=[("scenario", ("office.yaml", OFFICE.encode())), ("files", (name, content))])
        assert refused.status_code == 400, name
    not_yaml = c.post("/scenarios", data={"csrf": token(c)}, files=[("scenario", ("cases.csv", CASES.encode()))])
    assert not_yaml.status_code == 400 and "not a YAML file" in not_yaml.text


def test_uploaded_paths_stay_in_the_scenario_folder(app, data):
    c = client(app, "paula")
    files = [("scenario", ("../../office.yaml", OFFICE.encode())), ("files", ("..\\..\\staff.csv", STAFF.encode())),
             ("files", ("/etc/cases.csv", CASES.encode()))]
    sid = c.post("/scenarios", data={"csrf": token(c)}, files=files).headers["location"].rsplit("/", 1)[1]
    stored = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    assert {f"scenarios/{sid}/{n}" for n in ("office.yaml", "staff.csv", "cases.csv")} <= stored
    assert not (data.parent / "office.yaml").exists() and not (data / "staff.csv").exists()
    # A scenario that names a file outside its folder is refused at validation, not read.
    for outside in ("../../web.sqlite", "/etc/passwd", "../" + sid + "/../../secret.key"):
        sid = upload(c, scenario=OFFICE.replace("cases: cases.csv", f"cases: {outside}.csv"))
        page = c.get(f"/scenarios/{sid}").text
        assert "outside the scenario&#39;s folder" in page, outside
    assert c.get("/scenarios/..%2F..%2Fweb.sqlite").status_code == 404


def test_a_workbook_table_is_taken_and_read(app, tmp_path):
    import pandas as pd

    book = tmp_path / "cases.xlsx"
    pd.read_csv(io.StringIO(CASES)).to_excel(book, index=False)
    c = client(app, "paula")
    sid = c.post("/scenarios", data={"csrf": token(c)}, files=[
        ("scenario", ("office.yaml", OFFICE.replace("cases.csv", "cases.xlsx").encode())),
        ("files", ("staff.csv", STAFF.encode())), ("files", ("cases.xlsx", book.read_bytes()))],
    ).headers["location"].rsplit("/", 1)[1]
    assert "Valid: 3 staff, 24 cases" in c.get(f"/scenarios/{sid}").text


def test_a_scenario_kept_on_the_server_is_picked_validated_and_drawn_but_not_replaced(data):
    app = create_app(data, scenarios=ROOT)  # this repository: its scenarios/ name ../models/
    c = client(app, "paula")
    home = c.get("/").text
    assert "scenarios/demo-office.yaml" in home and "staffing-wisconsin" not in home  # allocation scenarios only
    picked = c.post("/pick", data={"csrf": token(c), "file": "scenarios/demo-office.yaml"})
    sid = picked.headers["location"].rsplit("/", 1)[1]
    assert c.post("/pick", data={"csrf": token(c), "file": "scenarios/demo-office.yaml"}).headers["location"] == \
        picked.headers["location"]  # one id per file: its draws are listed together
    assert "Valid: 8 staff, 40 cases" in c.get(f"/scenarios/{sid}").text
    for elsewhere in ("../../etc/passwd", "/etc/passwd", "models/demo.yaml", "pyproject.toml"):
        assert c.post("/pick", data={"csrf": token(c), "file": elsewhere}).status_code == 404, elsewhere
    fix = c.post(f"/scenarios/{sid}/files", data={"csrf": token(c)}, files=[("files", ("cases.csv", CASES.encode()))])
    assert fix.status_code == 409
    clerk = client(app, "clara")
    where = done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk)})).headers["location"]
    assert "Recorded as record 1 by clara" in clerk.get(where).text
    assert not create_app(data).state.accounts.scenario(sid)[0].startswith("/")  # kept as a path inside the folder
    assert client(create_app(data), "paula").get(f"/scenarios/{sid}").status_code == 404  # started without it


def test_a_rebalancing_scenario_previews_and_draws_its_moves_as_run_does(data):
    app = create_app(data, scenarios=ROOT)
    c = client(app, "paula")
    sid = c.post("/pick", data={"csrf": token(c), "file": "scenarios/rebalance.yaml"}).headers["location"].rsplit("/", 1)[1]
    assert "changed hands" in done(c, c.get(f"/scenarios/{sid}/preview")).text
    clerk = client(app, "clara")
    where = done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk)})).headers["location"]
    assert "moves.csv" in clerk.get(where).text
    summary = json.loads((data / where.removeprefix("/") / "summary.json").read_text())
    assert summary["rebalance"]["moved_cases"] >= 0 and summary["register"]["operator"] == "clara"


def test_the_move_budget_is_chosen_on_the_frontier_and_drawn_as_run_draws_it(data, tmp_path):
    app = create_app(data, scenarios=ROOT)
    c = client(app, "paula")
    sid = c.post("/pick", data={"csrf": token(c), "file": "scenarios/rebalance.yaml"}).headers["location"].rsplit("/", 1)[1]
    preview = done(c, c.get(f"/scenarios/{sid}/preview")).text
    assert "Move budget" in preview and "at most <strong>40</strong>" in preview  # the scenario's policy
    chart = done(c, c.get(f"/scenarios/{sid}/frontier", params={"step": "20"}))
    assert chart.status_code == 200 and 'src="data:image/png;base64,iVBOR' in chart.text  # frontier.png, inlined
    budgets = [int(b) for b in re.findall(r'<option value="(\d+)">', chart.text)]
    assert budgets[:3] == [0, 20, 40] and "Draw with this budget" not in chart.text  # a planner only previews
    narrow = done(c, c.get(f"/scenarios/{sid}/preview", params={"moves": "20"})).text
    assert "at most <strong>20</strong>" in narrow
    for bad in ("-1", "many", "1e3"):
        assert c.get(f"/scenarios/{sid}/preview", params={"moves": bad}).status_code == 400, bad
    assert not (data / "register.sqlite").exists()  # neither the chart nor a preview records anything

    clerk = client(app, "clara")
    assert "Draw with this budget" in done(clerk, clerk.get(f"/scenarios/{sid}/frontier")).text
    assert 'value="20"' in clerk.get(f"/scenarios/{sid}/draw", params={"moves": "20"}).text
    # A commitment names the inputs as they will be drawn, budget included.
    committed = done(clerk, clerk.post(f"/scenarios/{sid}/commit",
                                       data={"csrf": token(clerk), "party": "clara", "secret": "yes", "moves": "20"}))
    sealed = html.unescape(re.search(r'<textarea id="sealed"[^>]*>([^<]+)</textarea>', committed.text).group(1))
    where = done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk), "moves": "20"},
                                   files=[("sealed", ("clara.json", sealed.encode()))]))
    assert where.status_code == 303, where.text
    summary = json.loads((data / where.headers["location"].removeprefix("/") / "summary.json").read_text())
    assert summary["rebalance"]["budget"]["max"] == 20 and summary["rebalance"]["balance_moves"] <= 20

    # The CLI's draw of the same scenario and budget: the same inputs, recorded alike.
    out, register = tmp_path / "cli", tmp_path / "cli-register.sqlite"
    cli = subprocess.run([sys.executable, "-m", "balancer", "run", ROOT / "scenarios" / "rebalance.yaml", "--out", out,
                          "--set", "policy.moves.max=20", "--register", register, "--operator", "clara", "--quiet"],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    by_cli = json.loads((out / "summary.json").read_text())
    assert by_cli["canonical_sha256"] == summary["canonical_sha256"]
    with Register(register, create=False) as reg_cli, Register(data / "register.sqlite", create=False) as reg_web:
        (cli_rec,), (commitment, web_rec) = reg_cli.history(), reg_web.history()
    assert (web_rec.inputs_sha256, web_rec.inputs, web_rec.policy, web_rec.operator, web_rec.applied) == \
        (cli_rec.inputs_sha256, cli_rec.inputs, cli_rec.policy, cli_rec.operator, cli_rec.applied)
    assert commitment.inputs_sha256 == web_rec.inputs_sha256 and web_rec.ceremony["commitments"] == [commitment.id]


def test_a_draw_takes_its_seed_from_the_parties_commitments_as_run_reveal_does(app, data):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    lottery = "main numbers of the national lottery of 5 January 2026, in drawn order"

    def commit(**form):
        return done(c, c.post(f"/scenarios/{sid}/commit", data={"csrf": token(c), **form}))

    first = commit(party="clara", secret="yes", public=lottery)
    assert first.status_code == 200 and "Commitment 1" in first.text and lottery in first.text
    sealed_clara = html.unescape(re.search(r'<textarea id="sealed"[^>]*>([^<]+)</textarea>', first.text).group(1))
    assert json.loads(sealed_clara)["party"] == "clara"
    assert "sealed-1.json" in first.text and 'id="sealed"' not in c.get(first.url).text  # shown once only
    second = commit(party="a witness", secret="yes")
    sealed_witness = html.unescape(re.search(r'<textarea id="sealed"[^>]*>([^<]+)</textarea>', second.text).group(1))
    assert "Commitments open before this one: 1 (clara)" in second.text
    assert commit(party="x", public="another public value").status_code == 409  # one public value per draw

    def draw(sealed: dict, public_value: str = "", reason: str = ""):
        files = [("sealed", (name, text.encode())) for name, text in sealed.items()] or None
        return done(c, c.post(f"/scenarios/{sid}/draw", files=files,
                              data={"csrf": token(c), "public_value": public_value, "reason": reason}))

    refused = draw({})
    assert refused.status_code == 409 and "sealed secret" in refused.text
    assert draw({"clara.json": sealed_clara}, lottery + " 4 8 15").status_code == 409  # the witness's is missing
    assert draw({"clara.json": sealed_clara, "w.json": sealed_witness}).status_code == 409  # the public value too
    assert draw({"bad.json": "not json"}, "1 2 3").status_code == 409
    drawn = draw({"clara.json": sealed_clara, "w.json": sealed_witness}, "4 8 15 16 23 42")
    assert drawn.status_code == 303, drawn.text
    with Register(data / "register.sqlite", create=False) as reg:
        rec = reg.history()[-1]
        assert rec.ceremony["commitments"] == [1, 2] and rec.ceremony["public"]["value"] == "4 8 15 16 23 42"
        from balancer.register import seed_problems
        assert seed_problems(reg, rec) == []  # the seed is the one the commitments and the value give
    auditor = client(app, "otto")
    assert "verified" in done(auditor, auditor.get(drawn.headers["location"] + "/verify")).text


NEW_CASES = "id,type,date\nN1,theft,2025-01-02\nN2,fraud,2025-01-02\nN3,theft,2025-01-03\nN4,theft,2025-01-03\n"


def test_a_clerk_takes_a_days_new_cases_recorded_as_balancer_intake_records_them(app, data, tmp_path):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    assert "Allocate and record" in c.get(f"/scenarios/{sid}/intake").text

    def take(table: str, name: str = "new.csv", reason: str = ""):
        files = [("new_cases", (name, table.encode()))]
        return c.post(f"/scenarios/{sid}/intake", data={"csrf": token(c), "reason": reason}, files=files)

    assert take("x", name="new.yaml").status_code == 400  # not a table
    refused = done(c, take(NEW_CASES.replace("N2,fraud", "N2,arson")))
    assert refused.status_code == 409 and "arson" in refused.text and str(data) not in refused.text
    assert not (data / "register.sqlite").exists() and not list((data / "intakes").glob("*/*"))  # nothing kept

    taken = done(c, take(NEW_CASES))
    assert taken.status_code == 303 and taken.headers["location"].startswith(f"/intakes/{sid}/")
    page = c.get(taken.headers["location"]).text
    assert "4 new cases allocated over 2 days" in page and "2025-01-03" in page
    assert "report.html" in page and "assignments.csv" in page
    assert c.get(taken.headers["location"] + "/report").headers["content-security-policy"].endswith("sandbox")
    assignments = c.get(taken.headers["location"] + "/files/assignments.csv").text
    assert {"N1", "N2", "N3", "N4"} <= set(re.findall(r"^(N\d)", assignments, re.M))
    again = done(c, take(NEW_CASES))  # the same days again: only with a reason, as on the CLI
    assert again.status_code == 409 and "drawn before" in again.text and "Give a reason" in again.text

    # `balancer intake` of the same files: each day recorded with the same inputs.
    folder = tmp_path / "cli"
    for name, text in (("office.yaml", OFFICE), ("staff.csv", STAFF), ("cases.csv", CASES), ("new.csv", NEW_CASES)):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    cli = subprocess.run([sys.executable, "-m", "balancer", "intake", folder / "office.yaml", folder / "new.csv",
                          "--out", folder / "out", "--register", folder / "register.sqlite", "--operator", "clara",
                          "--quiet"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    with Register(folder / "register.sqlite", create=False) as by_cli, \
            Register(data / "register.sqlite", create=False) as by_web:
        cli_days, web_days = by_cli.history(), by_web.history()
    assert [(r.inputs_sha256, r.operator, r.kind) for r in web_days] == \
        [(r.inputs_sha256, r.operator, r.kind) for r in cli_days] and len(web_days) == 2


def test_validate_lists_every_error_with_its_file_line_and_field(app, data):
    c = client(app, "paula")
    sid = upload(c, cases=BROKEN_CASES)
    page = c.get(f"/scenarios/{sid}")
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\d*)</td><td>([^<]*)</td><td>([^<]*)</td>", page.text)
    assert ("cases.csv", "4", "type") in [r[:3] for r in rows]  # C3's unknown type, on line 4
    assert ("cases.csv", "11", "type") in [r[:3] for r in rows]  # C10 with none, on line 11
    assert str(data) not in page.text  # files named as uploaded, not by the server's paths
    fixed = c.post(f"/scenarios/{sid}/files", data={"csrf": token(c)}, files=[("files", ("cases.csv", CASES.encode()))])
    assert fixed.status_code == 303
    assert "Valid: 3 staff, 24 cases, 2 case types" in c.get(f"/scenarios/{sid}").text


def test_preview_shows_targets_and_offices_and_records_nothing(app, data):
    c = client(app, "paula")
    sid = upload(c)
    page = done(c, c.get(f"/scenarios/{sid}/preview"))
    assert page.status_code == 200
    assert "24 cases to 3 prosecutors" in page.text and "Balance targets" in page.text and "By type" in page.text
    assert not (data / "register.sqlite").exists() and not any((data / "runs").iterdir())


def test_a_draw_records_the_signed_in_user_and_writes_a_whole_run_folder(app, data):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    drawn = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c), "reason": ""}))
    assert drawn.status_code == 303
    run = data / drawn.headers["location"].removeprefix("/")
    assert {"summary.json", "assignments.csv", "staff.csv", "report.html", "plan.xlsx"} <= {p.name for p in run.iterdir()}
    summary = json.loads((run / "summary.json").read_text())
    with Register(data / "register.sqlite", create=False) as reg:
        (record,) = reg.history()
    assert (record.operator, record.id, record.hash) == ("clara", summary["register"]["id"], summary["register"]["hash"])
    assert record.inputs_sha256 == summary["canonical_sha256"]
    # As on the CLI: the same inputs again only with a reason, recorded as a re-draw.
    again = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c), "reason": ""}))
    assert again.status_code == 409 and "drawn before" in again.text
    redrawn = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c), "reason": "a prosecutor left"}))
    assert redrawn.status_code == 303
    with Register(data / "register.sqlite", create=False) as reg:
        assert [(r.redraw_of, r.reason) for r in reg.history()] == [([], None), ([1], "a prosecutor left")]
    # A drawn scenario's files are the inputs its records name: they are not replaced.
    p = client(app, "paula")
    refused = p.post(f"/scenarios/{sid}/files", data={"csrf": token(p)}, files=[("files", ("cases.csv", b"id,type\n"))])
    assert refused.status_code == 409


def test_results_give_the_report_the_files_and_why_a_case_went_where_it_did(app, data):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    where = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)})).headers["location"]
    auditor = client(app, "otto")
    page = auditor.get(where)
    assert "Recorded as record 1 by clara" in page.text
    report = auditor.get(where + "/report")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    assignments = auditor.get(where + "/files/assignments.csv")
    assert assignments.status_code == 200 and "attachment" in assignments.headers["content-disposition"]
    assert auditor.get(where + "/files/..%2F..%2F..%2Fweb.sqlite").status_code == 404
    assert 'id="workbook"' in page.text  # plan.xlsx (balancer.workbook), the plan as a spreadsheet
    book = openpyxl.load_workbook(io.BytesIO(auditor.get(where + "/files/plan.xlsx").content), read_only=True)
    drawn = [row[:2] for row in book["Assignments"].iter_rows(min_row=2, values_only=True)]
    assert drawn == [tuple(line.split(",")[:2]) for line in assignments.text.splitlines()[1:]]
    case, went_to = assignments.text.splitlines()[1].split(",")[:2]
    explained = done(auditor, auditor.post(where + "/explain", data={"csrf": token(auditor), "case": case}))
    assert f"Case <strong>{case}</strong>" in explained.text and f"went to <strong>{went_to}</strong>" in explained.text
    unknown = done(auditor, auditor.post(where + "/explain", data={"csrf": token(auditor), "case": "nope"}))
    assert "is not in" in unknown.text and str(data) not in unknown.text


def test_history_flags_re_draws_and_verify_checks_the_chain(app, data):
    auditor = client(app, "otto")
    assert "holds no record yet" in auditor.get("/history").text
    assert "holds no record yet" in auditor.get("/verify").text
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)}))
    done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c), "reason": "checked twice"}))
    history = auditor.get("/history").text
    assert history.count("<td>clara</td>") == 2 and '<tr class="flag">' in history and "checked twice" in history
    assert "chain intact: 2 records verified" in auditor.get("/verify").text


def test_an_auditor_replays_a_draw_and_checks_every_run_folder_against_the_register(app, data):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    where = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)})).headers["location"]
    auditor = client(app, "otto")
    assert "Record 1 verified: replaying seed" in done(auditor, auditor.get(where + "/verify")).text
    assert f'href="{where}"' in auditor.get("/history").text
    assert "names its record, with its hash" in auditor.get("/verify").text
    # Inputs changed behind the page's back, and a summary edited: each is caught.
    (data / "scenarios" / sid / "cases.csv").write_text(CASES.replace("C1,theft", "C1,fraud"))
    assert "the inputs differ from the recorded ones" in done(auditor, auditor.get(where + "/verify")).text
    summary = data / where.removeprefix("/") / "summary.json"
    edited = json.loads(summary.read_text())
    edited["register"]["hash"] = "0" * 64
    summary.write_text(json.dumps(edited))
    assert "with hash " + "0" * 64 in auditor.get("/verify").text


def check(c: TestClient, *checkpoints: tuple[str, bytes], key: bytes | None = None):
    """The verify page's checkpoint form, sent with these files (and this public key, if given)."""
    files = [("checkpoints", cp) for cp in checkpoints] + ([("public_key", ("office.pem.pub", key))] if key else [])
    return c.post("/verify", data={"csrf": token(c, "/verify")}, files=files)


def checkpoint_rows(page: str) -> dict[str, str]:
    """The checkpoints table: each file's row, as text."""
    table = re.search(r'<table id="checkpoints">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", table, re.S)
    return {name: html.unescape(re.sub(r"<[^>]+>", " ", row)) for name, row in rows}


def test_an_auditor_checks_signed_checkpoints_and_the_register_still_extends_them(app, data, tmp_path):
    from balancer.register.checkpoint import make_key, sign_checkpoint

    sid = upload(client(app, "paula"))
    clerk = client(app, "clara")
    done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk)}))
    make_key(tmp_path / "office.pem")  # as `balancer keygen --key office.pem`: the key and office.pem.pub
    key = (tmp_path / "office.pem.pub").read_bytes()
    with Register(data / "register.sqlite", create=False) as reg:
        signed, head = sign_checkpoint(reg, tmp_path / "office.pem"), reg.head().hash
    auditor = client(app, "otto")
    assert 'name="checkpoints"' in auditor.get("/verify").text

    page = check(auditor, ("day1.checkpoint", signed.encode()), key=key)
    assert page.status_code == 200 and head in page.text
    assert "holds: the register extends its 1 record signed at" in checkpoint_rows(page.text)["day1.checkpoint"]
    # More draws later: the chain still extends the checkpoint.
    done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk), "reason": "checked twice"}))
    page = check(auditor, ("day1.checkpoint", signed.encode()), key=key)
    assert "chain intact: 2 records verified" in page.text
    assert "holds: the register extends its 1 record" in checkpoint_rows(page.text)["day1.checkpoint"]

    # An edited head, another office's key, files that are not checkpoints or keys: each refused
    # with a plain message beside its file, none of them a server error or a server path.
    edited = signed.replace(head, "0" * 64)
    page = check(auditor, ("edited.checkpoint", edited.encode()), ("notes.txt", b"hello"),
                 ("photo.png", b"\x89PNG\r\n\x1a\n\xff\xfe"), ("day1.checkpoint", signed.encode()), key=key)
    rows = checkpoint_rows(page.text)
    assert "signature does not verify: its text was changed after it was signed" in rows["edited.checkpoint"]
    assert "not a balancer checkpoint" in rows["notes.txt"] and "not a balancer checkpoint" in rows["photo.png"]
    assert "holds" in rows["day1.checkpoint"] and "holds" not in rows["edited.checkpoint"]
    assert str(data) not in page.text and str(tmp_path) not in page.text
    make_key(tmp_path / "other.pem")
    wrong = check(auditor, ("day1.checkpoint", signed.encode()), key=(tmp_path / "other.pem.pub").read_bytes())
    assert "not by this public key" in checkpoint_rows(wrong.text)["day1.checkpoint"] and "refused" in wrong.text
    garbage = check(auditor, ("day1.checkpoint", signed.encode()), key=b"-----BEGIN PUBLIC KEY-----\nxx\n")
    assert garbage.status_code == 400 and "not a key balancer can use" in garbage.text
    assert "not checked: no public key" in checkpoint_rows(garbage.text)["day1.checkpoint"]
    assert "Choose one or more checkpoint files" in check(auditor, key=key).text
    # The register put back as it was before the second draw: the checkpoint of two records says so.
    before = (data / "register.sqlite").read_bytes()
    done(clerk, clerk.post(f"/scenarios/{sid}/draw", data={"csrf": token(clerk), "reason": "once more"}))
    with Register(data / "register.sqlite", create=False) as reg:
        later = sign_checkpoint(reg, tmp_path / "office.pem")
    (data / "register.sqlite").write_bytes(before)
    page = check(auditor, ("later.checkpoint", later.encode()), ("day1.checkpoint", signed.encode()), key=key)
    assert "the register holds 2 records, the checkpoint 3: records were deleted since it was signed" in \
        checkpoint_rows(page.text)["later.checkpoint"]
    assert "holds" in checkpoint_rows(page.text)["day1.checkpoint"]

    # No key uploaded: the one the operator put in the data folder, if there is one.
    missing = check(auditor, ("day1.checkpoint", signed.encode()))
    assert missing.status_code == 400 and "Upload the office's public key" in html.unescape(missing.text)
    (data / "office.pem.pub").write_bytes(key)
    page = check(auditor, ("day1.checkpoint", signed.encode()))
    assert "holds: the register extends" in checkpoint_rows(page.text)["day1.checkpoint"]
    assert "office.pem.pub (on the server)" in page.text


def test_only_an_auditor_checks_checkpoints_and_only_with_the_sessions_csrf_token(app):
    for user in ("paula", "clara"):
        c = client(app, user)
        refused = c.post("/verify", data={"csrf": token(c)}, files=[("checkpoints", ("a.checkpoint", b"x"))])
        assert refused.status_code == 403 and "do not allow" in refused.text
    auditor = client(app, "otto")
    for sent in ({}, {"csrf": "forged"}):
        assert auditor.post("/verify", data=sent, files=[("checkpoints", ("a.checkpoint", b"x"))]).status_code == 403


def test_intakes_are_listed_among_recent_runs_and_linked_from_history(app, data):
    sid = upload(client(app, "paula"))
    c = client(app, "clara")
    drawn = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)})).headers["location"]
    files = [("new_cases", ("new.csv", NEW_CASES.encode()))]
    taken = done(c, c.post(f"/scenarios/{sid}/intake", data={"csrf": token(c), "reason": ""}, files=files))
    where = taken.headers["location"]
    assert where.startswith(f"/intakes/{sid}/")
    auditor = client(app, "otto")
    recent = re.search(r'<ul id="recent">(.*?)</ul>', auditor.get("/").text, re.S).group(1)
    assert f'href="{where}"' in recent and f'href="{drawn}"' in recent and "intake of office.yaml" in recent
    history = auditor.get("/history").text
    # Record 1 the draw, records 2 and 3 the intake's two days: each links to its page.
    links = dict(re.findall(r'<tr[^>]*><td>(\d+)</td>.*?<a href="([^"]+)">', history, re.S))
    assert links == {"1": drawn, "2": where, "3": where}
    assert auditor.get(where).status_code == 200
    assert "names its records, with their hashes" in auditor.get("/verify").text


def test_hostile_ids_are_shown_as_text_and_no_case_id_reaches_a_log(app, caplog):
    import logging

    hostile = "<script>alert(1)</script>"
    cases = CASES.replace("C2,theft", f'"{hostile}",theft')
    sid = upload(client(app, "paula"), cases=cases.replace("C5,theft", f'"{hostile}",theft'))
    planner = client(app, "paula")
    page = planner.get(f"/scenarios/{sid}").text  # the duplicate id is named in an error
    assert "&lt;script&gt;" in page and hostile not in page
    sid = upload(planner, cases=cases)
    assert hostile not in done(planner, planner.get(f"/scenarios/{sid}/preview")).text
    caplog.set_level(logging.DEBUG)
    c = client(app, "clara")
    where = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)})).headers["location"]
    explained = done(c, c.post(where + "/explain", data={"csrf": token(c), "case": hostile})).text
    assert "&lt;script&gt;" in explained and hostile not in explained
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "C1" not in logged and "script" not in logged


def test_an_infeasible_scenario_is_diagnosed_and_nothing_is_recorded(app, data):
    impossible = STAFF.replace("P1,1.0,fraud", "P1,1.0,").replace("P3,0.5,fraud", "P3,0.5,")
    planner = client(app, "paula")
    sid = planner.post("/scenarios", data={"csrf": token(planner)}, files=[
        ("scenario", ("office.yaml", OFFICE.encode())), ("files", ("staff.csv", impossible.encode())),
        ("files", ("cases.csv", CASES.encode()))]).headers["location"].rsplit("/", 1)[1]
    assert "cannot be allocated" in planner.get(f"/scenarios/{sid}").text
    assert "No plan can be drawn" in done(planner, planner.get(f"/scenarios/{sid}/preview")).text
    c = client(app, "clara")
    where = done(c, c.post(f"/scenarios/{sid}/draw", data={"csrf": token(c)})).headers["location"]
    assert "Nothing was drawn: the scenario is infeasible" in c.get(where).text
    assert not (data / "register.sqlite").exists()


def test_users_add_takes_the_password_from_stdin_and_refuses_a_short_one(tmp_path):
    from typer.testing import CliRunner

    from balancer.cli import app as cli

    data = ["--data", str(tmp_path / "web")]
    added = CliRunner().invoke(cli, ["users", "add", "ann", "--role", "planner", "--role", "clerk", *data],
                               input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert Accounts(tmp_path / "web").roles("ann") == {"planner", "clerk"}
    assert Accounts(tmp_path / "web").sign_in("ann", PASSWORD)
    short = CliRunner().invoke(cli, ["users", "add", "bob", "--role", "planner", *data], input="short\n")
    assert short.exit_code == 2 and "at least 10" in short.output
    again = CliRunner().invoke(cli, ["users", "add", "ann", "--role", "auditor", *data], input=PASSWORD + "\n")
    assert again.exit_code == 2 and "exists already" in again.output
    role = CliRunner().invoke(cli, ["users", "add", "cy", "--role", "judge", *data], input=PASSWORD + "\n")
    assert role.exit_code == 2 and "unknown role judge" in role.output
    listed = CliRunner().invoke(cli, ["users", "list", *data])
    assert listed.exit_code == 0 and "ann\tclerk,planner" in listed.output
    assert CliRunner().invoke(cli, ["users", "remove", "ann", *data]).exit_code == 0
    assert CliRunner().invoke(cli, ["users", "remove", "ann", *data]).exit_code == 2


def test_a_removed_account_is_signed_out_at_its_next_page(app, data):
    c = client(app, "otto")
    assert c.get("/history").status_code == 200
    Accounts(data).remove_user("otto")
    assert c.get("/history").headers["location"] == "/signin"


def test_a_hash_made_with_weaker_settings_is_strengthened_at_sign_in(data, monkeypatch):
    from argon2 import PasswordHasher

    from balancer.web import accounts

    weak = accounts._HASHER.hash(PASSWORD)
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    store = Accounts(data)
    assert store.sign_in("paula", PASSWORD)
    with sqlite3.connect(store.path) as db:
        (now,) = db.execute("SELECT hash FROM users WHERE name = 'paula'").fetchone()
    assert now != weak and "t=2" in now and accounts._HASHER.verify(now, PASSWORD)


def test_a_long_solve_shows_its_progress_and_holds_up_no_other_page(server, monkeypatch):
    from balancer import pipeline

    url, data = server
    planner = client(url, "paula")
    sid = upload(planner)
    solving, release = threading.Event(), threading.Event()
    real = pipeline.solve

    def slow(*args, **kwargs):
        pipeline.tell_progress("balance")
        solving.set()
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "solve", slow)
    started = planner.get(f"/scenarios/{sid}/preview")
    try:
        assert solving.wait(60)
        job = planner.get(started.headers["location"])  # the job's page: what it is at, reloading itself
        assert 'id="working"' in job.text and "leximin utilisation profile" in job.text and 'http-equiv="refresh"' in job.text
        auditor = client(url, "otto")  # signs in and reads pages while the preview solves
        assert auditor.get("/history").status_code == 200 and auditor.get("/").status_code == 200
        assert auditor.get(started.headers["location"]).status_code == 404  # a job is its owner's
    finally:
        release.set()
    assert "Balance targets" in done(planner, started).text


def test_two_clerks_drawing_at_once_are_serialised_by_the_register(server, data):
    url, _ = server
    accounts = Accounts(data)
    accounts.add_user("carl", ["clerk"], PASSWORD)
    sid = upload(client(url, "paula"))
    clerks = [client(url, name) for name in ("clara", "carl")]
    forms = [{"csrf": token(c)} for c in clerks]
    answers = {}
    threads = [threading.Thread(target=lambda c=c, f=f: answers.update({id(c): done(c, c.post(f"/scenarios/{sid}/draw", data=f))}))
               for c, f in zip(clerks, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # One draw is the first of these inputs; the other finds it recorded and, with no reason
    # given, is refused as a re-draw: never two first draws of the same inputs.
    assert sorted(a.status_code for a in answers.values()) == [303, 409]
    with Register(data / "register.sqlite", create=False) as reg:
        assert len(reg.history()) == 1 and reg.verify_chain().ok


def test_balancer_serve_starts_the_page_with_one_command(data):
    """The README's command, as a process: it answers on its port, and sends the anonymous to sign in."""
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "balancer", "serve", "--port", str(port), "--data", str(data)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "COLUMNS": "500"})  # one line, however long the path
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/history", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, "the server did not answer"
        assert (answer.status_code, answer.headers["location"]) == (303, "/signin")
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"serving {data} on http://127.0.0.1:{port}/" in output
