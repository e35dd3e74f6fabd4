"""balancer: measure prosecutors' workload and allocate cases at random, evenly, and only to
qualified staff.

    import balancer
    scenario = balancer.load_scenario("scenarios/demo-office.yaml")
    result = balancer.solve(scenario)
    balancer.write_outputs(result, "out/")
"""

from balancer.errors import BalancerError, InputError
from balancer.io import write_outputs
from balancer.pipeline import Result, Status, solve
from balancer.scenario import Scenario, load_model, load_scenario

__all__ = [
    "BalancerError",
    "InputError",
    "Result",
    "Scenario",
    "Status",
    "load_model",
    "load_scenario",
    "solve",
    "write_outputs",
]
