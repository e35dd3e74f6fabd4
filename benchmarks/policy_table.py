"""What the policy knobs buy and cost, measured on a shipped scenario.

    python benchmarks/policy_table.py [SCENARIO] [--seeds 20]

For tolerance 0 / 0.02 / 0.05 / 0.10 it prints the realised max utilisation (median over seeds),
the leximin target it is measured against, and the lottery's randomness: effective candidates per
case, mean largest π, and the chance that two draws give a case to the same prosecutor.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import balancer

ROOT = Path(__file__).resolve().parents[1]
TOLERANCES = (0.0, 0.02, 0.05, 0.10)


def rows(scenario_path: Path, seeds: int) -> list[dict]:
    scenario = balancer.load_scenario(scenario_path)
    out = []
    for tolerance in TOLERANCES:
        scenario.policy.tolerance = tolerance
        runs = [balancer.solve(scenario, seed=s).metrics for s in range(seeds)]
        m = runs[0]  # the lottery (π) does not depend on the seed
        out.append({
            "tolerance": tolerance,
            "max utilisation (median)": float(np.median([r["max_utilisation"] for r in runs])),
            "leximin max": m["target_max_utilisation"],
            "effective candidates": m["mean_effective_candidates"],
            "mean max π": m["mean_max_probability"],
            "two draws agree": m["expected_overlap"],
        })
    return out


def markdown(table: list[dict]) -> str:
    head = list(table[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        cells = [f"{r['tolerance']:.2f}", f"{r['max utilisation (median)']:.1%}", f"{r['leximin max']:.1%}",
                 f"{r['effective candidates']:.1f}", f"{r['mean max π']:.3f}", f"{r['two draws agree']:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=ROOT / "scenarios/regional/regional.yaml")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    print(markdown(rows(args.scenario, args.seeds)))


if __name__ == "__main__":
    main()
