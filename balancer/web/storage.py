"""Where the web application keeps files, all under its data folder:

    DATA/scenarios/<id>/   the files of one uploaded scenario (the YAML, its model and tables)
    DATA/runs/<id>/<run>/  the run folders of its draws (`balancer.io.write_outputs`, whole)
    DATA/intakes/<id>/<run>/      the folders of its intakes (`balancer.io.write_intake`, whole)
    DATA/intakes/<id>/<run>.new/  the new-cases table each intake took, as uploaded
    DATA/register.sqlite   the draw register
    DATA/web.sqlite        accounts, and which file is each scenario (in its folder, or among
                           the scenarios kept on the server: `balancer serve --scenarios DIR`)
    DATA/secret.key        the key that signs sessions (0600)
    DATA/office.pem.pub    the office's checkpoint public key, if the operator put it there
                           (`balancer keygen`'s .pub; the signing key itself stays off the server)

Every path built from a request goes through `inside` or a name rule first: ids are random hex,
file names are a plain word with a known suffix, and nothing resolves outside its folder."""

from __future__ import annotations

import os
import re
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path

from balancer.errors import InputError
from balancer.io import atomic_write, write_secret

SUFFIXES = {".yaml": None, ".yml": None, ".csv": None, ".xlsx": b"PK\x03\x04", ".parquet": b"PAR1"}
"""What may be uploaded, with the bytes a binary kind starts with (a renamed file is refused)."""
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SCENARIO_ID = re.compile(r"[0-9a-f]{12}")
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
PUBLIC_KEY = "office.pem.pub"
"""`balancer keygen --key office.pem`'s public half, as the README names it."""
MAX_ON_SERVER = 2000
"""YAML files looked at in the folder of scenarios kept on the server."""


def clean_name(given: str) -> str:
    """The file name an upload is stored under: its last path component, if it is a plain name
    with a suffix we read. A browser may send a whole path (`C:\\x\\cases.csv`) or `../x`."""
    name = re.split(r"[\\/]", given or "")[-1]
    suffix = Path(name).suffix.lower()
    if not FILE_NAME.fullmatch(name) or suffix not in SUFFIXES:
        raise InputError(f"{name[:100]!r} is not a file name this page takes", field="file",
                         expected=f"a name of letters, digits, '.', '_' and '-' ending in {', '.join(SUFFIXES)}")
    return name


def check_content(name: str, data: bytes) -> None:
    start = SUFFIXES[Path(name).suffix.lower()]
    if start is not None and not data.startswith(start):
        raise InputError(f"{name} is not a {Path(name).suffix} file (its first bytes say otherwise)", file=name)


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refused unless it resolves inside `folder`."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise InputError(f"{name!r} is outside its folder", field="file")
    return path


class Storage:
    def __init__(self, data_dir: Path, shelf: Path | None = None) -> None:
        self.root = Path(data_dir).resolve()
        self.shelf = None if shelf is None else Path(shelf).resolve()
        """The folder of scenarios kept on the server (`balancer serve --scenarios`), if any."""
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        for folder in ("scenarios", "runs", "intakes"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    @property
    def register(self) -> Path:
        return self.root / "register.sqlite"

    @property
    def public_key(self) -> Path:
        """Where the operator may put the office's checkpoint public key: the verify page checks
        checkpoints with it when none is uploaded."""
        return self.root / PUBLIC_KEY

    def secret_key(self) -> str:
        """The session-signing key, made once (0600) and kept: a new key signs everyone out."""
        path = self.root / "secret.key"
        try:
            write_secret(path, secrets.token_hex(32))
        except FileExistsError:
            pass
        return path.read_text(encoding="utf-8").strip()

    def new_scenario(self, folder: bool = True) -> str:
        """A new scenario id, with its folder for uploads (none for one of the server's own)."""
        sid = secrets.token_hex(6)
        if folder:
            (self.root / "scenarios" / sid).mkdir()
        return sid

    def on_server(self) -> list[str]:
        """The scenarios the server was started with (`balancer serve --scenarios DIR`): every
        allocation scenario (a YAML with `cases:`) under DIR, as paths inside it, hidden folders left
        out. They are read where they are, and may name any file under DIR (`../models/x.yaml`)."""
        from balancer.scenario import peek

        if self.shelf is None:
            return []
        found, looked = [], 0
        for folder, subfolders, files in os.walk(self.shelf):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))  # not .git, .venv
            for name in sorted(f for f in files if f.endswith((".yaml", ".yml"))):
                looked += 1
                if looked > MAX_ON_SERVER:
                    return found
                if (seen := peek(Path(folder) / name)) is not None and seen.cases:
                    found.append((Path(folder) / name).relative_to(self.shelf).as_posix())
        return found

    def scenario_folder(self, sid: str) -> Path:
        if not SCENARIO_ID.fullmatch(sid) or not (folder := self.root / "scenarios" / sid).is_dir():
            raise LookupError(sid)
        return folder

    def save(self, sid: str, name: str, data: bytes) -> Path:
        check_content(name, data)
        path = inside(self.scenario_folder(sid), name)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return path

    def lock(self, sid: str) -> threading.Lock:
        """One lock per scenario: replacing its files and reading them for a draw never overlap."""
        with self._locks_lock:
            return self._locks.setdefault(sid, threading.Lock())

    def _runs(self, sid: str, kind: str = "runs") -> Path:
        """The folder of a scenario's run folders, or ("intakes") of its intakes (for a checked id only)."""
        if not SCENARIO_ID.fullmatch(sid):
            raise LookupError(sid)
        return self.root / kind / sid

    def freeze(self, sid: str) -> None:
        """From the first draw on, a scenario's files are the inputs its records name: kept as they are."""
        self._runs(sid).mkdir(exist_ok=True)

    def frozen(self, sid: str) -> bool:
        return self._runs(sid).is_dir()

    def files(self, sid: str) -> list[str]:
        return sorted(p.name for p in self.scenario_folder(sid).iterdir() if not p.name.startswith("."))

    def runs_of(self, sid: str) -> list[str]:
        folder = self._runs(sid)
        return sorted((p.name for p in folder.iterdir() if RUN_ID.fullmatch(p.name)), reverse=True) \
            if folder.is_dir() else []

    def new_run(self, sid: str, kind: str = "runs") -> Path:
        """A run folder's name, not yet made (`write_outputs` makes it whole); `kind` "intakes":
        an intake's folder (`write_intake`)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return self._runs(sid, kind) / f"{stamp}-{secrets.token_hex(3)}"

    def run_folder(self, sid: str, rid: str, kind: str = "runs") -> Path:
        if not (SCENARIO_ID.fullmatch(sid) and RUN_ID.fullmatch(rid)) or \
                not (folder := self.root / kind / sid / rid).is_dir():
            raise LookupError(rid)
        return folder

    def keep_new_cases(self, out: Path, name: str, data: bytes) -> Path:
        """The new-cases table an intake (its folder `out`) takes, kept beside it as uploaded: the
        file its day records name."""
        check_content(name, data)
        folder = out.with_name(out.name + ".new")
        folder.mkdir(parents=True)
        path = inside(folder, name)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return path

    def intakes_of(self, sid: str) -> list[str]:
        folder = self._runs(sid, "intakes")
        return sorted((p.name for p in folder.iterdir() if RUN_ID.fullmatch(p.name) and p.is_dir()),
                      reverse=True) if folder.is_dir() else []

    def all_runs(self) -> list[tuple[str, str, str]]:
        """Every draw's and intake's folder, newest first, as (kind, scenario id, run id): kind
        "runs" or "intakes", which is also where its page is (`/runs/…`, `/intakes/…`)."""
        found = [(kind, p.parent.name, p.name) for kind in ("runs", "intakes") for p in (self.root / kind).glob("*/*")
                 if SCENARIO_ID.fullmatch(p.parent.name) and RUN_ID.fullmatch(p.name) and p.is_dir()]
        return sorted(found, key=lambda r: r[2], reverse=True)
