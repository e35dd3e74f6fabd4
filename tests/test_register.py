"""The draw register: hash chain, tamper detection, re-draws, concurrency and crash safety, on SQLite
and on PostgreSQL (when BALANCER_TEST_POSTGRES names a server; `.ci/postgres.sh` starts one)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import balancer
from balancer.errors import BalancerError
from balancer.register import (
    GENESIS, MissingRegister, OpenCommitments, RedrawWithoutReason, Record, Register, RegisterError, current_operator,
    result_digest, seed_commitment,
)
from balancer.register import ceremony
from balancer.register.store import table as register_table
from tests.conftest import ROOT, pg_engine

PG_URL = os.environ.get("BALANCER_TEST_POSTGRES")
needs_pg = pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server (run .ci/postgres.sh)")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def draw(reg: Register, scenario="office", inputs="inputs-1", **over) -> Record:
    fields = dict(
        scenario=scenario, inputs={"office.yaml": sha(inputs + "/yaml"), "cases.csv": sha(inputs + "/csv")},
        inputs_sha256=sha(inputs), policy={"tolerance": 0.05, "max_probability": 0.5, "seed": None},
        seed=12345, versions={"balancer": "0.1.0", "numpy": "2.0"}, result_sha256=sha("result"),
        metrics={"max_utilisation": 0.97, "n_cases": 10}, operator="alice",
    )
    return reg.append_draw(**{**fields, **over})


def fill(reg: Register, n: int) -> list[Record]:
    return [draw(reg, inputs=f"inputs-{i}") for i in range(n)]


def raw(url: str, *statements: str) -> None:
    """Run SQL on the register's database behind its back, dropping the append-only guard first."""
    if is_pg(url):
        engine = pg_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE draw_register DISABLE TRIGGER USER")
            for s in statements:
                conn.exec_driver_sql(s)
        engine.dispose()
    else:
        con = sqlite3.connect(url)
        with con:
            con.execute("DROP TRIGGER IF EXISTS draw_register_no_update")
            con.execute("DROP TRIGGER IF EXISTS draw_register_no_delete")
            con.execute("DROP TRIGGER IF EXISTS draw_register_extends_head")
            for s in statements:
                con.execute(s)
        con.close()


def guarded(url: str, *statements: str) -> None:
    """Run SQL on the register's database behind its back, with its triggers in place."""
    engine = pg_engine(url) if is_pg(url) else sa.create_engine(f"sqlite:///{url}")
    try:
        with engine.begin() as conn:
            for s in statements:
                conn.exec_driver_sql(s)
    finally:
        engine.dispose()


def triggers(url: str) -> set[str]:
    engine = pg_engine(url) if is_pg(url) else sa.create_engine(f"sqlite:///{url}")
    query = ("SELECT tgname FROM pg_trigger WHERE tgrelid = 'draw_register'::regclass AND NOT tgisinternal"
             if is_pg(url) else "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    try:
        with engine.connect() as conn:
            return set(conn.exec_driver_sql(query).scalars())
    finally:
        engine.dispose()


# -- records and the chain ---------------------------------------------------------------------


def test_record_round_trip(url):
    with Register(url) as reg:
        written = draw(
            reg, seed=2**64 - 1, operator="Zoë", scenario="région",
            policy={"tolerance": np.float64(0.05), "nested": {"b": [1, 2], "a": (3, "x")}, "seed": None},
            metrics={"third": 0.1 + 0.2, "count": np.int64(7), "nan": float("nan"), "flag": np.bool_(True)},
        )
    with Register(url) as reg:  # reopened: what was written is what is read
        read = reg.get(written.id)
        assert read == written
        assert reg.history() == [written]
    assert read.seed == 2**64 - 1 and read.metrics["third"] == 0.1 + 0.2
    assert read.policy["nested"] == {"a": [3, "x"], "b": [1, 2]}
    assert read.metrics["nan"] == "nan" and read.metrics["count"] == 7 and read.metrics["flag"] is True
    assert read.kind == "draw" and read.redraw_of == [] and read.reason is None
    assert read.created_at.endswith("+00:00")
    json.dumps(read.to_dict(), allow_nan=False)


def test_hash_chain_links_every_record(reg):
    records = fill(reg, 4) + [reg.append_commitment(
        scenario="office", inputs={}, inputs_sha256=sha("next"), policy={}, versions={},
        seed_commitment=seed_commitment(7, b"s" * 16), operator="bob")]
    assert [r.id for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS
    for before, after in zip(records, records[1:]):
        assert after.prev_hash == before.hash
    for r in records:  # the hash is SHA-256 of the canonical JSON of every other field
        fields = {k: v for k, v in r.to_dict().items() if k != "hash"}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert r.hash == hashlib.sha256(canonical.encode()).hexdigest()
    report = reg.verify_chain()
    assert report.ok and report.checked == 5 and report.first_broken is None
    assert reg.head() == records[-1]


def test_an_empty_register_is_not_reported_intact(reg):
    report = reg.verify_chain()
    assert not report.ok and report.checked == 0 and reg.head() is None
    assert str(report).startswith("not verified: the register holds no records")


def test_reading_a_register_that_is_not_there_is_an_error_and_creates_nothing(tmp_path, url):
    missing = tmp_path / "typo" / "register.sqlite"
    with pytest.raises(MissingRegister, match="no register at"):
        Register(missing, create=False)
    assert not missing.exists() and not missing.parent.exists()
    if not is_pg(url):
        sqlite3.connect(url).close()  # an empty database file
    with pytest.raises(MissingRegister, match="holds no draw register"):  # a database without the table
        Register(url, create=False)


SWAP = ["UPDATE draw_register SET id = -1 WHERE id = 2", "UPDATE draw_register SET id = 2 WHERE id = 3",
        "UPDATE draw_register SET id = 3 WHERE id = -1"]
TAMPERING = {  # what is done → first broken record, and a word of the problem
    "edit": (["UPDATE draw_register SET operator = 'mallory' WHERE id = 3"], 3, "edited"),
    "edit-seed": (["UPDATE draw_register SET seed = '999' WHERE id = 4"], 4, "edited"),
    "delete": (["DELETE FROM draw_register WHERE id = 3"], 4, "contiguous"),
    "delete-first": (["DELETE FROM draw_register WHERE id = 1"], 2, "record 1 is missing"),
    "swap": (SWAP, 2, "prev_hash"),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_is_detected_and_located(url, kind):
    statements, first_broken, word = TAMPERING[kind]
    with Register(url) as reg:
        fill(reg, 5)
        assert reg.verify_chain().ok
    raw(url, *statements)
    with Register(url) as reg:
        report = reg.verify_chain()
    assert not report.ok
    assert report.first_broken == first_broken, report
    assert word in report.problem and str(first_broken) in str(report)


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(url):
    with Register(url) as reg:
        fill(reg, 4)
        forged = Record(**{**reg.get(2).to_dict(), "operator": "mallory"})
    raw(url, f"UPDATE draw_register SET operator = 'mallory', hash = '{forged.compute_hash()}' WHERE id = 2")
    with Register(url) as reg:
        report = reg.verify_chain()
    assert (report.ok, report.first_broken) == (False, 3) and "prev_hash" in report.problem


def test_the_table_refuses_updates_and_deletes(url):
    with Register(url) as reg:
        fill(reg, 2)
    statements = ["UPDATE draw_register SET operator = 'mallory' WHERE id = 1", "DELETE FROM draw_register"]
    for s in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            guarded(url, s)
    with Register(url) as reg:
        assert len(reg.history()) == 2 and reg.verify_chain().ok


def copy_of(record_id: int, **changed: str) -> str:
    """A SELECT of record `record_id` with some columns replaced by SQL expressions: a row to insert."""
    columns = ", ".join(changed.get(c.name, c.name) for c in register_table.columns)
    return f"SELECT {columns} FROM draw_register WHERE id = {record_id}"


MALLORY = {"operator": "'mallory'"}
INSERTS = {  # a row that does not extend the head (4) → the backend it is tried on, the refusal
    "insert-or-replace": (f"INSERT OR REPLACE INTO draw_register {copy_of(2, **MALLORY)}", "sqlite", "extend the head"),
    "replace-into": (f"REPLACE INTO draw_register {copy_of(2, **MALLORY)}", "sqlite", "extend the head"),
    "on-conflict-do-update": (f"INSERT INTO draw_register {copy_of(2, **MALLORY)} "
                              f"ON CONFLICT (id) DO UPDATE SET operator = EXCLUDED.operator", "postgresql", "append-only"),
    "skipped-id": (f"INSERT INTO draw_register {copy_of(4, id='6', prev_hash='hash')}", None, "extend the head"),
    "wrong-prev-hash": (f"INSERT INTO draw_register {copy_of(4, id='5')}", None, "extend the head"),
}


@pytest.mark.parametrize("kind", INSERTS)
def test_the_table_refuses_inserts_that_do_not_extend_the_head(url, kind):
    statement, backend, refusal = INSERTS[kind]
    if backend not in (None, "postgresql" if is_pg(url) else "sqlite"):
        pytest.skip(f"{kind} is {backend} SQL")
    with Register(url) as reg:
        before = fill(reg, 4)
    with pytest.raises(sa.exc.DBAPIError, match=refusal):
        guarded(url, statement)
    with Register(url) as reg:
        assert reg.history() == before and reg.verify_chain().ok
        assert draw(reg, inputs="after").id == 5  # the register's own appends still extend the head


def test_a_register_without_the_insert_guard_gains_it_when_opened_for_writing(url):
    with Register(url) as reg:
        before = fill(reg, 2)
        everything = triggers(url)
    assert "draw_register_extends_head" in everything
    drop = ["DROP TRIGGER draw_register_extends_head ON draw_register", "DROP FUNCTION draw_register_extends_head()"] \
        if is_pg(url) else ["DROP TRIGGER draw_register_extends_head"]
    guarded(url, *drop)  # as an earlier version made it
    with Register(url, create=False) as reg:  # reading changes nothing
        assert reg.verify_chain().ok
    assert triggers(url) == everything - {"draw_register_extends_head"}
    with Register(url) as reg:
        assert reg.verify_chain().ok and reg.history() == before
    assert triggers(url) == everything
    with pytest.raises(sa.exc.DBAPIError, match="extend the head"):
        guarded(url, f"INSERT INTO draw_register {copy_of(2, id='4', prev_hash='hash')}")  # skips id 3
    with Register(url) as reg:  # opened again: nothing more to add, appends go on
        assert draw(reg, inputs="after").id == 3 and reg.verify_chain().ok
    assert triggers(url) == everything


# -- re-draws, history, commitments ---------------------------------------------------------------


def test_a_redraw_needs_a_reason_and_points_to_the_earlier_draws(reg):
    first = draw(reg, operator="alice")
    with pytest.raises(RedrawWithoutReason) as refused:
        draw(reg, operator="bob")
    message = str(refused.value)
    assert isinstance(refused.value, BalancerError)
    assert "record 1" in message and first.created_at in message and "alice" in message
    assert refused.value.earlier == [(1, first.created_at, "alice")]
    assert len(reg.history()) == 1  # nothing appended
    with pytest.raises(RedrawWithoutReason):
        draw(reg, reason="   ")
    second = draw(reg, operator="bob", reason="the first plan was lost before publication")
    assert second.redraw_of == [1] and second.reason.startswith("the first plan")
    third = draw(reg, require_reason=False)
    assert third.redraw_of == [1, 2] and third.reason is None
    assert draw(reg, inputs="other").redraw_of == []
    assert reg.redraw_counts() == {sha("inputs-1"): 3, sha("other"): 1}
    assert reg.verify_chain().ok


def test_history_filters_by_scenario_oldest_first(reg):
    a1 = draw(reg, scenario="a", inputs="a1")
    b1 = draw(reg, scenario="b", inputs="b1")
    a2 = draw(reg, scenario="a", inputs="a1", reason="appeal")
    assert reg.history("a") == [a1, a2]
    assert reg.history("b") == [b1]
    assert reg.history("nobody") == []
    assert reg.history() == [a1, b1, a2]
    assert reg.redraw_counts() == {sha("a1"): 2, sha("b1"): 1}


def commit(reg, party, secret=None, inputs="inputs-1", public=None) -> tuple[Record, bytes]:
    salt = os.urandom(16)
    return reg.append_commitment(
        scenario="office", inputs={"office.yaml": sha("y")}, inputs_sha256=sha(inputs), policy={},
        seed_commitment=None if secret is None else seed_commitment(secret, salt), versions={},
        operator="clerk", party=party, public=public), salt


def test_a_draw_uses_every_open_commitment_and_derives_its_seed_from_them(reg):
    (clerk, s1), (witness, s2) = commit(reg, "clerk", 11, public="lottery of 5 December"), commit(reg, "witness", 22)
    commit(reg, "elsewhere", 33, inputs="other inputs")
    assert (clerk.kind, clerk.seed, clerk.ceremony) == ("commitment", None, {"party": "clerk", "public": "lottery of 5 December"})
    assert [c.id for c in reg.open_commitments(sha("inputs-1"))] == [clerk.id, witness.id]
    secrets = [ceremony.revealed(clerk.id, "clerk", 11, s1), ceremony.revealed(witness.id, "witness", 22, s2)]
    good = {"commitments": [clerk.id, witness.id], "secrets": secrets,
            "public": {"source": "lottery of 5 December", "value": "3 17 22"}}
    seed = ceremony.ceremony_seed(sha("inputs-1"), good)
    text = f"balancer seed v1\ninputs {sha('inputs-1')}\nsecret 1 11\nsecret 2 22\npublic 3 17 22\n"
    assert seed == int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")  # by hand, as documented
    refused = [  # each leaves nothing recorded
        ({**good, "commitments": [clerk.id]}, "open too"),                          # one party left out
        ({**good, "secrets": secrets[:1]}, "not revealed"),                           # a secret withheld
        ({**good, "secrets": [secrets[0], {**secrets[1], "secret": 23}]}, "does not open"),
        ({**good, "public": None}, "does not enter it"),
        ({**good, "commitments": [clerk.id, witness.id, 3]}, "not open"),             # other inputs' commitment
    ]
    for bad, word in refused:
        with pytest.raises(ceremony.CeremonyError, match=word):
            draw(reg, seed=seed, ceremony=bad)
    with pytest.raises(ceremony.CeremonyError, match="is not the one"):
        draw(reg, seed=seed + 1, ceremony=good)                                     # a seed of one's choosing
    assert len(reg.history()) == 3
    done = draw(reg, seed=seed, ceremony=good)
    assert done.ceremony == good and reg.open_commitments(sha("inputs-1")) == []
    assert reg.commitment_states() == {clerk.id: ("used", done.id), witness.id: ("used", done.id)}
    with pytest.raises(ceremony.CeremonyError, match="not open"):                 # a commitment serves one draw
        draw(reg, seed=seed, ceremony=good, reason="again")
    assert reg.verify_chain().ok


def test_a_draw_without_the_open_commitments_abandons_them_only_with_a_reason(reg):
    (c, _), _ = commit(reg, "clerk", 5), commit(reg, "notary", public="the bond prices of Monday")
    with pytest.raises(OpenCommitments, match="clerk"):
        draw(reg, seed=99)
    done = draw(reg, seed=99, reason="the witness lost her secret")
    assert done.ceremony == {"abandoned": [c.id, c.id + 1]}
    assert reg.commitment_states()[c.id] == ("abandoned", done.id)
    assert draw(reg, seed=100, inputs="inputs-2").ceremony is None  # other inputs: nothing to abandon


def test_seed_commitment_binds_seed_and_salt():
    salt = b"\x01" * 16
    assert seed_commitment(5, salt) == hashlib.sha256(salt + (5).to_bytes(8, "big")).hexdigest()
    assert seed_commitment(5, salt) != seed_commitment(6, salt) != seed_commitment(6, b"\x02" * 16)
    for seed, s in ((-1, salt), (2**64, salt), (5, b"short")):
        with pytest.raises(ceremony.CeremonyError):
            seed_commitment(seed, s)


def test_bad_values_are_refused_before_anything_is_written(reg):
    for over in ({"inputs_sha256": "abc"}, {"result_sha256": "X" * 64}, {"seed": 1.5}, {"operator": ""}):
        with pytest.raises(RegisterError):
            draw(reg, **over)
    assert reg.history() == []


def test_result_digest_is_canonical():
    table = pd.DataFrame({"case_id": ["C1", "C2", "C3"], "staff_id": ["P1", "P2", "P1"],
                          "weight_hours": [1.0, 2.0, 3.0], "probability": [0.5, 1 / 3, 0.25]})
    digest = result_digest(table)
    assert result_digest(table.iloc[[2, 0, 1]].reset_index(drop=True)) == digest
    assert result_digest(table.assign(weight_hours=9.0)) == digest  # not part of the result
    assert result_digest(table.assign(staff_id=["P2", "P1", "P1"])) != digest
    nudged = table.assign(probability=[0.5, np.nextafter(1 / 3, 1), 0.25])
    assert result_digest(nudged) != digest
    rows = sorted([["C1", "P1", "0.5"], ["C2", "P2", repr(1 / 3)], ["C3", "P1", "0.25"]])
    assert digest == hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def test_result_digest_identifies_a_draw():
    scenario = balancer.load_scenario(ROOT / "scenarios" / "demo-office.yaml")
    digest = lambda seed: result_digest(balancer.solve(scenario, seed=seed).plan.assignments)  # noqa: E731
    assert digest(7) == digest(7)
    assert len({digest(7), digest(8), digest(9)}) > 1


def test_current_operator(monkeypatch):
    assert current_operator()

    def no_user():
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", no_user)
    assert current_operator() == "unknown"


# -- opening, errors ---------------------------------------------------------------------------


def test_a_path_creates_a_sqlite_file_and_its_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "register.sqlite"
    with Register(path) as reg:
        draw(reg)
    assert path.is_file()
    with Register(f"sqlite:///{path}") as reg:
        assert len(reg.history()) == 1


def test_errors_are_register_errors(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegisterError, match="junk.db"):
        Register(junk)
    with pytest.raises(RegisterError, match="unsupported"):
        Register("mysql://someone@localhost/db")
    with pytest.raises(RegisterError, match="cannot open"):
        Register("postgresql://nobody@127.0.0.1:1/nothing")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE draw_register (id INTEGER PRIMARY KEY, note TEXT)")
    with pytest.raises(RegisterError, match="not a draw register"):
        Register(other)
    with Register(tmp_path / "r.db") as reg:
        with pytest.raises(RegisterError, match="no record 5"):
            reg.get(5)


@pytest.fixture
def write_lock(url):
    """Hold the register's write lock from outside, as another appending process would."""
    class Holder:
        def __enter__(self):
            if is_pg(url):
                self.engine = pg_engine(url)
                self.conn = self.engine.connect()
                self.conn.exec_driver_sql("LOCK TABLE draw_register IN EXCLUSIVE MODE")
            else:
                self.conn = sqlite3.connect(url, isolation_level=None)
                self.conn.execute("BEGIN IMMEDIATE")
            return self

        def __exit__(self, *exc):
            self.conn.rollback()
            self.conn.close()
            if is_pg(url):
                self.engine.dispose()

    return Holder()


def test_a_busy_register_times_out_with_a_clear_error(url, write_lock):
    with Register(url, lock_timeout=0.3) as reg:
        draw(reg)
        with write_lock:
            t0 = time.monotonic()
            with pytest.raises(RegisterError, match="busy"):
                draw(reg, inputs="2")
            assert time.monotonic() - t0 < 5
        assert len(reg.history()) == 1 and draw(reg, inputs="3").id == 2


# -- concurrency and crash safety (real processes) ------------------------------------------------

APPENDER = """
import os, sys, time
from balancer.register import Register
url, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
reg = Register(url)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
for i in range(n):
    reg.append_draw(scenario=f"worker-{worker}", inputs={}, inputs_sha256="ab" * 32, policy={},
                    seed=i, versions={}, result_sha256="cd" * 32, metrics={"i": i},
                    operator=f"w{worker}", reason=f"worker {worker} append {i}")
print("done", flush=True)
"""


def start(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_appends_keep_one_chain(url, tmp_path):
    with Register(url):
        pass  # created before the workers start
    go = tmp_path / "go"
    workers = [start(APPENDER, url, w, 10, go) for w in range(4)]
    try:
        for p in workers:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        go.touch()
        for p in workers:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0 and out.strip() == "done", err
    finally:
        for p in workers:
            p.kill()
    with Register(url) as reg:
        records = reg.history()
        report = reg.verify_chain()
    assert [r.id for r in records] == list(range(1, 41))
    assert report.ok and report.checked == 40
    for r in records:  # every append saw every earlier one: head and re-draws read under the lock
        assert r.redraw_of == list(range(1, r.id))
    for w in range(4):
        mine = [r.metrics["i"] for r in records if r.scenario == f"worker-{w}"]
        assert mine == list(range(10))


KILLED = """
import sys, time
import sqlalchemy as sa
from balancer.register import Register
url, phase = sys.argv[1], sys.argv[2]
reg = Register(url)
if phase == "holding":  # stop between INSERT and COMMIT, holding the lock
    @sa.event.listens_for(reg._engine, "commit")
    def hang(conn):
        print("inserted", flush=True)
        time.sleep(120)
print("appending", flush=True)
reg.append_draw(scenario="killed", inputs={}, inputs_sha256="ef" * 32, policy={}, seed=1,
                versions={}, result_sha256="cd" * 32, metrics={}, operator="killed")
print("appended", flush=True)
"""


def pg_backend_waiting(url: str, timeout: float = 10) -> bool:
    engine = pg_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'LOCK TABLE%%draw_register%%'").scalar()
            if n:
                return True
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


@pytest.mark.parametrize("phase", ["waiting", "holding"])
def test_a_killed_appender_leaves_no_half_record(url, phase, write_lock):
    with Register(url) as reg:
        fill(reg, 3)
    child = None
    try:
        if phase == "waiting":  # killed while it waits for the write lock we hold
            with write_lock:
                child = start(KILLED, url, phase)
                assert child.stdout.readline().strip() == "appending", child.stderr.read()
                if is_pg(url):
                    assert pg_backend_waiting(url), "the child never waited for the lock"
                else:
                    time.sleep(0.5)  # inside BEGIN IMMEDIATE's busy wait
                assert child.poll() is None, child.stderr.read()
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=10)
        else:  # killed after its INSERT, before its COMMIT, while holding the lock
            child = start(KILLED, url, phase)
            assert child.stdout.readline().strip() == "appending", child.stderr.read()
            assert child.stdout.readline().strip() == "inserted", child.stderr.read()
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child is not None and child.poll() is None:
            child.kill()
    with Register(url, lock_timeout=10) as reg:
        assert [r.id for r in reg.history()] == [1, 2, 3]
        assert reg.verify_chain().ok
        assert draw(reg, inputs="after").id == 4  # the lock was released; ids stay contiguous
        assert reg.verify_chain().ok and reg.verify_chain().checked == 4


def test_a_register_from_before_the_applied_column_is_upgraded_and_still_verifies(url):
    with Register(url) as reg:
        old = fill(reg, 2)
    raw(url, "ALTER TABLE draw_register DROP COLUMN applied")  # as an earlier version made it
    with Register(url) as reg:  # opening it adds the column back, empty
        assert reg.verify_chain().ok and reg.history() == old
        new = draw(reg, inputs="varied", applied={"variant": "heavy", "settings": {"policy.tolerance": 0.02}})
        assert "applied" not in old[0].to_dict() and new.to_dict()["applied"]["variant"] == "heavy"
    with Register(url) as reg:
        assert reg.verify_chain().ok and reg.get(3) == new
