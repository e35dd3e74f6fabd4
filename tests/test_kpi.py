"""`balancer kpi`: indicators per month from a case-register export (issue 18)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmarks.run import load_script
from balancer.cli import app
from balancer.errors import InputError
from balancer.kpi import KpiOptions, compute, group_quantiles, load_register, parse_period
from tests.conftest import ROOT, write
from tests.test_report import browser, charts, view  # noqa: F401 (the Chromium fixture)

EXAMPLE = ROOT / "scenarios" / "kpi"
MEASURE = ROOT / "scenarios" / "measure"
runner = CliRunner()

MODEL = """\
name: tiny
hours_per_fte: 1460
case_types:
  - {id: theft, weight_hours: 2}
  - {id: fraud, weight_hours: 10}
"""
STAFF = "id,fte,office\nA,1,north\nB,0.5,north\nC,1,south\n"
# Period 2026-01 to 2026-03. Standard: 1460 × 31 / 365 = 124 h (Jan, Mar), 1460 × 28 / 365 = 112 h (Feb).
CASES = """\
id,type,office,prosecutor,filed,assigned,disposed,outcome
C1,theft,north,A,2025-12-10,2025-12-11,2026-01-15,convicted
C2,fraud,north,A,2026-01-05,2026-01-05,2026-03-05,plea
C3,theft,north,B,2026-01-20,2026-02-03,,
C4,theft,south,C,2026-02-01,,2026-02-11,dismissed
C5,fraud,south,,2026-03-10,,,
C6,theft,south,C,2026-04-02,2026-04-02,2026-04-03,dismissed
C7,fraud,north,A,2025-11-01,2025-11-02,2025-12-31,convicted
"""
# C1: pending from before the period, disposed in January after 36 days (Dec 10 → Jan 15).
# C2: filed in January, disposed in March after 59 days (26 left in Jan + 28 + 5).
# C3: filed Jan 20, held by B only from its assignment on Feb 3, never disposed.
# C4: filed and disposed in February, 10 days; no assignment date (C holds it from its filing).
# C5: filed in March, nobody holds it yet (a warning).
# C6: filed after the period, C7 disposed before it: in no figure.


def tiny(tmp_path, cases=CASES, staff=STAFF, model=MODEL, name="cases.csv"):
    return (write(tmp_path / name, cases) if isinstance(cases, str) else cases,
            write(tmp_path / "model.yaml", model), write(tmp_path / "staff.csv", staff))


def indicators(tmp_path, period="2026-01:2026-03", **kwargs):
    start, end = parse_period(period)
    options = KpiOptions(start=start, end=end, **kwargs)
    return compute(load_register(*tiny(tmp_path), options), options)


def rows(found, dimension, group):
    t = found.table
    return t[(t["dimension"] == dimension) & (t["group"] == group)].set_index("month")


def test_the_service_figures_are_the_hand_computed_ones(tmp_path):
    s = rows(indicators(tmp_path), "service", "all")
    assert s["filings"].tolist() == [2, 1, 1]  # Jan: C2, C3; Feb: C4; Mar: C5
    assert s["dispositions"].tolist() == [1, 1, 1]  # Jan: C1; Feb: C4; Mar: C2
    assert s["clearance_rate"].tolist() == [0.5, 1.0, 1.0]
    assert s["pending"].tolist() == [2, 2, 2]  # Jan, Feb: C2, C3; Mar: C3, C5
    # ages at month end: Jan C2 26, C3 11; Feb C2 54, C3 39; Mar C3 70, C5 21 (median: the mean of two;
    # p90: the lower + 0.9 × the gap)
    assert s["pending_age_median_days"].tolist() == [18.5, 46.5, 45.5]
    assert s["pending_age_p90_days"].tolist() == pytest.approx([24.5, 52.5, 65.1])
    assert s["disposition_days_median"].tolist() == [36, 10, 59]
    assert s["pending_hours"].tolist() == [12, 12, 12]  # fraud 10 + theft 2 each month
    assert s["fte"].tolist() == [2.5] * 3
    assert s["pending_hours_per_fte"].tolist() == pytest.approx([4.8] * 3)
    assert s["standard_hours_per_fte"].tolist() == pytest.approx([124, 112, 124])
    assert s["pending_load"].tolist() == pytest.approx([4.8 / 124, 4.8 / 112, 4.8 / 124])
    assert s["filed_hours"].tolist() == [12, 2, 10]  # C2 + C3; C4; C5


def test_the_period_totals_are_the_hand_computed_ones(tmp_path):
    total = indicators(tmp_path).totals["service"].iloc[0]
    assert (total.filings, total.dispositions, total.clearance_rate) == (4, 3, 0.75)
    # time to disposition over the period: 10, 36, 59 → median 36, p90 36 + 0.8 × 23
    assert total.disposition_days_median == 36 and total.disposition_days_p90 == pytest.approx(54.4)
    assert total.pending == 2 and total.pending_age_median_days == 45.5  # at the end of March


def test_offices_prosecutors_and_types(tmp_path):
    found = indicators(tmp_path)
    north, south = rows(found, "office", "north"), rows(found, "office", "south")
    assert north["filings"].tolist() == [2, 0, 0] and north["dispositions"].tolist() == [1, 0, 1]
    assert north["clearance_rate"].isna().tolist() == [False, True, True]  # no filings: no rate
    assert north["pending"].tolist() == [2, 2, 1] and north["pending_age_median_days"].iat[2] == 70
    assert north["pending_hours_per_fte"].tolist() == pytest.approx([8, 8, 2 / 1.5])  # A + B: 1.5 FTE
    assert south["pending"].tolist() == [0, 0, 1] and south["pending_hours_per_fte"].iat[2] == 10
    a, b, c = (rows(found, "prosecutor", p) for p in "ABC")
    assert a["pending"].tolist() == [1, 1, 0] and a["dispositions"].tolist() == [1, 0, 1]
    # B: C3 is B's filing in January, but B holds it only from February 3
    assert b["filings"].tolist() == [1, 0, 0] and b["pending"].tolist() == [0, 1, 1]
    assert b["pending_hours_per_fte"].tolist() == pytest.approx([0, 4, 4])  # 2 h at 0.5 FTE
    assert c["filings"].tolist() == [0, 1, 0] and c["pending"].tolist() == [0, 0, 0]
    theft, fraud = rows(found, "type", "theft"), rows(found, "type", "fraud")
    assert theft["pending"].tolist() == [1, 1, 1] and fraud["pending"].tolist() == [1, 1, 1]
    assert fraud["pending_age_median_days"].tolist() == [26, 54, 21]
    assert theft["fte"].isna().all()  # no one's FTE is a type's: no caseload per FTE by type
    assert [w["kind"] for w in found.register.warnings] == ["unassigned"]  # C5


def test_the_quantiles_are_numpys(tmp_path):
    rng = np.random.default_rng(3)
    key = rng.integers(0, 40, 5000)
    values = rng.exponential(30, 5000).round()
    got = group_quantiles(key, values, 45)
    for g in range(45):
        mine = values[key == g]
        expected = np.quantile(mine, [0.5, 0.9]) if mine.size else [np.nan, np.nan]
        np.testing.assert_allclose(got[g], expected)


def test_pending_and_ages_agree_with_a_case_by_case_count(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    filed = pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
    took = rng.integers(0, 200, n)
    disposed = pd.Series(filed + pd.to_timedelta(took, "D")).where(rng.random(n) < 0.7)
    register = pd.DataFrame({"id": [f"X{i}" for i in range(n)], "type": rng.choice(["theft", "fraud"], n),
                             "office": rng.choice(["north", "south"], n), "filed": filed.date,
                             "disposed": disposed.dt.date})
    register.to_csv(tmp_path / "random.csv", index=False)
    start, end = parse_period("2025-09:2026-02")
    options = KpiOptions(start=start, end=end)
    found = compute(load_register(tmp_path / "random.csv", *tiny(tmp_path)[1:], options), options)
    service = rows(found, "service", "all")
    done = disposed.fillna(pd.Timestamp("2100-01-01"))
    for month, row in service.iterrows():
        month_end = pd.Period(month, "M").end_time.normalize()
        held = (filed <= month_end) & (done > month_end).to_numpy()
        assert row["pending"] == held.sum()
        assert row["pending_age_median_days"] == np.median((month_end - filed[held]).days)
        out = (disposed.dt.to_period("M") == pd.Period(month, "M")).to_numpy()
        assert row["dispositions"] == out.sum()
        assert row["filings"] == (filed.to_period("M") == pd.Period(month, "M")).sum()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_the_command_writes_the_folder(tmp_path):
    cases, model, staff = tiny(tmp_path)
    done = cli("kpi", cases, "--model", model, "--staff", staff, "--period", "2026-01:2026-03", "--out",
               tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert "1 case has no prosecutor and no disposal date" in done.output
    kpi = pd.read_csv(tmp_path / "out" / "kpi.csv")
    assert set(kpi["dimension"]) == {"service", "office", "prosecutor", "type"} and len(kpi) == 3 * (1 + 2 + 3 + 2)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["service"]["filings"] == 4 and summary["service"]["clearance_rate"] == 0.75
    assert summary["period"]["months"] == ["2026-01", "2026-02", "2026-03"]
    assert {o["group"] for o in summary["offices"]} == {"north", "south"}
    assert set(summary["inputs"]) == {str(cases), str(model), str(staff)}
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "totals.csv").is_file()


def test_xlsx_and_parquet_registers_give_the_same_figures(tmp_path):
    frame = pd.read_csv(write(tmp_path / "x.csv", CASES), dtype=str)
    frame.to_excel(tmp_path / "cases.xlsx", index=False)
    dated = frame.assign(**{c: pd.to_datetime(frame[c]).dt.date for c in ("filed", "assigned", "disposed")})
    dated.to_parquet(tmp_path / "cases.parquet", index=False)
    dates = frame.assign(**{c: pd.to_datetime(frame[c]) for c in ("filed", "assigned", "disposed")})
    dates.to_excel(tmp_path / "dates.xlsx", index=False)  # date cells, as registers export them
    first = indicators(tmp_path).table
    start, end = parse_period("2026-01:2026-03")
    options = KpiOptions(start=start, end=end)
    for name in ("cases.xlsx", "dates.xlsx", "cases.parquet"):
        found = compute(load_register(tmp_path / name, tmp_path / "model.yaml", tmp_path / "staff.csv", options),
                        options)
        pd.testing.assert_frame_equal(found.table, first)


@pytest.mark.parametrize("change, line, field, words", [
    (("C2,fraud,north,A,2026-01-05,2026-01-05,2026-03-05", "C2,fraud,north,A,2026-01-05,2026-01-05,2026-01-04"),
     3, "disposed", "disposed on 2026-01-04, before it was filed"),
    (("C3,theft,north,B,2026-01-20,2026-02-03", "C3,theft,north,B,2026-01-20,2026-01-19"),
     4, "assigned", "before it was filed"),
    (("2026-02-01,,2026-02-11", "2026-02-01,,11/02/2026"), 5, "disposed", "'11/02/2026' for case 'C4' is not a date"),
    (("C5,fraud,south,,2026-03-10", "C5,fraud,south,,"), 6, "filed", "case 'C5' has no 'filed' date"),
    (("C4,theft,south", "C3,theft,south"), 5, "id", "case id 'C3' is used twice"),
    (("C5,fraud,south", "C5,fraud,"), 6, "office", "case 'C5' has no 'office'"),
    (("C2,fraud,north,A,2026-01-05,2026-01-05,2026-03-05,plea", "C2,fraud,north,A,2026-01-05,2026-01-05,,plea"),
     3, "outcome", "has an outcome ('plea') but no disposal date"),
    (("outcome\n", "result\n"), 1, "result", "unknown column 'result'"),
])
def test_bad_rows_are_exit_2_with_file_line_and_field(tmp_path, change, line, field, words):
    cases, model, staff = tiny(tmp_path, cases=CASES.replace(*change, 1))
    done = cli("kpi", cases, "--model", model, "--staff", staff, "--period", "2026-01", "--out", tmp_path / "out")
    assert done.exit_code == 2, done.output
    assert f"cases.csv:{line}: field '{field}'" in done.output and words in done.output
    assert "Traceback" not in done.output and not (tmp_path / "out").exists()


def test_unknown_types_and_prosecutors_warn_or_refuse(tmp_path):
    text = CASES.replace("C3,theft,north,B", "C3,arson,north,Z")
    cases, model, staff = tiny(tmp_path, cases=text)
    base = [cases, "--model", model, "--staff", staff, "--period", "2026-01:2026-03"]
    done = cli("kpi", *base, "--out", tmp_path / "warn")
    assert done.exit_code == 0, done.output
    assert "1 case is of types the model does not hold (arson 1)" in done.output
    assert "1 case is held by prosecutors not in the staff table (Z 1)" in done.output
    kpi = pd.read_csv(tmp_path / "warn" / "kpi.csv")
    service = kpi[kpi["dimension"] == "service"]
    assert service["pending"].tolist() == [2, 2, 2] and service["pending_hours"].tolist() == [10, 10, 10]  # arson: 0 h
    z = kpi[(kpi["dimension"] == "prosecutor") & (kpi["group"] == "Z")]
    assert z["pending"].tolist() == [0, 1, 1] and z["fte"].isna().all()
    refused = cli("kpi", *base, "--out", tmp_path / "r1", "--unknown-types", "refuse")
    assert refused.exit_code == 2 and "cases.csv:4: field 'type'" in refused.output and "arson" in refused.output
    refused = cli("kpi", *base, "--out", tmp_path / "r2", "--unknown-prosecutors", "refuse")
    assert refused.exit_code == 2 and "cases.csv:4: field 'prosecutor'" in refused.output


@pytest.mark.parametrize("args, words", [
    (["--period", "2026-13"], "13 is not a month"),
    (["--period", "2026-05:2026-02"], "ends before it starts"),
    (["--period", "last year"], "is not a year, a month or a range of months"),
    (["--period", "1990:2020"], "is 372 months long"),
    (["--staff", "missing.csv"], "missing.csv: field '--staff': the file does not exist"),
    (["--model", "missing.yaml"], "missing.yaml: the file does not exist"),
])
def test_bad_options_are_exit_2(tmp_path, args, words):
    cases, model, staff = tiny(tmp_path)
    given = {"--model": model, "--staff": staff, "--period": "2026-01"}
    given.update(dict(zip(args[::2], [tmp_path / a if a.startswith("missing") else a for a in args[1::2]])))
    done = cli("kpi", cases, *[x for kv in given.items() for x in kv], "--out", tmp_path / "out")
    assert done.exit_code == 2, done.output
    assert words in done.output and "Traceback" not in done.output


def test_a_staff_row_without_fte_names_its_line(tmp_path):
    cases, model, staff = tiny(tmp_path, staff=STAFF.replace("B,0.5", "B,"))
    done = cli("kpi", cases, "--model", model, "--staff", staff, "--period", "2026-01", "--out", tmp_path / "out")
    assert done.exit_code == 2 and "staff.csv:3: field 'fte'" in done.output


def test_parse_period():
    from datetime import date

    assert parse_period("2026") == (date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert parse_period("2025-07:2026-06") == (date(2025, 7, 1), date(2026, 6, 30))
    with pytest.raises(InputError):
        parse_period("2026-1")
    with pytest.raises(ValueError):  # the schema: whole months only
        KpiOptions(start=date(2026, 1, 2), end=date(2026, 1, 31))
    with pytest.raises(ValueError):
        KpiOptions(start=date(2026, 1, 1), end=date(2026, 1, 31), typo=1)


def test_the_example_register_is_what_its_script_writes():
    text = load_script(EXAMPLE / "generate.py").generate().to_csv(index=False)
    shipped = (EXAMPLE / "cases.csv").read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == hashlib.sha256(shipped.encode()).hexdigest()


def test_the_example_report_in_chromium(browser, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    done = cli("kpi", EXAMPLE / "cases.csv", "--model", MEASURE / "model.yaml", "--staff", MEASURE / "staff.csv",
               "--period", "2025-07:2026-06", "--out", out, "-q")
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    s = summary["service"]
    text = view(browser, out / "report.html", tmp_path / "report-kpi.png")
    assert f"{summary['cases']:,} cases in the register" in text
    assert f"{s['filings']:,} cases were filed and {s['dispositions']:,} disposed" in text
    assert f"a clearance rate of {s['clearance_rate']:.0%}" in text
    assert f"{s['pending']:,} cases were pending" in text
    assert f"{s['pending_hours_per_fte']:,.0f} hours of work per FTE" in text
    assert charts(browser) >= 8  # flows, clearance, pending and age, per FTE; four by office
    for title in ("Filings and dispositions per month", "Clearance rate per month", "Pending cases and their age",
                  "Weighted caseload per FTE against the standard", "By office", "By case type", "Definitions"):
        assert title in text
    for office in summary["offices"]:  # each office's row: its filings and dispositions
        assert f"{office['group']} {office['fte']:,.1f} {office['filings']:,} {office['dispositions']:,}" in text
    assert "P061" in text  # the warning about the prosecutor who left
    # the README's walk-through quotes this run
    readme = (ROOT / "README.md").read_text()
    walk = " ".join(readme.split("### Walk-through: the example register", 1)[1].split("\n## ", 1)[0].split())
    for quoted in (f"{summary['cases']:,} cases filed",
                   f"{s['filings']:,} cases were filed and {s['dispositions']:,} disposed",
                   f"clearance rate of {s['clearance_rate'] * 100:.0f} %",
                   f"took at most {s['disposition_days_median']:.0f} days, one in ten more than "
                   f"{s['disposition_days_p90']:.0f}",
                   f"{s['pending']:,} cases are pending, aged {s['pending_age_median_days']:.0f} days at the median "
                   f"and {s['pending_age_p90_days']:.0f} at the 90th percentile",
                   f"hold {s['pending_hours_per_fte']:,.0f} hours of work per FTE, {s['pending_load']:.1f} times"):
        assert quoted in walk, quoted


def test_a_hostile_office_is_shown_as_text(browser, tmp_path):  # noqa: F811
    hostile = "<script>alert(1)</script>"
    image, formula, bold = "<img src=x onerror=alert(2)>", "=1+2", "<b>bold</b>"
    text = (CASES.replace("C3,theft,north,B", f"C3,{bold},north,{image}").replace("north", hostile)
            .replace(",C,", f",{formula},"))
    cases, model, staff = tiny(tmp_path, cases=text, staff=STAFF.replace("north", hostile).replace("C,", f"{formula},"))
    out = tmp_path / "out"
    done = cli("kpi", cases, "--model", model, "--staff", staff, "--period", "2026-01:2026-03", "--out", out, "-q")
    assert done.exit_code == 0, done.output
    shown = view(browser, out / "report.html", tmp_path / "report-kpi-hostile.png")
    for name in (hostile, image, formula, bold):  # an office, a prosecutor, a type
        assert name in shown, name
    assert not browser.find_elements("tag name", "script") and not browser.find_elements("tag name", "img")
    assert not browser.find_elements("css selector", "td b")
    assert charts(browser) >= 8
    kpi = pd.read_csv(out / "kpi.csv")
    assert f"'{formula}" in set(kpi["group"])  # a spreadsheet shows it as text, never runs it


def test_a_register_without_prosecutors_and_staff_without_offices(tmp_path):
    frame = pd.read_csv(write(tmp_path / "full.csv", CASES), dtype=str).drop(columns=["prosecutor", "assigned"])
    frame.to_csv(tmp_path / "bare.csv", index=False)
    cases, model, staff = tiny(tmp_path, cases=tmp_path / "bare.csv", staff="id,fte\nA,1\nB,0.5\nC,1\n")
    start, end = parse_period("2026-01:2026-03")
    options = KpiOptions(start=start, end=end)
    found = compute(load_register(cases, model, staff, options), options)
    s = rows(found, "service", "all")
    assert s["pending"].tolist() == [2, 2, 2] and s["pending_hours_per_fte"].tolist() == pytest.approx([4.8] * 3)
    assert rows(found, "office", "north")["fte"].isna().all()  # no office in the staff table: no FTE by office
    assert rows(found, "prosecutor", "A")["pending"].tolist() == [0, 0, 0]
    assert [w["kind"] for w in found.register.warnings] == ["no_prosecutor_column"]


def test_a_case_assigned_after_its_disposal_is_named_in_a_warning(tmp_path):
    """An assignment dated after the disposal (a data-entry slip in real registers) is no reason to
    refuse the register, but the prosecutor never held the case while it was pending: a warning
    names how many, and the first with both dates."""
    late = CASES.replace("C2,fraud,north,A,2026-01-05,2026-01-05,2026-03-05", "C2,fraud,north,A,2026-01-05,2026-03-09,2026-03-05")
    options = KpiOptions(start=parse_period("2026-01:2026-03")[0], end=parse_period("2026-01:2026-03")[1])
    found = load_register(*tiny(tmp_path, cases=late), options)
    [warning] = [w for w in found.warnings if w["kind"] == "assigned_after_disposal"]
    assert warning["subject"] == "C2" and "1 case is" in warning["message"]
    assert "2026-03-09" in warning["message"] and "2026-03-05" in warning["message"]
    assert "assigned_after_disposal" not in [w["kind"] for w in load_register(*tiny(tmp_path), options).warnings]
