"""Seeds nobody can choose: secrets committed by several parties, and a public value named in advance.

Before the draw, each party — the registry clerk, witnesses — commits to a secret of their own
(`seed_commitment(secret, salt)` goes in the register, the secret stays sealed with its owner), and
a commitment may name a public value that will only be published later, such as the numbers of a
named future lottery draw (RFC 3797). At the draw every secret is revealed, the public value is
entered, and the seed is the first 8 bytes (big-endian) of the SHA-256 of the text `seed_text`:

    balancer seed v1
    inputs <the canonical digest of the inputs>
    secret <commitment id> <secret>            one line per committed secret, in id order
    public <the public value>                  only when one was named

So nobody can choose the seed without knowing every other party's secret (and the public value)
before committing, and nobody can see it before the last secret is revealed or the value
published; the inputs' digest in it means a secret cannot be carried over to other inputs. Anyone
can recompute it with `sha256sum` from what the draw's record reveals.

This module holds the arithmetic and the checks. The register (`store`) applies them under its
write lock.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from typing import Any, Iterable

from balancer.errors import InputError

SALT_BYTES = 16
"""Least salt length for a commitment: a shorter salt would let a guessed secret be checked."""
PUBLIC_MAX = 500
"""Longest public value or description of one (characters)."""


class CeremonyError(InputError):
    """A secret or public value cannot be used as given; the message says why."""


def seed_commitment(secret: int, salt: bytes) -> str:
    """SHA-256 of `salt ‖ secret` with the secret as 8 bytes, unsigned big-endian.

    Publish it before the draw, reveal secret and salt after: the fixed-width secret means no other
    (salt, secret) split of the same bytes exists, and a salt of at least 16 random bytes
    (`secrets.token_bytes(16)`) means nobody can find the secret from the commitment by trying."""
    if isinstance(secret, bool) or not isinstance(secret, numbers.Integral) or not 0 <= secret < 2**64:
        raise CeremonyError(f"a committed secret must be an integer from 0 to 2**64 - 1, not {secret!r}")
    if not isinstance(salt, (bytes, bytearray)) or len(salt) < SALT_BYTES:
        raise CeremonyError(f"the salt of a commitment must be at least {SALT_BYTES} random bytes")
    return hashlib.sha256(bytes(salt) + int(secret).to_bytes(8, "big")).hexdigest()


def plain_text(value: str, what: str) -> str:
    """A public value or its description as recorded: one line, single spaces (what people copy
    from a newspaper or a web page varies in its spacing, not in its words)."""
    text = " ".join(str(value).split())
    if not text:
        raise CeremonyError(f"{what} is empty")
    if len(text) > PUBLIC_MAX:
        raise CeremonyError(f"{what} is {len(text)} characters long; at most {PUBLIC_MAX}")
    return text


def seed_text(inputs_sha256: str, secrets: dict[int, int], public: str | None) -> str:
    """What the seed is the hash of (see the module's docstring)."""
    lines = ["balancer seed v1", f"inputs {inputs_sha256}"]
    lines += [f"secret {cid} {secrets[cid]}" for cid in sorted(secrets)]
    if public is not None:
        lines.append(f"public {public}")
    return "\n".join(lines) + "\n"


def derive_seed(inputs_sha256: str, secrets: dict[int, int], public: str | None) -> int:
    digest = hashlib.sha256(seed_text(inputs_sha256, secrets, public).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def revealed(commitment_id: int, party: str, secret: int, salt: bytes) -> dict:
    """One revealed secret as a draw's record keeps it."""
    return {"commitment": int(commitment_id), "party": party, "secret": int(secret), "salt": bytes(salt).hex()}


def _opens(secret: dict, commitment: str) -> bool:
    try:
        return seed_commitment(int(secret["secret"]), bytes.fromhex(secret["salt"])) == commitment
    except (CeremonyError, ValueError, TypeError, KeyError):
        return False


def named_public(commitments: Iterable[Any]) -> str | None:
    """The public value the commitments named (None: none did); they must agree on one."""
    named = {c.ceremony.get("public") for c in commitments if c.ceremony and c.ceremony.get("public")}
    if len(named) > 1:
        raise CeremonyError(f"the commitments name different public values: {'; '.join(sorted(named))}")
    return named.pop() if named else None


def opening_problems(ceremony: dict, seed: int, inputs_sha256: str, commitments: dict[int, Any]) -> list[str]:
    """What does not hold in a draw's `ceremony` (the commitments it used, the secrets it revealed,
    the public value): each used commitment is one of these inputs', each committed secret is
    revealed and opens its commitment, the public value is there exactly when one was named, and
    the seed is the one they give. `commitments`: the register's records by id. Empty: it holds."""
    used = [int(c) for c in ceremony.get("commitments", [])]
    problems, secrets = [], {}
    for cid in used:
        c = commitments.get(cid)
        if c is None or c.kind != "commitment":
            problems.append(f"record {cid} is {'missing' if c is None else 'a ' + c.kind}, not a commitment")
        elif c.inputs_sha256 != inputs_sha256:
            problems.append(f"commitment {cid} was made for other inputs ({c.inputs_sha256[:12]}…)")
    for s in ceremony.get("secrets", []):
        cid, c = int(s["commitment"]), commitments.get(int(s["commitment"]))
        if cid not in used or c is None or not c.seed_commitment:
            problems.append(f"a secret is revealed for record {cid}, which is no commitment to a secret this draw used")
        elif not _opens(s, c.seed_commitment):
            problems.append(f"the secret revealed for commitment {cid} ({c.ceremony.get('party', '?')}) does not "
                            f"open it: it hashes to another value than the one committed")
        else:
            secrets[cid] = int(s["secret"])
    for cid in used:
        c = commitments.get(cid)
        if c is not None and c.kind == "commitment" and c.seed_commitment and cid not in secrets:
            problems.append(f"commitment {cid}'s secret ({(c.ceremony or {}).get('party', '?')}) is not revealed")
    public = ceremony.get("public")
    try:
        named = named_public(commitments[cid] for cid in used if cid in commitments)
    except CeremonyError as e:
        problems.append(str(e))
        named = None
    if named is not None and (public is None or public.get("source") != named):
        problems.append(f"the commitments named a public value ({named}) and the draw does not enter it")
    if named is None and public is not None:
        problems.append("the draw enters a public value that no commitment named in advance")
    if not problems:
        expected = ceremony_seed(inputs_sha256, ceremony)
        if seed != expected:
            problems.append(f"the seed {seed} is not the one the revealed secrets and public value give ({expected})")
    return problems


def sealed_text(party: str, secret: int, salt: bytes, inputs_sha256: str) -> str:
    """The sealed file a party keeps until the draw: whose secret, for which inputs, and its salt.
    It is written before the commitment is recorded (so a secret is never recorded and lost), and
    the draw finds its commitment by the hash it opens."""
    return json.dumps({"party": party, "inputs_sha256": inputs_sha256, "secret": secret, "salt": salt.hex()}) + "\n"


def read_sealed(text: str, file: str) -> tuple[int, bytes]:
    """A sealed file's secret and salt (files from before several parties could commit say
    "seed" for the secret)."""
    try:
        data = json.loads(text)
        secret, salt = int(data["secret"] if "secret" in data else data["seed"]), bytes.fromhex(data["salt"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CeremonyError("not a sealed secret written by `balancer commit` (expected JSON with a secret "
                            "and its salt)", file=file) from None
    return secret, salt


def open_ceremony(inputs_sha256: str, opened: list[Any], sealed: dict[str, tuple[int, bytes]],
                  public_value: str | None) -> dict:
    """The `ceremony` of a draw of these inputs: every open commitment (`Register.open_commitments`),
    the `sealed` secrets (file name → secret and salt) that open them, and the public value they
    named, checked. Raises `CeremonyError` naming what is missing or does not fit; `ceremony_seed`
    gives the seed."""
    if not opened:
        raise CeremonyError("these inputs have no open commitment: nothing was committed to reveal (commitments "
                            "are recognised by the inputs' canonical digest, and each serves one draw)")
    secrets = []
    for file, (secret, salt) in sealed.items():
        match = [c for c in opened if c.seed_commitment and _opens({"secret": secret, "salt": salt.hex()},
                                                                   c.seed_commitment)]
        if not match:
            raise CeremonyError("this secret opens no open commitment to these inputs: it was used or abandoned "
                                "by a draw already, made for other inputs, or recorded in another register", file=file)
        if any(s["commitment"] == match[0].id for s in secrets):
            raise CeremonyError(f"commitment {match[0].id}'s secret is given twice", file=file)
        secrets.append(revealed(match[0].id, (match[0].ceremony or {}).get("party", ""), secret, salt))
    named = named_public(opened)
    if named is not None and public_value is None:
        raise CeremonyError(f"the commitments named a public value: {named}. Enter it as published (--public-value)")
    if named is None and public_value is not None:
        raise CeremonyError("no commitment to these inputs named a public value in advance; one entered only "
                            "at the draw could have been chosen for what it gives")
    public = {"source": named, "value": plain_text(public_value, "the public value")} if named else None
    ceremony = {"commitments": sorted(c.id for c in opened), "secrets": sorted(secrets, key=lambda s: s["commitment"]),
                "public": public}
    problems = opening_problems(ceremony, ceremony_seed(inputs_sha256, ceremony), inputs_sha256,
                                {c.id: c for c in opened})
    if problems:
        raise CeremonyError("; ".join(problems))
    return ceremony


def ceremony_seed(inputs_sha256: str, ceremony: dict) -> int:
    """The seed a checked ceremony gives."""
    public = ceremony.get("public")
    return derive_seed(inputs_sha256, {int(s["commitment"]): int(s["secret"]) for s in ceremony.get("secrets", [])},
                       public["value"] if public else None)
