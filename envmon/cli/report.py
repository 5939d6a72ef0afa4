"""``envmon report`` and ``envmon simulate``: a report for batch review, a simulated fleet."""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

from envmon.cli.common import EXIT_OK, Subcommands, current_os_user, settings_of
from envmon.timeparse import parse_time


def register(sub: Subcommands) -> None:
    p = sub.add("report", cmd_report, "excursion report for batch review")
    p.add_argument(
        "--from",
        dest="from_",
        metavar="T",
        help="window start: ISO 8601 with zone, epoch seconds, or -24h style "
        "(default: the batch's start)",
    )
    p.add_argument(
        "--to", metavar="T", help="window end (same forms, or now; default: the batch's end)"
    )
    p.add_argument(
        "--room", action="append", metavar="R", help="a room (repeatable; default: the batch's)"
    )
    p.add_argument(
        "--batch",
        metavar="ID",
        help="a batch of the registry (envmon batches): its window and rooms, unless "
        "--from/--to/--room say otherwise; printed on the report",
    )
    p.add_argument("--format", choices=["pdf", "html", "csv", "json"], default="pdf")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default stdout)")

    from envmon.simulate.command import add_simulate_arguments

    p = sub.add("simulate", cmd_simulate, "publish a realistic sensor fleet")
    add_simulate_arguments(p)


def cmd_report(args: argparse.Namespace) -> int:
    from envmon.facility import load_facility
    from envmon.journal.calibration import read_records
    from envmon.report.command import batch_scope, generate, read_batch

    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    now_ns = time.time_ns()
    from_ns = parse_time(args.from_, now_ns, "--from") if args.from_ else None
    to_ns = parse_time(args.to, now_ns, "--to") if args.to else None
    batch = read_batch(settings.storage.journal_path, args.batch) if args.batch else None
    scope = batch_scope(args.batch, batch, from_ns, to_ns, args.room or None, now_ns)
    for note in scope.notes:
        print(f"envmon: note: {note}", file=sys.stderr)
    data = generate(
        settings,
        facility,
        scope.from_ns,
        scope.to_ns,
        scope.rooms,
        args.batch,
        args.format,
        generated_by(),
        calibration_records=read_records(settings.storage.journal_path),
    )
    if args.output and args.output != "-":
        Path(args.output).write_bytes(data)
        print(f"report written to {args.output} ({len(data)} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return EXIT_OK


def generated_by() -> str:
    """``user@host``: who made the report, and where (``root`` alone says nothing)."""
    return f"{current_os_user()}@{socket.gethostname()}"


def cmd_simulate(args: argparse.Namespace) -> int:
    from envmon.simulate.command import run_from_args

    return run_from_args(args)
