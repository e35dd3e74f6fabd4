"""Variants and dotted settings resolved by the loader (balancer/scenario/settings.py), what a
`Scenario` records of them, `peek`, and their use by batch and the staffing sweep."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from balancer import batch
from balancer.errors import InputError
from balancer.pipeline import inputs_digest
from balancer.scenario import SETTINGS_INPUT, apply_settings, load_scenario, peek
from balancer.staffing import with_value
from tests.conftest import ROOT, write

GROUPS = ROOT / "scenarios" / "groups-and-conflicts.yaml"
WISCONSIN = ROOT / "scenarios" / "staffing-wisconsin.yaml"

BASE = """\
name: varied
case_types:
  - {id: theft, weight_hours: 6}
  - {id: fraud, weight_hours: 40}
staff:
  - {id: A, capacity_hours: 100}
  - {id: B, capacity_hours: 100}
cases:
  - {id: C1, type: theft}
  - {id: C2, type: fraud}
"""
VARIANTS = """\
overrides:
  calm: {policy.tolerance: 0.0, policy.max_probability: 0.9}
  strict: {policy.max_probability: 0.6, policy.seed: 7}
  heavy: {model.case_types.fraud.weight_hours: 55}
  broken: {policy.tolerance: -1}
scenarios:
  calm-strict: [calm, strict]
  strict-calm: [strict, calm]
"""


@pytest.fixture
def varied(tmp_path):
    return write(tmp_path / "varied.yaml", BASE + VARIANTS)


def weights(sc):
    return {ct.id: ct.weight_hours for ct in sc.model.case_types}


def test_a_variant_from_scenarios_applies_its_overrides_in_order(varied):
    plain = load_scenario(varied)
    calm_strict = load_scenario(varied, variant="calm-strict")
    assert calm_strict.policy.tolerance == 0.0 and calm_strict.policy.seed == 7
    assert calm_strict.policy.max_probability == 0.6  # strict is listed later: it wins
    assert load_scenario(varied, variant="strict-calm").policy.max_probability == 0.9
    assert calm_strict.variant == "calm-strict"
    assert calm_strict.settings == {"policy.tolerance": 0.0, "policy.max_probability": 0.6, "policy.seed": 7}
    # a single entry of `overrides:` is a variant too
    heavy = load_scenario(varied, variant="heavy")
    assert weights(heavy) == {"theft": 6, "fraud": 55} and heavy.policy == plain.policy
    assert plain.variant is None and plain.settings == {} and weights(plain)["fraud"] == 40


def test_settings_beat_the_variant_and_apply_in_their_order(varied):
    sc = load_scenario(varied, variant="calm-strict",
                       settings={"policy.max_probability": "0.75", "policy.capacity": "hard",
                                 "model.hours_per_fte": 1400, "policy.moves.max": "3"})
    assert sc.policy.max_probability == 0.75 and sc.policy.tolerance == 0.0 and sc.policy.seed == 7
    assert sc.policy.capacity == "hard" and sc.model.hours_per_fte == 1400 and sc.policy.moves.max == 3
    # the variant's keys first, then the explicit ones; values as validated, not as typed
    assert list(sc.settings) == ["policy.tolerance", "policy.max_probability", "policy.seed",
                                 "policy.capacity", "model.hours_per_fte", "policy.moves.max"]
    assert sc.settings["policy.max_probability"] == 0.75 and sc.settings["policy.moves.max"] == 3
    assert sc.applied() == {"variant": "calm-strict", "settings": sc.settings}
    json.dumps(sc.applied())  # summary.json can hold it
    # applying settings to a loaded scenario keeps what was applied before; a key given again wins
    again = apply_settings(sc, {"policy.tolerance": 0.01})
    assert again.variant == "calm-strict" and again.policy.tolerance == 0.01
    assert again.settings == {**sc.settings, "policy.tolerance": 0.01}
    assert sc.policy.tolerance == 0.0  # the loaded scenario is not changed


def test_an_unknown_variant_names_the_file_the_line_and_the_known_names(varied, tmp_path):
    with pytest.raises(InputError) as e:
        load_scenario(varied, variant="calm-strikt")
    lines = varied.read_text().splitlines()
    assert e.value.file == str(varied) and e.value.field == "variant"
    assert lines[e.value.line - 1] == "scenarios:"
    assert "calm-strikt" in e.value.problem and "did you mean 'calm-strict'" in e.value.problem
    for name in ("calm-strict", "strict-calm", "calm", "strict", "heavy"):
        assert name in e.value.expected
    only_overrides = write(tmp_path / "o.yaml", BASE + "overrides:\n  calm: {policy.tolerance: 0.0}\n")
    with pytest.raises(InputError) as e:
        load_scenario(only_overrides, variant="nosuch")
    assert only_overrides.read_text().splitlines()[e.value.line - 1] == "overrides:" and "calm" in e.value.expected
    with pytest.raises(InputError) as e:
        load_scenario(write(tmp_path / "p.yaml", BASE), variant="nosuch")
    assert e.value.line == 1 and "overrides" in e.value.expected


def test_bad_keys_and_values_name_the_file_and_the_key(varied):
    with pytest.raises(InputError) as e:  # a bad value in the file's overrides: its line
        load_scenario(varied, variant="broken")
    assert e.value.field == "policy.tolerance" and e.value.file == str(varied)
    assert "broken: {policy.tolerance: -1}" in varied.read_text().splitlines()[e.value.line - 1]
    for settings, field, words in (
            ({"policy.colour": "red"}, "policy.colour", "unknown policy field 'colour'"),
            ({"policy.moves.mx": 3}, "policy.moves.mx", "unknown moves field 'mx'"),
            ({"policy.seed": "yes"}, "policy.seed", "the value 'yes' is not accepted"),
            ({"model.case_types.thief.weight_hours": 2}, "model.case_types.thief.weight_hours", "no case type 'thief'"),
            ({"model.name": "x"}, "model.name", "cannot set model.name"),
            ({"caseload.scale": 2}, "caseload.scale", "no caseload")):
        with pytest.raises(InputError) as e:
            load_scenario(varied, settings=settings)
        assert e.value.field == field and e.value.file == str(varied) and words in e.value.problem, e.value.message


def test_the_settings_input_appears_only_when_something_was_applied(varied):
    plain = load_scenario(varied)
    assert list(plain.inputs) == ["varied.yaml"]
    assert plain.inputs["varied.yaml"] == hashlib.sha256(varied.read_bytes()).hexdigest()
    assert list(load_scenario(varied, settings={}).inputs) == ["varied.yaml"]
    assert apply_settings(plain, {}) is plain
    tighter = load_scenario(varied, settings={"policy.tolerance": "0.02"})
    assert set(tighter.inputs) == {"varied.yaml", SETTINGS_INPUT}
    canonical = json.dumps({"settings": {"policy.tolerance": 0.02}, "variant": None}, separators=(",", ":"))
    assert tighter.inputs[SETTINGS_INPUT] == hashlib.sha256(canonical.encode()).hexdigest()
    digests = {inputs_digest(sc.inputs) for sc in (
        plain, tighter, load_scenario(varied, settings={"policy.tolerance": 0.03}),
        load_scenario(varied, variant="heavy"), apply_settings(plain, {"policy.tolerance": 0.02}))}
    assert len(digests) == 4  # the same settings, typed or as text, once loaded or applied later, are the same inputs
    assert inputs_digest(load_scenario(varied, variant="calm").inputs) != inputs_digest(
        load_scenario(varied, settings={"policy.tolerance": 0.0, "policy.max_probability": 0.9}).inputs)


def test_caseload_scale_scales_filings_relative_to_the_file():
    plain = load_scenario(WISCONSIN)
    more = load_scenario(WISCONSIN, settings={"caseload.scale": "1.5"})
    pd.testing.assert_series_equal(more.caseload["filings"], plain.caseload["filings"] * 1.5)
    assert more.settings == {"caseload.scale": 1.5} and plain.caseload is not more.caseload
    # given again it replaces the factor: the file's filings × 0.5, not × 0.75
    less = apply_settings(more, {"caseload.scale": 0.5})
    pd.testing.assert_series_equal(less.caseload["filings"], plain.caseload["filings"] * 0.5)
    pd.testing.assert_series_equal(with_value(plain, "intake", 0.8).caseload["filings"],
                                   plain.caseload["filings"] * 0.8)
    zero = apply_settings(plain, {"caseload.scale": 0})
    assert (zero.caseload["filings"] == 0).all()
    for bad in ("-1", "many", True, float("nan")):
        with pytest.raises(InputError, match="caseload.scale"):
            apply_settings(plain, {"caseload.scale": bad})
    with pytest.raises(InputError, match="scaled by 0"):
        apply_settings(zero, {"caseload.scale": 2})


def test_the_staffing_sweep_records_what_it_set():
    sc = load_scenario(WISCONSIN)
    assert with_value(sc, "hours_per_fte", 1000.0).settings == {"model.hours_per_fte": 1000.0}
    heavier = with_value(sc, "weight.criminal-traffic", 3.36)
    assert heavier.settings == {"model.case_types.criminal-traffic.weight_hours": 3.36}
    assert weights(heavier)["criminal-traffic"] == 3.36 and weights(sc)["criminal-traffic"] == 1.68
    with pytest.raises(InputError, match="hours_per_fte"):
        with_value(sc, "hours_per_fte", 0.0)


def test_peek_reads_the_top_level_and_never_raises(varied, tmp_path):
    head = peek(varied)
    assert head.name == "varied" and head.cases and not head.caseload
    assert list(head.overrides) == ["calm", "strict", "heavy", "broken"]
    assert list(head.scenarios) == ["calm-strict", "strict-calm"]
    staffing = peek(WISCONSIN)
    assert staffing.caseload and not staffing.cases and staffing.overrides == {} and staffing.scenarios == {}
    # no validation: rows and fields may be wrong
    assert peek(write(tmp_path / "rows.yaml", "name: ''\ncases: 12\ncolour: red\noverrides: [a]\n")).name is None
    for name, text in (("list.yaml", "- a\n- b\n"), ("scalar.yaml", "just text\n"), ("empty.yaml", ""),
                       ("syntax.yaml", "name: [unclosed\n"), ("twice.yaml", "name: a\nname: b\n")):
        assert peek(write(tmp_path / name, text)) is None, name
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "folder.yaml").mkdir()
    for path in (tmp_path / "latin1.yaml", tmp_path / "folder.yaml", tmp_path / "missing.yaml"):
        assert peek(path) is None
        assert not batch.is_allocation_scenario(path)


def test_a_shipped_scenario_loads_per_variant(tmp_path):
    """No shipped scenario declares `overrides:` yet: the shipped groups-and-conflicts office, with
    variants added at the end of its file (its tables copied beside it)."""
    shutil.copytree(GROUPS.with_suffix(""), tmp_path / GROUPS.stem)
    path = write(tmp_path / GROUPS.name, GROUPS.read_text() + "\n" + """\
overrides:
  tight: {policy.tolerance: 0.0}
  hard: {policy.capacity: hard}
  slow: {model.hours_per_fte: 1200}
scenarios:
  tight-hard: [tight, hard]
""")
    plain = load_scenario(GROUPS)
    pd.testing.assert_frame_equal(load_scenario(path).cases, plain.cases)
    both = load_scenario(path, variant="tight-hard")
    assert both.policy.tolerance == 0.0 and both.policy.capacity == "hard" and both.model == plain.model
    slow = load_scenario(path, variant="slow", settings={"policy.seed": 3})
    assert slow.model.hours_per_fte == 1200 and slow.policy.seed == 3
    assert slow.policy.tolerance == plain.policy.tolerance
    assert slow.applied() == {"variant": "slow", "settings": {"model.hours_per_fte": 1200.0, "policy.seed": 3}}
    pd.testing.assert_frame_equal(slow.staff, plain.staff)


def test_batch_rows_and_variant_json_show_the_settings_applied(varied, tmp_path):
    path = write(varied, BASE + VARIANTS.replace("  broken: {policy.tolerance: -1}\n", ""))
    out = tmp_path / "out"
    jobs = batch.plan_jobs([path], out, {"policy.tolerance": "0.01"}, {}, wanted=["calm-strict", "nosuch"])
    assert [(j.declared, j.settings) for j in jobs] == [("calm-strict", {"policy.tolerance": "0.01"}),
                                                        ("nosuch", {"policy.tolerance": "0.01"})]
    done, unknown = batch.run_batch(jobs, out)
    applied = {"policy.tolerance": 0.01, "policy.max_probability": 0.6, "policy.seed": 7}
    assert done["status"] == batch.DONE and json.loads(done["settings"]) == applied
    info = json.loads((out / "varied__calm-strict" / batch.VARIANT_FILE).read_text())
    assert info["settings"] == applied and info["variant"] == "calm-strict"
    assert unknown["status"] == batch.INVALID and "nosuch" in unknown["error"] and "varied.yaml" in unknown["error"]
    # resumption: the same variant and settings are reused, other settings are not
    assert batch.run_batch(jobs[:1], out)[0]["reused"] is True
    other = batch.plan_jobs([path], out, {"policy.tolerance": "0.02"}, {}, wanted=["calm-strict"])
    assert batch.run_batch(other, out)[0]["reused"] is False


def test_every_command_that_loads_a_scenario_takes_and_reports_variant_and_settings(tmp_path):
    """The same options on `staffing` and `run` (both go through the loader): what was applied is
    in summary.json, and it changes the answer the way the setting says."""
    from typer.testing import CliRunner

    from balancer.cli import app

    runner = CliRunner()
    plain = runner.invoke(app, ["staffing", str(WISCONSIN), "--out", str(tmp_path / "plain")])
    fewer_hours = runner.invoke(app, ["staffing", str(WISCONSIN), "--out", str(tmp_path / "set"),
                                      "--set", "model.hours_per_fte=1200"])
    assert plain.exit_code == 0 and fewer_hours.exit_code == 0, fewer_hours.output
    a = json.loads((tmp_path / "plain" / "summary.json").read_text())
    b = json.loads((tmp_path / "set" / "summary.json").read_text())
    assert a["applied"] == {"variant": None, "settings": {}}
    assert b["applied"] == {"variant": None, "settings": {"model.hours_per_fte": 1200}}
    assert b["formula_need_fte"] > a["formula_need_fte"]  # fewer hours a post: more posts needed
    bad = runner.invoke(app, ["run", str(GROUPS), "--out", str(tmp_path / "r"), "--variant", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.output
