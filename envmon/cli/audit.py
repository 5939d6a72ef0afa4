"""``envmon audit``: show or verify the journal's tamper-evident audit trail."""

from __future__ import annotations

import argparse
import json
import time

from envmon.cli.common import EXIT_ERROR, EXIT_OK, Subcommands, open_journal, settings_of


def register(sub: Subcommands) -> None:
    p = sub.add("audit", cmd_audit, "show / verify the tamper-evident audit trail")
    p.add_argument("--verify", action="store_true", help="verify the hash chain")
    p.add_argument("--limit", type=int, default=None, help="show only the last N entries")


def cmd_audit(args: argparse.Namespace) -> int:
    journal = open_journal(settings_of(args))
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
