"""report.html as a person sees it (of `run`, `staffing` and `batch`): opened in a real headless
Chromium, it renders without console errors, shows the charts and the numbers summary.json (or
batch.csv) holds, and shows hostile ids as text. One screenshot per kind of report is kept (the
test's folder and tests/artifacts/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import balancer
from balancer import batch, batch_report, page, report
from tests.conftest import ROOT, write
from tests.test_register_cli import run_in

DEMO = ROOT / "scenarios" / "demo-office.yaml"
REBALANCE = ROOT / "scenarios" / "rebalance.yaml"
CONFLICTS = ROOT / "scenarios" / "groups-and-conflicts.yaml"
REGIONAL = ROOT / "scenarios" / "regional" / "regional.yaml"
WISCONSIN = ROOT / "scenarios" / "staffing-wisconsin.yaml"
MODEL = (ROOT / "models" / "demo.yaml").as_posix()
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""The network is closed: nothing may wait on it (updates, sync, QUIC probes)."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no headless Chromium: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*OFFLINE, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def view(driver, page: Path | str, shot: Path) -> str:
    """Open `page` (a file or a URL), check the console stayed clean, save a full-page screenshot
    to `shot` and to tests/artifacts/; the page's visible text."""
    driver.set_window_size(1200, 800)  # the width the page is laid out at, before its height is read
    driver.get(page if isinstance(page, str) else page.as_uri())
    return shoot(driver, shot)


def shoot(driver, shot: Path) -> str:
    """`view` of the page the browser is on (after a click or a form sent)."""
    driver.set_window_size(1200, 800)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    # The window's height is the page's plus the browser's own bars, so the shot holds the whole page.
    height, bars = driver.execute_script("return [Math.max(document.body.scrollHeight, "
                                         "document.documentElement.scrollHeight), window.outerHeight - window.innerHeight]")
    driver.set_window_size(1200, min(height + bars, 16000))
    assert driver.save_screenshot(str(shot))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / shot.name)
    return driver.find_element("tag name", "body").text


def charts(driver) -> int:
    return len(driver.find_elements("css selector", "figure > svg"))


def test_a_run_report_shows_the_summary_charts_and_tables(browser, tmp_path):
    out = tmp_path / "out"
    assert run_in("run", DEMO, "--out", out, "-q").returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    text = view(browser, out / "report.html", tmp_path / "report-run.png")
    m = summary["metrics"]
    assert f"{m['n_cases']:,} cases" in text
    assert f"most loaded is at {m['max_utilisation']:.0%}" in text
    assert f"record {summary['register']['id']}" in text and "operating system" in text
    assert "No case went to someone excluded from it" in text
    assert f"{m['mean_effective_candidates']:.1f} equally likely candidates" in text
    assert charts(browser) >= 2  # utilisation per prosecutor, candidates per case (and groupings)
    assert browser.find_elements("tag name", "table")
    assert "Randomness" in text and "what it means" in text and "Shannon entropy" in text


def test_a_report_breaks_the_run_down_by_office_and_type(browser, tmp_path):
    out = tmp_path / "out"
    assert run_in("run", REGIONAL, "--out", out, "-q").returncode == 0
    indicators = json.loads((out / "summary.json").read_text())["indicators"]
    text = view(browser, out / "report.html", tmp_path / "report-offices.png")
    assert "Utilisation by office" in text and "By office" in text and "By case type" in text
    for row in indicators["office"]:
        assert f"{row['office']} {row['prosecutors']}" in text  # the office's row in the table
    for row in indicators["type"]:
        assert f"{row['type']} {row['cases']:,}" in text
    assert "Why cases went where they did" in text and "balancer explain CASE" in text
    why = text[text.index("Why cases went where they did"):]
    for row in indicators["type"]:  # who may take each type: the same count the indicators give
        assert f"{row['type']} " in why and f" {row['prosecutors_qualified']} " in why
    assert "lack its specialisation" in why and "are below its minimum grade" in why


def test_a_rebalance_report_shows_its_moves(browser, tmp_path):
    out = tmp_path / "out"
    assert run_in("run", REBALANCE, "--out", out, "-q").returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    text = view(browser, out / "report.html", tmp_path / "report-rebalance.png")
    assert f"{summary['rebalance']['moved_cases']:,} changed hands" in text
    assert f"most loaded is at {summary['metrics']['max_utilisation']:.0%}" in text
    assert "Moves by reason" in text
    assert charts(browser) >= 3


def test_an_infeasible_report_gives_the_diagnosis(browser, tmp_path):
    scenario = office(tmp_path, "  - {id: C1, type: corruption}", staff=("P01",))
    out = tmp_path / "out"
    assert run_in("run", scenario, "--out", out, "-q").returncode == 1
    findings = json.loads((out / "summary.json").read_text())["findings"]
    text = view(browser, out / "report.html", tmp_path / "report-infeasible.png")
    assert "No plan was drawn" in text and findings[0]["code"] in text


def test_hostile_ids_are_shown_as_text(browser, tmp_path):
    hostile = ["<script>alert(1)</script>", "=1+2", "<b>bold</b>", "$x_1$"]
    scenario = office(tmp_path, "\n".join(f"  - {{id: C{i}, type: theft}}" for i in range(6)),
                      staff=hostile, offices=hostile)
    out = tmp_path / "out"
    assert run_in("run", scenario, "--out", out, "-q").returncode == 0
    text = view(browser, out / "report.html", tmp_path / "report-hostile.png")
    assert not browser.find_elements("tag name", "script") and not browser.find_elements("css selector", "td b")
    assert all(id_ in text for id_ in hostile)


def test_long_tables_show_their_ends(tmp_path, monkeypatch):
    """A big office is summarised: the most and least loaded, never every prosecutor."""
    monkeypatch.setattr(page, "EDGE_ROWS", 2)
    result = balancer.solve(balancer.load_scenario(DEMO), seed=1)
    staff = result.plan.staff.sort_values("utilisation", ascending=False)["staff_id"]
    html = report.report_html(result)
    assert "The first and last 2 of" in html
    assert staff.iloc[0] in html and staff.iloc[-1] in html and staff.iloc[len(staff) // 2] not in html


def test_the_report_is_part_of_the_whole_folder(tmp_path, monkeypatch):
    """Written inside the temporary folder before its rename: a report that fails leaves no folder."""
    result = balancer.solve(balancer.load_scenario(DEMO), seed=1)

    def broken(*args):
        raise RuntimeError("report failed")

    monkeypatch.setattr(report, "report_html", broken)
    with pytest.raises(RuntimeError):
        balancer.write_outputs(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary one


def test_the_report_counts_breaches_from_the_plan():
    """The 'no case went to someone excluded' sentence is checked against the plan, not assumed."""
    result = balancer.solve(balancer.load_scenario(CONFLICTS), seed=1)
    assert report.breaches(result) == (0, 0)
    p, a = result.problem, result.plan.assignments
    i = next(i for i, e in enumerate(p.case_excluded) if e)
    a.loc[a["case_id"] == p.case_ids[i], "staff_id"] = p.case_excluded[i][0]
    assert report.breaches(result)[0] == 1
    assert "should not happen" in report.report_html(result)


def test_a_staffing_report_shows_the_answer_the_need_and_the_sweep(browser, tmp_path):
    out = tmp_path / "out"
    assert run_in("staffing", WISCONSIN, "--out", out, "--sweep", "intake=0.8:1.2:0.2").returncode == 0
    s = json.loads((out / "summary.json").read_text())
    table, sweep = pd.read_csv(out / "staffing.csv"), pd.read_csv(out / "sweep.csv")
    text = view(browser, out / "report.html", tmp_path / "report-staffing.png")
    assert f"{s['hires']:,} more prosecutor(s) are needed to keep everyone at or below {s['target_utilisation']:.0%}" \
        in text
    assert f"says {abs(s['formula_gap_fte']):.1f} FTE short" in text and "proven the fewest" in text
    assert f"at best {s['max_utilisation_before']:.0%}; after the hires, {s['max_utilisation_after']:.0%}" in text
    assert f"hires go from {sweep['hires'].iloc[0]} to {sweep['hires'].iloc[-1]}" in text
    assert f"{sweep['max_utilisation_before'].iloc[-1]:.1%}" in text  # the sweep's table
    assert charts(browser) == need_charts(table) + 2  # need by office (and specialisation), sweep × 2
    assert not (out / "sweep.html").exists()  # the sweep's chart is in the report


def test_a_staffing_report_shows_hostile_offices_as_text(browser, tmp_path):
    hostile = ["<script>alert(1)</script>", "<b>bold</b>", "$x_1$"]
    staff = "\n".join(f"  - {{id: P{i}, fte: 1.0, grade: senior, office: {json.dumps(o)}}}"
                      for i, o in enumerate(hostile))
    caseload = "\n".join(f"  - {{type: fraud, filings: {40 * (i + 1)}, office: {json.dumps(o)}}}"
                         for i, o in enumerate(hostile))
    scenario = write(tmp_path / "s.yaml", f"name: s\nmodel: {MODEL}\nstaff:\n{staff}\ncaseload:\n{caseload}\n")
    out = tmp_path / "out"
    assert run_in("staffing", scenario, "--out", out).returncode == 0
    text = view(browser, out / "report.html", tmp_path / "report-staffing-hostile.png")
    assert not browser.find_elements("tag name", "script") and not browser.find_elements("css selector", "td b")
    assert all(o in text for o in hostile)
    assert charts(browser) == need_charts(pd.read_csv(out / "staffing.csv"))  # no sweep, no sweep chart


def test_a_batch_report_compares_the_variants(browser, tmp_path):
    out, hostile = tmp_path / "out", "<script>alert(1)</script>"
    small = office(tmp_path, "\n".join(f"  - {{id: C{i}, type: theft}}" for i in range(6)))
    done = run_in("batch", DEMO, small, "--grid", f"policy.tolerance=0,0.02,{hostile}", "--out", out, "-q", "-j", "1")
    assert done.returncode == 2  # the hostile grid value is not a number: two invalid rows, not the end
    rows = pd.read_csv(out / "batch.csv")
    text = view(browser, out / "report.html", tmp_path / "report-batch.png")
    assert (f"{len(rows):,} runs: {rows['scenario'].nunique()} scenario(s) × {rows['variant'].nunique()} "
            "variant(s)") in text
    assert all(f"{n:,} {status}" in text for status, n in rows["status"].value_counts().items())
    assert f"ranges from {rows['max_utilisation'].min():.1%}" in text
    assert f"to {rows['max_utilisation'].max():.1%}" in text
    assert charts(browser) == len(varying(rows)) > 0
    assert not browser.find_elements("tag name", "script") and f"tolerance={hostile}" in text


def test_a_staffing_batch_report_charts_the_hires(browser, tmp_path):
    out = tmp_path / "out"
    assert run_in("batch", WISCONSIN, "--staffing", "--grid", "caseload.scale=0.8,1,1.2", "--out", out, "-q",
                  "-j", "1").returncode == 0
    rows = pd.read_csv(out / "batch.csv")
    text = view(browser, out / "report.html", tmp_path / "report-batch-staffing.png")
    assert f"optimiser hires ranges from {rows['hires'].min()}" in text and f"to {rows['hires'].max()}" in text
    assert "hires" in varying(rows) and charts(browser) == len(varying(rows))
    assert not (out / rows["output"].iloc[0] / "report.html").exists()  # one report, the batch's


def test_a_staffing_report_says_when_no_number_of_hires_fits(tmp_path):
    """Only seniors may take corruption, the one senior is full, and only juniors may be hired."""
    write(tmp_path / "model.yaml", "name: m\nhours_per_fte: 1500\ngrades: [junior, senior]\ncase_types:\n"
          "  - {id: theft, weight_hours: 6}\n"
          "  - {id: corruption, weight_hours: 80, specialisation: corruption, min_grade: senior}\n")
    scenario = write(tmp_path / "s.yaml", "name: s\nmodel: model.yaml\nstaff:\n"
                     "  - {id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: 1500}\n"
                     "  - {id: S2, fte: 1.0, grade: junior}\n"
                     "caseload:\n  - {type: corruption, filings: 5}\n  - {type: theft, filings: 50}\n")
    out = tmp_path / "out"
    done = run_in("staffing", scenario, "--out", out, "--hire-grade", "junior", "--sweep", "intake=0:1:0.5")
    assert done.returncode == 1
    sweep, html = pd.read_csv(out / "sweep.csv"), (out / "report.html").read_text()
    assert "No number of hires keeps everyone at or below 85%" in html
    assert f"{sweep['hires'].isna().sum()} of the {len(sweep)} values need more than any number of hires" in html
    assert html.count("<figure>") == need_charts(pd.read_csv(out / "staffing.csv")) + 2


def varying(rows: pd.DataFrame) -> list[str]:
    """The batch's metrics that differ between runs: one chart each."""
    return [m for m in batch_report.charted(rows, batch.REPORTED) if rows[m].dropna().nunique() > 1]


def need_charts(table: pd.DataFrame) -> int:
    """One need chart per dimension the staffing table breaks down by (offices, specialisations)."""
    return sum(((table[d] != "all") & (table[o] == "all")).any()
               for d, o in (("office", "specialisation"), ("specialisation", "office")))


def office(tmp_path: Path, cases: str, staff=("P01", "P02"), offices=None) -> Path:
    offices = offices or [None] * len(staff)
    rows = "\n".join(f"  - {{id: {json.dumps(s)}, fte: 1.0, specialisations: [general], grade: senior"
                     f"{'' if o is None else ', office: ' + json.dumps(o)}}}" for s, o in zip(staff, offices))
    return write(tmp_path / "office.yaml", f"name: office\nmodel: {MODEL}\nstaff:\n{rows}\ncases:\n{cases}\n")


def test_an_intake_report_shows_the_days(browser, tmp_path):
    from tests.test_intake import OFFICE, year_of_cases

    scenario = write(tmp_path / "office.yaml", OFFICE)
    year_of_cases(3, days=12).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "out"
    assert run_in("intake", scenario, tmp_path / "new.csv", "--out", out, "-q").returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    days = summary["days"]
    text = view(browser, out / "report.html", tmp_path / "report-intake.png")
    assert f"{sum(d['cases'] for d in days):,} new cases arrived on {len(days)} day(s)" in text
    assert f"most loaded prosecutor is at {days[-1]['max_utilisation']:.0%}" in text
    assert f"at once, the most loaded would be at {days[-1]['leximin_so_far']:.0%}" in text
    assert f"records {days[0]['record']}–{days[-1]['record']}" in text
    assert charts(browser) == 3  # day by day, cases a day, per prosecutor


def test_a_zero_is_shown_without_a_sign():
    """A gap of −10⁻¹² (the solver's rounding) reads 0.0 %, not −0.0 %; a real negative keeps its sign."""
    table = pd.DataFrame({"gap_to_leximin": [-1e-12, -0.004], "hours": [-1e-9, -2.5]})
    html = page.edges(table, report.SHARES)
    assert "-0.0" not in html and ">0.0%<" in html and ">0.0<" in html
    assert ">-0.4%<" in html and ">-2.5<" in html
