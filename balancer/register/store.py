"""The draw register: an append-only, hash-chained record of every draw.

One table, `draw_register`, in a SQLite file (the default: a path) or in PostgreSQL (a
`postgresql://…` URL). Every record holds what is needed to reproduce and audit a draw — the
scenario, the SHA-256 of every input file, the policy, the seed, the software versions, the
SHA-256 of the drawn assignment (`result_digest`), the metrics, who drew it and, for a re-draw of
inputs that were drawn before, why — and the hash of the record before it:

    hash = SHA-256(canonical JSON of every field of the record except `hash`, `prev_hash` included)

where the canonical JSON has sorted keys, no whitespace, UTF-8 text and no NaN/Infinity (such
floats are stored as the strings "nan", "inf", "-inf"); the first record's `prev_hash` is 64 zeros.
`verify_chain` recomputes every hash and link in id order, so an edited, deleted, inserted or
reordered record is found and named. What a chain cannot show on its own is the loss of its newest
records, or a rewrite by someone who recomputes every later hash: a signed checkpoint of the size
and head's hash (`balancer.register.checkpoint`), published outside, pins those too.

Appends are serialised — SQLite `BEGIN IMMEDIATE`, PostgreSQL `LOCK TABLE … IN EXCLUSIVE MODE` —
and read the head, check for earlier draws and insert in one transaction, so concurrent processes
keep one consistent chain with contiguous ids, and a process killed at any point leaves either its
whole record or none. Triggers refuse UPDATE, DELETE (and, in PostgreSQL, TRUNCATE) on the table,
and any INSERT that does not extend the head (its id the head's + 1, its `prev_hash` the head's
hash): so SQLite's INSERT OR REPLACE and PostgreSQL's INSERT … ON CONFLICT DO UPDATE cannot rewrite a
record either. A register made before a trigger existed gets it when opened with `create` (the
default). Someone with the rights to drop them can still edit the table, and that is what
`verify_chain` detects.

A draw's seed can be fixed before it happens by *commitments* (`balancer.register.ceremony`): each
party's `seed_commitment(secret, salt)` is recorded first, and possibly a public value to come; the
draw reveals them, and its seed is derived from them all. Under the write lock, a draw of inputs
with open commitments must use every one of them, or give a reason and abandon them all.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import numbers
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from balancer.errors import BalancerError, InputError
from balancer.register.ceremony import CeremonyError, opening_problems

TABLE = "draw_register"
GENESIS = "0" * 64
"""`prev_hash` of the first record."""
LOCK_TIMEOUT = 30.0
"""Seconds an append waits for another process's append before giving up."""
KINDS = ("draw", "commitment")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_JSON_FIELDS = ("inputs", "policy", "versions", "metrics", "redraw_of", "applied", "ceremony", "intake")
_LATER_FIELDS = ("applied", "seed_source", "ceremony", "intake")
"""Columns added after the first registers were written: hashed only when set, so the records
written before they existed still verify, and added to an older table when it is opened."""


class RegisterError(BalancerError):
    """The register cannot be opened, read or appended to; the message says why."""


class MissingRegister(InputError, RegisterError):
    """A register that should be read is not there (no file, no table): never an empty one."""


class OpenCommitments(RegisterError):
    """These inputs have open commitments and the draw neither uses them nor says why not."""

    def __init__(self, commitments: list[Record]) -> None:
        self.commitments = commitments
        super().__init__(
            f"commitments {_parties(commitments)} were made for these inputs and are not used yet: draw with "
            f"them (reveal their secrets), or give a reason to draw without them (they are then recorded as "
            f"abandoned by this draw). Nothing was recorded.")


class RedrawWithoutReason(RegisterError):
    """These inputs were drawn before and the new draw gives no reason for drawing them again."""

    def __init__(self, inputs_sha256: str, earlier: list[tuple[int, str, str]]) -> None:
        self.inputs_sha256 = inputs_sha256
        self.earlier = earlier
        """(id, created_at, operator) of each earlier draw of the same inputs, oldest first."""
        listed = "; ".join(f"record {i} at {t} by {op}" for i, t, op in earlier)
        n = len(earlier)
        super().__init__(
            f"these inputs (sha256 {inputs_sha256[:12]}…) were drawn {'once' if n == 1 else f'{n} times'} "
            f"before: {listed}. A re-draw must say why the earlier draw is not used: give a reason. "
            f"Nothing was recorded."
        )


metadata = sa.MetaData()
table = sa.Table(
    TABLE, metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # head + 1, under the lock
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("scenario", sa.Text, nullable=False, index=True),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("inputs_sha256", sa.Text, nullable=False, index=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("seed", sa.Text),  # decimal text: seeds are up to 2**64 - 1, beyond a signed BIGINT
    sa.Column("versions", sa.Text, nullable=False),
    sa.Column("result_sha256", sa.Text),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("operator", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("redraw_of", sa.Text, nullable=False),
    sa.Column("commitment_id", sa.Integer),
    sa.Column("seed_commitment", sa.Text),
    sa.Column("seed_salt", sa.Text),
    sa.Column("applied", sa.Text),
    sa.Column("seed_source", sa.Text),
    sa.Column("ceremony", sa.Text),
    sa.Column("intake", sa.Text),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
)
"""JSON fields (`_JSON_FIELDS`) are stored as canonical JSON text."""
_ORIGINAL_COLUMNS = {c.name for c in table.columns} - set(_LATER_FIELDS)


@dataclass(frozen=True)
class Record:
    id: int
    kind: str
    """"draw", or "commitment" (a seed commitment announced before its draw)."""
    created_at: str
    """UTC, ISO 8601 with microseconds, taken while holding the write lock (so it never goes back)."""
    scenario: str
    inputs: dict[str, str]
    """SHA-256 of every input file, by name (as in summary.json)."""
    inputs_sha256: str
    policy: dict
    seed: int | None
    versions: dict[str, str]
    result_sha256: str | None
    """`result_digest` of the drawn assignments (None for a commitment)."""
    metrics: dict
    operator: str
    reason: str | None
    redraw_of: list[int]
    """Ids of the earlier draws of the same inputs (empty for a first draw)."""
    commitment_id: int | None
    """The one commitment of a draw recorded before `ceremony` existed (None since)."""
    seed_commitment: str | None
    """A commitment's `seed_commitment(secret, salt)` (None: it names only a public value)."""
    seed_salt: str | None
    """Hex salt revealed by a draw recorded before `ceremony` existed (None since)."""
    prev_hash: str
    hash: str
    applied: dict | None = None
    """The named variant and dotted settings the scenario was loaded with (None: the file as
    written). Added after the first registers were written (see `_LATER_FIELDS`)."""
    seed_source: str | None = None
    """Who chose the seed: "os" (fresh at the draw), "commitment" (fixed before it) or "operator"
    (a person: `--seed`, `policy.seed`). None only in records written before it was recorded."""
    ceremony: dict | None = None
    """A commitment's party and the public value it names, if any ({"party", "public"}); a draw's
    commitments used, secrets revealed (`ceremony.revealed`) and public value entered
    ({"commitments", "secrets", "public": {"source", "value"}}), or the open commitments it
    abandoned ({"abandoned"}). None: no commitment is involved."""
    intake: dict | None = None
    """A day of daily intake: its new-cases file, date, the record of the day before, and the
    canonical digest of everything the day was drawn against (`balancer.intake.day_record`)."""

    def hashed_fields(self) -> dict:
        """Everything the hash covers: every field of `to_dict()` but `hash`."""
        d = self.to_dict()
        del d["hash"]
        return d

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.hashed_fields())).hexdigest()

    def to_dict(self) -> dict:
        """Every field; one of `_LATER_FIELDS` only when set (records written before it existed
        have no such key, and their hashes must still hold)."""
        d = dataclasses.asdict(self)
        for name in _LATER_FIELDS:
            if d[name] is None:
                del d[name]
        return d


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    """Records examined: all of them when ok, else up to and including the first broken one."""
    first_broken: int | None = None
    """Id of the first record whose hash or link does not hold."""
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"chain intact: {self.checked} record{'s' * (self.checked != 1)} verified"
        if self.first_broken is None:
            return f"not verified: {self.problem}"
        return f"chain broken at record {self.first_broken}: {self.problem}"


class Register:
    """An open draw register. `url_or_path`: a file path (a SQLite file, created with its folder if
    missing), a `sqlite:///…` URL or a `postgresql://…` URL (psycopg 3). `create=False` (for
    reading: history, verify) opens only a register that exists, and creates nothing: a mistyped
    path must not read as an empty, intact register."""

    def __init__(self, url_or_path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT, create: bool = True) -> None:
        self.lock_timeout = float(lock_timeout)
        url = _url(url_or_path, create)
        self._sqlite = url.get_backend_name() == "sqlite"
        self.location = (url.database or ":memory:") if self._sqlite else \
            url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
        try:
            if self._sqlite:
                self._engine = _sqlite_engine(url, self.lock_timeout)
            else:
                self._engine = sa.create_engine(url)
        except (ImportError, sa_exc.ArgumentError) as e:
            raise RegisterError(f"cannot open the register {self.location}: {e}. PostgreSQL needs "
                                f"psycopg 3: pip install 'psycopg[binary]>=3.1'") from None
        if create:
            self._create()
        else:
            with self._errors("open"):
                columns = self._columns()
            if columns is None:
                raise MissingRegister(f"{self.location} holds no draw register (no table '{TABLE}')",
                                      expected="the register a draw was recorded in (--register, $BALANCER_REGISTER)")

    # -- appending ---------------------------------------------------------------------------

    def append_draw(
        self, *, scenario: str, inputs: dict[str, str], inputs_sha256: str, policy: dict,
        seed: int | None, versions: dict[str, str], result_sha256: str | None, metrics: dict,
        operator: str, reason: str | None = None, require_reason: bool = True, applied: dict | None = None,
        seed_source: str | None = None, ceremony: dict | None = None, intake: dict | None = None,
    ) -> Record:
        """Record a draw. If the same inputs were drawn before, `redraw_of` lists those draws and,
        unless `require_reason` is False, a non-empty `reason` is required
        (`RedrawWithoutReason`, and nothing is recorded).

        Commitments to these inputs that no draw has used yet are *open*. A draw with a `ceremony`
        ({"commitments", "secrets", "public"}, see `balancer.register.ceremony`) must use every open
        one, reveal every committed secret and derive its seed from them (`CeremonyError`
        otherwise); a draw without one abandons them all, which needs a reason (`OpenCommitments`)."""
        _check_sha(inputs_sha256, "inputs_sha256")
        if result_sha256 is not None:
            _check_sha(result_sha256, "result_sha256")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise RegisterError(f"seed must be an integer or None, not {seed!r}")
        _check_operator(operator)
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
        with self._writing() as conn:
            t = table.c
            earlier = conn.execute(
                sa.select(t.id, t.created_at, t.operator)
                .where(t.kind == "draw", t.inputs_sha256 == inputs_sha256).order_by(t.id)
            ).all()
            if earlier and require_reason and reason is None:
                raise RedrawWithoutReason(inputs_sha256, [tuple(r) for r in earlier])
            ceremony = self._settle_commitments(conn, inputs_sha256, seed, ceremony, reason)
            return self._insert(
                conn, kind="draw", scenario=scenario, inputs=inputs, inputs_sha256=inputs_sha256,
                policy=policy, seed=None if seed is None else int(seed), versions=versions,
                result_sha256=result_sha256, metrics=metrics, operator=operator, reason=reason,
                redraw_of=[r.id for r in earlier], commitment_id=None, seed_commitment=None, seed_salt=None,
                applied=applied or None, seed_source=seed_source, ceremony=ceremony, intake=intake,
            )

    def append_commitment(
        self, *, scenario: str, inputs: dict[str, str], inputs_sha256: str, policy: dict,
        seed_commitment: str | None, versions: dict[str, str], operator: str, applied: dict | None = None,
        party: str | None = None, public: str | None = None,
    ) -> Record:
        """Announce a draw of these inputs before it happens: `seed_commitment(secret, salt)` binds
        one party's secret, `public` describes a public value to be published later (e.g. "the
        main numbers of the national lottery draw of 5 December"); at least one of them."""
        _check_sha(inputs_sha256, "inputs_sha256")
        if seed_commitment is None and not public:
            raise RegisterError("a commitment binds a secret (seed_commitment), names a public value, or both")
        if seed_commitment is not None:
            _check_sha(seed_commitment, "seed_commitment")
        _check_operator(operator)
        ceremony = {"party": party or operator, **({"public": public} if public else {})}
        with self._writing() as conn:
            return self._insert(
                conn, kind="commitment", scenario=scenario, inputs=inputs,
                inputs_sha256=inputs_sha256, policy=policy, seed=None, versions=versions,
                result_sha256=None, metrics={}, operator=operator, reason=None, redraw_of=[],
                commitment_id=None, seed_commitment=seed_commitment, seed_salt=None,
                applied=applied or None, ceremony=ceremony,
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, record_id: int) -> Record:
        with self._reading() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == int(record_id))).first()
        if row is None:
            raise RegisterError(f"the register {self.location} has no record {record_id}")
        return _readable(row, self.location)

    def head(self) -> Record | None:
        """The newest record (publish its hash to make the whole chain up to it tamper-evident)."""
        with self._reading() as conn:
            row = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).first()
        return None if row is None else _readable(row, self.location)

    def history(self, scenario: str | None = None) -> list[Record]:
        """Every record (draws and commitments), or one scenario's, oldest first."""
        query = sa.select(table).order_by(table.c.id)
        if scenario is not None:
            query = query.where(table.c.scenario == scenario)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [_readable(r, self.location) for r in rows]

    def redraw_counts(self) -> dict[str, int]:
        """inputs_sha256 → how many times those inputs were drawn (commitments not counted)."""
        t = table.c
        with self._reading() as conn:
            rows = conn.execute(
                sa.select(t.inputs_sha256, sa.func.count()).where(t.kind == "draw")
                .group_by(t.inputs_sha256).order_by(t.inputs_sha256)
            ).all()
        return {h: int(n) for h, n in rows}

    def open_commitments(self, inputs_sha256: str) -> list[Record]:
        """The commitments to these inputs that no draw has used or abandoned yet, oldest first:
        what the next draw of them must use (or abandon, with a reason)."""
        with self._reading() as conn:
            return list(self._open(conn, inputs_sha256).values())

    def commitment_states(self) -> dict[int, tuple[str, int]]:
        """commitment id → ("used" or "abandoned", the draw's id), for every closed commitment."""
        with self._reading() as conn:
            return self._closed(conn)

    def verify_chain(self) -> ChainReport:
        """Recompute every record's hash and its link to the one before, in id order."""
        with self._reading() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
        prev_id, prev_hash = 0, GENESIS
        for n, row in enumerate(rows, start=1):
            rid = row.id

            def broken(problem: str) -> ChainReport:
                return ChainReport(ok=False, checked=n, first_broken=rid, problem=problem)

            if rid != prev_id + 1:
                missing = "record 1 is missing" if prev_id == 0 else f"it follows record {prev_id}"
                return broken(f"ids are not contiguous ({missing}): records were deleted or renumbered")
            try:
                record = _from_row(row)
            except (ValueError, TypeError) as e:
                return broken(f"the record cannot be read ({e}): it was edited")
            if record.prev_hash != prev_hash:
                before = "the start of the chain" if prev_id == 0 else f"record {prev_id}'s hash"
                return broken(f"its prev_hash does not match {before}: a record before it was "
                              f"deleted, inserted, replaced or moved")
            if record.compute_hash() != record.hash:
                return broken("its stored hash does not match its contents: the record was edited")
            prev_id, prev_hash = rid, record.hash
        if not rows:  # an emptied register must not pass for a clean one
            return ChainReport(ok=False, checked=0, problem="the register holds no records: nothing is verified")
        return ChainReport(ok=True, checked=len(rows))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Register({self.location!r})"

    # -- internals ---------------------------------------------------------------------------

    def _insert(self, conn: Connection, **fields: Any) -> Record:
        head = conn.execute(
            sa.select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)
        ).first()
        values = {
            "id": 1 if head is None else head.id + 1,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "prev_hash": GENESIS if head is None else head.hash,
            **{k: _plain(v) for k, v in fields.items()},
        }
        record = Record(**values, hash="")
        record = dataclasses.replace(record, hash=record.compute_hash())
        conn.execute(table.insert().values(**_to_row(record)))
        return record

    def _open(self, conn: Connection, inputs_sha256: str) -> dict[int, Record]:
        t = table.c
        rows = conn.execute(sa.select(table).where(t.kind == "commitment", t.inputs_sha256 == inputs_sha256)
                            .order_by(t.id)).all()
        closed = self._closed(conn)
        return {r.id: _readable(r, self.location) for r in rows if r.id not in closed}

    def _closed(self, conn: Connection) -> dict[int, tuple[str, int]]:
        t = table.c
        rows = conn.execute(sa.select(t.id, t.commitment_id, t.ceremony).where(
            t.kind == "draw", sa.or_(t.commitment_id.is_not(None), t.ceremony.is_not(None)))).all()
        closed = {}
        for draw_id, commitment_id, text in rows:
            ceremony = json.loads(text) if text else {}
            for cid in [commitment_id] * (commitment_id is not None) + ceremony.get("commitments", []):
                closed[int(cid)] = ("used", draw_id)
            for cid in ceremony.get("abandoned", []):
                closed[int(cid)] = ("abandoned", draw_id)
        return closed

    def _settle_commitments(self, conn: Connection, inputs_sha256: str, seed: int | None,
                            ceremony: dict | None, reason: str | None) -> dict | None:
        """The draw's `ceremony` once checked against the open commitments of its inputs (see
        `append_draw`); for a draw without one, the commitments it abandons."""
        opened = self._open(conn, inputs_sha256)
        if not ceremony or not ceremony.get("commitments"):
            if not opened:
                return None
            if reason is None:
                raise OpenCommitments(list(opened.values()))
            return {"abandoned": sorted(opened)}
        used = [int(c) for c in ceremony["commitments"]]
        if missing := [opened[c] for c in opened if c not in used]:
            raise CeremonyError(f"commitments {_parties(missing)} to these inputs are open too: a draw uses "
                                f"every open commitment (or none, with a reason). Nothing was recorded.")
        if stale := [c for c in used if c not in opened]:
            raise CeremonyError(f"commitment {', '.join(map(str, stale))} is not open for these inputs: "
                                f"already used or abandoned by a draw, or made for other inputs. Nothing was recorded.")
        if seed is None or (problems := opening_problems(ceremony, int(seed), inputs_sha256, opened)):
            raise CeremonyError("; ".join(problems if seed is not None else ["the draw has no seed"])
                                + ". Nothing was recorded.")
        return ceremony

    def _create(self) -> None:
        """Create the table once, under a lock, if missing; add the columns of `_LATER_FIELDS` and
        the append-only triggers a register written before they existed lacks."""
        triggers = _SQLITE_TRIGGERS if self._sqlite else _PG_TRIGGERS
        with self._errors("open"):
            columns = self._columns()
            if columns is None or not columns >= set(_LATER_FIELDS) or not self._triggers() >= set(triggers):
                with self._locked_schema() as conn:
                    if not sa.inspect(conn).has_table(TABLE):
                        metadata.create_all(conn)
                    present = {c["name"] for c in sa.inspect(conn).get_columns(TABLE)}
                    if _ORIGINAL_COLUMNS <= present:  # never alter a table that is not a register
                        name = conn.dialect.identifier_preparer.format_table(table)
                        for later in _LATER_FIELDS:
                            if later not in present:
                                conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {later} TEXT")
                        have = self._triggers(conn)
                        for trigger, statements in triggers.items():
                            if trigger not in have:
                                for statement in statements:
                                    conn.exec_driver_sql(statement)
                columns = self._columns()
        if missing := [c.name for c in table.columns if c.name not in columns]:
            raise RegisterError(f"{self.location} has a table '{TABLE}' that is not a draw register "
                                f"(no column {', '.join(missing)})")

    def _columns(self) -> set[str] | None:
        with self._engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not inspector.has_table(TABLE):
                return None
            return {c["name"] for c in inspector.get_columns(TABLE)}

    def _triggers(self, conn: Connection | None = None) -> set[str]:
        """Names of the triggers on the table (none if there is no table)."""
        if conn is None:
            with self._engine.connect() as conn:
                return self._triggers(conn)
        query = ("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t" if self._sqlite
                 else "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal")
        return set(conn.execute(sa.text(query), {"t": TABLE}).scalars())

    @contextmanager
    def _locked_schema(self) -> Iterator[Connection]:
        """One transaction in which no other process creates or alters the table."""
        with self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                if not self._sqlite:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CREATE_LOCK})
                yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One transaction holding the register's write lock (appends wait for each other)."""
        with self._errors("append to"), self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                if not self._sqlite:
                    ms = max(1, round(self.lock_timeout * 1000))
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                    name = conn.dialect.identifier_preparer.format_table(table)
                    conn.exec_driver_sql(f"LOCK TABLE {name} IN EXCLUSIVE MODE")
                yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._errors("read"), self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as e:
            orig = getattr(e, "orig", None)
            text = (str(orig if orig is not None else e).strip().splitlines() or [type(e).__name__])[0]
            if _is_lock_timeout(orig):
                raise RegisterError(
                    f"cannot {action} the register {self.location}: it is busy — another process held "
                    f"its write lock for more than {self.lock_timeout:g} s ({text}). Nothing was recorded."
                ) from None
            raise RegisterError(f"cannot {action} the register {self.location}: {text}") from None
        except ImportError as e:
            raise RegisterError(f"cannot {action} the register {self.location}: {e}. PostgreSQL "
                                f"needs psycopg 3: pip install 'psycopg[binary]>=3.1'") from None


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, strict JSON (no NaN/Infinity)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


# -- helpers -------------------------------------------------------------------------------------

def _parties(commitments: list[Record]) -> str:
    return ", ".join(f"{c.id} ({(c.ceremony or {}).get('party', c.operator)})" for c in commitments)


_PG_CREATE_LOCK = 0x62616C616E636572  # "balancer": serialises creating the table
_APPEND_ONLY = "the draw register is append-only"
_NOT_HEAD = (f"{_APPEND_ONLY}: the row does not extend the head "
             f"(a new row has the id after the head and the head hash as prev_hash)")
_SQLITE_TRIGGERS = {  # name → statements creating it: a register lacking one gets it when opened
    f"{TABLE}_no_update": [
        f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"],
    f"{TABLE}_no_delete": [
        f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"],
    # Fires for INSERT OR REPLACE too, before the conflicting row is deleted: an existing id is
    # never the head's + 1, so a replacement is refused (the delete trigger alone would not fire).
    f"{TABLE}_extends_head": [
        f"CREATE TRIGGER {TABLE}_extends_head BEFORE INSERT ON {TABLE} "
        f"WHEN NEW.id IS NOT (SELECT coalesce(max(id), 0) + 1 FROM {TABLE}) "
        f"OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM {TABLE} ORDER BY id DESC LIMIT 1), '{GENESIS}') "
        f"BEGIN SELECT RAISE(ABORT, '{_NOT_HEAD}'); END"],
}
_PG_TRIGGERS = {
    # A statement-level UPDATE trigger also fires for INSERT … ON CONFLICT DO UPDATE.
    f"{TABLE}_no_change": [
        f"CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$",
        f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()"],
    # The head is read from the trigger's own table (TG_TABLE_SCHEMA), whatever the search_path.
    f"{TABLE}_extends_head": [
        f"CREATE OR REPLACE FUNCTION {TABLE}_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"DECLARE head_id integer; head_hash text; BEGIN "
        f"EXECUTE 'SELECT id, hash FROM ' || quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME) "
        f"|| ' ORDER BY id DESC LIMIT 1' INTO head_id, head_hash; "
        f"IF NEW.id IS DISTINCT FROM coalesce(head_id, 0) + 1 "
        f"OR NEW.prev_hash IS DISTINCT FROM coalesce(head_hash, '{GENESIS}') THEN "
        f"RAISE EXCEPTION '{_NOT_HEAD}'; END IF; RETURN NEW; END $$",
        f"CREATE TRIGGER {TABLE}_extends_head BEFORE INSERT ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_extends_head()"],
}


def _url(url_or_path: str | Path, create: bool = True) -> URL:
    text = str(url_or_path)
    if isinstance(url_or_path, PurePath) or "://" not in text:
        path = Path(text).expanduser().absolute()
        if create:
            _make_folder(path)
        elif not path.is_file():
            raise MissingRegister(f"there is no register at {path}",
                                  expected="the register a draw was recorded in (--register, $BALANCER_REGISTER)")
        return URL.create("sqlite", database=str(path))
    try:
        url = make_url(text)
    except sa_exc.ArgumentError as e:
        raise RegisterError(f"cannot read the register address {text!r}: {e}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if "+" not in url.drivername:  # plain postgresql://: psycopg 3, not SQLAlchemy's psycopg2
            url = url.set(drivername="postgresql+psycopg")
        return url
    if backend == "sqlite":
        if url.database and url.database != ":memory:" and create:
            _make_folder(Path(url.database).expanduser().absolute())
        return url
    raise RegisterError(f"unsupported register address {url.render_as_string(hide_password=True)!r}: "
                        f"expected a file path, sqlite:///FILE or postgresql://USER@HOST/DB")


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RegisterError(f"cannot create the register {path}: {e.strerror or e}") from None


def _sqlite_engine(url: URL, timeout: float) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": timeout})

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        # Let us say how a transaction begins (pysqlite would issue a deferred BEGIN itself).
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # Appends take the write lock at BEGIN (IMMEDIATE) and so never deadlock upgrading a read.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _is_lock_timeout(orig: BaseException | None) -> bool:
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    return "database is locked" in str(orig)


def _check_sha(value: Any, name: str) -> None:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise RegisterError(f"{name} must be a SHA-256 in lower-case hex (64 characters), not {value!r}")


def _check_operator(operator: Any) -> None:
    if not isinstance(operator, str) or not operator.strip():
        raise RegisterError(f"operator must name who draws (e.g. current_operator()), not {operator!r}")


def _plain(value: Any) -> Any:
    """The JSON value a record holds for `value`: what reading it back gives, so that the hash of
    a record just written and of the same record read later are the same."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else str(f)  # "nan", "inf", "-inf": JSON has no such numbers
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars (bool_ is not Integral)
        return _plain(value.item())
    if hasattr(value, "tolist"):  # numpy arrays
        return _plain(value.tolist())
    return str(value)


def _to_row(record: Record) -> dict:
    row = dataclasses.asdict(record)
    for name in _JSON_FIELDS:
        absent = row[name] is None and name in _LATER_FIELDS
        row[name] = None if absent else canonical_json(row[name]).decode("utf-8")
    row["seed"] = None if record.seed is None else str(record.seed)
    return row


def _from_row(row: sa.Row) -> Record:
    d = dict(row._mapping)
    for name in _JSON_FIELDS:
        d[name] = None if d[name] is None and name in _LATER_FIELDS else json.loads(d[name])
    d["seed"] = None if d["seed"] is None else int(d["seed"])
    return Record(**d)


def _readable(row: sa.Row, location: str) -> Record:
    try:
        return _from_row(row)
    except (ValueError, TypeError) as e:
        raise RegisterError(f"record {row.id} of the register {location} cannot be read ({e}); "
                            f"run verify_chain") from None
