"""``envmon audit``: show or verify the journal's tamper-evident audit trail.

``--verify`` checks the hash chain (with the journal key, when the journal
is keyed), every derived row, and the journal against its anchors in
InfluxDB (``audit_anchor``), which is what detects a journal whose last
entries were deleted. Exit status: 0 intact; 1 evidence of tampering; 3 not
verified (the key or the anchors were needed and not available: it says
which). ``--chain-only`` skips the anchors, and says that truncation then
goes undetected.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from envmon.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNCONFIRMED,
    Subcommands,
    open_journal,
    settings_of,
)
from envmon.errors import EnvmonError
from envmon.facility import load_facility
from envmon.journal.anchors import MEASUREMENT, Anchor, check_anchors, fetch_anchors
from envmon.journal.audit import VerifyResult
from envmon.journal.chain import ALGORITHM
from envmon.journal.journal import Journal
from envmon.readings import isoformat_ns
from envmon.report.influxql import InfluxQLClient
from envmon.settings import Settings


def register(sub: Subcommands) -> None:
    p = sub.add("audit", cmd_audit, "show / verify the tamper-evident audit trail")
    p.add_argument(
        "--verify",
        action="store_true",
        help="verify the hash chain, every derived row, and the anchors in InfluxDB",
    )
    p.add_argument(
        "--chain-only",
        action="store_true",
        help="with --verify: without the anchors (a truncated journal is then not detected)",
    )
    p.add_argument("--limit", type=int, default=None, help="show only the last N entries")


def cmd_audit(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    journal = open_journal(settings)
    try:
        if args.verify:
            return _verify(settings, journal, chain_only=args.chain_only)
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


def _verify(settings: Settings, journal: Journal, *, chain_only: bool) -> int:
    anchors: list[Anchor] | None = None
    unverified: list[str] = []
    if not chain_only:
        # Before the journal is read: an anchor written meanwhile is then
        # never beyond the trail being checked.
        anchors, why = _anchors(settings)
        if anchors is None:
            unverified.append(why)
    result = journal.verify()
    problems = list(result.problems)
    unverified = list(result.unverified) + unverified
    anchor_words = "anchors not checked (--chain-only): a truncated journal is not detected"
    if anchors is not None:
        check = check_anchors(anchors, result.last_seq, journal.hashes)
        problems += check.problems
        if check.latest is None:
            if result.entries:
                unverified.append(
                    f"anchors: InfluxDB has no {MEASUREMENT} points for this site: a truncated "
                    "journal cannot be detected (the service writes one every "
                    "storage.anchor_interval_s; --chain-only verifies the chain alone)"
                )
        else:
            latest = check.latest
            since = (
                f", entries {latest.seq + 1}..{result.last_seq} written since"
                if result.last_seq > latest.seq
                else ""
            )
            anchor_words = (
                f"{check.anchors} anchors in InfluxDB agree, the latest seq {latest.seq} at "
                f"{isoformat_ns(latest.ts_ns)}{since}"
            )
    for problem in problems:
        print(f"TAMPERED: {problem}")
    for reason in unverified:
        print(f"NOT VERIFIED: {reason}")
    if problems:
        print(f"audit trail verification FAILED ({len(problems)} problems)")
        return EXIT_ERROR
    if unverified:
        print("audit trail NOT VERIFIED: no tampering found in what could be checked")
        return EXIT_UNCONFIRMED
    print(f"audit trail intact: {result.entries} entries, {_chain_words(result)}; {anchor_words}")
    return EXIT_OK


def _anchors(settings: Settings) -> tuple[list[Anchor] | None, str]:
    """Every anchor of the facility's site, or None and why not."""
    client = InfluxQLClient(settings.influx)
    try:
        site = load_facility(Path(settings.facility.file)).site
        return fetch_anchors(client, site), ""
    except EnvmonError as exc:
        return None, (
            f"anchors: {exc}: without them a truncated journal is not detected "
            "(--chain-only verifies the chain alone)"
        )


def _chain_words(result: VerifyResult) -> str:
    if result.keyed_from is None:
        return "hash chain verified (SHA-256, not keyed)"
    return (
        f"hash chain verified ({ALGORITHM} under the journal key from seq {result.keyed_from}, "
        f"key id {result.key_id})"
    )
