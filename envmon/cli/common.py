"""What every subcommand shares: exit codes, settings, the journal, the OS user."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Final

from envmon.errors import EnvmonError
from envmon.journal.journal import Journal, current_os_user
from envmon.settings import Settings, load_settings, resolve_config_path

__all__ = ["current_os_user"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_SIGNATURE_REFUSED: Final = 2
"""A signature was refused (wrong name or password, locked out, disabled,
expired, or a role that may not): nothing changed but the refusal's record."""
EXIT_UNCONFIRMED: Final = 3

Handler = Callable[[argparse.Namespace], int]


class Subcommands:
    """The parser's subcommands; ``add`` gives each the common ``--config`` option."""

    def __init__(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._sub = sub

    def add(self, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
        p = self._sub.add_parser(name, help=help_, description=help_)
        add_config_option(p)
        p.set_defaults(func=func)
        return p

    def group(self, name: str, help_: str) -> Subcommands:
        """A subcommand with subcommands of its own (``envmon user add``)."""
        p = self._sub.add_parser(name, help=help_, description=help_)
        return Subcommands(p.add_subparsers(dest=f"{name}_command", required=True, metavar="ACT"))


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $ENVMON_CONFIG, then /etc/envmon/envmon.toml)",
    )


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(resolve_config_path(args.config))


def setup_logging(level: str) -> None:
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def open_journal_creating(settings: Settings) -> Journal:
    """The journal for writing, created if the service never ran (users are set
    up before the first start). A journal created by root is handed to the
    owner of the state directory (the service user), as SQLite does with its
    -wal and -shm files."""
    path = settings.storage.journal_path
    created = not path.exists()
    journal = Journal(path)
    if created and os.geteuid() == 0:
        owner = path.parent.stat()
        if owner.st_uid != 0:
            for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if p.exists():
                    os.chown(p, owner.st_uid, owner.st_gid)
    return journal


def open_journal(settings: Settings, readonly: bool = True) -> Journal:
    """The service's journal; an error naming the path when there is none yet."""
    path = settings.storage.journal_path
    if not path.exists():
        raise EnvmonError(
            f"{path}: no journal yet (envmon run creates it in storage.state_dir "
            f"{settings.storage.state_dir})"
        )
    return Journal(path, readonly=readonly)
