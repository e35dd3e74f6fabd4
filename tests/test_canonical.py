"""Re-draws in disguise: the register recognises a draw by what it depends on (the canonical digest),
not by the files' names and bytes. Each disguise an insider might try — a renamed file, a comment,
CRLF, a BOM, reordered rows, another name, the tables copied elsewhere, another seed — keeps the
digest and is refused as a re-draw; a real change does not; and the same seed on shuffled rows
draws the same assignment, so a re-draw of shuffled rows could not buy another result anyway."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balancer
from balancer.cli import app
from balancer.pipeline import inputs_digest
from balancer.register import Register, result_digest
from balancer.scenario import load_scenario
from balancer.scenario.canonical import canonical_text, id_order
from tests.conftest import ROOT

GROUPS = ROOT / "scenarios" / "groups-and-conflicts.yaml"
TABLE = "groups-and-conflicts/cases.csv"


@dataclasses.dataclass
class Files:
    """A scenario as files: the YAML (which names the case table) and the case table."""

    yaml_name: str
    yaml: str
    csv_name: str
    csv: str
    csv_prefix: str = ""  # written before the CSV text (a BOM)
    newline: str = "\n"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        table = folder / self.csv_name
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_bytes((self.csv_prefix + self.csv.replace("\n", self.newline)).encode("utf-8"))
        path = folder / self.yaml_name
        path.write_bytes(self.yaml.replace(TABLE, self.csv_name).replace("\n", self.newline).encode("utf-8"))
        return path


def original() -> Files:
    """groups-and-conflicts with its seed left out (a real draw: fresh from the OS, no --reason needed)."""
    text = re.sub(r"seed: \d+", "seed: null", GROUPS.read_text(encoding="utf-8"))
    return Files("groups-and-conflicts.yaml", text, TABLE, (GROUPS.parent / TABLE).read_text(encoding="utf-8"))


def shuffled_csv(text: str, seed: int = 1) -> str:
    header, *rows = text.strip("\n").split("\n")
    order = np.random.default_rng(seed).permutation(len(rows))
    return "\n".join([header, *(rows[i] for i in order)]) + "\n"


def reversed_staff(text: str) -> str:
    """The inline staff list in reverse order (an entry may continue on indented lines)."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("staff:")) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("  "))
    entries: list[list[str]] = []
    for line in lines[start:end]:
        if line.startswith("  - "):
            entries.append([line])
        else:
            entries[-1].append(line)
    return "\n".join(lines[:start] + [x for entry in reversed(entries) for x in entry] + lines[end:])


DISGUISES: dict[str, Callable[[Files], Files]] = {
    "renamed scenario file": lambda f: dataclasses.replace(f, yaml_name="q2-final-v2.yaml"),
    "added comments": lambda f: dataclasses.replace(
        f, yaml="# checked by the clerk\n" + f.yaml.replace("\nstaff:\n", "\n# the team\nstaff:   # all of it\n")
        + "# end\n"),
    "CRLF line endings": lambda f: dataclasses.replace(f, newline="\r\n"),
    "UTF-8 BOM in the CSV": lambda f: dataclasses.replace(f, csv_prefix="\ufeff"),
    "reordered CSV rows": lambda f: dataclasses.replace(f, csv=shuffled_csv(f.csv)),
    "reordered staff rows": lambda f: dataclasses.replace(f, yaml=reversed_staff(f.yaml)),
    "changed name and description": lambda f: dataclasses.replace(
        f, yaml=f.yaml.replace("name: groups-and-conflicts", "name: q2-second-look")
        .replace("One quarter of", "A quarter of")),
    "tables copied under other names": lambda f: dataclasses.replace(f, csv_name="copies/backlog (2).csv"),
}


def all_at_once(f: Files) -> Files:
    for disguise in DISGUISES.values():
        f = disguise(f)
    return f


def another_seed(f: Files) -> Files:
    return dataclasses.replace(f, yaml=f.yaml.replace("seed: null", "seed: 99"))


ALL_DISGUISES = {**DISGUISES, "all of them at once": all_at_once}

REAL_CHANGES: dict[str, Callable[[Files], Files]] = {
    "one case's type": lambda f: dataclasses.replace(f, csv=f.csv.replace("Q2-001,theft,", "Q2-001,assault,")),
    "one staff member's fte": lambda f: dataclasses.replace(
        f, yaml=f.yaml.replace("{id: G02, fte: 1.0,", "{id: G02, fte: 0.9,")),
    "the policy's tolerance": lambda f: dataclasses.replace(
        f, yaml=f.yaml.replace("tolerance: 0.05", "tolerance: 0.04")),
    "one case's exclusions": lambda f: dataclasses.replace(
        f, csv=f.csv.replace("Q2-002,theft,,,,", "Q2-002,theft,,,G01,")),
    "a case type's weight": lambda f: dataclasses.replace(
        f, yaml=f.yaml.replace("{id: theft, weight_hours: 6,", "{id: theft, weight_hours: 6.5,")),
    "an absence": lambda f: dataclasses.replace(f, yaml=f.yaml.replace("to: 2025-05-23", "to: 2025-05-30")),
}


@pytest.fixture
def plain(tmp_path) -> Path:
    return original().write(tmp_path / "plain")


def test_the_canonical_text_is_canonical_json_without_names_or_seed(plain):
    sc = load_scenario(plain)
    text = canonical_text(sc)
    assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False) == text
    data = json.loads(text)
    assert "seed" not in data["policy"] and "groups-and-conflicts" not in text and ".csv" not in text
    assert [row[0] for row in data["cases"]["rows"]] == sorted(sc.cases["id"])
    assert [row[0] for row in data["staff"]["rows"]] == sorted(sc.staff["id"])
    assert len(sc.canonical_sha256) == 64 and sc.canonical_sha256 == load_scenario(GROUPS).canonical_sha256


@pytest.mark.parametrize("disguise", [*ALL_DISGUISES, "another seed"])
def test_a_disguise_keeps_the_canonical_digest(tmp_path, plain, disguise):
    make = ALL_DISGUISES.get(disguise, another_seed)
    copy = make(original()).write(tmp_path / "copy")
    before, after = load_scenario(plain), load_scenario(copy)
    assert after.canonical_sha256 == before.canonical_sha256
    if disguise != "another seed":  # the seed is in the policy, so in a file; all else changes bytes or names
        assert inputs_digest(after.inputs) != inputs_digest(before.inputs)  # what the register used to compare


@pytest.mark.parametrize("change", REAL_CHANGES)
def test_a_real_change_changes_the_canonical_digest(tmp_path, plain, change):
    changed = REAL_CHANGES[change](original()).write(tmp_path / "changed")
    assert load_scenario(changed).canonical_sha256 != load_scenario(plain).canonical_sha256


def test_weights_and_capacities_count_as_what_they_come_to(tmp_path, plain):
    """A case that writes out its type's weight, a number written as 10 or 10.0, and exclusions
    listed twice or in another order are the same input."""
    f = original()
    same = dataclasses.replace(
        f, csv=f.csv.replace("Q2-001,theft,,,,", "Q2-001,theft,6.0,,,"),
        yaml=f.yaml.replace("capacity_hours: 250,", "capacity_hours: 250.0,").replace(
            "tolerance: 0.05", "tolerance: 0.050"))
    with_exclusion = next(line for line in f.csv.split("\n") if re.search(r",[^,]*;[^,]*,", line))
    case, typ, weight, group, excluded, holder = with_exclusion.split(",")
    staff = excluded.split(";")
    flipped = ",".join([case, typ, weight, group, ";".join([*reversed(staff), staff[0]]), holder])
    same = dataclasses.replace(same, csv=same.csv.replace(with_exclusion, flipped))
    assert load_scenario(same.write(tmp_path / "same")).canonical_sha256 == load_scenario(plain).canonical_sha256


def run(*args) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["run", *map(str, args), "-q"])
    return done.exit_code, done.output


def test_a_disguised_copy_is_refused_as_a_redraw(tmp_path, plain, own_register):
    code, output = run(plain, "--out", tmp_path / "first")
    assert code == 0, output
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert summary["canonical_sha256"] == load_scenario(plain).canonical_sha256
    assert summary["inputs_sha256"] == inputs_digest(summary["inputs"])  # the files' digest, as before
    for i, (name, make) in enumerate(ALL_DISGUISES.items()):
        copy = make(original()).write(tmp_path / f"copy{i}")
        code, output = run(copy, "--out", tmp_path / f"out{i}")
        assert code == 2 and "drawn once before" in output and "--reason" in output, (name, output)
        assert not (tmp_path / f"out{i}").exists(), name
    # a chosen seed needs a reason anyway; given one, the draw is still flagged as a re-draw
    code, output = run(another_seed(original()).write(tmp_path / "seeded"), "--out", tmp_path / "seeded-out",
                       "--reason", "testing")
    assert code == 0 and "RE-DRAW" in output, output
    with Register(own_register) as reg:
        assert [r.redraw_of for r in reg.history()] == [[], [1]]
        assert reg.history()[0].inputs_sha256 == summary["canonical_sha256"]


def test_a_real_change_is_a_first_draw(tmp_path, plain):
    assert run(plain, "--out", tmp_path / "first")[0] == 0
    changed = REAL_CHANGES["one staff member's fte"](original()).write(tmp_path / "changed")
    code, output = run(changed, "--out", tmp_path / "second")
    assert code == 0 and "RE-DRAW" not in output, output


def test_a_renamed_identical_scenario_replays_and_a_commitment_holds_for_it(tmp_path, plain):
    runner = CliRunner()
    assert run(plain, "--out", tmp_path / "first")[0] == 0
    renamed = all_at_once(original()).write(tmp_path / "renamed")
    done = runner.invoke(app, ["verify", "1", "--inputs", str(renamed)])
    assert done.exit_code == 0 and "verified" in done.output, done.output
    changed = REAL_CHANGES["one case's type"](original()).write(tmp_path / "changed")
    done = runner.invoke(app, ["verify", "1", "--inputs", str(changed)])
    assert done.exit_code == 1 and "inputs differ from the recorded ones" in done.output, done.output

    # committed on one copy, drawn on a renamed one: the same inputs; on changed ones: refused
    done = runner.invoke(app, ["commit", str(changed), "--seed-file", str(tmp_path / "sealed.json")])
    assert done.exit_code == 0, done.output
    moved = REAL_CHANGES["one case's type"](all_at_once(original())).write(tmp_path / "moved")
    seal = ["--reveal", str(tmp_path / "sealed.json")]
    code, output = run(plain, "--out", tmp_path / "wrong", *seal, "--reason", "past the re-draw check")
    assert code == 2 and "no open commitment" in output, output
    code, output = run(moved, "--out", tmp_path / "drawn", *seal)
    assert code == 0, output


def test_intake_refuses_a_day_drawn_again_from_a_disguised_file(tmp_path, plain):
    new = "id,type,date\n" + "".join(f"N{i:02d},{'theft' if i % 3 else 'fraud'},2025-04-0{1 + i % 2}\n"
                                      for i in range(12))
    (tmp_path / "new.csv").write_text(new, encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(app, ["intake", str(plain), str(tmp_path / "new.csv"), "--out", str(tmp_path / "a"), "-q"])
    assert done.exit_code == 0, done.output
    # the same cases: rows shuffled, CRLF, a BOM, another file name, the scenario renamed; only day 2
    day2 = [line for line in shuffled_csv(new).split("\n")[1:] if line.endswith("-02")]
    (tmp_path / "later.csv").write_bytes(("\ufeffid,type,date\r\n" + "\r\n".join(day2) + "\r\n").encode())
    renamed = all_at_once(original()).write(tmp_path / "renamed")
    done = runner.invoke(app, ["intake", str(renamed), str(tmp_path / "later.csv"), "--out", str(tmp_path / "b"),
                               "-q"])
    assert done.exit_code == 2 and "drawn before: 2025-04-02" in done.output, done.output
    # a day of other cases is a first draw
    (tmp_path / "other.csv").write_text("id,type,date\nM01,theft,2025-04-03\n", encoding="utf-8")
    done = runner.invoke(app, ["intake", str(renamed), str(tmp_path / "other.csv"), "--out", str(tmp_path / "c"),
                               "-q"])
    assert done.exit_code == 0, done.output


def shuffled(sc, seed: int):
    rng = np.random.default_rng(seed)
    return dataclasses.replace(sc, staff=sc.staff.iloc[rng.permutation(len(sc.staff))].reset_index(drop=True),
                               cases=sc.cases.iloc[rng.permutation(len(sc.cases))].reset_index(drop=True))


def drawn(sc, seed: int) -> tuple[set, str]:
    a = balancer.solve(sc, seed=seed).plan.assignments
    return set(zip(a["case_id"], a["staff_id"])), result_digest(a)


@pytest.mark.parametrize("path", [GROUPS, ROOT / "scenarios" / "rebalance.yaml"], ids=["groups", "rebalance"])
def test_the_same_seed_on_shuffled_rows_draws_the_same_assignment(path):
    sc = load_scenario(path)
    assert id_order(shuffled(sc, 0).cases["id"]) is not None  # really shuffled
    first = drawn(sc, 7)
    for k in range(2):
        assert drawn(shuffled(sc, k), 7) == first  # the same pairs and the same probabilities
    again = shuffled(sc, 0)
    plan = balancer.solve(again, seed=7).plan  # the tables still follow the files' order
    assert plan.assignments["case_id"].tolist() == again.cases["id"].tolist()
    assert plan.staff["staff_id"].tolist() == again.staff["id"].tolist()


def test_a_generated_scenario_with_shuffled_tables_draws_the_same_assignment(tmp_path):
    """Through the files: staff and case tables (with pooled conflicts: over 64 eligible staff)
    written in another order give the same digest and the same draw."""
    from benchmarks.generate import generate

    path = generate(tmp_path / "gen", 3000, 90, seed=0)
    sc = load_scenario(path)
    for table in ("staff.csv", "cases.csv"):
        frame = pd.read_csv(path.parent / table, dtype=str, keep_default_na=False)
        frame.sample(frac=1, random_state=3).to_csv(path.parent / table, index=False)
    again = load_scenario(path)
    assert not again.cases["id"].equals(sc.cases["id"])
    assert again.canonical_sha256 == sc.canonical_sha256
    assert drawn(again, 11) == drawn(sc, 11)
