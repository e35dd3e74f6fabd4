"""The register through the command line: every run recorded, re-draws flagged and justified,
draws replayable, commitments honoured, and no output files for a draw that is not recorded."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from balancer.register import Register, seed_commitment
from tests.conftest import ROOT

DEMO = ROOT / "scenarios" / "demo-office.yaml"
POSTGRES = os.environ.get("BALANCER_TEST_POSTGRES")


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "balancer", *map(str, args)],
                          capture_output=True, text=True, **kw)


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "balancer", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_redraws_are_refused_without_a_reason_and_flagged_with_one(tmp_path):
    first = run_in("run", DEMO, "--out", tmp_path / "a", "-q")
    assert first.returncode == 0, first.stderr
    register = tmp_path / "register.sqlite"  # $BALANCER_REGISTER (see conftest)
    assert register.exists()

    again = run_in("run", DEMO, "--out", tmp_path / "b", "-q")
    assert again.returncode == 2
    assert "drawn once before: record 1" in again.stderr and "--reason" in again.stderr
    assert not (tmp_path / "b").exists()  # nothing written for an unrecorded draw

    justified = run_in("run", DEMO, "--out", tmp_path / "b", "-q", "--reason", "appeal")
    assert justified.returncode == 0
    assert "RE-DRAW" in justified.stderr and "records 1" in justified.stderr
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["register"]["id"] == 2 and summary["register"]["redraw_of"] == [1]
    assert summary["register"]["reason"] == "appeal"

    listing = run_in("history", "--register", register, "--scenario", "demo-office")
    assert listing.returncode == 0 and "appeal" in listing.stdout
    assert run_in("history", "--register", register, "--scenario", "nobody").stdout.count("demo-office") == 0
    with Register(register) as reg:
        assert [r.redraw_of for r in reg.history()] == [[], [1]]
        assert list(reg.redraw_counts().values()) == [2]


def test_verify_replays_a_draw_and_notices_changed_inputs(tmp_path):
    assert run_in("run", DEMO, "--out", tmp_path / "a", "-q", "--operator", "clerk-7").returncode == 0
    register = tmp_path / "register.sqlite"
    done = run_in("verify", 1, "--inputs", DEMO, "--register", register)
    assert done.returncode == 0 and "verified" in done.stdout

    edited = tmp_path / "edited.yaml"
    edited.write_text(DEMO.read_text().replace("../models/demo.yaml", str(ROOT / "models" / "demo.yaml"))
                      .replace("D25-040", "D25-999"))
    done = run_in("verify", 1, "--inputs", edited, "--register", register)
    assert done.returncode == 1 and "inputs differ from the recorded ones" in done.stderr

    assert run_in("verify", "--chain", "--register", register).returncode == 0
    with sqlite3.connect(register) as db:  # tamper behind the register's back
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("UPDATE draw_register SET operator = 'someone else' WHERE id = 1")
    done = run_in("verify", "--chain", "--register", register)
    assert done.returncode == 1 and "record 1" in done.stdout


def test_a_seed_from_several_parties_and_a_public_value_is_derived_revealed_and_checkable(tmp_path):
    """Clerk and witness each commit a secret, the clerk names a public value to come; the draw
    needs every secret and the value, derives the seed from them, and anyone can recompute it."""
    register = tmp_path / "reg.sqlite"
    clerk, witness = tmp_path / "clerk.json", tmp_path / "witness.json"
    lottery = "main numbers of the national lottery draw of 5 December 2026, in drawn order"
    assert run_in("commit", DEMO, "--party", "clerk", "--secret-file", clerk, "--public", lottery,
               "--register", register).returncode == 0
    assert run_in("commit", DEMO, "--party", "witness", "--secret-file", witness, "--register", register).returncode == 0
    assert oct(clerk.stat().st_mode & 0o777) == "0o600"
    run = ["run", DEMO, "--out", tmp_path / "out", "-q", "--register", register]
    for partial, word in (([], "not used yet"), (["--reveal", clerk, "--public-value", "4 8 15"], "witness"),
                          (["--reveal", clerk, "--reveal", witness], "public value"),
                          (["--reveal", clerk, "--reveal", witness, "--public-value", "4 8 15", "--seed", 7], "--seed")):
        refused = run_in(*run, *partial)
        assert refused.returncode == 2 and word in refused.stderr, (partial, refused.stderr)
    assert not (tmp_path / "out").exists()
    done = run_in(*run, "--reveal", clerk, "--reveal", witness, "--public-value", " 4  8 15 ")
    assert done.returncode == 0, done.stderr
    with Register(register) as reg:
        c1, c2, drawn = reg.history()
    secrets = {c.id: json.loads(f.read_text())["secret"] for c, f in ((c1, clerk), (c2, witness))}
    text = (f"balancer seed v1\ninputs {drawn.inputs_sha256}\nsecret {c1.id} {secrets[c1.id]}\n"
            f"secret {c2.id} {secrets[c2.id]}\npublic 4 8 15\n")
    assert drawn.seed == int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)  # as the README shows
    assert drawn.seed_source == "public" and drawn.ceremony["commitments"] == [c1.id, c2.id]
    for c, revealed in zip((c1, c2), drawn.ceremony["secrets"]):  # each secret opens its commitment
        assert seed_commitment(revealed["secret"], bytes.fromhex(revealed["salt"])) == c.seed_commitment
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seed"] == drawn.seed and summary["register"]["commitments"] == [c1.id, c2.id]
    verified = run_in("verify", drawn.id, "--inputs", DEMO, "--register", register)
    assert verified.returncode == 0 and "4 8 15" in verified.stdout, verified.stderr
    again = run_in(*run[:3], tmp_path / "again", "-q", "--register", register, "--reveal", clerk, "--reveal", witness,
                "--public-value", "4 8 15", "--reason", "once more")
    assert again.returncode == 2 and "no open commitment" in again.stderr  # a commitment serves one draw
    listing = run_in("history", "--register", register).stdout
    assert listing.count("used by 3") == 2


def test_a_draw_that_skips_open_commitments_abandons_them_visibly(tmp_path):
    register = tmp_path / "reg.sqlite"
    assert run_in("commit", DEMO, "--party", "witness", "--secret-file", tmp_path / "w.json",
               "--register", register).returncode == 0
    done = run_in("run", DEMO, "--out", tmp_path / "out", "-q", "--register", register, "--reason", "witness absent")
    assert done.returncode == 0 and "ABANDONED" in done.stderr
    assert "ABANDONED by 2" in run_in("history", "--register", register).stdout
    verified = run_in("verify", 2, "--inputs", DEMO, "--register", register)
    assert verified.returncode == 0 and "abandoned commitments 1" in verified.stderr


def test_killed_while_recording_leaves_no_output_files(tmp_path):
    register = tmp_path / "reg.sqlite"
    Register(register).close()
    holder = sqlite3.connect(register, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the register's write lock: the run must wait for it
    try:
        run = start("run", DEMO, "--out", tmp_path / "out", "--register", register)
        time.sleep(4)  # imported, solved, and now waiting to record
        assert run.poll() is None, run.communicate()
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not (tmp_path / "out" / "assignments.csv").exists()
    assert not (tmp_path / "out" / "summary.json").exists()
    with Register(register) as reg:
        report = reg.verify_chain()  # empty: "not verified", but nothing half-written or broken
        assert reg.history() == [] and report.checked == 0 and report.first_broken is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES, reason="no PostgreSQL server (run .ci/postgres.sh)"))])
def test_two_runs_at_once_both_land_in_the_chain(tmp_path, backend):
    register = str(tmp_path / "reg.sqlite") if backend == "sqlite" else POSTGRES
    with Register(register) as reg:
        before = len(reg.history())
    runs = [start("run", DEMO, "--out", tmp_path / f"out{i}", "-q", "--register", register,
                  "--reason", f"concurrency test {i}") for i in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    with Register(register) as reg:
        records = reg.history()
        assert len(records) == before + 2 and reg.verify_chain().ok
    ids = sorted(json.loads((tmp_path / f"out{i}" / "summary.json").read_text())["register"]["id"]
                 for i in range(2))
    assert ids == [records[-2].id, records[-1].id]


def run_in(*args, env=None, cwd=None):
    """The CLI in this process (no interpreter start-up per call); `env` patches os.environ."""
    from typer.testing import CliRunner

    from balancer.cli import app

    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        done = CliRunner().invoke(app, [str(a) for a in args], env=env)
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


def test_one_default_register_for_every_command(tmp_path):
    """No --register, no $BALANCER_REGISTER: run, verify, commit and history all use the per-user
    data folder, so `verify` right after a run finds its record wherever the outputs went."""
    env = {"BALANCER_REGISTER": None, "XDG_DATA_HOME": str(tmp_path / "data")}  # None: unset  # where platformdirs puts the user's data on Linux
    default = tmp_path / "data" / "balancer" / "register.sqlite"
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert run_in("run", DEMO, "--out", tmp_path / "a" / "out", "-q", env=env, cwd=work).returncode == 0
    assert default.exists() and not list(work.iterdir())
    done = run_in("verify", 1, "--inputs", DEMO, env=env, cwd=work)
    assert done.returncode == 0 and "verified" in done.stdout, done.stderr
    assert run_in("commit", DEMO, "--seed-file", tmp_path / "s.json", env=env).returncode == 0
    listing = run_in("history", env=env)
    assert listing.returncode == 0 and "register" in listing.stdout
    with Register(default) as reg:
        assert [r.kind for r in reg.history()] == ["draw", "commitment"]
    # the environment variable moves it for every command; --register beats both
    env["BALANCER_REGISTER"] = str(tmp_path / "office.sqlite")
    assert run_in("run", DEMO, "--out", tmp_path / "b", "-q", env=env).returncode == 0
    assert run_in("verify", 1, "--inputs", DEMO, env=env).returncode == 0
    assert run_in("run", DEMO, "--out", tmp_path / "c", "-q", "--register", tmp_path / "own.sqlite",
               env=env).returncode == 0
    with Register(default) as a, Register(tmp_path / "office.sqlite") as b, Register(tmp_path / "own.sqlite") as c:
        assert [len(r.history()) for r in (a, b, c)] == [2, 1, 1]


def test_a_variant_and_settings_are_recorded_and_replayed(tmp_path):
    register = tmp_path / "register.sqlite"
    plain = run_in("run", DEMO, "--out", tmp_path / "plain", "-q")
    tuned = run_in("run", DEMO, "--out", tmp_path / "tuned", "-q", "--set", "policy.tolerance=0.02",
                "--set", "model.hours_per_fte=1400")
    assert plain.returncode == 0 and tuned.returncode == 0, tuned.stderr  # other inputs: no re-draw
    with Register(register) as reg:
        first, second = reg.history()
    assert first.applied is None and second.redraw_of == []
    assert second.applied == {"variant": None,
                              "settings": {"policy.tolerance": 0.02, "model.hours_per_fte": 1400}}
    assert second.policy["tolerance"] == 0.02 and first.inputs_sha256 != second.inputs_sha256
    summary = json.loads((tmp_path / "tuned" / "summary.json").read_text())
    assert summary["applied"] == second.applied
    # verify loads the file with the recorded settings: the same draw comes out
    done = run_in("verify", 2, "--inputs", DEMO)
    assert done.returncode == 0, done.stderr
    assert run_in("verify", "--chain").returncode == 0


def test_a_register_written_before_settings_were_recorded_still_verifies(tmp_path):
    register = tmp_path / "old.sqlite"
    assert run_in("run", DEMO, "--out", tmp_path / "a", "-q", "--register", register).returncode == 0
    with sqlite3.connect(register) as db:  # the register as an earlier version wrote it
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("ALTER TABLE draw_register DROP COLUMN applied")
    with Register(register) as reg:  # opening it adds the column; the old record's hash still holds
        assert reg.verify_chain().ok and reg.get(1).applied is None
    assert run_in("run", DEMO, "--out", tmp_path / "b", "-q", "--register", register, "--set",
               "policy.tolerance=0.03").returncode == 0
    with Register(register) as reg:
        assert reg.verify_chain().ok and reg.get(2).applied["settings"] == {"policy.tolerance": 0.03}


def test_a_seed_file_is_never_readable_by_others_not_even_while_written(tmp_path):
    """Another user polling the folder sees no file (temporary or final) with group or other
    permissions, at any moment of 30 commitments; an existing seed file is never overwritten."""
    import threading

    from typer.testing import CliRunner

    from balancer.cli import app

    folder = tmp_path / "sealed"
    folder.mkdir()
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            for entry in os.scandir(folder):
                try:
                    seen.add(entry.stat().st_mode & 0o077)
                except FileNotFoundError:  # a temporary file renamed away under us
                    pass

    watcher = threading.Thread(target=watch)
    old_umask = os.umask(0o022)  # the usual default: new files readable by everyone
    watcher.start()
    try:
        for i in range(30):
            done = CliRunner().invoke(app, ["commit", str(DEMO), "--seed-file", str(folder / f"s{i}.json")])
            assert done.exit_code == 0, done.output
    finally:
        stop.set()
        watcher.join()
        os.umask(old_umask)
    assert seen == {0}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in folder.iterdir())
    before = (folder / "s0.json").read_bytes()
    again = CliRunner().invoke(app, ["commit", str(DEMO), "--seed-file", str(folder / "s0.json")])
    assert again.exit_code == 2 and (folder / "s0.json").read_bytes() == before


def test_verify_and_history_never_create_a_register(tmp_path):
    missing = tmp_path / "register.sqlite"  # $BALANCER_REGISTER, never written in this test
    for args in (["verify", "--chain"], ["history"], ["verify", 1, "--inputs", DEMO]):
        done = run_in(*args)
        assert done.returncode == 2 and "no register at" in done.stderr, done.stderr
    assert not missing.exists()
    Register(missing).close()  # created, but empty: still not "intact"
    done = run_in("verify", "--chain")
    assert done.returncode == 1 and "no records" in done.stdout


def test_a_chosen_seed_needs_a_reason_and_is_flagged_wherever_the_draw_is_shown(tmp_path):
    """Seed shopping: preview seeds in a batch (recorded nowhere), then draw the one that suits.
    The official draw says the seed was chosen, refuses without a reason, and stays flagged."""
    register = tmp_path / "register.sqlite"
    preview = run_in("batch", DEMO, "--out", tmp_path / "preview", "-q", "--grid", "policy.seed=1,2,3")
    assert preview.returncode == 0 and not register.exists()  # previews are recorded nowhere
    shopped = run_in("run", DEMO, "--out", tmp_path / "official", "-q", "--seed", 2)
    assert shopped.returncode == 2 and "chosen by a person" in shopped.stderr
    assert not register.exists() and not (tmp_path / "official").exists()  # nothing drawn is kept

    done = run_in("run", DEMO, "--out", tmp_path / "official", "-q", "--seed", 2, "--reason", "court order 17")
    assert done.returncode == 0 and "chosen by a person" in done.stderr
    fresh = run_in("run", DEMO, "--out", tmp_path / "fresh", "-q", "--reason", "second look")
    assert fresh.returncode == 0 and "chosen" not in fresh.stderr
    with Register(register) as reg:
        chosen, os_seed = reg.history()
    assert (chosen.seed_source, os_seed.seed_source) == ("operator", "os") and chosen.seed == 2
    assert json.loads((tmp_path / "official" / "summary.json").read_text())["seed_source"] == "operator"
    assert "CHOSEN" in run_in("history").stdout
    verified = run_in("verify", 1, "--inputs", DEMO)
    assert verified.returncode == 0 and "chosen by a person" in verified.stderr
    assert "chosen" not in run_in("verify", 2, "--inputs", DEMO).stderr


def test_a_committed_seed_is_recorded_as_such(tmp_path):
    sealed = tmp_path / "sealed.json"
    assert run_in("commit", DEMO, "--seed-file", sealed).returncode == 0
    done = run_in("run", DEMO, "--out", tmp_path / "out", "-q", "--reveal", sealed)
    assert done.returncode == 0 and "chosen" not in done.stderr  # fixed before the draw: no reason needed
    with Register(tmp_path / "register.sqlite") as reg:
        assert reg.history()[-1].seed_source == "commitment"


def test_verify_replays_an_intake_day_from_the_days_before_it(tmp_path):
    import pandas as pd

    scenario = ROOT / "scenarios" / "rebalance.yaml"
    new = pd.DataFrame({"id": [f"W{i}" for i in range(12)], "type": ["theft"] * 8 + ["cybercrime"] * 4,
                        "date": [f"2025-04-0{1 + i % 3}" for i in range(12)]})
    new.to_csv(tmp_path / "new.csv", index=False)
    assert run_in("intake", scenario, tmp_path / "new.csv", "--out", tmp_path / "out", "-q").returncode == 0
    with Register(tmp_path / "register.sqlite") as reg:
        days = reg.history()
    assert [d.intake["day"] for d in days] == [1, 2, 3] and [d.intake["previous"] for d in days] == [None, 1, 2]
    new.sample(frac=1, random_state=3).to_csv(tmp_path / "shuffled.csv", index=False)  # the same cases
    done = run_in("verify", 3, "--inputs", scenario, "--new-cases", tmp_path / "shuffled.csv")
    assert done.returncode == 0 and "day 3 of an intake" in done.stdout, done.stderr
    # a case of day 1 changed afterwards: day 1 no longer replays, and every later day rests on it
    new.assign(type=["cybercrime"] + ["theft"] * 7 + ["cybercrime"] * 4).to_csv(tmp_path / "edited.csv", index=False)
    done = run_in("verify", 3, "--inputs", scenario, "--new-cases", tmp_path / "edited.csv")
    assert done.returncode == 1 and "day 1 (2025-04-01, record 1)" in done.stderr, done.stderr
    assert run_in("verify", 3, "--inputs", scenario).returncode == 2  # a day needs its new cases


def test_published_summaries_are_cross_checked_against_the_chain(tmp_path):
    published = tmp_path / "published"
    for name in ("a", "b"):
        assert run_in("run", DEMO, "--out", published / name, "-q", "--reason", "twice").returncode == 0
    done = run_in("verify", "--chain", "--summaries", published)
    assert done.returncode == 0 and "2 summaries" in done.stdout, done.stderr
    # a summary doctored after publication, and one that claims a record the chain never held
    summary = json.loads((published / "b" / "summary.json").read_text())
    (published / "b" / "summary.json").write_text(json.dumps({**summary, "seed": summary["seed"] + 1}))
    forged = dict(summary, register={**summary["register"], "id": 9})
    (published / "c").mkdir()
    (published / "c" / "summary.json").write_text(json.dumps(forged))
    done = run_in("verify", "--chain", "--summaries", published)
    assert done.returncode == 1
    assert "b/summary.json: its seed" in done.stderr and "record 9, which this register does not hold" in done.stderr
    assert run_in("verify", "--chain", "--summaries", tmp_path / "nowhere").returncode == 2


def test_the_register_holds_no_case_or_staff_identifier(tmp_path):
    import balancer

    sealed = tmp_path / "clerk.secret"
    assert run_in("commit", DEMO, "--party", "clerk", "--secret-file", sealed).returncode == 0
    assert run_in("run", DEMO, "--out", tmp_path / "out", "-q", "--reveal", sealed).returncode == 0
    sc = balancer.load_scenario(DEMO)
    ids = set(sc.cases["id"]) | set(sc.staff["id"])
    with sqlite3.connect(tmp_path / "register.sqlite") as db:
        text = " ".join(str(v) for row in db.execute("SELECT * FROM draw_register") for v in row)
    assert len(ids) > 10 and not [i for i in ids if i in text]
