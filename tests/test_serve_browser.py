"""`balancer serve` as planners use it: a real server on the loopback address, a real headless
Chromium, through sign-in → upload → a validation error → the fix → preview → draw → results, the
workbook downloaded, and why one case went where it did → history and verify (a signed checkpoint
uploaded), each role signing in for its own steps.
Every page must leave the browser's console clean (no script, style or CSP error); a screenshot
of each is kept in tests/artifacts/serve-*.png."""

from __future__ import annotations

import pytest

pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install '.[test]')")

from tests.conftest import write  # noqa: E402
from tests import test_report, test_serve  # noqa: E402
from tests.test_report import shoot, view  # noqa: E402
from tests.test_serve import BROKEN_CASES, CASES, OFFICE, PASSWORD, STAFF  # noqa: E402

# Fixtures shared by name: the report tests' headless Chromium, and the route tests' server.
browser = test_report.browser
data, quick_hashes, server = test_serve.data, test_serve.quick_hashes, test_serve.server


def click(driver, how: str, what: str) -> None:
    """Click, and wait for the page it leads to, loaded whole (a click that sends a form returns
    before the next page loads), past a job's page, which reloads itself until its work is done."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element("tag name", "html")
    find(driver, how, what).click()
    WebDriverWait(driver, 60).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 120).until(settled)


def settled(driver) -> bool:
    """The page is loaded whole and is not a job's page still working."""
    from selenium.common.exceptions import WebDriverException

    try:
        return (driver.execute_script("return document.readyState") == "complete"
                and not driver.find_elements("id", "working"))
    except WebDriverException:  # between two pages
        return False


def find(driver, how: str, what: str):
    """The element, waited for: a page may still be arriving."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((how, what)))


def sign_in(driver, url: str, name: str) -> None:
    driver.get(url + "/signin")
    find(driver, "name", "name").send_keys(name)
    find(driver, "name", "password").send_keys(PASSWORD)
    click(driver, "css selector", "form button")


def sign_out(driver) -> None:
    click(driver, "css selector", "header form button")


def send(driver, form: str) -> None:
    click(driver, "css selector", f"{form} button")


def workbook_start(driver) -> bytes:
    """The first bytes of the file the results page's workbook link gives, fetched by the browser
    in its signed-in session."""
    got = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('workbook').href).then(r => r.arrayBuffer())"
        ".then(b => done(Array.from(new Uint8Array(b).slice(0, 4))), e => done(String(e)));")
    assert isinstance(got, list), got
    return bytes(got)


def test_the_planner_path_in_a_browser(browser, server, tmp_path):
    url, folder = server
    files = tmp_path / "upload"
    office, staff, cases = write(files / "office.yaml", OFFICE), write(files / "staff.csv", STAFF), \
        write(files / "cases.csv", BROKEN_CASES)

    text = view(browser, url + "/", tmp_path / "serve-1-signin.png")  # anonymous: sent to sign in
    assert browser.current_url == url + "/signin" and "Sign in" in text

    sign_in(browser, url, "paula")
    find(browser, "name", "scenario").send_keys(str(office))
    find(browser, "name", "files").send_keys(f"{staff}\n{cases}")
    send(browser, "form[action='/scenarios']")
    text = shoot(browser, tmp_path / "serve-2-validate-errors.png")
    assert "2 problems found" in text and "case type 'burglary' of case 'C3' is unknown" in text
    assert "cases.csv 4 type" in text  # the file, line and field of the error, in the table

    write(cases, CASES)  # the planner fixes the table and uploads it again
    find(browser, "name", "files").send_keys(str(cases))
    send(browser, "form[action$='/files']")
    text = shoot(browser, tmp_path / "serve-3-valid.png")
    assert "Valid: 3 staff, 24 cases, 2 case types" in text

    click(browser, "link text", "Preview the balance")
    text = shoot(browser, tmp_path / "serve-4-preview.png")
    assert "Nothing is drawn or recorded" in text and "24 cases to 3 prosecutors" in text and "By type" in text
    assert not (folder / "register.sqlite").exists()
    sign_out(browser)

    sign_in(browser, url, "clara")
    click(browser, "link text", "draw")
    find(browser, "name", "reason").send_keys("quarterly backlog")
    send(browser, "form[action$='/draw']")
    text = shoot(browser, tmp_path / "serve-5-results.png")
    assert "Recorded as record 1 by clara" in text and "assignments.csv" in text
    assert workbook_start(browser) == b"PK\x03\x04"  # plan.xlsx, as the browser downloads it
    find(browser, "name", "case").send_keys("C4")
    send(browser, "form[action$='/explain']")
    text = shoot(browser, tmp_path / "serve-6-explain.png")
    assert "Case C4 (fraud, 40.0 h) went to" in text and "why not" in text
    click(browser, "link text", "The run's report")
    text = shoot(browser, tmp_path / "serve-7-report.png")
    assert "Allocation report: web-office" in text and "recorded as record 1" in text
    browser.get(url + "/")
    sign_out(browser)

    sign_in(browser, url, "otto")
    text = view(browser, url + "/history", tmp_path / "serve-8-history.png")
    assert "clara" in text and "quarterly backlog" in text
    click(browser, "link text", "results")
    click(browser, "link text", "Verify this draw")
    text = shoot(browser, tmp_path / "serve-9-verify-draw.png")
    assert "Record 1 verified: replaying seed" in text
    text = view(browser, url + "/verify", tmp_path / "serve-10-verify.png")
    assert "chain intact: 1 record verified" in text and "names its record, with its hash" in text

    # The office's signed checkpoint (the key made and used off the server), checked on the page.
    from balancer.register import Register
    from balancer.register.checkpoint import make_key, sign_checkpoint

    make_key(tmp_path / "office.pem")
    with Register(folder / "register.sqlite", create=False) as reg:
        checkpoint = write(tmp_path / "day1.checkpoint", sign_checkpoint(reg, tmp_path / "office.pem"))
    find(browser, "name", "checkpoints").send_keys(str(checkpoint))
    find(browser, "name", "public_key").send_keys(str(tmp_path / "office.pem.pub"))
    send(browser, "form[action='/verify']")
    text = shoot(browser, tmp_path / "serve-11-checkpoints.png")
    assert "holds: the register extends its 1 record signed at" in text
