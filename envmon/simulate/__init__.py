"""A simulated sensor fleet for demos, tests and load: ``envmon simulate``."""

from envmon.simulate.command import add_simulate_arguments, run_from_args, run_simulate
from envmon.simulate.fleet import Fleet, FleetOptions, Message
from envmon.simulate.scenarios import SCENARIOS, Scenario, build_scenario
from envmon.simulate.synthetic import synthetic_facility, write_facility

__all__ = [
    "SCENARIOS",
    "Fleet",
    "FleetOptions",
    "Message",
    "Scenario",
    "add_simulate_arguments",
    "build_scenario",
    "run_from_args",
    "run_simulate",
    "synthetic_facility",
    "write_facility",
]
