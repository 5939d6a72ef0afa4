"""``envmon alarms`` and ``envmon ack``: the alarms in the journal, and acknowledging one."""

from __future__ import annotations

import argparse
import json
import sys
import time

from envmon.cli.common import (
    EXIT_OK,
    EXIT_UNCONFIRMED,
    Subcommands,
    current_os_user,
    open_journal,
    settings_of,
)
from envmon.cli.tables import format_alarm_table
from envmon.errors import EnvmonError


def register(sub: Subcommands) -> None:
    p = sub.add("alarms", cmd_alarms, "active (or all) alarms from the journal")
    p.add_argument("--all", action="store_true", help="include closed alarms")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add("ack", cmd_ack, "acknowledge an alarm; recorded in the audit trail")
    p.add_argument("id", metavar="ID")
    p.add_argument("--user", required=True, help="who acknowledges")
    p.add_argument("--comment", required=True, help="why (required)")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the service")


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


def cmd_ack(args: argparse.Namespace) -> int:
    if not args.comment.strip():
        raise EnvmonError("ack: --comment must say why (GMP: an acknowledgement needs a reason)")
    if not args.user.strip():
        raise EnvmonError("ack: --user must name the person acknowledging")
    journal = open_journal(settings_of(args), readonly=False)
    try:
        alarm = journal.get_alarm(args.id)
        if alarm is None:
            raise EnvmonError(f"ack: no alarm {args.id!r} in the journal (see `envmon alarms`)")
        if not alarm.open:
            raise EnvmonError(f"ack: alarm {args.id} is already closed")
        request_id = journal.request_ack(args.id, args.user, args.comment, current_os_user())
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            outcome = journal.ack_request_outcome(request_id)
            if outcome is not None:
                if outcome == "ok":
                    print(f"alarm {args.id} acknowledged by {args.user}")
                    return EXIT_OK
                raise EnvmonError(f"ack: the service refused: {outcome}")
            time.sleep(0.1)
    finally:
        journal.close()
    print(
        f"ack request {request_id} for alarm {args.id} is queued: the service has not "
        f"confirmed it within {args.wait:g} s (is `envmon run` running?); it is applied "
        "when the service next runs",
        file=sys.stderr,
    )
    return EXIT_UNCONFIRMED
