"""``envmon run`` and ``envmon check-config``: the service and its configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envmon.cli.common import EXIT_OK, Subcommands, settings_of, setup_logging


def register(sub: Subcommands) -> None:
    sub.add("run", cmd_run, "run the service (systemd runs this)")
    sub.add("check-config", cmd_check_config, "validate; print each room's resolved limits")


def cmd_run(args: argparse.Namespace) -> int:
    from envmon.service import run_service

    settings = settings_of(args)
    setup_logging(settings.log.level)
    return run_service(settings)


def cmd_check_config(args: argparse.Namespace) -> int:
    from envmon.checkconfig import describe
    from envmon.facility import load_facility

    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    sys.stdout.write(describe(settings, facility))
    return EXIT_OK
