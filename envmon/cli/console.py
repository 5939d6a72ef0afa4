"""``envmon console``: the web alarm console, a process of its own (design.md section 9)."""

from __future__ import annotations

import argparse

from envmon.cli.common import EXIT_OK, Subcommands, settings_of, setup_logging
from envmon.errors import EnvmonError


def register(sub: Subcommands) -> None:
    sub.add("console", cmd_console, "serve the web alarm console (its own systemd unit)")


def cmd_console(args: argparse.Namespace) -> int:
    # Imported here: the web stack is for this command only.
    from envmon.console.app import serve
    from envmon.console.config import resolve_listen
    from envmon.console.signing_gate import SigningGate

    settings = settings_of(args)
    setup_logging(settings.log.level)
    resolve_listen(settings.console, settings.config_path)  # refuse a bad address first
    path = settings.storage.journal_path
    if not path.exists():
        raise EnvmonError(
            f"{path}: no journal yet (envmon run creates it in storage.state_dir "
            f"{settings.storage.state_dir}); start the service first"
        )
    gate = SigningGate(settings)
    try:
        serve(settings, gate)
    finally:
        gate.close()
    return EXIT_OK
