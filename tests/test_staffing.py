"""Staffing models (`balancer staffing`): the plain weighted-caseload formula and minimal hires."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import OptimizeResult
from typer.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.cli import app
from balancer.errors import InputError
from balancer.scenario import load_scenario
from balancer.solver import SolverError, SolverStatus
from balancer.staffing import (
    ALL, ANY, best_max_utilisation, min_hires, parse_sweep, plan_staffing, run_sweep, with_value,
)
from balancer.staffing import model as staffing_model
from balancer.staffing.inputs import demand as demand_rows, groups as staff_groups, profiles as hire_profiles
from tests.conftest import ROOT, write

WISCONSIN = ROOT / "scenarios" / "staffing-wisconsin.yaml"

MODEL = """\
name: m
hours_per_fte: 1500.0
grades: [junior, senior]
case_types:
  - {id: theft, weight_hours: 6.0}
  - {id: corruption, weight_hours: 80.0, specialisation: corruption, min_grade: senior}
"""


def scenario(tmp_path, staff: list[str], caseload: list[str], model: str = MODEL, extra: str = ""):
    body = "name: s\nmodel: model.yaml\n" + extra + "staff:\n" + "".join(f"  - {s}\n" for s in staff)
    body += "caseload:\n" + "".join(f"  - {c}\n" for c in caseload)
    write(tmp_path / "model.yaml", model)
    return load_scenario(write(tmp_path / "s.yaml", body))


def row(result, office=ALL, spec=ALL) -> dict:
    t = result.table
    return t[(t["office"] == office) & (t["specialisation"] == spec)].iloc[0].to_dict()


def test_pebbsy_nrw_worked_example(tmp_path):
    """PEBB§Y, North Rhine-Westphalia 2018 (German judges): 500 traffic-accident cases × 239 minutes
    ÷ 99,900 annual minutes = 1.1962 FTE, printed as "1,20". Source: Amtsrichterverband, explanation
    of PEBB§Y ("500 x 239 / 99.900 = 1,20"), as recorded in shared/data/WORKLOAD-FIGURES.md."""
    model = (f"name: pebbsy-nrw-2018\nhours_per_fte: {99_900 / 60!r}\n"
             f"case_types:\n  - {{id: traffic-accident, weight_hours: {239 / 60!r}}}\n")
    sc = scenario(tmp_path, ["{id: J1, fte: 1.0}"], ["{type: traffic-accident, filings: 500}"], model)
    result = plan_staffing(sc, target=1.0)
    need = row(result)["formula_need_fte"]
    assert need == pytest.approx(500 * 239 / 99_900, abs=1e-4) == pytest.approx(1.1962, abs=1e-4)
    assert f"{need:.2f}".replace(".", ",") == "1,20"
    assert row(result)["workload_hours"] == pytest.approx(500 * 239 / 60)
    # one judge in post: the formula's gap of 0.20 FTE is one whole hire, and so is the optimiser's
    assert row(result)["formula_gap_fte"] == pytest.approx(0.1962, abs=1e-4)
    assert result.total_hires == 1 and result.findings == []


def test_specialisation_makes_the_optimiser_need_more(tmp_path):
    staff = ["{id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: 1500}",
             "{id: J1, fte: 0.2, specialisations: [corruption], grade: junior}",
             "{id: J2, fte: 1.0, grade: junior}", "{id: J3, fte: 1.0, grade: junior}"]
    sc = scenario(tmp_path, staff, ["{type: corruption, filings: 30}", "{type: theft, filings: 100}"])
    result = plan_staffing(sc, target=1.0)
    corruption = row(result, spec="corruption")
    assert corruption["formula_gap_fte"] == pytest.approx(2400 / 1500 - 1.2)  # 0.4 FTE short
    assert corruption["hires"] == 2 and corruption["hires_by_grade"] == "2 senior"
    message = next(f for f in result.findings if f.startswith("corruption:"))
    assert "formula says 0.40 FTE short" in message and "hires 2" in message
    assert "only seniors or above with corruption may take corruption" in message
    assert "there are 1, at 100% from current load" in message
    assert result.hires.to_dict("records") == [
        {"office": None, "specialisation": "corruption", "grade": "senior", "hires": 2}]


def test_offices_do_not_share_spare_time(tmp_path):
    staff = ["{id: N1, fte: 1.0, office: north}", "{id: N2, fte: 1.0, office: north}",
             "{id: S1, fte: 1.0, office: south}"]
    caseload = ["{type: theft, filings: 100, office: north}",   # 600 h: north has 3,000
                "{type: theft, filings: 400, office: south}"]   # 2,400 h: south has 1,500
    result = plan_staffing(scenario(tmp_path, staff, caseload), target=1.0)
    assert row(result)["formula_gap_fte"] == pytest.approx(3000 / 1500 - 3)  # 1 FTE spare overall
    assert row(result, "north")["hires"] == 0 and row(result, "south")["hires"] == 1
    assert set(result.hires["office"]) == {"south"}
    assert any(f.startswith("overall:") and "another office" in f for f in result.findings)
    assert result.max_utilisation_before == pytest.approx(2400 / 1500)
    assert result.max_utilisation_after <= 1.0 + 1e-9


def test_target_raises_hires(tmp_path):
    sc = scenario(tmp_path, ["{id: A, fte: 1.0}", "{id: B, fte: 1.0}"], ["{type: theft, filings: 450}"])
    hires = [plan_staffing(sc, target=t).total_hires for t in (1.0, 0.9, 0.7, 0.5)]
    assert hires == [0, 0, 1, 2]  # 2,700 h over 3,000 h in post: 90 %
    assert plan_staffing(sc, target=0.5).max_utilisation_after <= 0.5 + 1e-9
    with pytest.raises(InputError, match="target"):
        plan_staffing(sc, target=0)


def test_no_allowed_hire_and_full_seniors_is_infeasible(tmp_path):
    staff = ["{id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: 1500}",
             "{id: J1, fte: 1.0, grade: junior}"]
    sc = scenario(tmp_path, staff, ["{type: corruption, filings: 5}"])
    result = plan_staffing(sc, hire_grades=["junior"])
    assert not result.feasible
    assert "corruption" in result.findings[0] and "no hire allowed" in result.findings[0]
    assert result.summary()["status"] == "infeasible" and result.summary()["hires"] is None
    assert plan_staffing(sc).feasible  # seniors may be hired
    with pytest.raises(InputError, match="hire-grade"):
        plan_staffing(sc, hire_grades=["chief"])


def test_summary_states_the_solver_status(tmp_path):
    staff = ["{id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: 1500}",
             "{id: J1, fte: 1.0, grade: junior}"]
    sc = scenario(tmp_path, staff, ["{type: corruption, filings: 5}", "{type: theft, filings: 100}"])
    done = plan_staffing(sc)
    assert done.solver_status is SolverStatus.SOLVED and done.hires_proven
    solver = done.summary()["solver"]
    assert {k: solver[k] for k in ("min_hires", "grade_mix", "max_utilisation", "status")} == {
        "min_hires": "solved", "grade_mix": "solved", "max_utilisation": "solved", "status": "solved"}
    assert done.summary()["hires_proven_fewest"] and done.summary()["hires_lower_bound"] == done.total_hires
    assert solver["parts"] == solver["parts_proven"] == len(done.summary()["parts"])
    infeasible = plan_staffing(sc, hire_grades=["junior"])  # HiGHS proves that no number of hires fits
    assert infeasible.solver_status is SolverStatus.INFEASIBLE and not infeasible.hires_proven
    assert infeasible.summary()["solver"]["min_hires"] == "infeasible"
    assert infeasible.summary()["hires_lower_bound"] is None


def _stopping_milp(status: int, with_solution: bool, monkeypatch, only_hires: bool = False):
    """HiGHS as if stopped: `status` (1: time limit), with or without the solution found so far
    (the real solve's, so that it fits), and a lower bound below it. `only_hires`: the models with
    integers stop, the LPs (which have none) are solved."""
    real = staffing_model.milp

    def stopped(c, **kwargs):
        res = real(c, **kwargs)
        if only_hires and not kwargs["integrality"].any():
            return res
        return OptimizeResult(status=status, x=res.x if with_solution else None, fun=res.fun,
                              mip_dual_bound=None if res.fun is None else res.fun - 1, message="stopped")

    monkeypatch.setattr(staffing_model, "milp", stopped)


@pytest.mark.parametrize("status, with_solution", [(1, False), (3, False), (4, True)])
def test_a_solver_without_an_answer_is_an_error_not_an_answer(tmp_path, monkeypatch, status, with_solution):
    """Neither 'no number of hires fits' nor hires: HiGHS said neither."""
    sc = scenario(tmp_path, ["{id: A, fte: 1.0}"], ["{type: theft, filings: 450}"])
    work, pool, prof = _receivers(sc, 0.85)
    _stopping_milp(status, with_solution, monkeypatch)
    with pytest.raises(SolverError, match="time limit" if status == 1 else "HiGHS stopped"):
        min_hires(work, pool, prof, 0.85, 1500.0)
    with pytest.raises(SolverError):
        best_max_utilisation(work, pool, prof, np.zeros(len(prof), int), 1500.0)


def test_a_time_limited_answer_is_not_called_proven(tmp_path, monkeypatch):
    sc = scenario(tmp_path, ["{id: A, fte: 1.0, office: north}", "{id: B, fte: 1.0, office: south}"],
                  ["{type: theft, filings: 450, office: north}", "{type: theft, filings: 600, office: south}"])
    real = plan_staffing(sc)
    _stopping_milp(1, True, monkeypatch, only_hires=True)
    stopped = plan_staffing(sc, time_limit=5)
    assert stopped.feasible and stopped.total_hires == real.total_hires and not stopped.hires_proven
    summary = stopped.summary()
    assert summary["solver"]["min_hires"] == "time_limit" and summary["solver"]["status"] == "time_limit"
    assert summary["hires_proven_fewest"] is False and summary["solver"]["parts_proven"] == 0
    assert summary["solver"]["time_limit_s"] == 5 and len(summary["parts"]) == 2
    assert [p["offices"] for p in summary["parts"]] == [["north"], ["south"]]
    assert all(p["status"] == "time_limit" and not p["hires_proven"] for p in summary["parts"])


def test_cli_says_when_hires_are_not_proven_and_fails_cleanly(tmp_path, monkeypatch):
    sc = scenario(tmp_path, ["{id: A, fte: 1.0}"], ["{type: theft, filings: 450}"])
    _stopping_milp(1, True, monkeypatch, only_hires=True)
    done = CliRunner().invoke(app, ["staffing", str(sc.path), "--out", str(tmp_path / "o"), "--time-limit", "2"])
    assert done.exit_code == 0, done.output
    assert "NOT proven fewest" in done.output and "time limit of 2 s" in done.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["hires_proven_fewest"] is False
    _stopping_milp(1, False, monkeypatch)
    failed = CliRunner().invoke(app, ["staffing", str(sc.path), "--out", str(tmp_path / "f")])
    assert failed.exit_code == 3 and "failed: HiGHS found no hires" in failed.output
    assert "Traceback" not in failed.output


def _receivers(sc, target):
    return demand_rows(sc), staff_groups(sc, target), hire_profiles(sc, None)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(loads=st.lists(st.integers(0, 1500), min_size=3, max_size=3),
       thefts=st.integers(0, 600), corruption=st.integers(0, 40), target=st.sampled_from([0.7, 0.85, 1.0]))
def test_hires_are_minimal(tmp_path, loads, thefts, corruption, target):
    """One fewer hire in any profile (others unchanged) breaks the target — checked with the LP."""
    staff = [f"{{id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: {loads[0]}}}",
             f"{{id: J1, fte: 1.0, specialisations: [corruption], grade: junior, current_load_hours: {loads[1]}}}",
             f"{{id: J2, fte: 0.5, grade: junior, current_load_hours: {loads[2] / 2}}}"]
    sc = scenario(tmp_path, staff, [f"{{type: theft, filings: {thefts}}}",
                                    f"{{type: corruption, filings: {corruption}}}"])
    demand, groups, profiles = _receivers(sc, target)
    hires = min_hires(demand, groups, profiles, target, 1500.0).per_profile
    assert hires is not None
    fixed = dict(enumerate(hires.tolist()))
    assert min_hires(demand, groups, profiles, target, 1500.0, fixed).per_profile is not None
    for j, n in fixed.items():
        if n > 0:
            assert min_hires(demand, groups, profiles, target, 1500.0, fixed | {j: n - 1}).per_profile is None
    # and the total cannot be below the capacity bound
    spare = groups["spare"].sum()
    assert hires.sum() >= np.ceil((demand["hours"].sum() - spare) / (target * 1500.0) - 1e-9)


OFFICES = ("north", "south", "east")


@st.composite
def offices_scenario(draw):
    """Up to 7 staff over 3 offices; filings per type and office, now and then without an office
    (such work may go anywhere, so it joins the offices into one part)."""
    staff = []
    for i in range(draw(st.integers(1, 7))):
        fte, load = draw(st.sampled_from([0.5, 1.0])), draw(st.integers(0, 1500))
        staff.append(f"{{id: P{i}, fte: {fte}, grade: {draw(st.sampled_from(['junior', 'senior']))}, "
                     f"specialisations: {draw(st.sampled_from(['[]', '[corruption]']))}, "
                     f"office: {draw(st.sampled_from(OFFICES))}, current_load_hours: {load * fte}}}")
    caseload = []
    for kind, most in (("theft", 400), ("corruption", 30)):
        for office in OFFICES:
            if filings := draw(st.integers(0, most)):
                caseload.append(f"{{type: {kind}, filings: {filings}, office: {office}}}")
        if filings := draw(st.one_of(st.just(0), st.just(0), st.integers(0, most // 4))):
            caseload.append(f"{{type: {kind}, filings: {filings}}}")
    return staff, caseload or ["{type: theft, filings: 1, office: north}"], draw(st.sampled_from([0.7, 0.85, 1.0]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=offices_scenario())
def test_parts_answer_as_the_whole_model_does(tmp_path, case):
    """Solving each independent part alone gives the monolithic model's fewest hires and cheapest
    grades; and the hires stay minimal: one fewer in any profile (others fixed) breaks the target."""
    staff, caseload, target = case
    demand, groups, profiles = _receivers(scenario(tmp_path, staff, caseload), target)
    parts = min_hires(demand, groups, profiles, target, 1500.0)
    whole = min_hires(demand, groups, profiles, target, 1500.0, decompose=False)
    assert len(whole.parts) == 1 and len(parts.parts) >= 1
    assert (parts.per_profile is None) == (whole.per_profile is None)
    if whole.per_profile is None:
        return
    assert parts.status is whole.status is SolverStatus.SOLVED
    rank = profiles["rank"].to_numpy()
    assert parts.per_profile.sum() == whole.per_profile.sum()
    assert rank @ parts.per_profile == rank @ whole.per_profile
    fixed = dict(enumerate(parts.per_profile.tolist()))
    for j, n in fixed.items():
        if n > 0:
            assert min_hires(demand, groups, profiles, target, 1500.0, fixed | {j: n - 1}).per_profile is None


def test_offices_are_parts_unless_work_without_an_office_joins_them(tmp_path):
    staff = ["{id: N1, fte: 1.0, office: north}", "{id: S1, fte: 1.0, office: south}"]
    apart = ["{type: theft, filings: 300, office: north}", "{type: theft, filings: 300, office: south}"]
    result = plan_staffing(scenario(tmp_path, staff, apart), target=1.0)
    assert [p["offices"] for p in result.parts] == [["north"], ["south"]]
    joined = plan_staffing(scenario(tmp_path, staff, apart + ["{type: theft, filings: 50}"]), target=1.0)
    assert [p["offices"] for p in joined.parts] == [["any", "north", "south"]]
    assert result.total_hires == joined.total_hires == 2 and joined.hires_proven  # 1,800 h each: 1 hire each


def test_parse_sweep():
    s = parse_sweep("intake=0.8:1.4:0.1")
    assert s.parameter == "intake" and s.values == (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)
    assert parse_sweep("weight.theft=4:8:2").values == (4.0, 6.0, 8.0)
    assert parse_sweep("weight.theft=4:8:2").type_id == "theft"
    assert parse_sweep("hours_per_fte=1200:1600:200").values == (1200.0, 1400.0, 1600.0)
    for bad in ("intake", "intake=0.8:1.4", "intake=a:b:c", "intake=1.4:0.8:0.1", "intake=0.8:1.4:0",
                "speed=1:2:1", "hours_per_fte=0:10:1", "intake=0:1000:0.001"):
        with pytest.raises(InputError, match="sweep"):
            parse_sweep(bad)


def test_sweep_unknown_type(tmp_path):
    sc = scenario(tmp_path, ["{id: A, fte: 1.0}"], ["{type: theft, filings: 10}"])
    with pytest.raises(InputError, match="no case type 'thief'"):
        parse_sweep("weight.thief=1:2:1", sc)


def test_sweeps_change_what_they_say(tmp_path):
    sc = load_scenario(WISCONSIN)
    table = run_sweep(sc, parse_sweep("intake=0.8:1.4:0.1"))
    assert table["formula_need_fte"].is_monotonic_increasing
    assert table["hires"].is_monotonic_increasing and table["hires"].iat[-1] > table["hires"].iat[0]
    assert (table["max_utilisation_after"] <= 0.85 + 1e-6).all()
    base = plan_staffing(sc)
    doubled = plan_staffing(with_value(sc, "hours_per_fte", 2 * 1227.0))
    assert row(doubled)["formula_need_fte"] == pytest.approx(row(base)["formula_need_fte"] / 2, rel=1e-3)
    heavier = plan_staffing(with_value(sc, "weight.criminal-traffic", 3.36))
    traffic = sc.caseload.loc[sc.caseload["type"] == "criminal-traffic", "filings"].sum()
    assert row(heavier)["workload_hours"] - row(base)["workload_hours"] == pytest.approx(traffic * 1.68)


def test_shipped_wisconsin_scenario():
    result = plan_staffing(load_scenario(WISCONSIN))
    total = row(result)
    assert total["workload_hours"] == pytest.approx(28_968)
    assert total["fte_in_post"] == 22.5 and total["formula_gap_fte"] == pytest.approx(1.1088, abs=1e-4)
    assert result.total_hires == 7
    assert {o: row(result, o)["hires"] for o in ("north", "central", "south")} == \
        {"north": 0, "central": 5, "south": 2}
    assert ANY not in set(result.table["specialisation"])  # no specialist types: totals only


def balancer_cli(*args):
    return subprocess.run([sys.executable, "-m", "balancer", *map(str, args)], capture_output=True, text=True)


def test_cli_writes_table_summary_and_sweep(tmp_path):
    done = balancer_cli("staffing", WISCONSIN, "--out", tmp_path / "o", "--sweep", "intake=0.8:1.4:0.2")
    assert done.returncode == 0, done.stderr
    assert "staffing at target 85%" in done.stdout and "7 hire(s)" in done.stdout
    table = pd.read_csv(tmp_path / "o" / "staffing.csv")
    assert {"office", "specialisation", "workload_hours", "available_hours", "formula_need_fte",
            "formula_gap_fte", "hires"} <= set(table.columns)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["status"] == "done" and summary["hires"] == 7 and summary["target_utilisation"] == 0.85
    assert len(pd.read_csv(tmp_path / "o" / "sweep.csv")) == 4
    assert (tmp_path / "o" / "report.html").exists()  # its content: tests/test_report.py
    assert "finding: overall: formula says 1.11 FTE short" in done.stderr
    again = balancer_cli("staffing", WISCONSIN, "--out", tmp_path / "o")  # never mixed with the plan above
    assert again.returncode == 2 and "already holds files" in again.stderr
    assert len(pd.read_csv(tmp_path / "o" / "sweep.csv")) == 4


def test_cli_exit_codes(tmp_path):
    staff = ["{id: S1, fte: 1.0, specialisations: [corruption], grade: senior, current_load_hours: 1500}"]
    scenario(tmp_path, staff, ["{type: corruption, filings: 5}"])
    infeasible = balancer_cli("staffing", tmp_path / "s.yaml", "--out", tmp_path / "o", "--hire-grade", "junior")
    assert infeasible.returncode == 1 and "infeasible: corruption" in infeasible.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["status"] == "infeasible"
    bad = balancer_cli("staffing", WISCONSIN, "--out", tmp_path / "b", "--sweep", "intake=1.4:0.8:0.1")
    assert bad.returncode == 2 and "invalid input" in bad.stderr and "A ≤ B" in bad.stderr
    assert not (tmp_path / "b").exists()
    no_caseload = balancer_cli("staffing", ROOT / "scenarios" / "demo-office.yaml", "--out", tmp_path / "c")
    assert no_caseload.returncode == 2 and "no caseload" in no_caseload.stderr
