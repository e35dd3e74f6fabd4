from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if not p.name.startswith("staffing-"))
"""Allocation scenarios; `staffing-*.yaml` hold a caseload only (for `balancer staffing`)."""
PREFLIB = ROOT.parent / "shared" / "data" / "preflib-csconf-176x146" / "scenario.yaml"


def scenario_params():
    """Every shipped scenario, plus the real PrefLib bidding data where this checkout has it."""
    params = [pytest.param(p, id=str(p.relative_to(ROOT))) for p in SHIPPED]
    params.append(pytest.param(
        PREFLIB, id="preflib-csconf",
        marks=pytest.mark.skipif(not PREFLIB.exists(), reason="shared/data is not beside this checkout"),
    ))
    return params


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True, scope="session")
def session_register(tmp_path_factory):
    """Fixtures shared by several tests draw into the session's register, never the user's default."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BALANCER_REGISTER", str(tmp_path_factory.mktemp("register") / "register.sqlite"))
        yield


@pytest.fixture(autouse=True)
def own_register(tmp_path, monkeypatch):
    """Every test draws into a register of its own."""
    monkeypatch.setenv("BALANCER_REGISTER", str(tmp_path / "register.sqlite"))
    return tmp_path / "register.sqlite"
