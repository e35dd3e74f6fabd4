"""Staffing models (`balancer staffing`): the plain weighted-caseload formula and minimal hires."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pulp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.errors import InputError
from balancer.scenario import load_scenario
from balancer.solver import SolverError, SolverStatus
from balancer.staffing import (
    ALL, ANY, _demand, _groups, _profiles, best_max_utilisation, min_hires, parse_sweep, plan_staffing,
    run_sweep, with_value,
)
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
    assert done.solver_status is SolverStatus.SOLVED
    assert done.summary()["solver"] == {"min_hires": "solved", "max_utilisation": "solved", "status": "solved"}
    infeasible = plan_staffing(sc, hire_grades=["junior"])  # CBC proves that no number of hires fits
    assert infeasible.solver_status is SolverStatus.INFEASIBLE
    assert infeasible.summary()["solver"] == {"min_hires": "infeasible", "max_utilisation": "solved",
                                              "status": "infeasible"}


@pytest.mark.parametrize("status, sol_status", [
    (pulp.LpStatusNotSolved, None), (pulp.LpStatusUndefined, None),
    (pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible),  # stopped with a solution not proven fewest
])
def test_cbc_without_a_proof_is_an_error_not_an_answer(tmp_path, monkeypatch, status, sol_status):
    """Neither 'no number of hires fits' (None) nor an optimum: CBC said neither."""
    class Stopped:
        def __init__(self, **options):
            pass

        def actualSolve(self, prob):
            prob.assignStatus(status, sol_status)
            return status

    sc = scenario(tmp_path, ["{id: A, fte: 1.0}"], ["{type: theft, filings: 450}"])
    demand, groups, profiles = _receivers(sc, 0.85)
    monkeypatch.setattr(pulp, "COIN_CMD", Stopped)
    with pytest.raises(SolverError, match=f"min_hires model with status {pulp.LpStatus[status]}"):
        min_hires(demand, groups, profiles, 0.85, 1500.0)
    with pytest.raises(SolverError, match="min_max_utilisation model"):
        best_max_utilisation(demand, groups, profiles, np.zeros(len(profiles), int), 1500.0)


def _receivers(sc, target):
    return _demand(sc), _groups(sc, target), _profiles(sc, None)


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
    hires = min_hires(demand, groups, profiles, target, 1500.0)
    assert hires is not None
    fixed = dict(enumerate(hires.tolist()))
    assert min_hires(demand, groups, profiles, target, 1500.0, fixed) is not None
    for j, n in fixed.items():
        if n > 0:
            assert min_hires(demand, groups, profiles, target, 1500.0, fixed | {j: n - 1}) is None
    # and the total cannot be below the capacity bound
    spare = groups["spare"].sum()
    assert hires.sum() >= np.ceil((demand["hours"].sum() - spare) / (target * 1500.0) - 1e-9)


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
    done = balancer_cli("staffing", WISCONSIN, "--out", tmp_path, "--sweep", "intake=0.8:1.4:0.2")
    assert done.returncode == 0, done.stderr
    assert "staffing at target 85%" in done.stdout and "7 hire(s)" in done.stdout
    table = pd.read_csv(tmp_path / "staffing.csv")
    assert {"office", "specialisation", "workload_hours", "available_hours", "formula_need_fte",
            "formula_gap_fte", "hires"} <= set(table.columns)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "done" and summary["hires"] == 7 and summary["target_utilisation"] == 0.85
    assert len(pd.read_csv(tmp_path / "sweep.csv")) == 4
    assert "<svg" in (tmp_path / "sweep.html").read_text()
    assert "finding: overall: formula says 1.11 FTE short" in done.stderr


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
