"""Where the draw register is when nobody says: one rule for every command.

`--register` wins; else the `BALANCER_REGISTER` environment variable; else `register.sqlite` in
the user's data directory (`platformdirs`: `~/.local/share/balancer/` on Linux). One default for
`run`, `intake`, `commit`, `history` and `verify` means a draw is always checked against every
earlier draw of the same user, wherever its outputs go, and `verify` finds what `run` recorded.
An office that draws from several accounts or machines sets `BALANCER_REGISTER` to one shared
place (a file on a shared drive, or a `postgresql://` URL).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENVIRONMENT = "BALANCER_REGISTER"
FILE_NAME = "register.sqlite"


def register_location(given: str | Path | None = None) -> str | Path:
    """The register to use: `given`, else $BALANCER_REGISTER, else the per-user default file."""
    if given is not None and str(given).strip():
        return given
    from_env = os.environ.get(ENVIRONMENT, "").strip()
    if from_env:
        return from_env
    return platformdirs.user_data_path("balancer", appauthor=False) / FILE_NAME
