"""``envmon batch start|end`` (signed) and ``envmon batches``: the batch registry (section 10).

A batch can also start and end by a message from the MES on
``<prefix>/<site>/batch``; both ways end in the journal's registry, which
refuses a reused id, an end of an unknown or ended batch, rooms not in the
facility and an end before the start. The command checks the same rules
before asking for the password, so a mistake costs no signature.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Collection
from contextlib import closing
from pathlib import Path

from envmon.batches import (
    Batch,
    BatchEvent,
    BatchEventKind,
    event_params,
    event_problem,
)
from envmon.cli.common import EXIT_OK, Subcommands, open_journal, settings_of
from envmon.cli.signing_io import add_signing_options, check_signing_args, sign_and_wait
from envmon.errors import EnvmonError
from envmon.facility import load_facility
from envmon.readings import isoformat_ns
from envmon.settings import Settings
from envmon.signing.rules import Act
from envmon.timeparse import parse_time


def register(sub: Subcommands) -> None:
    group = sub.group("batch", "start or end a batch (signed)")
    p = group.add("start", cmd_batch_start, "start a batch in rooms (signed)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--rooms", required=True, metavar="R1,R2", help="the batch's rooms")
    p.add_argument("--at", metavar="T", help="when it started (default: now)")
    p.add_argument("--product", default="", metavar="TEXT", help="what the batch makes")
    add_signing_options(p)

    p = group.add("end", cmd_batch_end, "end a batch (signed)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--at", metavar="T", help="when it ended (default: now)")
    add_signing_options(p)

    p = sub.add("batches", cmd_batches, "the batch registry: who started and ended each, and how")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def _at(args: argparse.Namespace, what: str) -> int | None:
    """``--at`` in ns, or None for the moment of signing; never in the future."""
    if not args.at:
        return None
    now_ns = time.time_ns()
    at_ns = parse_time(args.at, now_ns, f"{what}: --at")
    if at_ns > now_ns:
        raise EnvmonError(f"{what}: --at {isoformat_ns(at_ns)} is in the future")
    return at_ns


def cmd_batch_start(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.BATCH)
    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    rooms = tuple(dict.fromkeys(r.strip() for r in args.rooms.split(",") if r.strip()))
    at_ns = _at(args, "batch start")

    def event(now_ns: int) -> BatchEvent:
        return BatchEvent(
            batch=args.id,
            event=BatchEventKind.START,
            at_ns=at_ns if at_ns is not None else now_ns,
            rooms=rooms,
            product=args.product.strip(),
        )

    summary = f"batch {args.id} started in {', '.join(rooms)}"
    return _sign_event(args, settings, "batch start", event, summary, facility.rooms)


def cmd_batch_end(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.BATCH)
    settings = settings_of(args)
    at_ns = _at(args, "batch end")

    def event(now_ns: int) -> BatchEvent:
        at = at_ns if at_ns is not None else now_ns
        return BatchEvent(batch=args.id, event=BatchEventKind.END, at_ns=at)

    return _sign_event(args, settings, "batch end", event, f"batch {args.id} ended")


def _sign_event(
    args: argparse.Namespace,
    settings: Settings,
    what: str,
    event: Callable[[int], BatchEvent],
    summary: str,
    rooms: Collection[str] | None = None,
) -> int:
    """Check the event against the registry, then sign it and wait for the service."""
    with closing(open_journal(settings, readonly=False)) as journal:
        problem = event_problem(event(time.time_ns()), journal.batches.get(args.id), rooms)
        if problem is not None:
            raise EnvmonError(f"{what}: {problem}")
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.BATCH,
            args.id,
            summary,
            params=lambda: event_params(event(time.time_ns())),
        )


def cmd_batches(args: argparse.Namespace) -> int:
    with closing(open_journal(settings_of(args))) as journal:
        batches = journal.batches.all()
    if args.json:
        json.dump([b.to_json() for b in batches], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_batches(batches))
    return EXIT_OK


def format_batches(batches: list[Batch]) -> str:
    """One line per batch, by start; an empty registry says so."""
    if not batches:
        return "no batches\n"
    header = ("ID", "PRODUCT", "ROOMS", "START", "END", "STARTED BY", "ENDED BY")
    rows = [header]
    for b in batches:
        rows.append(
            (
                b.id,
                b.product or "-",
                ",".join(b.rooms),
                isoformat_ns(b.start_ns),
                "running" if b.end_ns is None else isoformat_ns(b.end_ns),
                b.started_by.describe(),
                "-" if b.ended_by is None else b.ended_by.describe(),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"
