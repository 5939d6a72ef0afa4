"""``envmon run`` and ``envmon check-config``: the service and its configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envmon.cli.common import EXIT_OK, Subcommands, settings_of, setup_logging
from envmon.errors import EnvmonError


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
    from envmon.journal.calibration import read_records

    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    path = settings.storage.journal_path
    records_from = f"the journal {path}" if path.exists() else f"none: no journal at {path} yet"
    try:
        records = read_records(path)
    except EnvmonError as exc:
        # The configuration can still be checked; the dates shown are the file's.
        print(f"envmon: warning: calibration records not read: {exc}", file=sys.stderr)
        records, records_from = [], "none read: the facility file's dates are shown"
    sys.stdout.write(describe(settings, facility, records=records, records_from=records_from))
    return EXIT_OK
