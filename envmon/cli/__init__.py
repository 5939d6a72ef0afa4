"""The ``envmon`` command (design.md section 6).

One module per group of subcommands; each has a ``register(sub)`` that adds
its subcommands to the parser. Errors a user can cause end as one
``envmon: error: ...`` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from envmon import __version__
from envmon.cli import (
    alarms,
    audit,
    batch,
    calibration,
    console,
    reload,
    report,
    service,
    signed,
    users,
)
from envmon.cli.common import EXIT_ERROR, Subcommands
from envmon.errors import EnvmonError

_GROUPS = (service, alarms, signed, reload, batch, calibration, users, report, audit, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envmon", description="GMP cleanroom environmental monitoring"
    )
    parser.add_argument("--version", action="version", version=f"envmon {__version__}")
    sub = Subcommands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for group in _GROUPS:
        group.register(sub)
    return parser


def _join_relative_times(argv: Sequence[str]) -> list[str]:
    """``--from -24h`` as ``--from=-24h``: argparse would take ``-24h`` for an option."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if (
            items[i] in ("--from", "--to", "--at")
            and i + 1 < len(items)
            and items[i + 1][:1] == "-"
        ):
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
