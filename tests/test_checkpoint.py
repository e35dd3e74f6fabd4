"""Signed checkpoints: a register that still extends what was signed verifies; one rewritten behind
its back with every later hash recomputed (which `verify_chain` alone accepts), or truncated, does
not; an edited or foreign checkpoint is refused; key files are private and written once. SQLite,
and PostgreSQL when BALANCER_TEST_POSTGRES names a server."""

from __future__ import annotations

import dataclasses
import os

import pytest

from balancer.errors import InputError
from balancer.register import Register
from balancer.register.checkpoint import make_key, read_checkpoint, sign_checkpoint, verify_checkpoint
from tests.test_register import draw, fill, raw
from tests.test_register_cli import DEMO, run_in


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "keys" / "office.pem"
    path.parent.mkdir()
    make_key(path)
    return path


def public(key_path) -> str:
    return f"{key_path}.pub"


def extend(reg: Register, n: int) -> None:
    """n more draws, of inputs `fill` never uses."""
    for i in range(n):
        draw(reg, inputs=f"later-{i}")


def rewrite(url: str, reg: Register, record_id: int, operator: str) -> None:
    """What an insider with write access can do: edit a record and recompute its hash and every
    later record's link and hash exactly as the store does, so the chain alone still verifies."""
    statements, prev = [], None
    for rec in reg.history():
        if rec.id == record_id:
            rec = dataclasses.replace(rec, operator=operator)
        if rec.id >= record_id:
            rec = dataclasses.replace(rec, prev_hash=prev or rec.prev_hash)
            rec = dataclasses.replace(rec, hash=rec.compute_hash())
            statements.append(f"UPDATE draw_register SET operator = '{rec.operator}', prev_hash = '{rec.prev_hash}', "
                              f"hash = '{rec.hash}' WHERE id = {rec.id}")
        prev = rec.hash
    raw(url, *statements)


def test_a_checkpoint_holds_now_and_after_later_draws(reg, key):
    fill(reg, 3)
    text = sign_checkpoint(reg, key)
    cp = read_checkpoint(text)
    assert (cp.size, cp.head, cp.origin) == (3, reg.get(3).hash, reg.location)
    assert text.splitlines()[0] == "balancer draw register checkpoint" and text.splitlines()[-1].startswith("— ")
    assert verify_checkpoint(reg, cp, public(key)) == []
    extend(reg, 2)
    assert verify_checkpoint(reg, cp, public(key)) == []  # the register extends it


def test_a_full_rewrite_that_the_chain_alone_accepts_is_caught(url, reg, key):
    fill(reg, 3)
    cp = read_checkpoint(sign_checkpoint(reg, key))
    extend(reg, 2)
    rewrite(url, reg, 2, "mallory")
    assert reg.get(2).operator == "mallory"
    assert reg.verify_chain().ok  # the hash chain alone is fooled
    problems = verify_checkpoint(reg, cp, public(key))
    assert len(problems) == 1 and "record 3's hash" in problems[0] and "rewritten" in problems[0]


def test_a_truncated_register_is_caught(url, reg, key):
    fill(reg, 3)
    cp = read_checkpoint(sign_checkpoint(reg, key))
    raw(url, "DELETE FROM draw_register WHERE id = 3")
    assert reg.verify_chain().ok  # losing the newest records leaves a valid, shorter chain
    assert "records were deleted" in verify_checkpoint(reg, cp, public(key))[0]
    draw(reg, inputs="replacement")  # a new record 3 in place of the deleted one
    assert "record 3's hash" in verify_checkpoint(reg, cp, public(key))[0]


def test_a_record_deleted_from_the_middle_is_caught(url, reg, key):
    fill(reg, 2)
    at_two = read_checkpoint(sign_checkpoint(reg, key))
    extend(reg, 1)
    at_three = read_checkpoint(sign_checkpoint(reg, key))
    raw(url, "DELETE FROM draw_register WHERE id = 2")
    assert "has no record 2" in verify_checkpoint(reg, at_two, public(key))[0]
    problems = verify_checkpoint(reg, at_three, public(key))  # record 3 itself is untouched
    assert len(problems) == 1 and "chain up to record 3" in problems[0] and "not contiguous" in problems[0]


def test_an_edited_checkpoint_fails_its_signature(reg, key):
    fill(reg, 3)
    text = sign_checkpoint(reg, key)
    edited = text.replace("size 3", "size 2").replace(f"head {reg.get(3).hash}", f"head {reg.get(2).hash}")
    problems = verify_checkpoint(reg, read_checkpoint(edited), public(key))
    assert problems and "signature does not verify" in problems[0]


def test_a_checkpoint_signed_by_another_key_is_refused(reg, key, tmp_path):
    fill(reg, 1)
    other = tmp_path / "other.pem"
    make_key(other)
    problems = verify_checkpoint(reg, read_checkpoint(sign_checkpoint(reg, other)), public(key))
    assert problems and "not by this public key" in problems[0]


def test_an_empty_or_broken_register_is_not_checkpointed(url, reg, key):
    with pytest.raises(InputError, match="no records"):
        sign_checkpoint(reg, key)
    extend(reg, 2)
    raw(url, "UPDATE draw_register SET operator = 'x' WHERE id = 1")
    with pytest.raises(InputError, match="does not verify"):
        sign_checkpoint(reg, key)


def test_text_that_is_not_a_checkpoint_is_invalid_input():
    with pytest.raises(InputError, match="not a balancer checkpoint"):
        read_checkpoint("hello\nworld\n", file="cp.txt")


def test_key_files_are_private_from_the_first_byte_and_never_overwritten(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "k.pem"
        make_key(path)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "PRIVATE KEY" in path.read_text() and "PUBLIC KEY" in (tmp_path / "k.pem.pub").read_text()
    before = path.read_bytes(), (tmp_path / "k.pem.pub").read_bytes()
    with pytest.raises(InputError, match="never overwritten"):
        make_key(path)
    (tmp_path / "k.pem.pub").unlink()
    (tmp_path / "lone.pem.pub").write_text("someone's public key")
    with pytest.raises(InputError, match="never overwritten"):
        make_key(tmp_path / "lone.pem")
    assert path.read_bytes() == before[0] and not (tmp_path / "lone.pem").exists()
    assert (tmp_path / "lone.pem.pub").read_text() == "someone's public key"


def test_keygen_draw_checkpoint_verify_through_the_cli(tmp_path):
    register = tmp_path / "register.sqlite"  # $BALANCER_REGISTER (see conftest)
    key, cp = tmp_path / "office.pem", tmp_path / "day1.checkpoint"
    assert run_in("keygen", "--key", key).returncode == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert run_in("keygen", "--key", key).returncode == 2
    assert run_in("checkpoint", "--key", key).returncode == 2  # no register yet: nothing created
    assert not register.exists()
    assert run_in("run", DEMO, "--out", tmp_path / "out", "-q").returncode == 0
    done = run_in("checkpoint", "--key", key, "--out", cp)
    assert done.returncode == 0, done.stderr
    assert done.stdout == cp.read_text() and "size 1\n" in done.stdout
    assert run_in("checkpoint", "--key", key, "--out", cp).returncode == 2  # an earlier checkpoint is kept

    assert run_in("run", DEMO, "--out", tmp_path / "again", "-q", "--reason", "appeal").returncode == 0
    check = ("verify", "--chain", "--checkpoint", cp, "--public-key", f"{key}.pub")
    done = run_in(*check)
    assert done.returncode == 0 and "holds" in done.stdout, done.stderr

    with Register(register) as reg:
        rewrite(str(register), reg, 1, "mallory")
    assert run_in("verify", "--chain").returncode == 0  # the chain alone is fooled
    done = run_in(*check)
    assert done.returncode == 1 and "record 1's hash" in done.stderr and str(cp) in done.stderr
    assert run_in("verify", "--chain", "--checkpoint", cp).returncode == 2  # which key, then?
    (tmp_path / "junk").write_text("not a checkpoint")
    assert run_in("verify", "--chain", "--checkpoint", tmp_path / "junk", "--public-key", f"{key}.pub").returncode == 2
