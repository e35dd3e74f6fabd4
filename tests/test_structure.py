"""Ideas with one home: the register's store knows nothing of the pipeline; steps and metrics are
declared once and the README and every output follow that declaration."""

from __future__ import annotations

import ast
import json

import balancer
from balancer.registry import BY_NAME, HEADLINE, STEPS
from tests.conftest import ROOT


def balancer_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] == "balancer"}


def test_the_register_store_imports_nothing_of_the_pipeline():
    assert balancer_imports(ROOT / "balancer" / "register" / "store.py") == {"balancer.errors",
                                                                             "balancer.register.ceremony"}
    assert balancer_imports(ROOT / "balancer" / "register" / "ceremony.py") == {"balancer.errors"}
    checkpoint = ROOT / "balancer" / "register" / "checkpoint.py"
    assert balancer_imports(checkpoint) == {"balancer.errors", "balancer.register.store"}


def test_checks_rebalancing_and_plan_read_the_problem_not_the_scenario():
    for module in ("checks", "rebalance", "plan"):
        imported = balancer_imports(ROOT / "balancer" / f"{module}.py")
        source = (ROOT / "balancer" / f"{module}.py").read_text()
        assert "Scenario" not in source.replace("scenario package", ""), module
        assert imported <= {"balancer.balance", "balancer.problem", "balancer.solver", "balancer.limits",
                            "balancer.lottery", "balancer.rebalance", "balancer.scenario", "balancer.registry"}


def test_the_readme_lists_every_step_with_its_module():
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| ") and "`balancer/" in line]
    for step in STEPS:
        assert any(row.startswith(f"| {step.name} |") and f"`{step.module}`" in row for row in rows), step.name


def test_every_metric_a_run_reports_is_declared(tmp_path):
    for path in (ROOT / "scenarios" / "demo-office.yaml", ROOT / "scenarios" / "rebalance.yaml"):
        result = balancer.solve(balancer.load_scenario(path), seed=3)
        out = tmp_path / path.stem  # a folder holds one run's outputs
        balancer.write_outputs(result, out)
        metrics = json.loads((out / "summary.json").read_text())["metrics"]
        assert set(metrics) <= set(BY_NAME) and set(HEADLINE) <= set(metrics)
        assert list(metrics) == [m for m in BY_NAME if m in metrics]  # the registry's order
        assert set(json.loads((out / "summary.json").read_text())["timings"]) <= {s.name for s in STEPS}
