from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
NOT_SCENARIOS = {ROOT / "scenarios" / "measure" / name for name in ("study.yaml", "round-1.yaml", "model.yaml")}
"""The example time study, its adjustments and the model it measures (tests/test_measure.py)."""
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml")
                 if not p.name.startswith("staffing-") and p not in NOT_SCENARIOS)
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


# -- registers on every backend (tests/test_register.py, tests/test_checkpoint.py) ------------------

PG_URL = os.environ.get("BALANCER_TEST_POSTGRES")
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
                not PG_URL, reason="no PostgreSQL server (run .ci/postgres.sh)"))]


def pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    """A new, empty register location: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "register.db")
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = pg_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}) \
        .render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def reg(url):
    from balancer.register import Register

    with Register(url) as r:
        yield r
