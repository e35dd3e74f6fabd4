"""`balancer explain`: a case's chances sum to one and include who it went to, and every other
prosecutor is given the rule of the scenario that kept them out."""

from __future__ import annotations

import json

import pytest

from balancer.explain import explain
from balancer.scenario import load_scenario
from balancer.scenario.capacity import staff_capacity
from tests.conftest import ROOT, write
from tests.test_register_cli import run_in

DEMO = ROOT / "scenarios" / "demo-office.yaml"
REBALANCE = ROOT / "scenarios" / "rebalance.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run of each shipped scenario, each into a register of its own."""
    folder = tmp_path_factory.mktemp("explain")
    env = {"BALANCER_REGISTER": str(folder / "register.sqlite")}
    for scenario in (DEMO, REBALANCE):
        done = run_in("run", scenario, "--out", folder / scenario.stem, "-q", env=env)
        assert done.returncode == 0, done.stderr
    return folder


def rules_broken(sc, case: dict, staff: dict, capacity: float) -> set[str]:
    """What the scenario's own data says keeps `staff` from `case`, as words the reason must use."""
    kind = next(t for t in sc.model.case_types if t.id == case["type"])
    grades = list(sc.model.grades)
    broken = set()
    if capacity <= 0:
        broken.add("no time")
    if kind.specialisation and kind.specialisation not in staff["specialisations"]:
        broken.add(f"{kind.specialisation} specialisation")
    if kind.min_grade and grades.index(staff["grade"]) < grades.index(kind.min_grade):
        broken.add("grade")
    if staff["id"] in (case["excluded"] or ()):
        broken.add("conflict of interest")
    return broken


def check_case(sc, run, case_id: str, scenario_path) -> None:
    e = explain(run, case_id, scenario_path)
    assert sum(e.chances.values()) == pytest.approx(1.0)
    assert e.staff_id in e.chances and all(p > 0 for p in e.chances.values())
    staff = sc.staff.set_index("id", drop=False)
    assert set(e.chances) | set(e.why_not) == set(staff.index) and not set(e.chances) & set(e.why_not)
    case = sc.cases.set_index("id", drop=False).loc[case_id]
    capacity = dict(zip(sc.staff["id"], staff_capacity(sc)))
    for sid, reason in e.why_not.items():
        broken = rules_broken(sc, case, staff.loc[sid], capacity[sid])
        assert all(word in reason for word in broken), (case_id, sid, reason, broken)
        if not broken:  # eligible by every rule of its own: the lottery, the group or no draw
            assert "eligible" in reason or "group" in reason or "not drawn" in reason, reason
    for sid in e.chances:  # nobody with a chance breaks a rule
        assert not rules_broken(sc, case, staff.loc[sid], capacity[sid]), (case_id, sid)


def test_every_case_of_the_demo_office_is_explained(runs):
    sc = load_scenario(DEMO)
    for case_id in sc.cases["id"]:
        check_case(sc, runs / DEMO.stem, case_id, DEMO)


def test_rebalanced_cases_are_explained(runs):
    sc = load_scenario(REBALANCE)
    run = runs / REBALANCE.stem
    moved = json.loads((run / "summary.json").read_text())["rebalance"]["moved_cases"]
    assert moved > 0
    cases = sc.cases.set_index("id")
    held_by_leavers = [cases.index[cases["assigned_to"] == p][0] for p in ("P03", "P07")]  # must move
    conflicted = cases.index[cases["excluded"].map(bool)][0]  # excludes its own holder
    new = cases.index[cases["assigned_to"].isna()][0]
    for case_id in (*held_by_leavers, conflicted, new):
        check_case(sc, run, case_id, REBALANCE)
    e = explain(run, conflicted, REBALANCE)
    assert e.previous_staff_id in e.why_not and "conflict of interest" in e.why_not[e.previous_staff_id]


def test_a_case_that_stays_with_its_holder_says_it_was_not_drawn(runs):
    run = runs / REBALANCE.stem
    sc = load_scenario(REBALANCE)
    explained = (explain(run, case_id, REBALANCE) for case_id in sc.cases["id"][:50])
    e = next(e for e in explained if not e.drawn)
    assert e.chances == {e.staff_id: 1.0} and e.staff_id == e.previous_staff_id


def test_the_command_prints_chances_reasons_seed_and_record(runs):
    run = runs / DEMO.stem
    summary = json.loads((run / "summary.json").read_text())
    sc = load_scenario(DEMO)
    case_id = sc.cases["id"][sc.cases["type"] == "corruption"].iloc[0]
    done = run_in("explain", case_id, "--run", run, "--inputs", DEMO)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "<- drawn" in out and "specialisation" in out
    assert str(summary["seed"]) in out and summary["seed_source"] in out
    assert f"record {summary['register']['id']}" in out and summary["register"]["hash"] in out
    assert max(map(len, out.splitlines())) <= 80


def test_unknown_case_or_folder_exits_2(runs, tmp_path):
    unknown = run_in("explain", "NO-SUCH-CASE", "--run", runs / DEMO.stem, "--inputs", DEMO)
    assert unknown.returncode == 2 and "NO-SUCH-CASE" in unknown.stderr
    not_a_run = run_in("explain", "D25-001", "--run", tmp_path, "--inputs", DEMO)
    assert not_a_run.returncode == 2 and "not a run folder" in not_a_run.stderr
    other = run_in("explain", "D25-001", "--run", runs / DEMO.stem, "--inputs", REBALANCE)
    assert other.returncode == 2 and "not the scenario" in other.stderr


def test_a_group_member_names_the_case_that_keeps_a_prosecutor_out(tmp_path):
    """A theft any prosecutor may take, grouped with a corruption case only P01 may: the others are
    kept out of the theft by its group, and told which case does it."""
    model = (ROOT / "models" / "demo.yaml").as_posix()
    staff = "\n".join(f"  - {{id: {s}, fte: 1.0, specialisations: [{spec}], grade: senior}}"
                      for s, spec in (("P01", "general, corruption"), ("P02", "general"), ("P03", "general")))
    cases = ("  - {id: G1, type: theft, group: g}\n  - {id: G2, type: corruption, group: g}\n"
             "  - {id: C3, type: theft}\n  - {id: C4, type: theft}")
    scenario = write(tmp_path / "office.yaml", f"name: office\nmodel: {model}\nstaff:\n{staff}\ncases:\n{cases}\n")
    assert run_in("run", scenario, "--out", tmp_path / "out", "-q").returncode == 0
    e = explain(tmp_path / "out", "G1", scenario)
    assert e.group == "g" and e.staff_id == "P01" and e.chances == {"P01": 1.0}
    assert all("group" in e.why_not[s] and "G2" in e.why_not[s] for s in ("P02", "P03"))


def test_a_formula_looking_id_is_found_as_given(tmp_path):
    """assignments.csv writes `=1+2` as `'=1+2` (formula escaping); explain takes the id as given."""
    from tests.test_outputs import office

    scenario = office(tmp_path, "  - {id: '=1+2', type: theft}\n  - {id: C2, type: theft}", staff_ids=("=P1", "P2"))
    assert run_in("run", scenario, "--out", tmp_path / "out", "-q").returncode == 0
    e = explain(tmp_path / "out", "=1+2", scenario)
    assert e.case_id == "=1+2" and e.staff_id in e.chances and set(e.chances) <= {"=P1", "P2"}
