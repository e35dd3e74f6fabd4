"""Pre-solve checks: impossible scenarios are diagnosed with the numbers that prove it, the run
exits 1, and the diagnosis is printed and in summary.json."""

from __future__ import annotations

import json
import subprocess
import sys

import dataclasses

import numpy as np
import pytest

import balancer
from balancer.checks import check
from balancer.problem import compile_problem
from tests.conftest import write
from tests.problems import make_problem

MODEL = """\
name: office
hours_per_fte: 1000
grades: [junior, senior]
case_types:
  - {id: theft, weight_hours: 10}
  - {id: corruption, weight_hours: 50, specialisation: corruption, min_grade: senior}
  - {id: cyber, weight_hours: 20, specialisation: cyber}
"""


def scenario(tmp_path, staff: str, cases: str, capacity: str = "soft"):
    write(tmp_path / "model.yaml", MODEL)
    return write(tmp_path / "s.yaml", f"""\
name: check
model: model.yaml
staff:
{staff}
cases:
{cases}
policy: {{capacity: {capacity}, seed: 1}}
""")


def run_cli(path, out):
    return subprocess.run([sys.executable, "-m", "balancer", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True)


def test_case_type_nobody_may_take(tmp_path):
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 100, specialisations: [corruption], grade: junior}\n"
                    "  - {id: B, capacity_hours: 100, grade: senior}",
                    "  - {id: c1, type: theft}\n  - {id: c2, type: corruption}\n  - {id: c3, type: corruption}")
    result = balancer.solve(balancer.load_scenario(path))
    assert result.status is balancer.Status.INFEASIBLE
    (finding,) = [f for f in result.findings if f.severity.value == "error"]
    assert finding.code == "no-eligible-staff"
    assert finding.numbers["cases"] == ["c2", "c3"] and finding.numbers["hours"] == 100
    assert "'corruption', held by 1" in finding.message and "0 prosecutor(s)" in finding.message

    done = run_cli(path, tmp_path / "out")
    assert done.returncode == 1
    assert "c2, c3" in done.stderr and "Traceback" not in done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert summary["findings"][0]["code"] == "no-eligible-staff"
    assert not (tmp_path / "out" / "assignments.csv").exists()


def test_conflicts_can_exclude_everyone(tmp_path):
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 100}\n  - {id: B, capacity_hours: 100}",
                    "  - {id: c1, type: theft, excluded: [A, B]}\n  - {id: c2, type: theft}")
    result = balancer.solve(balancer.load_scenario(path))
    assert result.status is balancer.Status.INFEASIBLE
    assert "conflict of interest" in result.findings[0].message
    assert result.findings[0].numbers["cases"] == ["c1"]


def test_group_without_a_common_prosecutor(tmp_path):
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 100, specialisations: [cyber]}\n"
                    "  - {id: B, capacity_hours: 100, specialisations: [corruption], grade: senior}",
                    "  - {id: c1, type: cyber, group: g1}\n  - {id: c2, type: corruption, group: g1}\n"
                    "  - {id: c3, type: theft}")
    result = balancer.solve(balancer.load_scenario(path))
    assert result.status is balancer.Status.INFEASIBLE
    (finding,) = result.findings
    assert finding.code == "group-without-common-staff"
    assert finding.numbers["group"] == "g1" and finding.numbers["cases"] == ["c1", "c2"]
    assert "cyber: 1 eligible (A)" in finding.message and "corruption: 1 eligible (B)" in finding.message


def test_hard_capacity_names_the_min_cut(tmp_path):
    # cyber work (3 × 20 h) can only go to A and B, who have 30 + 20 = 50 h free: 10 h short.
    # Theft could go anywhere and C has plenty of room, so it is not part of the witness.
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 40, current_load_hours: 10, specialisations: [cyber]}\n"
                    "  - {id: B, capacity_hours: 40, current_load_hours: 20, specialisations: [cyber]}\n"
                    "  - {id: C, capacity_hours: 200}",
                    "  - {id: c1, type: cyber}\n  - {id: c2, type: cyber}\n  - {id: c3, type: cyber}\n"
                    "  - {id: t1, type: theft}\n  - {id: t2, type: theft}",
                    capacity="hard")
    result = balancer.solve(balancer.load_scenario(path))
    assert result.status is balancer.Status.INFEASIBLE
    (finding,) = result.findings
    assert finding.code == "capacity-exceeded"
    n = finding.numbers
    assert sorted(n["cases"]) == ["c1", "c2", "c3"] and sorted(n["staff"]) == ["A", "B"]
    assert n["hours"] == pytest.approx(60) and n["free_hours"] == pytest.approx(50)
    assert n["short_hours"] == pytest.approx(10)
    assert "these 3 case(s)" in finding.message and "50.0 hours" in finding.message


def test_hard_capacity_that_fits_keeps_everyone_under_100_percent_in_expectation(tmp_path):
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 100, specialisations: [cyber]}\n"
                    "  - {id: B, capacity_hours: 100, specialisations: [cyber]}\n"
                    "  - {id: C, capacity_hours: 100}",
                    "\n".join(f"  - {{id: c{i}, type: cyber}}" for i in range(8))
                    + "\n" + "\n".join(f"  - {{id: t{i}, type: theft}}" for i in range(10)),
                    capacity="hard")
    sc = balancer.load_scenario(path)
    sc.policy.tolerance = 0.5  # a wide band may not push anyone over 100 % under hard capacity
    result = balancer.solve(sc)
    assert result.status is balancer.Status.DONE
    p, d = result.problem, result.design
    expected = np.bincount(p.edge_staff, weights=d.count() * p.class_weight[p.edge_class],
                           minlength=p.n_staff)
    assert np.all(expected + p.base_load <= p.capacity + 1e-4)


def test_staff_away_for_the_whole_period_get_nothing_and_are_named(tmp_path):
    write(tmp_path / "model.yaml", MODEL)
    path = write(tmp_path / "s.yaml", """\
name: away
model: model.yaml
period: {start: 2025-01-01, end: 2025-01-31}
staff:
  - {id: A, fte: 1}
  - {id: B, fte: 1, unavailable: [{from: 2024-12-01, to: 2025-02-28}]}
  - {id: C, fte: 1, unavailable: [{from: 2025-01-01, to: 2025-01-15}]}
cases:
  - {id: t1, type: theft}
  - {id: t2, type: theft}
""")
    result = balancer.solve(balancer.load_scenario(path), seed=3)
    assert result.status is balancer.Status.DONE
    assert "B" not in set(result.plan.assignments["staff_id"])
    assert any(f.code == "staff-without-time" and f.numbers["staff"] == ["B"] for f in result.findings)
    cap = dict(zip(result.problem.staff_ids, result.problem.capacity))
    assert cap["A"] == pytest.approx(1000 * 31 / 365)
    assert cap["C"] == pytest.approx(1000 * 31 / 365 * 16 / 31)  # away 15 of 31 days


def test_groups_and_conflicts_nobody_may_take_word_for_word(tmp_path):
    """The findings, as the checks worded them when they still read the scenario: one per group
    (its types' eligible staff, its conflicts), and a conflicted case on its own."""
    path = scenario(tmp_path,
                    "  - {id: A, capacity_hours: 100, specialisations: [cyber]}\n"
                    "  - {id: B, capacity_hours: 100, specialisations: [cyber, corruption], grade: senior}",
                    "  - {id: c1, type: cyber, group: g1, excluded: [B]}\n"
                    "  - {id: c2, type: corruption, group: g1}\n"
                    "  - {id: c3, type: theft, group: g2, excluded: [A, B]}\n"
                    "  - {id: c4, type: cyber, excluded: [A, B]}")
    findings = check(compile_problem(balancer.load_scenario(path)), hard_capacity=False)
    assert [f.to_dict() for f in findings] == [
        {"code": "group-without-common-staff", "severity": "error",
         "message": "group g1: its 2 cases (c1, c2) must go to one prosecutor, but no prosecutor may take all "
                    "of them — cyber: 2 eligible (A, B); corruption: 1 eligible (B); excluded by conflicts: B.",
         "numbers": {"group": "g1", "cases": ["c1", "c2"], "excluded": ["B"]}},
        {"code": "group-without-common-staff", "severity": "error",
         "message": "group g2: its 1 cases (c3) must go to one prosecutor, but no prosecutor may take all of "
                    "them — theft: 2 eligible (A, B); excluded by conflicts: A, B.",
         "numbers": {"group": "g2", "cases": ["c3"], "excluded": ["A", "B"]}},
        {"code": "no-eligible-staff", "severity": "error",
         "message": "1 case(s) of type cyber (20 hours: c4) have no eligible prosecutor: every prosecutor "
                    "who could take them is excluded by a conflict of interest.",
         "numbers": {"cases": ["c4"], "hours": 20.0, "types": ["cyber"]}},
    ]


def test_the_checks_need_only_the_problem():
    """A Problem built from arrays, no scenario anywhere: the type's rules explain the empty class,
    hard capacity adds the min-cut."""
    problem = make_problem([10.0, 10.0, 0.0], [0.0, 0.0, 0.0], [(5.0, 2, [0, 1]), (3.0, 1, [])])
    problem = dataclasses.replace(
        problem, type_specialisation=np.array([None, "tax"], dtype=object),
        type_min_grade=np.array([None, "senior"], dtype=object), type_specialists=np.array([3, 2]))
    (empty, away) = check(problem, hard_capacity=True)
    assert empty.code == "no-eligible-staff" and empty.numbers == {"cases": ["C2"], "hours": 3.0, "types": ["k1"]}
    assert ("it needs specialisation 'tax', held by 2; grade senior or above; time in the period; "
            "0 prosecutor(s) meet all of that.") in empty.message
    assert away.code == "staff-without-time" and away.numbers == {"staff": ["P2"]}

    tight = make_problem([4.0, 4.0, 100.0], [0.0, 0.0, 0.0], [(5.0, 2, [0, 1]), (1.0, 3, [0, 1, 2])])
    assert check(tight, hard_capacity=False) == []  # the office has room, just not where it is needed
    (cut,) = check(tight, hard_capacity=True)
    assert cut.code == "capacity-exceeded" and cut.numbers["staff"] == ["P0", "P1"]
    assert cut.numbers["short_hours"] == pytest.approx(2.0)
