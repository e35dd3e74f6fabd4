"""The web application's own database (`DATA/web.sqlite`): accounts with their roles and argon2
password hashes, and the scenarios uploaded (which file of each folder is the scenario). The draw
register is not here: it is the same register the command line uses (`DATA/register.sqlite`)."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from balancer.errors import InputError

PERMISSIONS = {
    "upload": {"planner"},
    "validate": {"planner"},
    "preview": {"planner"},
    "budgets": {"planner", "clerk"},  # the move-budget frontier: a planner chooses, a clerk draws with it
    "draw": {"clerk"},
    "intake": {"clerk"},
    "commit": {"clerk"},
    "results": {"clerk", "auditor"},
    "history": {"auditor"},
    "verify": {"auditor"},
}
"""What each role may do, in one table: every route names one of these (or none: any signed-in user)."""
ROLES = ("planner", "clerk", "auditor")

NAME = re.compile(r"[A-Za-z][A-Za-z0-9._@-]{0,63}")
"""An account name: it becomes the register's `operator`, shown in every history."""
MIN_PASSWORD = 10

_HASHER = PasswordHasher()
_NOBODY = _HASHER.hash("no such account")
"""Verified against when the name is unknown, so that a wrong name takes as long as a wrong password."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, roles TEXT NOT NULL, hash TEXT NOT NULL,
                                  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scenarios (id TEXT PRIMARY KEY, file TEXT NOT NULL, uploaded_by TEXT NOT NULL,
                                      created_at TEXT NOT NULL, on_server INTEGER NOT NULL DEFAULT 0);
"""


class Accounts:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "web.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._db()) as db:
            db.executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, roles: list[str], password: str) -> None:
        if not NAME.fullmatch(name):
            raise InputError(f"{name!r} is not an account name", field="NAME",
                             expected="a letter, then up to 63 letters, digits, '.', '_', '@' or '-'")
        unknown = sorted(set(roles) - set(ROLES))
        if not roles or unknown:
            raise InputError(f"unknown role {', '.join(unknown) or '(none given)'}", field="--role",
                             expected=f"one or more of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password has {len(password)} characters", field="password",
                             expected=f"at least {MIN_PASSWORD}")
        try:
            with closing(self._db()) as db:
                db.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                           (name, ",".join(sorted(set(roles))), _HASHER.hash(password), _now()))
        except sqlite3.IntegrityError:
            raise InputError(f"the account {name!r} exists already", field="NAME") from None

    def remove_user(self, name: str) -> None:
        """Take the account away; its open sessions end at their next page (roles are read anew
        on every request). Its draws keep its name as their operator."""
        with closing(self._db()) as db:
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise InputError(f"no account {name!r}", field="NAME")

    def users(self) -> list[tuple[str, str, str]]:
        """(name, roles, created_at) of every account, by name."""
        with closing(self._db()) as db:
            return db.execute("SELECT name, roles, created_at FROM users ORDER BY name").fetchall()

    def roles(self, name: str) -> set[str]:
        """The account's roles; empty for no such account (a session outliving its account)."""
        with closing(self._db()) as db:
            row = db.execute("SELECT roles FROM users WHERE name = ?", (name,)).fetchone()
        return set(row[0].split(",")) if row else set()

    def sign_in(self, name: str, password: str) -> bool:
        with closing(self._db()) as db:
            row = db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
        try:
            if not (_HASHER.verify(row[0] if row else _NOBODY, password) and row is not None):
                return False
        except (VerificationError, InvalidHashError):
            return False
        if _HASHER.check_needs_rehash(row[0]):  # hashed with weaker settings than today's: strengthen it
            with closing(self._db()) as db:
                db.execute("UPDATE users SET hash = ? WHERE name = ?", (_HASHER.hash(password), name))
        return True

    # -- scenarios -----------------------------------------------------------------------------

    def add_scenario(self, sid: str, file: str, uploaded_by: str, on_server: bool = False) -> None:
        """`file`: the YAML's name in the scenario's own folder, or (`on_server`) its path inside
        the folder of scenarios the server was started with (`balancer serve --scenarios`)."""
        with closing(self._db()) as db:
            db.execute("INSERT INTO scenarios VALUES (?, ?, ?, ?, ?)", (sid, file, uploaded_by, _now(), int(on_server)))

    def scenario(self, sid: str) -> tuple[str, bool] | None:
        """The scenario's file, and whether it is one of the server's own; None: no such scenario."""
        with closing(self._db()) as db:
            row = db.execute("SELECT file, on_server FROM scenarios WHERE id = ?", (sid,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def on_server(self, file: str) -> str | None:
        """The id already given to the server's scenario `file`, if any."""
        with closing(self._db()) as db:
            row = db.execute("SELECT id FROM scenarios WHERE file = ? AND on_server = 1", (file,)).fetchone()
        return row[0] if row else None

    def scenarios(self) -> list[dict]:
        with closing(self._db()) as db:
            rows = db.execute("SELECT id, file, uploaded_by, created_at FROM scenarios ORDER BY created_at DESC")
            return [dict(zip(("id", "file", "uploaded_by", "created_at"), r)) for r in rows]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
