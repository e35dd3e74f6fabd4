"""Daily intake: a simulated year of new cases, allocated day by day against current loads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

import balancer
from balancer.cli import app
from balancer.intake import run_intake
from balancer.lottery import load_bound
from balancer.register import Register
from balancer.scenario import load_new_cases
from tests.conftest import ROOT, write

OFFICE = """\
name: intake-office
case_types:
  - {id: minor, weight_hours: 2}
  - {id: standard, weight_hours: 6}
  - {id: serious, weight_hours: 20, min_grade: senior}
  - {id: cyber, weight_hours: 12, specialisation: cyber}
grades: [junior, senior]
hours_per_fte: 1600
staff:
  - {id: A, fte: 1.0, grade: senior, specialisations: [cyber]}
  - {id: B, fte: 1.0, grade: senior}
  - {id: C, fte: 0.5, grade: senior, specialisations: [cyber]}
  - {id: D, fte: 1.0, grade: junior}
  - {id: E, fte: 0.8, grade: junior, specialisations: [cyber]}
  - {id: F, fte: 1.0, grade: junior, current_load_hours: 300}
cases:
  - {id: H1, type: serious, assigned_to: A}
  - {id: H2, type: standard, assigned_to: D}
  - {id: H3, type: cyber, assigned_to: E}
policy: {tolerance: 0.05, max_probability: 0.6}
"""
TYPES = np.array(["minor", "standard", "serious", "cyber"])
SHARE = np.array([0.45, 0.35, 0.1, 0.1])
TOLERANCE = 0.05


def year_of_cases(seed: int, days: int = 250) -> pd.DataFrame:
    """A seeded year: 2–12 cases a working day, mixed types, a few conflicts of interest."""
    rng = np.random.default_rng(seed)
    rows, k = [], 0
    for day in pd.bdate_range("2025-01-02", periods=days):
        for _ in range(rng.integers(2, 13)):
            k += 1
            excluded = str(rng.choice(list("ABCDEF"))) if rng.random() < 0.05 else ""
            rows.append({"id": f"N{k:05d}", "type": rng.choice(TYPES, p=SHARE), "excluded": excluded,
                         "date": day.date().isoformat()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    folder = tmp_path_factory.mktemp("intake")
    sc = balancer.load_scenario(write(folder / "office.yaml", OFFICE))
    year_of_cases(11).to_csv(folder / "new.csv", index=False)
    cases, name, sha = load_new_cases(folder / "new.csv", sc)
    return sc, run_intake(sc, cases, file=name, sha256=sha, seed=2025, keep=True)


def test_every_day_keeps_the_runs_promises(year):
    """Each day: every new case once, only to eligible staff, each prosecutor's expected hours from
    that day its leximin share, and the drawn hours within the proven rounding bound of them."""
    sc, intake = year
    assert len(intake.days) == 250 and intake.status is balancer.Status.DONE
    staff = sc.staff.set_index("id")
    types = {t.id: t for t in sc.model.case_types}
    for day in intake.days:
        r = day.result
        a = day.assignments.set_index("case_id")
        assert sorted(a.index) == sorted(day.cases["id"])
        for case in day.cases.itertuples():
            who = a.at[case.id, "staff_id"]
            t = types[case.type]
            assert who not in case.excluded
            assert t.specialisation is None or t.specialisation in staff.at[who, "specialisations"]
            assert t.min_grade is None or staff.at[who, "grade"] == "senior"
        pool = r.pool
        expected = np.bincount(pool.edge_staff, weights=r.design.count() * pool.class_weight[pool.edge_class],
                               minlength=pool.n_staff)
        drawn = r.plan.staff["assigned_hours"].to_numpy() - (pool.base_load - r.problem.base_load)
        assert np.all(np.abs(drawn - expected) <= load_bound(pool, r.design) + 1e-6)
        # a day's expected loads are its leximin shares (`at_share`): a band around them let
        # whoever the spread favours drift up by the tolerance of each day's intake
        assert np.all(np.abs(expected - r.balance.load) <= 2e-6 * pool.capacity + 1e-3)
    # and held cases never moved (nobody here has to give a case up): each case is drawn once, and
    # at the end everyone holds what they held at the start plus what they were drawn
    drawn = intake.assignments()
    assert drawn["case_id"].is_unique and set(drawn["case_id"]) == set(pd.concat([d.cases for d in intake.days])["id"])
    start = sc.cases["assigned_to"].value_counts()
    expected = start.add(drawn["staff_id"].value_counts(), fill_value=0)
    assert intake.staff().set_index("staff_id")["cases"].to_dict() == expected.reindex(sc.staff["id"], fill_value=0).to_dict()


def case_probabilities(day) -> pd.DataFrame:
    """π(case → prosecutor) of every drawn case of the day, for every prosecutor it may go to."""
    r = day.result
    pool, design = r.pool, r.design
    pi = design.probability(pool)
    rows = []
    item_of = dict(zip(pool.case_ids, pool.case_item))
    for case in day.cases.itertuples():
        k = pool.item_class[item_of[case.id]]
        lo, hi = pool.class_edge_start[k], pool.class_edge_start[k + 1]
        for e in range(lo, hi):
            rows.append({"case_id": case.id, "type": case.type, "staff_id": pool.staff_ids[pool.edge_staff[e]],
                         "pi": pi[e]})
    return pd.DataFrame(rows)


def frequency_z(year, claimed) -> float:
    """Largest |observed − Σπ| / sd over (prosecutor, case type) pairs, for the claimed π."""
    sc, intake = year
    got = pd.concat([d.assignments for d in intake.days]).merge(
        pd.concat([d.cases for d in intake.days])[["id", "type"]], left_on="case_id", right_on="id")
    observed = got.groupby(["staff_id", "type"]).size()
    expected = claimed.groupby(["staff_id", "type"])["pi"].sum()
    var = claimed.assign(v=claimed["pi"] * (1 - claimed["pi"])).groupby(["staff_id", "type"])["v"].sum()
    observed = observed.reindex(expected.index, fill_value=0)
    return float(((observed - expected).abs() / np.sqrt(np.maximum(var, 1e-9))).max()), len(expected)


@pytest.fixture(scope="module")
def claimed(year):
    _, intake = year
    table = pd.concat([case_probabilities(d) for d in intake.days], ignore_index=True)
    assert np.allclose(table.groupby("case_id")["pi"].sum(), 1.0)
    return table


def test_frequencies_match_the_design(year, claimed):
    """Per (prosecutor, type) pair, the year's count is within a Bonferroni-corrected normal bound of
    Σπ (a fixed false-alarm rate of 1e-3 over all pairs; dependent rounding only narrows the spread)."""
    z, pairs = frequency_z(year, claimed)
    assert z <= norm.isf(1e-3 / (2 * pairs))


def test_the_frequency_check_catches_a_wrong_claim(year, claimed):
    """Control: claim each case goes to its eligible prosecutors uniformly, which the design does not."""
    uniform = claimed.assign(pi=1.0 / claimed.groupby("case_id")["pi"].transform("size"))
    z, pairs = frequency_z(year, uniform)
    assert z > norm.isf(1e-3 / (2 * pairs))


def test_cli_records_each_day_and_refuses_a_silent_redraw(tmp_path):
    sc_file = write(tmp_path / "office.yaml", OFFICE)
    year_of_cases(3, days=4).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "out"
    runner = CliRunner()
    done = runner.invoke(app, ["intake", str(sc_file), str(tmp_path / "new.csv"), "--out", str(out), "-q"])
    assert done.exit_code == 0, done.output
    days = pd.read_csv(out / "days.csv")  # every day recorded in the default register ($BALANCER_REGISTER)
    assert list(days["record"]) == [1, 2, 3, 4]
    with Register(tmp_path / "register.sqlite") as r:
        assert len(r.history()) == 4

    reg = tmp_path / "reg.sqlite"
    assert runner.invoke(app, ["intake", str(sc_file), str(tmp_path / "new.csv"), "--out", str(tmp_path / "out2"),
                               "--register", str(reg), "-q"]).exit_code == 0
    with Register(reg) as r:
        assert len(r.history()) == 4 and r.verify_chain().ok
    again = runner.invoke(app, ["intake", str(sc_file), str(tmp_path / "new.csv"), "--out", str(tmp_path / "out3"),
                                "--register", str(reg), "--seed", "1", "-q"])
    assert again.exit_code == 2 and "--reason" in again.output
    assert not (tmp_path / "out3").exists()
    with Register(reg) as r:
        assert len(r.history()) == 4


def test_bad_new_cases_name_file_line_and_field(tmp_path):
    sc_file = write(tmp_path / "office.yaml", OFFICE)
    runner = CliRunner()
    for text, field, line in (("id,type,date\nX1,minor,2025-01-02\nX2,poetry,2025-01-02\n", "type", 3),
                              ("id,type,date\nH1,minor,2025-01-02\n", "id", 2),
                              ("id,type,date\nX1,minor,someday\n", "date", 2),
                              ("id,type,assigned_to\nX1,minor,A\n", "assigned_to", 2)):
        path = write(tmp_path / "bad.csv", text)
        done = runner.invoke(app, ["intake", str(sc_file), str(path), "--out", str(tmp_path / "o")])
        assert done.exit_code == 2, (text, done.output)
        assert f"bad.csv:{line}" in done.output and f"'{field}'" in done.output, done.output
        assert "Traceback" not in done.output


def test_a_new_cases_workbook_of_several_sheets_needs_sheet(tmp_path):
    sc_file = write(tmp_path / "office.yaml", OFFICE)
    with pd.ExcelWriter(tmp_path / "new.xlsx") as book:
        year_of_cases(3, days=2).to_excel(book, sheet_name="Cases", index=False)
        pd.DataFrame({"note": ["received by post"]}).to_excel(book, sheet_name="Notes", index=False)
    runner = CliRunner()
    args = ["intake", str(sc_file), str(tmp_path / "new.xlsx"), "-q"]
    ambiguous = runner.invoke(app, args + ["--out", str(tmp_path / "o1")])
    assert ambiguous.exit_code == 2 and "--sheet Notes" in ambiguous.output, ambiguous.output
    assert runner.invoke(app, args + ["--out", str(tmp_path / "o2"), "--sheet", "Cases"]).exit_code == 0
    assert len(pd.read_csv(tmp_path / "o2" / "days.csv")) == 2
    wrong = runner.invoke(app, ["intake", str(sc_file), str(tmp_path / "o2" / "days.csv"), "--sheet", "Cases",
                                "--out", str(tmp_path / "o3")])
    assert wrong.exit_code == 2 and "not a workbook" in wrong.output, wrong.output


def test_shipped_office_takes_a_week_of_intake(tmp_path):
    sc = balancer.load_scenario(ROOT / "scenarios" / "rebalance.yaml")
    new = pd.DataFrame({"id": [f"W{i}" for i in range(30)], "type": ["theft"] * 20 + ["cybercrime"] * 10,
                        "excluded": [""] * 30, "date": [f"2025-04-0{1 + i % 5}" for i in range(30)]})
    new.to_csv(tmp_path / "week.csv", index=False)
    cases, name, sha = load_new_cases(tmp_path / "week.csv", sc)
    intake = run_intake(sc, cases, file=name, sha256=sha, seed=1, keep=True)
    assert [d.date.day for d in intake.days] == [1, 2, 3, 4, 5]
    forced = intake.days[0].result.rebalance["forced_moves"]
    assert forced > 0 and all((d.result.rebalance or {}).get("forced_moves", 0) == 0 for d in intake.days[1:])
    # what intake writes: the new cases, and on day 1 the forced moves and the backlog nobody held
    drawn = intake.assignments()
    backlog = set(sc.cases.loc[sc.cases["assigned_to"].isna(), "id"])
    assert len(drawn) == len(new) + forced + len(backlog) > len(new)
    assert set(drawn["case_id"]) == set(new["id"]) | backlog | set(intake.moves()["case_id"])


def test_a_year_of_days_ends_near_the_balance_of_the_whole_year(year):
    """No drift: after 250 daily draws every prosecutor's utilisation is within the tolerance plus
    one heavy case of the leximin profile of the whole year's cases allocated at once."""
    import dataclasses

    from balancer.balance import leximin
    from balancer.problem import compile_problem
    sc, intake = year
    everything = pd.concat([sc.cases.assign(assigned_to=None)] + [d.cases.assign(assigned_to=None)
                                                                  for d in intake.days], ignore_index=True)
    offline = leximin(compile_problem(dataclasses.replace(sc, cases=everything))).target_utilisation
    final = intake.staff()["utilisation"].to_numpy()
    capacity = intake.staff()["capacity_hours"].to_numpy()
    assert np.all(np.abs(final - offline) <= TOLERANCE + 20.0 / capacity)


def test_nobody_gets_a_case_on_a_day_they_are_away(tmp_path):
    """Absence by date: A is away on two of five days and gets none of those days' cases (though A
    has the most room); C, the only other cyber specialist, is away on day 4 with E, so the cyber
    cases of that day go to A, B or… nobody else: the rule yields, with a warning, only where
    everyone who may take a case is away."""
    text = OFFICE.replace("{id: A, fte: 1.0, grade: senior, specialisations: [cyber]}",
                          "{id: A, fte: 1.0, grade: senior, specialisations: [cyber], "
                          "unavailable: [{from: 2025-01-03, to: 2025-01-06}]}")
    text = text.replace("{id: C, fte: 0.5, grade: senior, specialisations: [cyber]}",
                        "{id: C, fte: 0.5, grade: senior, specialisations: [cyber], "
                        "unavailable: [{from: 2025-01-07, to: 2025-01-07}]}")
    text = text.replace("{id: E, fte: 0.8, grade: junior, specialisations: [cyber]}",
                        "{id: E, fte: 0.8, grade: junior, specialisations: [cyber], "
                        "unavailable: [{from: 2025-01-07, to: 2025-01-07}]}")
    text += "period: {start: 2025-01-01, end: 2025-06-30}\n"
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", text))
    year_of_cases(5, days=5).to_csv(tmp_path / "new.csv", index=False)
    cases, name, sha = load_new_cases(tmp_path / "new.csv", sc)
    for seed in range(8):
        intake = run_intake(sc, cases, file=name, sha256=sha, seed=seed)
        drawn = intake.assignments().merge(cases[["id", "date"]], left_on="case_id", right_on="id", suffixes=("", "_in"))
        on = drawn["date_in"].astype(str)
        assert not drawn.loc[on.isin(["2025-01-03", "2025-01-06"]), "staff_id"].eq("A").any()
        day4 = drawn.loc[on == "2025-01-07"]
        assert not day4.loc[day4["staff_id"].isin(["C", "E"]), "case_id"].isin(
            cases.loc[cases["type"] != "cyber", "id"]).any()  # away: no general work either
        assert drawn.loc[on != "2025-01-03", "staff_id"].eq("A").any()  # A takes cases when present
    # a day where every eligible cyber specialist is away: drawn anyway, and said so
    text = text.replace("{from: 2025-01-03, to: 2025-01-06}", "{from: 2025-01-07, to: 2025-01-07}")
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", text))
    cases, name, sha = load_new_cases(tmp_path / "new.csv", sc)
    intake = run_intake(sc, cases, file=name, sha256=sha, seed=1)
    stranded = "cyber" in set(cases.loc[cases["date"].astype(str) == "2025-01-07", "type"])
    assert intake.status is balancer.Status.DONE
    assert any(f["code"] == "intake-everyone-eligible-away" for f in intake.summary()["findings"]) == stranded


WAVE = """\
name: wave
period: {start: 2025-02-03, end: 2025-03-14}
case_types:
  - {id: standard, weight_hours: 6}
  - {id: corruption, weight_hours: 15, specialisation: corruption}
hours_per_fte: 1600
staff:
  - {id: S1, fte: 1.0, specialisations: [corruption]}
  - {id: S2, fte: 1.0, specialisations: [corruption]}
%s
cases: []
caseload: [{type: standard, filings: 100}, {type: corruption, filings: 20}]
policy: {tolerance: 0.05, max_probability: 0.5}
"""


def wave_cases(skewed: bool, seed: int) -> pd.DataFrame:
    """30 working days: 5 standard cases a day for 20 days, then 2 corruption cases a day for 10
    (skewed); or the same 120 cases with their days shuffled (stationary)."""
    days = pd.bdate_range("2025-02-03", periods=30).date
    types = ["standard"] * 100 + ["corruption"] * 20
    dates = [days[i // 5] for i in range(100)] + [days[20 + i // 2] for i in range(20)]
    if not skewed:
        dates = list(np.random.default_rng(seed).permutation(np.array(dates, dtype=object)))
    return pd.DataFrame({"id": [f"W{i:03d}" for i in range(120)], "type": types, "excluded": "", "date": dates})


@pytest.mark.parametrize("skewed", [True, False])
def test_a_look_ahead_keeps_specialists_for_the_work_to_come(tmp_path, skewed):
    """Two corruption specialists among ten; corruption comes in a wave in the last third of the
    period. Balanced against current loads alone, the specialists take their share of the general
    work while it is quiet and the wave then lifts them far above everyone (by about their share
    of the general work, 34 points); with the period's expected filings as a look-ahead
    (`policy.forecast: caseload`) they are kept for it, and the period ends within the tolerance
    plus one case of the same cases drawn at once. With the same cases shuffled over the days
    (no wave), the look-ahead changes nothing that matters: both end there."""
    general = "\n".join(f"  - {{id: G{i}, fte: 1.0}}" for i in range(8))
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", WAVE % general))
    for seed in (1,):
        wave_cases(skewed, seed).to_csv(tmp_path / "new.csv", index=False)
        cases, _, _ = load_new_cases(tmp_path / "new.csv", sc)
        ends, at_once, one_case = ends_with_and_without_look_ahead(sc, cases, seed)
        assert ends[True] <= at_once + TOLERANCE + one_case, (ends, at_once)
        if skewed:
            assert ends[False] >= ends[True] + 0.25, ends
        else:
            assert ends[False] <= at_once + TOLERANCE + one_case, (ends, at_once)


AWAY_LATER = WAVE.replace(
    "  - {id: S2, fte: 1.0, specialisations: [corruption]}",
    "  - {id: S2, fte: 1.0, specialisations: [corruption], unavailable: [{from: 2025-03-03, to: 2025-03-14}]}",
).replace("filings: 100}, {type: corruption, filings: 20}", "filings: 150}, {type: corruption, filings: 30}")


def ends_with_and_without_look_ahead(sc, cases: pd.DataFrame, seed: int) -> tuple[dict, float, float]:
    """The highest utilisation after the period, day by day without and with the caseload
    look-ahead ({False: …, True: …}); the same cases drawn at once; one 15-hour case in points."""
    from balancer.intake import as_drawn
    from balancer.scenario import Forecast

    once = balancer.solve(dataclasses.replace(sc, cases=as_drawn(sc, cases)), seed=seed)
    ends = {}
    for forecast in (None, Forecast(source="caseload")):
        run = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"forecast": forecast}))
        intake = run_intake(run, cases, file="new.csv", sha256="", seed=seed)
        assert intake.status is balancer.Status.DONE and intake.days_table()["gap_to_leximin"].notna().all()
        ends[forecast is not None] = intake.staff()["utilisation"].max()
    return ends, once.plan.staff["utilisation"].max(), 15 / once.plan.staff["capacity_hours"].min()


def test_the_look_ahead_knows_who_will_be_away(tmp_path):
    """Two corruption specialists among ten, corruption cases every day, and one away for the
    last third of the period: then the other must take every such case alone. The look-ahead
    expects the work to come on the days it will come, each day's share to those present that day,
    so the one who stays is kept for it; the period ends within the tolerance plus one case of
    the same cases drawn at once (which give each case only to those present the day it
    arrives). Counting the absent specialist as there for the work to come lifts the one who
    stays by the general work taken in the first weeks."""
    general = "\n".join(f"  - {{id: G{i}, fte: 1.0}}" for i in range(8))
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", AWAY_LATER % general))
    days = pd.bdate_range("2025-02-03", periods=30).date
    cases = pd.DataFrame({"id": [f"A{i:03d}" for i in range(180)], "type": ["standard"] * 150 + ["corruption"] * 30,
                          "excluded": "", "date": [days[i // 5] for i in range(150)] + list(days)})
    cases.to_csv(tmp_path / "new.csv", index=False)
    cases, _, _ = load_new_cases(tmp_path / "new.csv", sc)
    ends, at_once, one_case = ends_with_and_without_look_ahead(sc, cases, seed=1)
    assert ends[True] <= at_once + TOLERANCE + one_case, (ends, at_once)
    assert ends[False] >= ends[True] + 0.2, ends


SPRING = WAVE.replace("period: {start: 2025-02-03, end: 2025-03-14}", "period: {start: 2025-02-03, end: 2025-04-30}").replace(
    "filings: 100}, {type: corruption, filings: 20}", "filings: 441}, {type: corruption, filings: 30}")


def test_seasons_keep_specialists_for_a_wave_before_it_comes(tmp_path):
    """Two corruption specialists among ten; standard cases every day of February to April, and
    corruption only in March. Told the period's filings alone, the look-ahead expects corruption
    evenly: the specialists take their general work in February, when today's balance wants
    them level, and the wave then lifts them far above the balance of the cases so far at the
    end of March. Told the seasons too (`forecast.seasons`), each day is balanced at every month's
    end as well: they take their general work in April instead. Every month ends within the
    tolerance plus one case of the leximin of the cases so far, and the period where drawing
    them all at once ends."""
    from balancer.intake import as_drawn
    from balancer.scenario import Forecast

    general = "\n".join(f"  - {{id: G{i}, fte: 1.0}}" for i in range(8))
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", SPRING % general))
    days = pd.bdate_range("2025-02-03", "2025-04-30").date
    march = [d for d in days if d.month == 3]
    cases = pd.DataFrame({"id": [f"W{i:03d}" for i in range(441 + 30)], "type": ["standard"] * 441 + ["corruption"] * 30,
                          "excluded": "", "date": [days[i // 7] for i in range(441)] + march[:30 - len(march)] + march})
    cases.to_csv(tmp_path / "new.csv", index=False)
    cases, _, _ = load_new_cases(tmp_path / "new.csv", sc)
    once = balancer.solve(dataclasses.replace(sc, cases=as_drawn(sc, cases)), seed=1).plan.staff
    one_case = 15 / once["capacity_hours"].min()
    gaps, ends = {}, {}
    for seasons in (None, {"corruption": {2: 0.0, 4: 0.0}}):
        forecast = Forecast(source="caseload", seasons=seasons)
        run = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"forecast": forecast}))
        intake = run_intake(run, cases, file="new.csv", sha256="", seed=1)
        days_table = intake.days_table()
        month_end = days_table.groupby(pd.to_datetime(days_table["date"]).dt.month)["gap_to_leximin"].last()
        gaps[seasons is not None], ends[seasons is not None] = month_end.max(), intake.staff()["utilisation"].max()
    assert gaps[True] <= TOLERANCE + one_case, gaps
    assert gaps[False] >= gaps[True] + 0.05, gaps
    assert ends[True] <= once["utilisation"].max() + TOLERANCE + one_case, (ends, once["utilisation"].max())


def test_a_period_of_a_century_costs_the_look_ahead_only_its_absences(tmp_path):
    """The longest period a scenario may have (100 years; longer ones are refused as typos) with
    the look-ahead on: who is away when is kept as stretches between absences' starts and ends,
    not a row per working day (26,000 of them), and the look-ahead still sends the work of S2's
    days away to those present."""
    import balancer.intake as intake_module
    from balancer.scenario import Forecast

    general = "\n".join(f"  - {{id: G{i}, fte: 1.0}}" for i in range(8))
    text = (AWAY_LATER % general).replace("period: {start: 2025-02-03, end: 2025-03-14}",
                                          "period: {start: 1950-01-01, end: 2049-12-31}")
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", text))
    sc = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"forecast": Forecast(source="caseload")}))
    office = intake_module._Office(sc)
    first, end, pattern, patterns = office._absences
    assert len(first) == 3 and patterns.sum() == 1  # before, during and after S2's one absence
    office.arrived.append(np.zeros(len(office.type_ids)))
    ahead = office.ahead(sc.policy, pd.Timestamp("2025-02-28").date())
    S2 = list(office.staff_pos).index("S2")
    away_rows = ~ahead.eligible[:, S2] & office.eligible[[0, 1] * (len(ahead.hours) // 2), S2]
    # each type's work on S2's ten days away goes to those present: a sliver of a long period
    assert len(ahead.hours) == 4 and away_rows.sum() == 2 and (ahead.hours[2:] > 0).all()


def test_the_forecast_reserves_for_chance(tmp_path, monkeypatch):
    """What the look-ahead expects of a type: its expected remaining cases plus FORECAST_MARGIN
    Poisson standard deviations, times the share of the office that may not take it
    (n + z·(1 − eligible share)·√n cases), in hours: nothing for a type everyone may take. Types
    the same prosecutors may take are one kind of work to the look-ahead."""
    import balancer.intake as intake_module
    from balancer.scenario import Forecast
    from benchmarks.year import write_year

    path = write_year(tmp_path, skewed=True, staff=24, days=20, seed=1)
    sc = balancer.load_scenario(path)
    policy = sc.policy.model_copy(update={"forecast": Forecast(source="caseload")})
    office = intake_module._Office(sc)
    weight = office.type_weight
    expected = office._expected_hours() / weight  # cases still expected: nothing has arrived yet
    for z in (0.0, 2.0):
        monkeypatch.setattr(intake_module, "FORECAST_MARGIN", z)
        ahead = office.ahead(policy, None)
        apart = 1.0 - office.eligible.mean(axis=1)
        assert apart.min() == 0.0 and apart.max() > 0.5  # types everyone may take, and scarce ones
        want: dict[bytes, float] = {}
        for row, hours in zip(office.eligible, (expected + z * apart * np.sqrt(expected)) * weight):
            want[row.tobytes()] = want.get(row.tobytes(), 0.0) + hours
        got = {row.tobytes(): hours for row, hours in zip(ahead.eligible, ahead.hours)}
        assert got.keys() == want.keys() and len(got) < len(weight)
        np.testing.assert_allclose([got[k] for k in want], list(want.values()))


def test_a_day_leaves_out_whoever_its_profile_gives_nothing(tmp_path, monkeypatch):
    """Against uneven loads most of a day's edges go to prosecutors above the day's water level;
    `lottery.busy_only` drops them before the limit and the design: the day's loads are the
    leximin loads of the whole day, and nobody above the water level is drawn a case."""
    import balancer.lottery
    from balancer.pipeline import solve

    text = OFFICE.replace("current_load_hours: 300", "current_load_hours: 900")
    for who in "BD":  # three of six far above the rest
        text = text.replace(f"{{id: {who}, fte: 1.0, grade:", f"{{id: {who}, fte: 1.0, current_load_hours: 800, grade:")
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", text))
    day = year_of_cases(4, days=1).drop(columns="date").assign(assigned_to=None)
    day = dataclasses.replace(sc, cases=pd.concat([sc.cases, day], ignore_index=True),
                              policy=sc.policy.model_copy(update={"moves": balancer.scenario.Moves(max=0)}))
    with monkeypatch.context() as m:  # every edge kept: the day's whole leximin
        m.setattr(balancer.lottery, "busy_only", lambda problem, balance: (problem, balance))
        whole = solve(day, seed=0, incremental=True)
        assert whole.pool.n_edges == whole.problem.n_edges
    for seed in range(5):
        r = solve(day, seed=seed, incremental=True)
        idle = set(r.problem.staff_ids[whole.balance.load <= 1e-6])
        assert idle >= {"B", "D", "F"}
        assert r.pool.n_edges < r.problem.n_edges
        assert not set(r.pool.staff_ids[r.pool.edge_staff]) & idle
        np.testing.assert_allclose(r.balance.load, whole.balance.load, atol=1e-3)
        new = r.plan.assignments[r.plan.assignments["previous_staff_id"].isna()]
        assert not set(new["staff_id"]) & idle and len(new)
    # a run (not a day) keeps every edge: its band lets anyone take up to the tolerance
    assert solve(day, seed=0).pool.n_edges == r.problem.n_edges


def test_the_balance_so_far_honours_who_was_away(tmp_path):
    """`leximin_so_far` allocates each day's cases only among those present that day, as the days'
    draws must: the cyber cases of a week when two of three cyber specialists are away sit with
    the third, and the yardstick says so (it is higher than if they had been there)."""
    from balancer.intake import as_drawn

    text = OFFICE.replace("{id: C, fte: 0.5, grade: senior, specialisations: [cyber]}",
                          "{id: C, fte: 0.5, grade: senior, specialisations: [cyber], "
                          "unavailable: [{from: 2025-01-01, to: 2025-01-31}]}")
    text = text.replace("{id: E, fte: 0.8, grade: junior, specialisations: [cyber]}",
                        "{id: E, fte: 0.8, grade: junior, specialisations: [cyber], "
                        "unavailable: [{from: 2025-01-01, to: 2025-01-31}]}")
    text = text.replace("current_load_hours: 300", "current_load_hours: 0") + "period: {start: 2025-01-01, end: 2025-03-31}\n"
    dates = [f"2025-01-0{2 + i % 3}" for i in range(12)]
    new = pd.DataFrame({"id": [f"C{i}" for i in range(12)], "type": "cyber", "excluded": "", "date": dates})
    new.to_csv(tmp_path / "new.csv", index=False)
    so_far = {}
    for away in (False, True):  # the scenario with the absences last: `as_drawn` below reads it
        office = text if away else text.replace("unavailable: [{from: 2025-01-01, to: 2025-01-31}]", "unavailable: []")
        sc = balancer.load_scenario(write(tmp_path / "office.yaml", office))
        cases, name, sha = load_new_cases(tmp_path / "new.csv", sc)
        intake = run_intake(sc, cases, file=name, sha256=sha, seed=1)
        so_far[away] = intake.days[-1].leximin_so_far
        if away:
            assert set(intake.assignments()["staff_id"]) == {"A"}
            a = intake.staff().set_index("staff_id")
            forced = 12 * 12 / a.at["A", "capacity_hours"]  # A, the one present, had to take all twelve
            assert so_far[True] >= forced - 1e-6 and intake.days[-1].gap <= a.at["A", "utilisation"] - forced + 1e-6
    assert so_far[True] > so_far[False] + 0.1  # had C and E been there, the cyber work was theirs too
    # the same cases at once, as drawn: each excludes whoever was away the day it arrived
    at_once = as_drawn(sc, cases)
    assert len(at_once) == 12 and at_once["excluded"].map(set).eq({"C", "E"}).all()
    assert at_once["assigned_to"].isna().all() and "date" not in at_once
