"""Load step (balancer/scenario/): the happy paths, one test per kind of user error (each must
name file, line and field), the CLI's exit code for bad input, and a large-table smoke test.

Bad inputs are written into tmp_path by each test. In YAML texts, `# <-` marks the line the error
must point at, so the expected line number sits where the mistake is."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOT_SCENARIOS
from balancer.errors import InputError
from balancer.scenario import (CaseType, Period, Policy, Scenario, WorkloadModel, load_model,
                               load_scenario)

PREFLIB = Path(__file__).parents[2] / "shared" / "data" / "preflib-csconf-176x146" / "scenario.yaml"

STAFF_COLUMNS = ["id", "fte", "capacity_hours", "specialisations", "grade", "current_load_hours",
                 "unavailable", "office"]
CASE_COLUMNS = ["id", "type", "weight_hours", "group", "excluded", "assigned_to"]

MODEL = """\
name: demo
hours_per_fte: 1500
grades: [junior, senior, head]
case_types:
  - {id: corruption, weight_hours: 80, specialisation: corruption, min_grade: senior}
  - {id: theft, weight_hours: 6}
"""

HEAD = "name: t\nmodel: model.yaml\n"
STAFF = """\
staff:
  - {id: P01, fte: 1.0, specialisations: [corruption], grade: senior}
  - {id: P02, capacity_hours: 300, grade: junior}
"""
CASES = """\
cases:
  - {id: C01, type: theft}
  - {id: C02, type: corruption, excluded: [P02]}
"""
PERIOD = "period: {start: 2025-01-01, end: 2025-12-31}\n"


def scenario(head: str = HEAD, staff: str = STAFF, cases: str = CASES, tail: str = "") -> str:
    """A valid scenario text (model.yaml = MODEL) with some parts replaced."""
    return head + staff + cases + tail


def rows(key: str, *items: str) -> str:
    """An inline list: `rows("staff", "{id: P01}")` → 'staff:\\n  - {id: P01}\\n'."""
    return f"{key}:\n" + "".join(f"  - {item}\n" for item in items)


def inline(**parts: str) -> dict[str, str]:
    """Files of a scenario with inline parts replaced (see `scenario`)."""
    return {"s.yaml": scenario(**parts)}


def table(key: str, csv: str) -> dict[str, str]:
    """Files of a scenario whose `key` (staff or cases) is the table `<key>.csv`."""
    return {"s.yaml": scenario(**{key: f"{key}: {key}.csv\n"}), f"{key}.csv": csv}


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def marked_line(text: str) -> int:
    """1-based number of the line marked `# <-`."""
    [line] = [n for n, t in enumerate(textwrap.dedent(text).splitlines(), 1) if "# <-" in t]
    return line


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    return caught.value


def assert_points_at(err: InputError, file: str, line: int, field: str) -> str:
    message = str(err)
    assert f"{file}:{line}:" in message, message
    assert err.line == line, message
    assert field in message and field in (err.field or ""), message
    assert err.expected, message
    assert "\n" not in message and "Traceback" not in message, message
    return message


# ---------------------------------------------------------------------------------------------
# Happy paths
# ---------------------------------------------------------------------------------------------


def assert_contract(sc: Scenario) -> None:
    """Column names, order, dtypes and index exactly as later steps rely on."""
    assert list(sc.staff.columns) == STAFF_COLUMNS
    assert list(sc.cases.columns) == CASE_COLUMNS
    for frame in (sc.staff, sc.cases):
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
        assert pd.api.types.is_string_dtype(frame["id"]) and frame["id"].dtype != object
        assert all(isinstance(v, str) for v in frame["id"])
    for name in ("fte", "capacity_hours", "current_load_hours"):
        assert sc.staff[name].dtype == np.float64
    assert sc.cases["weight_hours"].dtype == np.float64
    for frame, names in ((sc.staff, ["specialisations", "unavailable"]), (sc.cases, ["excluded"])):
        for name in names:
            assert frame[name].dtype == object and frame[name].map(lambda v: isinstance(v, tuple)).all()
    for frame, names in ((sc.staff, ["grade", "office"]), (sc.cases, ["group", "assigned_to"])):
        for name in names:
            assert frame[name].dtype == object
            assert frame[name].map(lambda v: v is None or isinstance(v, str)).all(), name


def test_inline_scenario(tmp_path):
    write(tmp_path, {"s.yaml": """\
        name: inline
        description: everything inline
        case_types:
          - {id: theft, weight_hours: 6}
          - {id: fraud, weight_hours: 20, specialisation: economic, min_grade: senior}
        hours_per_fte: 1600
        grades: [junior, senior]
        period: {start: 2025-01-01, end: 2025-03-31}
        staff:
          - {id: P01, fte: 0.5, specialisations: [economic, general], grade: senior, current_load_hours: 12}
          - id: P02
            capacity_hours: 300
            specialisations: "general; economic"
            unavailable: [{from: 2025-02-01, to: 2025-02-14}, {from: 2025-03-03, to: 2025-03-03}]
            office: north
        cases:
          - {id: C01, type: theft}
          - {id: C02, type: fraud, weight_hours: 30, group: g1, excluded: [P02], assigned_to: P01}
        policy: {tolerance: 0.1, seed: 7, capacity: hard}
        """})
    sc = load_scenario(tmp_path / "s.yaml")
    assert_contract(sc)
    assert (sc.name, sc.description) == ("inline", "everything inline")
    assert sc.path == (tmp_path / "s.yaml").resolve()
    assert (sc.model.name, sc.model.hours_per_fte, sc.model.grades) == ("inline", 1600, ["junior", "senior"])
    assert sc.period == Period(start=date(2025, 1, 1), end=date(2025, 3, 31)) and sc.period.days == 90
    assert sc.policy == Policy(tolerance=0.1, max_probability=0.5, seed=7, capacity="hard")
    p1, p2 = sc.staff.to_dict("records")
    assert p1["fte"] == 0.5 and np.isnan(p1["capacity_hours"]) and p1["current_load_hours"] == 12
    assert p1["specialisations"] == ("economic", "general")
    assert p1["unavailable"] == () and p1["office"] is None
    assert np.isnan(p2["fte"]) and p2["capacity_hours"] == 300 and p2["current_load_hours"] == 0.0
    assert p2["specialisations"] == ("general", "economic")
    assert p2["grade"] is None and p2["office"] == "north"
    assert p2["unavailable"] == ((date(2025, 2, 1), date(2025, 2, 14)), (date(2025, 3, 3), date(2025, 3, 3)))
    c1, c2 = sc.cases.to_dict("records")
    assert np.isnan(c1.pop("weight_hours"))
    assert c1 == {"id": "C01", "type": "theft", "group": None, "excluded": (), "assigned_to": None}
    assert c2 == {"id": "C02", "type": "fraud", "weight_hours": 30.0, "group": "g1", "excluded": ("P02",),
                  "assigned_to": "P01"}
    assert sc.caseload is None
    assert sc.inputs == {"s.yaml": hashlib.sha256((tmp_path / "s.yaml").read_bytes()).hexdigest()}


STAFF_TABLE = pd.DataFrame({
    "id": ["007", "P02", "P03"],
    "fte": ["1", "", "0.5"],
    "capacity_hours": ["", "300", ""],
    "specialisations": ["corruption;general", "", " general ; "],
    "grade": ["senior", "junior", ""],
    "current_load_hours": ["120", "", "0"],
    "office": ["north", "", "south"],
})
CASE_TABLE = pd.DataFrame({
    "id": ["0001", "0002", "0003"],
    "type": ["theft", "corruption", "theft"],
    "weight_hours": ["", "100", "2.5"],
    "group": ["", "g", "g"],
    "excluded": ["", "P02;P03", "007"],
    "assigned_to": ["", "007", ""],
})


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.replace("", None).to_parquet(path, index=False)


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_tables(tmp_path, ext):
    """Model in another folder, tables in a subfolder: `;`-lists, empty cells, ids like 007 kept."""
    write(tmp_path, {"models/demo.yaml": MODEL, "sc/s.yaml": f"""\
        name: tables
        model: ../models/demo.yaml
        staff: data/staff.{ext}
        cases: data/cases.{ext}
        """})
    write_table(STAFF_TABLE, tmp_path / f"sc/data/staff.{ext}")
    write_table(CASE_TABLE, tmp_path / f"sc/data/cases.{ext}")
    sc = load_scenario(tmp_path / "sc" / "s.yaml")
    assert_contract(sc)
    assert sc.staff["id"].tolist() == ["007", "P02", "P03"]
    assert sc.cases["id"].tolist() == ["0001", "0002", "0003"]
    assert sc.staff["fte"].tolist()[::2] == [1.0, 0.5] and np.isnan(sc.staff["fte"][1])
    assert sc.staff["specialisations"].tolist() == [("corruption", "general"), (), ("general",)]
    assert sc.staff["grade"].tolist() == ["senior", "junior", None]
    assert sc.staff["current_load_hours"].tolist() == [120.0, 0.0, 0.0]
    assert sc.staff["office"].tolist() == ["north", None, "south"]
    assert sc.cases["excluded"].tolist() == [(), ("P02", "P03"), ("007",)]
    assert sc.cases["assigned_to"].tolist() == [None, "007", None]
    assert sc.cases["group"].tolist() == [None, "g", "g"]
    assert np.isnan(sc.cases["weight_hours"][0]) and sc.cases["weight_hours"].tolist()[1:] == [100.0, 2.5]
    files = ["s.yaml", "../models/demo.yaml", f"data/staff.{ext}", f"data/cases.{ext}"]
    assert sorted(sc.inputs) == sorted(files)
    for name in files:
        assert sc.inputs[name] == hashlib.sha256((tmp_path / "sc" / name).read_bytes()).hexdigest()


def test_parquet_with_typed_columns(tmp_path):
    """Parquet keeps types: integer ids become text, list columns are lists."""
    staff = pd.DataFrame({"id": [7, 8], "fte": [1.0, 0.5], "specialisations": [["a", "b"], []]})
    staff.to_parquet(tmp_path / "staff.parquet")
    write(tmp_path, {"s.yaml": "name: t\ncase_types: [{id: x, weight_hours: 1}]\nstaff: staff.parquet\n"
                               "cases: [{id: C1, type: x, excluded: ['8']}]\n"})
    sc = load_scenario(tmp_path / "s.yaml")
    assert_contract(sc)
    assert sc.staff["id"].tolist() == ["7", "8"]
    assert sc.staff["specialisations"].tolist() == [("a", "b"), ()]


def test_csv_blank_lines_and_spaces(tmp_path):
    """Blank lines are skipped but later lines keep their physical numbers; cells and headers are stripped."""
    write(tmp_path, {"model.yaml": MODEL} | table("staff", " id , fte \nP01, 1\n\nP02 ,0.5\n"))
    assert load_scenario(tmp_path / "s.yaml").staff["id"].tolist() == ["P01", "P02"]
    (tmp_path / "staff.csv").write_text("id,fte\nP01,1\n\nP02,abc\n")
    assert_points_at(load_error(tmp_path / "s.yaml"), "staff.csv", 4, "fte")


def test_caseload_for_staffing(tmp_path):
    caseload = rows("caseload", "{type: theft, filings: 300}", "{type: corruption, filings: 12, office: north}")
    write(tmp_path, {"model.yaml": MODEL} | inline(cases=caseload))
    sc = load_scenario(tmp_path / "s.yaml")
    assert_contract(sc)
    assert len(sc.cases) == 0
    assert sc.caseload.to_dict("list") == {"type": ["theft", "corruption"], "filings": [300.0, 12.0],
                                           "office": [None, "north"]}


def test_load_model_and_field_docs(tmp_path):
    write(tmp_path, {"model.yaml": MODEL})
    model = load_model(tmp_path / "model.yaml")
    assert [ct.id for ct in model.case_types] == ["corruption", "theft"]
    assert model.case_types[0] == CaseType(id="corruption", weight_hours=80, specialisation="corruption",
                                           min_grade="senior")
    assert model.grades == ["junior", "senior", "head"] and model.sources == []
    for cls in (CaseType, WorkloadModel, Period, Policy):
        assert all(info.description for info in cls.model_fields.values()), cls


def test_models_validate_in_python_too():
    with pytest.raises(ValueError):
        Policy(tolerance=0.1, tolerence=0.2)
    with pytest.raises(ValueError):
        Policy(max_probability=0)
    with pytest.raises(ValueError):
        Period(start=date(2025, 2, 1), end=date(2025, 1, 1))
    with pytest.raises(ValueError):
        WorkloadModel(name="m", case_types=[])
    with pytest.raises(ValueError):
        WorkloadModel(name="m", grades=["a"], case_types=[CaseType(id="x", weight_hours=1, min_grade="b")])
    assert Period(start=date(2025, 1, 1), end=date(2025, 1, 1)).days == 1


def test_example_files_load():
    """The project's own models/ and scenarios/ are valid."""
    root = Path(__file__).parents[1]
    for path in sorted((root / "models").glob("*.yaml")):
        load_model(path)
    for path in sorted((root / "scenarios").rglob("*.yaml")):
        if path not in NOT_SCENARIOS:  # a time study, its adjustments, a model: tests/test_measure.py
            assert_contract(load_scenario(path))


@pytest.mark.skipif(not PREFLIB.exists(), reason="shared PrefLib data not present")
def test_preflib_scenario():
    sc = load_scenario(PREFLIB)
    assert_contract(sc)
    assert (len(sc.cases), len(sc.staff)) == (176, 146)
    assert set(sc.inputs) == {"scenario.yaml", "model.yaml", "staff.csv", "cases.csv"}
    assert sc.cases["excluded"].map(len).sum() > 0


def test_large_csv_loads(tmp_path):
    """Smoke test for the vectorised path (timings are in benchmarks/, not here)."""
    n, m = 100_000, 2_000
    rng = np.random.default_rng(1)
    staff = pd.DataFrame({"id": [f"S{i:04d}" for i in range(m)], "fte": rng.choice(["1", "0.5"], m),
                          "specialisations": rng.choice(["", "corruption", "corruption;general"], m),
                          "grade": rng.choice(["junior", "senior", "head"], m)})
    cases = pd.DataFrame({"id": [f"C{i:06d}" for i in range(n)], "type": rng.choice(["theft", "corruption"], n),
                          "weight_hours": np.where(rng.random(n) < 0.1, "3.5", ""),
                          "excluded": np.where(rng.random(n) < 0.01, "S0001;S0002", "")})
    staff.to_csv(tmp_path / "staff.csv", index=False)
    cases.to_csv(tmp_path / "cases.csv", index=False)
    write(tmp_path, {"model.yaml": MODEL, "s.yaml": scenario(staff="staff: staff.csv\n", cases="cases: cases.csv\n")})
    sc = load_scenario(tmp_path / "s.yaml")
    assert (len(sc.staff), len(sc.cases)) == (m, n)
    sizes = sc.cases["excluded"].map(len)
    assert sizes.sum() == 2 * (sizes > 0).sum() > 0


# ---------------------------------------------------------------------------------------------
# Errors: each names file, line and field
# ---------------------------------------------------------------------------------------------


@dataclass
class Bad:
    """A bad input: files to write over a valid scenario (s.yaml, model.yaml), and where the error
    must point: `line` in `file`, or the line marked `# <-` there."""

    name: str
    files: dict[str, str]
    field: str
    file: str = "s.yaml"
    line: int | None = None
    says: tuple[str, ...] = ()  # further text the message must contain


INLINE_MODEL = "name: t\ncase_types: [{id: theft, weight_hours: 6}]\n"

BAD = [
    # malformed YAML: the line comes from the parser's problem mark, the field from that line
    Bad("bad indent", inline(staff="staff:\n  - id: P01\n     fte: 1  # <-\n"), "fte", says=("YAML",)),
    Bad("unclosed bracket", inline(tail="policy:\n  tolerance: [1, 2  # <-\n"), "tolerance"),
    Bad("key twice", inline(tail="name: u  # <-\n"), "name", says=("line 1",)),
    # unknown keys, with a suggestion for typos
    Bad("typo in staff row", inline(staff=rows("staff", "{id: P01, capcity_hours: 300}  # <-")), "capcity_hours",
        says=("did you mean 'capacity_hours'",)),
    Bad("typo in policy", inline(tail="policy:\n  tolerence: 0.1  # <-\n"), "tolerence",
        says=("did you mean 'tolerance'",)),
    Bad("typo at top level", inline(head=HEAD + "descripton: x  # <-\n"), "descripton",
        says=("did you mean 'description'",)),
    Bad("typo in case type", inline(head="name: t\n" + rows("case_types", "{id: x, weight_hour: 2}  # <-")),
        "weight_hour", says=("weight_hours",)),
    Bad("typo in unavailable", inline(staff=rows("staff", "id: P01\n    fte: 1\n    unavailable:\n"
                                                 "      - {form: 2025-02-01, to: 2025-02-03}  # <-"), tail=PERIOD),
        "form", says=("'from'",)),
    Bad("unknown column in a table", table("staff", "id,fte,capacity\nP01,1,3\n"), "capacity", file="staff.csv",
        line=1, says=("capacity_hours",)),
    Bad("unavailable in a table", table("staff", "id,fte,unavailable\nP01,1,x\n"), "unavailable",
        file="staff.csv", line=1, says=("inline",)),
    Bad("column twice", table("staff", "id,fte,fte\nP01,1,1\n"), "fte", file="staff.csv", line=1,
        says=("twice",)),
    # wrong types
    Bad("fte not a number", inline(staff=rows("staff", "{id: P01, fte: abc}  # <-")), "fte"),
    Bad("fte yes", inline(staff=rows("staff", "{id: P01, fte: yes}  # <-")), "fte"),
    Bad("fte in CSV not a number", table("staff", "id,fte\nP01,1\nP02,abc\n"), "fte", file="staff.csv", line=3),
    Bad("decimal comma in CSV", table("staff", 'id,fte\nP01,1\nP02,"0,5"\n'), "fte", file="staff.csv", line=3,
        says=("'.'",)),
    Bad("tolerance text", inline(tail="policy:\n  tolerance: high  # <-\n"), "tolerance", says=("number",)),
    Bad("capacity not soft or hard", inline(tail="policy:\n  capacity: firm  # <-\n"), "capacity",
        says=("soft",)),
    Bad("negative seed", inline(tail="policy:\n  seed: -1  # <-\n"), "seed"),
    Bad("max_probability above 1", inline(tail="policy:\n  max_probability: 2  # <-\n"), "max_probability",
        says=("<= 1",)),
    Bad("numeric id in YAML", inline(staff=rows("staff", "{id: 007, fte: 1}  # <-")), "id", says=("quotes",)),
    Bad("staff not a list", inline(staff="staff: 12  # <-\n"), "staff"),
    Bad("staff row not a mapping", inline(staff=rows("staff", "P01  # <-")), "staff"),
    Bad("specialisations not text", inline(staff=rows("staff", "id: P01\n    fte: 1\n    specialisations:\n"
                                                      "      - 12  # <-")), "specialisations"),
    Bad("period start not a date", inline(tail="period:\n  start: 20250101  # <-\n  end: 2025-12-31\n"), "start",
        says=("2025-01-31",)),
    Bad("impossible date", inline(tail="period:\n  start: 2025-02-30  # <-\n  end: 2025-12-31\n"), "start"),
    # weights must be positive and capacities not negative, both within the documented limits
    Bad("zero case-type weight in model file",
        {"model.yaml": MODEL.replace("weight_hours: 6}", "weight_hours: 0}  # <-")}, "weight_hours",
        file="model.yaml", says=(">= 0.001",)),
    Bad("negative inline case-type weight",
        inline(head="name: t\n" + rows("case_types", "{id: theft, weight_hours: -6}  # <-"),
               staff=rows("staff", "{id: P01, fte: 1}"), cases=rows("cases", "{id: C01, type: theft}")),
        "weight_hours"),
    Bad("negative case weight override", inline(cases=rows("cases", "{id: C01, type: theft, weight_hours: -1}  # <-")),
        "weight_hours", says=("out of range", "between 0.001 and")),
    Bad("zero case weight in CSV", table("cases", "id,type,weight_hours\nC1,theft,\nC2,theft,3\nC3,theft,0\n"),
        "weight_hours", file="cases.csv", line=4),
    Bad("negative fte", inline(staff=rows("staff", "{id: P01, fte: -1}  # <-")), "fte", says=("out of range", "or 0")),
    Bad("negative capacity_hours",
        inline(staff=rows("staff", "{id: P01, fte: 1}", "{id: P02, capacity_hours: -5}  # <-")), "capacity_hours"),
    Bad("negative capacity_hours in CSV", table("staff", "id,capacity_hours\nP01,100\nP02,200\nP03,-1\n"),
        "capacity_hours", file="staff.csv", line=4, says=("P03",)),
    Bad("negative current load", inline(staff=rows("staff", "{id: P01, fte: 1, current_load_hours: -2}  # <-")),
        "current_load_hours"),
    Bad("fte and capacity_hours", inline(staff=rows("staff", "{id: P01, fte: 1, capacity_hours: 9}  # <-")),
        "capacity_hours", says=("exactly one",)),
    Bad("neither fte nor capacity_hours", inline(staff=rows("staff", "{id: P01, fte: 1}", "{id: P02}  # <-")),
        "fte", says=("exactly one",)),
    # references
    Bad("unknown case type", inline(cases=rows("cases", "{id: C01, type: thef}  # <-")), "type",
        says=("did you mean 'theft'",)),
    Bad("case without type", inline(cases=rows("cases", "{id: C01, type: theft}", "{id: C02}  # <-")), "type"),
    Bad("excluded unknown staff", inline(cases=rows("cases", "{id: C01, type: theft, excluded: [P01, P99]}  # <-")),
        "excluded", says=("P99",)),
    Bad("excluded unknown staff in CSV", table("cases", "id,type,excluded\nC1,theft,P01;P02\nC2,theft,P02;P9\n"),
        "excluded", file="cases.csv", line=3, says=("P9",)),
    Bad("assigned_to unknown staff", inline(cases=rows("cases", "{id: C01, type: theft, assigned_to: P7}  # <-")),
        "assigned_to", says=("P7",)),
    Bad("grade not in model", inline(staff=rows("staff", "{id: P01, fte: 1, grade: medior}  # <-")), "grade",
        says=("junior",)),
    Bad("grade without model grades",
        inline(head=INLINE_MODEL, staff=rows("staff", "{id: P01, fte: 1, grade: senior}  # <-"),
               cases=rows("cases", "{id: C1, type: theft}")), "grade"),
    Bad("min_grade not in grades", {"model.yaml": MODEL.replace("min_grade: senior}", "min_grade: boss}  # <-")},
        "min_grade", file="model.yaml", says=("boss",)),
    Bad("duplicate case type id", {"model.yaml": MODEL + "  - {id: theft, weight_hours: 7}  # <-\n"}, "id",
        file="model.yaml", says=("theft",)),
    Bad("no case types", {"model.yaml": "name: m\ncase_types: []  # <-\n"}, "case_types", file="model.yaml"),
    # ids used twice: both lines named
    Bad("staff id twice", inline(staff=rows("staff", "{id: P01, fte: 1}", "{id: P02, fte: 1}",
                                            "{id: P01, fte: 1}  # <-")), "id", says=("line 4", "line 6")),
    Bad("case id twice in CSV", table("cases", "id,type\nC1,theft\nC2,theft\nC1,theft\n"), "id", file="cases.csv",
        line=4, says=("line 2", "line 4")),
    # files and structure
    Bad("missing table file", inline(staff="staff: nosuch.csv  # <-\n"), "staff", says=("nosuch.csv",)),
    Bad("unsupported table type", inline(staff="staff: staff.txt  # <-\n") | {"staff.txt": "id\n"}, "staff"),
    Bad("table without a required column", table("cases", "id,weight_hours\nC1,3\n"), "type", file="cases.csv",
        line=1),
    Bad("table without capacity columns", table("staff", "id,grade\nP01,senior\n"), "fte", file="staff.csv",
        line=1),
    Bad("model file missing", inline(head="name: t\nmodel: nosuch.yaml  # <-\n"), "model", says=("nosuch.yaml",)),
    Bad("model and case_types", inline(head=HEAD + "case_types:  # <-\n  - {id: theft, weight_hours: 6}\n"),
        "case_types", says=("not both",)),
    Bad("neither model nor case_types", inline(head="name: t  # <-\n"), "model"),
    Bad("grades next to model", inline(head=HEAD + "grades: [a]  # <-\n"), "grades"),
    Bad("missing name", inline(head="model: model.yaml  # <-\n"), "name"),
    Bad("period end before start", inline(tail="period:\n  start: 2025-03-01\n  end: 2025-01-31  # <-\n"), "end",
        says=("before",)),
    Bad("period of millennia", inline(tail="period:\n  start: 0001-01-01\n  end: 9999-12-31  # <-\n"), "end",
        says=("36,525 days",)),
    Bad("unavailable without period",
        inline(staff=rows("staff", "id: P01\n    fte: 1\n    unavailable: [{from: 2025-02-01, to: 2025-02-03}]  # <-")),
        "unavailable", says=("period",)),
    Bad("unavailable from after to",
        inline(staff=rows("staff", "id: P01\n    fte: 1\n    unavailable:\n      - from: 2025-02-05\n"
                                   "        to: 2025-02-03  # <-"), tail=PERIOD), "to", says=("before",)),
    Bad("empty staff list", inline(staff="staff: []  # <-\n"), "staff", says=("empty",)),
    Bad("empty case table", inline(cases="cases: cases.csv  # <-\n") | {"cases.csv": "id,type\n"}, "cases",
        says=("no rows",)),
    Bad("caseload of an unknown type", inline(cases=rows("caseload", "{type: thief, filings: 3}  # <-")), "type",
        says=("theft",)),
    Bad("seasons of an unknown type",
        inline(tail="policy:\n  forecast:\n    source: caseload\n    seasons:\n      thief: {3: 2.0}  # <-\n"),
        "seasons", says=("thief", "did you mean 'theft'")),
    Bad("season month 13", inline(tail="policy:\n  forecast:\n    source: caseload\n    seasons:\n"
                                        "      theft: {13: 2.0}  # <-\n"), "seasons", says=("12",)),
    Bad("negative season factor", inline(tail="policy:\n  forecast:\n    source: caseload\n    seasons:\n"
                                              "      theft: {3: -1}  # <-\n"), "seasons", says=("0",)),
    Bad("season factor NaN", inline(tail="policy:\n  forecast:\n    source: caseload\n    seasons:\n"
                                         "      theft: {3: .nan}  # <-\n"), "seasons", says=("finite",)),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_names_file_line_and_field(tmp_path, bad):
    files = {"model.yaml": MODEL, "s.yaml": scenario()} | bad.files
    write(tmp_path, files)
    line = bad.line if bad.line is not None else marked_line(files[bad.file])
    message = assert_points_at(load_error(tmp_path / "s.yaml"), bad.file, line, bad.field)
    for text in bad.says:
        assert text in message, message


def test_bad_cell_in_xlsx_names_the_spreadsheet_row(tmp_path):
    staff = pd.DataFrame({"id": ["P01", "P02", "P03"], "fte": ["1", "0.5", "-1"]})
    staff.to_excel(tmp_path / "staff.xlsx", index=False)
    write(tmp_path, {"model.yaml": MODEL} | inline(staff="staff: staff.xlsx\n"))
    assert_points_at(load_error(tmp_path / "s.yaml"), "staff.xlsx", 4, "fte")


def test_bad_cell_in_parquet_names_the_row_number(tmp_path):
    pd.DataFrame({"id": ["C1", "C2"], "type": ["theft", "thef"]}).to_parquet(tmp_path / "cases.parquet")
    write(tmp_path, {"model.yaml": MODEL} | inline(cases="cases: cases.parquet\n"))
    assert_points_at(load_error(tmp_path / "s.yaml"), "cases.parquet", 2, "type")


def test_ragged_csv_row_names_its_line(tmp_path):
    write(tmp_path, {"model.yaml": MODEL} | table("cases", "id,type\nC1,theft\nC2,theft,x,y\n"))
    err = load_error(tmp_path / "s.yaml")
    assert "cases.csv:3:" in str(err) and err.expected


def test_many_bad_rows_are_counted(tmp_path):
    body = "".join(f"C{i},theft,{'-1' if i % 2 else '2'}\n" for i in range(20))
    write(tmp_path, {"model.yaml": MODEL} | table("cases", "id,type,weight_hours\n" + body))
    message = assert_points_at(load_error(tmp_path / "s.yaml"), "cases.csv", 3, "weight_hours")
    assert "10 rows in all" in message


def test_missing_or_empty_scenario_and_model_files(tmp_path):
    with pytest.raises(InputError, match="nosuch.yaml"):
        load_scenario(tmp_path / "nosuch.yaml")
    with pytest.raises(InputError, match="nosuch.yaml"):
        load_model(tmp_path / "nosuch.yaml")
    write(tmp_path, {"empty.yaml": ""})
    with pytest.raises(InputError, match="empty.yaml"):
        load_scenario(tmp_path / "empty.yaml")


# Any value in any field: the loader either accepts it or raises InputError, never anything else.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.dates(), st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
PLACES = ([("staff", 0, k) for k in STAFF_COLUMNS] + [("cases", 0, k) for k in CASE_COLUMNS]
          + [("policy", None, k) for k in Policy.model_fields] + [("period", None, "end")]
          + [("case_types", 1, k) for k in CaseType.model_fields]
          + [(k, None, None) for k in ("name", "grades", "hours_per_fte", "staff", "cases")])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(PLACES), value=VALUES)
def test_any_value_gives_a_scenario_or_an_input_error(tmp_path, where, value):
    doc = {"name": "t", "grades": ["junior", "senior"],
           "period": {"start": date(2025, 1, 1), "end": date(2025, 6, 30)},
           "case_types": [{"id": "fraud", "weight_hours": 20, "min_grade": "senior"},
                          {"id": "theft", "weight_hours": 6}],
           "staff": [{"id": "P01", "fte": 1.0}, {"id": "P02", "capacity_hours": 300}],
           "cases": [{"id": "C01", "type": "theft"}], "policy": {}}
    key, index, sub = where
    target = doc[key][index] if index is not None else doc[key] if sub is not None else doc
    if key == "staff" and sub in ("fte", "capacity_hours"):
        target.pop("fte", None)
    target[sub if sub is not None else key] = value
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        load_scenario(path)
    except InputError as err:
        assert err.file and err.line and "\n" not in str(err)


# ---------------------------------------------------------------------------------------------
# CLI: exit code 2, no traceback
# ---------------------------------------------------------------------------------------------

CLI_CASES = [b for b in BAD if b.name in ("bad indent", "typo in policy", "zero case weight in CSV",
                                          "missing table file", "case id twice in CSV", "excluded unknown staff")]


@pytest.mark.skipif(importlib.util.find_spec("balancer.cli") is None, reason="balancer/cli.py not written yet")
@pytest.mark.parametrize("bad", CLI_CASES, ids=[b.name for b in CLI_CASES])
def test_cli_validate_bad_input_exits_2(tmp_path, bad):
    write(tmp_path, {"model.yaml": MODEL, "s.yaml": scenario()} | bad.files)
    done = subprocess.run([sys.executable, "-m", "balancer", "validate", str(tmp_path / "s.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert bad.file in done.stderr and bad.field in done.stderr
