"""``envmon reload``: a signed reload of the facility file (design.md section 10).

The command validates the file, compares it with the load the service is
running (the journal's last facility load), shows the difference key by key,
and signs the file's SHA-256 with that difference (``--reason`` is the
signature's comment). The service applies it only if the file and the
difference are still what was signed; otherwise it refuses, the refusal is
the request's outcome, and this command exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path

from envmon.cli.common import Subcommands, open_journal, settings_of
from envmon.cli.signing_io import add_signing_options, sign_and_wait
from envmon.errors import EnvmonError
from envmon.readings import isoformat_ns
from envmon.runtime.reload import PreparedLoad, prepare_reload
from envmon.signing.rules import Act

SUBJECT = "facility"
SHOWN_CHANGES = 50


def register(sub: Subcommands) -> None:
    p = sub.add(
        "reload",
        cmd_reload,
        "reload the facility file, signed: who, why and the key-by-key difference",
    )
    # The signature's comment is the reason for the change.
    add_signing_options(p, comment="--reason", wait_s=10.0)


def cmd_reload(args: argparse.Namespace) -> int:
    if not args.user.strip():
        raise EnvmonError("reload: --user must name who signs")
    if not args.comment.strip():
        raise EnvmonError("reload: --reason must say why the configuration changes")
    settings = settings_of(args)
    path = Path(settings.facility.file)
    with closing(open_journal(settings, readonly=False)) as journal:
        prepared = prepare_reload(journal, path)
        previous = prepared.previous
        if prepared.compared.changes == ():
            assert previous is not None
            raise EnvmonError(
                f"reload: {path} is unchanged since the service loaded it "
                f"({isoformat_ns(previous.at_ns)}, audit seq {previous.seq}): nothing to reload"
            )
        sys.stderr.write(describe_changes(prepared))
        params = prepared.reload_params()
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.RELOAD,
            SUBJECT,
            f"facility {path} reloaded (sha256 {prepared.facility.sha256[:12]})",
            params=lambda: params,
        )


def describe_changes(prepared: PreparedLoad) -> str:
    """What is about to be signed, for the person signing."""
    compared = prepared.compared
    lines = [f"reload {prepared.facility.path} (sha256 {prepared.facility.sha256[:12]})"]
    if compared.changes is None:
        lines.append(f"  no difference to show: {compared.note}")
    else:
        lines.append(f"  {len(compared.changes)} changes from the running facility:")
        for change in compared.changes[:SHOWN_CHANGES]:
            lines.append(f"  {change.key}: {change.old!r} -> {change.new!r}")
        if len(compared.changes) > SHOWN_CHANGES:
            lines.append(f"  ... and {len(compared.changes) - SHOWN_CHANGES} more (all are signed)")
    return "\n".join(lines) + "\n"
