"""Signed checkpoints: the register's size and head hash, signed by the office, kept outside.

The hash chain shows an edited record only to someone who did not recompute the hashes after it:
an insider who can drop the append-only triggers can rewrite a record, recompute every later hash,
and `verify_chain` passes. A checkpoint, modelled on transparency-log checkpoints (C2SP
tlog-checkpoint, RFC 9162 signed tree heads), pins the chain at one moment in a short text that
the office signs and hands to someone outside (a court registry, an auditor, a public page):

    balancer draw register checkpoint
    /srv/balancer/register.sqlite
    size 3
    head 5f0c…(64 hex)
    time 2025-06-30T17:02:11+00:00
    — 1a2b3c4d <base64 Ed25519 signature over the five lines above, each ending in a newline>

The second line is the register's origin (`Register.location`: a file, or a URL without its
password); `size` is the number of records, `head` the hash of record `size`; the key id is the
first 8 hex digits of the SHA-256 of the raw 32-byte public key. The register *extends* a
checkpoint when the signature holds, it has at least `size` records, record `size` has exactly
the hash `head`, and the chain up to it verifies: a rewrite changes the head's hash, a truncation
loses record `size`, and neither can be hidden without the signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from balancer.errors import InputError
from balancer.register.store import ChainReport, Register, RegisterError

HEADER = "balancer draw register checkpoint"
DASH = "\u2014"  # the em dash that starts a signature line, as in C2SP signed notes
PUBLIC_SUFFIX = ".pub"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    head: str
    time: str
    key_id: str
    signature: bytes
    body: str
    """The signed text: the five lines before the signature line, each ending in a newline."""

    @property
    def text(self) -> str:
        return f"{self.body}{DASH} {self.key_id} {base64.b64encode(self.signature).decode('ascii')}\n"


def make_key(path: str | Path) -> str:
    """Create an Ed25519 signing key at `path` (PEM, 0600 from its first byte) and its public key
    at `path.pub` (PEM); never overwrite either. Returns the key id."""
    path = Path(path)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(path, private_pem, 0o600)
    try:
        _write_new(Path(f"{path}{PUBLIC_SUFFIX}"), public_pem, 0o644)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return key_id(key.public_key())


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


def sign_checkpoint(register: Register, key_path: str | Path) -> str:
    """The signed checkpoint of the register as it is now. Refuses an empty register and one whose
    chain does not verify (a checkpoint must not vouch for a broken chain)."""
    key = _load_key(Path(key_path), private=True)
    head = register.head()
    if head is None:
        raise InputError(f"the register {register.location} holds no records: there is nothing to checkpoint",
                         expected="a register with at least one draw")
    report = register.verify_chain()
    if not report.ok:
        raise InputError(f"the register {register.location} does not verify, so it is not checkpointed: {report}")
    time = datetime.now(timezone.utc).isoformat(timespec="seconds")
    body = "".join(f"{line}\n" for line in (HEADER, register.location, f"size {head.id}", f"head {head.hash}",
                                              f"time {time}"))
    return Checkpoint(register.location, head.id, head.hash, time, key_id(key.public_key()),
                      key.sign(body.encode("utf-8")), body).text


def read_checkpoint(text: str, *, file: str | Path | None = None) -> Checkpoint:
    """Parse a checkpoint (surrounding blank space and CRLF line ends, as mail may add, are
    ignored). InputError, naming `file`, when it is not one."""
    lines = text.replace("\r\n", "\n").strip().split("\n")

    def bad(problem: str) -> InputError:
        return InputError(f"not a balancer checkpoint: {problem}", file=file,
                          expected=f"six lines: '{HEADER}', the origin, 'size N', 'head HASH', 'time T', "
                                   f"'{DASH} KEYID SIGNATURE'")

    if len(lines) != 6 or lines[0] != HEADER:
        raise bad(f"{len(lines)} lines" if lines[0] == HEADER else f"the first line is {lines[0]!r}")
    origin, size, head, time, signed = lines[1:]
    fields = {}
    for line, name in ((size, "size"), (head, "head"), (time, "time")):
        label, _, value = line.partition(" ")
        if label != name or not value:
            raise bad(f"expected a '{name} …' line, found {line!r}")
        fields[name] = value
    if not fields["size"].isdigit() or int(fields["size"]) < 1:
        raise bad(f"size {fields['size']!r} is not a positive whole number")
    if len(fields["head"]) != 64 or any(c not in "0123456789abcdef" for c in fields["head"]):
        raise bad(f"head {fields['head']!r} is not a SHA-256 in lower-case hex")
    parts = signed.split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise bad(f"the last line is not a signature line: {signed!r}")
    try:
        signature = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        raise bad("the signature is not base64") from None
    body = "".join(f"{line}\n" for line in lines[:5])
    return Checkpoint(origin, int(fields["size"]), fields["head"], fields["time"], parts[1], signature, body)


def verify_checkpoint(register: Register, checkpoint: Checkpoint, public_key: str | Path | Ed25519PublicKey, *,
                      chain: ChainReport | None = None) -> list[str]:
    """What keeps the register from extending `checkpoint` (empty: it does). `public_key`: its
    file, or the key read already (`read_public_key`). `chain`: the register's `verify_chain()`
    report when the caller has it already."""
    public = public_key if isinstance(public_key, Ed25519PublicKey) else _load_key(Path(public_key), private=False)
    if checkpoint.key_id != key_id(public):
        return [f"the checkpoint is signed by key {checkpoint.key_id}, not by this public key "
                f"({key_id(public)}): it is refused"]
    try:
        public.verify(checkpoint.signature, checkpoint.body.encode("utf-8"))
    except InvalidSignature:
        return ["the checkpoint's signature does not verify: its text was changed after it was signed"]
    n, head = checkpoint.size, register.head()
    held = 0 if head is None else head.id
    if held < n:
        return [f"the register holds {held} record{'s' * (held != 1)}, the checkpoint {n}: "
                f"records were deleted since it was signed"]
    try:
        record = register.get(n)
    except RegisterError as e:
        return [f"{e}: records were deleted since the checkpoint was signed"]
    problems = []
    if record.hash != checkpoint.head:
        problems.append(f"record {n}'s hash is {record.hash[:16]}…, the checkpoint says {checkpoint.head[:16]}…: "
                        f"the register was rewritten at or before record {n} since the checkpoint")
    chain = register.verify_chain() if chain is None else chain
    if not chain.ok and chain.first_broken is not None and chain.first_broken <= n:
        problems.append(f"the chain up to record {n} does not verify: {chain}")
    return problems


def extends(checkpoint: Checkpoint) -> str:
    """What holds when the register extends `checkpoint` (`verify --chain`, the verify page)."""
    n = checkpoint.size
    return f"the register extends its {n} record{'s' * (n != 1)} signed at {checkpoint.time}"


def read_public_key(data: bytes, *, file: str | Path) -> Ed25519PublicKey:
    """A public key from the bytes of its file (`file`, named in the InputError when it is not one)."""
    return _parse_key(data, Path(file), private=False)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from its first byte; never over a file that is there."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise InputError(f"{path} exists already: a key file is never overwritten") from None
    except OSError as e:
        raise InputError(f"cannot create the key file: {e.strerror or e}", file=path) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _kind(private: bool) -> str:
    return "private signing key (balancer keygen)" if private else "public key (the .pub beside the signing key)"


def _load_key(path: Path, *, private: bool) -> Ed25519PrivateKey | Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the key: {e.strerror or e}", file=path,
                         expected=f"an Ed25519 {_kind(private)}") from None
    return _parse_key(data, path, private=private)


def _parse_key(data: bytes, path: Path, *, private: bool) -> Ed25519PrivateKey | Ed25519PublicKey:
    try:
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey if private else Ed25519PublicKey):
        raise InputError("not a key balancer can use", file=path, expected=f"an Ed25519 {_kind(private)} in PEM")
    return key
