"""The README's two commands are the ones CI and users run; keep them in step."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick_start)


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    install_and_run, install_and_test = readme_commands()
    assert "balancer run scenarios/" in install_and_run
    assert "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_the_scenario_in_the_quick_start_is_shipped():
    scenario = re.search(r"balancer run (\S+)", readme_commands()[0]).group(1)
    assert (ROOT / scenario).is_file()
