"""``envmon simulate``: publish a simulated sensor fleet to the broker.

The facility comes from ``--rooms N`` (a synthetic one) or from the settings
file's ``facility.file``; the broker and topic prefix from the settings file
(``[mqtt]``), overridden by ``--host``/``--port``.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from envmon.errors import ConfigError, EnvmonError
from envmon.facility import Facility, load_facility
from envmon.ingest.config import MqttSettings
from envmon.readings import isoformat_ns
from envmon.settings import Settings, load_settings, resolve_config_path
from envmon.simulate.fleet import Fleet
from envmon.simulate.publisher import Publisher, run_fleet, simulated_window, tick_period_s
from envmon.simulate.scenarios import SCENARIOS, build_scenario
from envmon.simulate.synthetic import synthetic_facility

FLUSH_TIMEOUT_S = 30.0

_N = TypeVar("_N", int, float)


def parse_rate(text: str) -> float:
    """``--rate``: readings per second, or ``max`` for as fast as the broker takes them."""
    if text.strip().lower() == "max":
        return math.inf
    return _positive_float(text, "a number or 'max'")


def _positive_float(text: str, what: str = "a number") -> float:
    value = _parsed(text, float, what)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _parsed(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _parsed(text: str, convert: Callable[[str], _N], what: str) -> _N:
    """``convert(text)``, or the usage error saying that ``text`` is not ``what``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``envmon simulate`` (``--config`` is left to the caller)."""
    parser.add_argument(
        "--rooms", type=_positive_int, help="simulate a synthetic facility of N rooms"
    )
    parser.add_argument(
        "--interval",
        dest="interval_s",
        type=_positive_float,
        default=2.0,
        metavar="S",
        help="seconds between readings of each sensor (default 2)",
    )
    parser.add_argument(
        "--scenario",
        default="normal",
        choices=sorted(SCENARIOS),
        help="what happens in the facility (default normal)",
    )
    parser.add_argument(
        "--rate",
        type=parse_rate,
        help="readings per second over all sensors, or 'max'; overrides --interval",
    )
    parser.add_argument(
        "--duration", dest="duration_s", type=_positive_float, metavar="S", help="stop after S s"
    )
    parser.add_argument("--count", type=_positive_int, help="stop after N readings")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--host", help="MQTT broker host (default: from the settings file)")
    parser.add_argument("--port", type=int, help="MQTT broker port (default: from settings)")


def run_from_args(args: argparse.Namespace) -> int:
    """Entry point for the cli: ``args`` from a parser given ``add_simulate_arguments``."""
    config = getattr(args, "config", None)
    return run_simulate(
        config=Path(config) if config else None,
        host=args.host,
        port=args.port,
        rooms=args.rooms,
        interval_s=args.interval_s,
        scenario=args.scenario,
        rate=args.rate,
        duration_s=args.duration_s,
        count=args.count,
        seed=args.seed,
    )


def run_simulate(
    *,
    config: Path | None,
    host: str | None,
    port: int | None,
    rooms: int | None,
    interval_s: float,
    scenario: str,
    rate: float | None,
    duration_s: float | None,
    count: int | None,
    seed: int,
) -> int:
    """Publish until ``duration_s``, ``count`` readings or SIGINT/SIGTERM.

    Returns 0 when the broker acknowledged every message, 1 on any error.
    """
    try:
        settings = _settings(config)
        mqtt = settings.mqtt if settings is not None else MqttSettings()
        overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        mqtt = mqtt.model_copy(update=overrides)
        facility = _facility(settings, rooms)
        chosen = build_scenario(scenario, facility)
        fleet = Fleet(
            facility=facility,
            start_ns=time.time_ns(),
            events=chosen.events,
            seed=seed,
            prefix=mqtt.prefix,
            options=chosen.options,
        )
        publisher = Publisher(mqtt)
        publisher.connect()
    except EnvmonError as exc:
        print(f"envmon simulate: {exc}", file=sys.stderr)
        return 1
    sensors = len(facility.model.sensors)
    period_s = tick_period_s(interval_s, rate, sensors)
    print(
        f"envmon simulate: scenario {chosen.name} ({chosen.description}); "
        f"{sensors} sensors in {len(facility.rooms)} rooms of {facility.site} "
        f"→ {mqtt.host}:{mqtt.port}, a tick every {period_s:g} s",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    try:
        result = run_fleet(
            fleet,
            lambda topic, payload, retain: publisher.publish(topic, payload, retain=retain),
            tick_period_s=period_s,
            duration_s=duration_s,
            count=count,
            stop=stop,
        )
        missing = publisher.flush(FLUSH_TIMEOUT_S)
    finally:
        publisher.close()
        restore()
    print(
        f"envmon simulate: published {result.readings} readings in {result.ticks} ticks",
        file=sys.stderr,
    )
    window = simulated_window(result, period_s)
    if window is not None:
        # A report over exactly this window has no spurious gap at either edge.
        print(
            f"envmon simulate: window {isoformat_ns(window[0])} to {isoformat_ns(window[1])} "
            f"(epoch {_epoch(window[0])} to {_epoch(window[1])})",
            file=sys.stderr,
        )
    if missing:
        print(
            f"envmon simulate: {missing} messages were not acknowledged by the broker",
            file=sys.stderr,
        )
        return 1
    return 0


def _epoch(ts_ns: int) -> str:
    """Exact epoch seconds, as ``envmon report --from/--to`` read them."""
    return f"{ts_ns // 1_000_000_000}.{ts_ns % 1_000_000_000:09d}"


def _settings(config: Path | None) -> Settings | None:
    """The named settings file; else the default one if it exists; else none."""
    if config is not None:
        return load_settings(config)
    default = resolve_config_path(None)
    return load_settings(default) if default.exists() else None


def _facility(settings: Settings | None, rooms: int | None) -> Facility:
    if rooms is not None:
        return synthetic_facility(rooms)
    if settings is None:
        raise ConfigError(
            "no facility to simulate: pass --config FILE (its [facility] file) or --rooms N"
        )
    return load_facility(settings.facility.file)


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM end the run cleanly; returns a function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
