"""The ``envmon`` command (design.md section 6).

Each subcommand is a small function; errors a user can cause end as one
``envmon: error: ...`` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pwd
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from envmon import __version__
from envmon.errors import EnvmonError
from envmon.settings import Settings, load_settings, resolve_config_path
from envmon.timeparse import parse_time

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNCONFIRMED = 3


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(resolve_config_path(args.config))


def _os_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def setup_logging(level: str) -> None:
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)


# --- subcommands ---------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from envmon.service import run_service

    settings = _settings(args)
    setup_logging(settings.log.level)
    return run_service(settings)


def cmd_check_config(args: argparse.Namespace) -> int:
    from envmon.checkconfig import describe

    settings = _settings(args)
    from envmon.facility import load_facility

    facility = load_facility(Path(settings.facility.file))
    sys.stdout.write(describe(settings, facility))
    return EXIT_OK


def cmd_alarms(args: argparse.Namespace) -> int:
    from envmon.console import format_alarm_table
    from envmon.store.journal import Journal

    settings = _settings(args)
    journal = _open_journal(settings, Journal)
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
    from envmon.store.journal import Journal

    if not args.comment.strip():
        raise EnvmonError("ack: --comment must say why (GMP: an acknowledgement needs a reason)")
    if not args.user.strip():
        raise EnvmonError("ack: --user must name the person acknowledging")
    settings = _settings(args)
    journal = _open_journal(settings, Journal, readonly=False)
    try:
        alarm = journal.get_alarm(args.id)
        if alarm is None:
            raise EnvmonError(f"ack: no alarm {args.id!r} in the journal (see `envmon alarms`)")
        if not alarm.open:
            raise EnvmonError(f"ack: alarm {args.id} is already closed")
        request_id = journal.request_ack(args.id, args.user, args.comment, _os_user())
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


def cmd_report(args: argparse.Namespace) -> int:
    from envmon.facility import load_facility
    from envmon.report.command import generate

    settings = _settings(args)
    facility = load_facility(Path(settings.facility.file))
    now_ns = time.time_ns()
    from_ns = parse_time(args.from_, now_ns, "--from")
    to_ns = parse_time(args.to, now_ns, "--to")
    data = generate(
        settings,
        facility,
        from_ns,
        to_ns,
        args.room or None,
        args.batch,
        args.format,
        _os_user(),
    )
    if args.output and args.output != "-":
        Path(args.output).write_bytes(data)
        print(f"report written to {args.output} ({len(data)} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from envmon.simulate.command import run_from_args

    return run_from_args(args)


def cmd_audit(args: argparse.Namespace) -> int:
    from envmon.store.journal import Journal

    settings = _settings(args)
    journal = _open_journal(settings, Journal)
    try:
        if args.verify:
            result = journal.verify()
            if result.ok:
                print(f"audit trail intact: {result.entries} entries, hash chain verified")
                return EXIT_OK
            for problem in result.problems:
                print(f"TAMPERED: {problem}")
            print(f"audit trail verification FAILED ({len(result.problems)} problems)")
            return EXIT_ERROR
        for entry in journal.audit_entries(limit=args.limit):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.ts_ns / 1e9))
            data = json.dumps(entry.data, sort_keys=True, separators=(",", ":"))
            print(
                f"{entry.seq:>7} {when} {entry.kind:<14} {entry.subject:<24} "
                f"{entry.os_user:<10} {data}"
            )
    finally:
        journal.close()
    return EXIT_OK


def _open_journal(settings: Settings, journal_cls: Callable[..., object], readonly: bool = True):  # type: ignore[no-untyped-def]
    path = settings.storage.journal_path
    if not path.exists():
        raise EnvmonError(
            f"{path}: no journal yet (envmon run creates it in storage.state_dir "
            f"{settings.storage.state_dir})"
        )
    return journal_cls(path, readonly=readonly)


# --- parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envmon", description="GMP cleanroom environmental monitoring"
    )
    parser.add_argument("--version", action="version", version=f"envmon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--config",
            metavar="FILE",
            help="settings file (default: $ENVMON_CONFIG, then /etc/envmon/envmon.toml)",
        )
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "run the service (systemd runs this)")
    add("check-config", cmd_check_config, "validate; print each room's resolved limits")

    p = add("alarms", cmd_alarms, "active (or all) alarms from the journal")
    p.add_argument("--all", action="store_true", help="include closed alarms")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = add("ack", cmd_ack, "acknowledge an alarm; recorded in the audit trail")
    p.add_argument("id", metavar="ID")
    p.add_argument("--user", required=True, help="who acknowledges")
    p.add_argument("--comment", required=True, help="why (required)")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the service")

    p = add("report", cmd_report, "excursion report for batch review")
    p.add_argument(
        "--from",
        dest="from_",
        required=True,
        metavar="T",
        help="window start: ISO 8601 with zone, epoch seconds, or -24h style",
    )
    p.add_argument("--to", required=True, metavar="T", help="window end (same forms, or now)")
    p.add_argument("--room", action="append", metavar="R", help="a room (repeatable)")
    p.add_argument("--batch", metavar="ID", help="batch id printed on the report")
    p.add_argument("--format", choices=["pdf", "html", "csv", "json"], default="pdf")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default stdout)")

    p = add("simulate", cmd_simulate, "publish a realistic sensor fleet")
    from envmon.simulate.command import add_simulate_arguments

    add_simulate_arguments(p)

    p = add("audit", cmd_audit, "show / verify the tamper-evident audit trail")
    p.add_argument("--verify", action="store_true", help="verify the hash chain")
    p.add_argument("--limit", type=int, default=None, help="show only the last N entries")
    return parser


def _join_relative_times(argv: Sequence[str]) -> list[str]:
    """``--from -24h`` as ``--from=-24h``: argparse would take ``-24h`` for an option."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in ("--from", "--to") and i + 1 < len(items) and items[i + 1][:1] == "-":
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_relative_times(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except EnvmonError as exc:
        print(f"envmon: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
