"""``envmon alarms``: the alarms in the journal (acting on one: ``signed.py``)."""

from __future__ import annotations

import argparse
import json
import sys

from envmon.cli.common import (
    EXIT_OK,
    Subcommands,
    open_journal,
    settings_of,
)
from envmon.cli.tables import format_alarm_table


def register(sub: Subcommands) -> None:
    p = sub.add("alarms", cmd_alarms, "active (or all) alarms from the journal")
    p.add_argument("--all", action="store_true", help="include closed alarms")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def cmd_alarms(args: argparse.Namespace) -> int:
    journal = open_journal(settings_of(args))
    try:
        alarms = journal.alarms(include_closed=args.all)
    finally:
        journal.close()
    if args.json:
        json.dump([a.to_json() for a in alarms], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_alarm_table(alarms))
    return EXIT_OK
