"""``envmon user add|passwd|disable|list``: the people who sign (design.md section 8).

These need write access to the state directory (root or the service user)
rather than a signature: the first administrator is made this way. Each
change is journaled under the operating-system user who ran it. Passwords
are asked twice on the terminal, or read from one line of standard input
with ``--password-stdin``; only their argon2id hash is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from envmon.cli.common import EXIT_OK, Subcommands, open_journal, open_journal_creating, settings_of
from envmon.cli.signing_io import read_password
from envmon.errors import EnvmonError
from envmon.journal.people import UserRecord
from envmon.readings import isoformat_ns
from envmon.signing.passwords import hash_password, verify_password
from envmon.signing.rules import (
    Role,
    SecurityPolicy,
    locked_until,
    password_expires_ns,
    password_problem,
    user_name_problem,
)


def register(sub: Subcommands) -> None:
    group = sub.group("user", "the people who sign: add, change password, disable, list")
    p = group.add("add", cmd_add, "add a user")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--full-name", required=True, help='the printed name, e.g. "Jane Doe"')
    _password_option(p)

    p = group.add("passwd", cmd_passwd, "set a user's password (also ends a lockout)")
    p.add_argument("name", metavar="NAME")
    _password_option(p)

    p = group.add("disable", cmd_disable, "disable a user for good (names are never reused)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--reason", required=True, help="why (required)")

    p = group.add("list", cmd_list, "the users, their roles and state")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def _password_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input instead of asking twice",
    )


def cmd_add(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    problem = user_name_problem(args.name)
    if problem:
        raise EnvmonError(f"user add: {problem}")
    full_name = args.full_name.strip()
    if not full_name:
        raise EnvmonError("user add: --full-name is the name printed with each signature")
    password = _new_password(args, settings.security.policy())
    with closing(open_journal_creating(settings)) as journal:
        if journal.people.get(args.name) is not None:
            raise EnvmonError(f"user add: user {args.name} exists already")
        user = journal.people.add(args.name, full_name, args.role, hash_password(password))
    print(f"user {user.name} ({user.full_name}, {user.role}) added")
    return EXIT_OK


def cmd_passwd(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    with closing(open_journal(settings, readonly=False)) as journal:
        if journal.people.get(args.name) is None:
            raise EnvmonError(f"user passwd: no user {args.name} (see `envmon user list`)")
        password = _new_password(args, settings.security.policy())
        current = journal.people.password_hash(args.name)
        if current is not None and verify_password(current, password):
            raise EnvmonError("user passwd: the new password must differ from the current one")
        journal.people.set_password(args.name, hash_password(password))
    print(f"password of user {args.name} changed")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    reason = args.reason.strip()
    if not reason:
        raise EnvmonError("user disable: --reason must say why")
    settings = settings_of(args)
    with closing(open_journal(settings, readonly=False)) as journal:
        if journal.people.get(args.name) is None:
            raise EnvmonError(f"user disable: no user {args.name} (see `envmon user list`)")
        journal.people.disable(args.name, reason)
    print(f"user {args.name} disabled: {reason}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    policy = settings.security.policy()
    now_ns = time.time_ns()
    with closing(open_journal(settings)) as journal:
        listed = [
            _Listed.of(u, policy, journal.people.locking_failures(u.name), now_ns)
            for u in journal.people.all()
        ]
    if args.json:
        json.dump([u.to_json() for u in listed], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not listed:
        print("no users (add one with `envmon user add`)")
        return EXIT_OK
    rows = [("NAME", "FULL NAME", "ROLE", "STATE", "PASSWORD SET")]
    for u in listed:
        rows.append(
            (
                u.user.name,
                u.user.full_name,
                u.user.role,
                u.state_text,
                isoformat_ns(u.user.password_set_ns),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


def _new_password(args: argparse.Namespace, policy: SecurityPolicy) -> str:
    password = read_password(args.password_stdin, f"New password for {args.name}: ", confirm=True)
    problem = password_problem(args.name, password, policy)
    if problem:
        raise EnvmonError(f"user {args.name}: {problem}; nothing changed")
    return password


@dataclass(frozen=True, slots=True)
class _Listed:
    """A user with what the policy says about them now."""

    user: UserRecord
    expires_ns: int | None
    locked_until_ns: int | None
    """Only while the lockout lasts."""
    expired: bool

    @classmethod
    def of(
        cls, user: UserRecord, policy: SecurityPolicy, failures: list[int], now_ns: int
    ) -> _Listed:
        locked = locked_until(failures, policy)
        expires = password_expires_ns(user.password_set_ns, policy)
        return cls(
            user=user,
            expires_ns=expires,
            locked_until_ns=locked if locked is not None and now_ns < locked else None,
            expired=expires is not None and now_ns >= expires,
        )

    @property
    def state(self) -> str:
        """``active``, ``disabled``, ``locked_out`` or ``password_expired``."""
        if self.user.disabled:
            return "disabled"
        if self.locked_until_ns is not None:
            return "locked_out"
        return "password_expired" if self.expired else "active"

    @property
    def state_text(self) -> str:
        if self.user.disabled:
            return f"disabled: {self.user.disabled_reason}"
        if self.locked_until_ns is not None:
            return f"locked out until {isoformat_ns(self.locked_until_ns)}"
        return self.state.replace("_", " ")

    def to_json(self) -> dict[str, Any]:
        u = self.user
        return {
            "name": u.name,
            "full_name": u.full_name,
            "role": u.role,
            "state": self.state,
            "disabled": u.disabled,
            "disabled_reason": u.disabled_reason or None,
            "created_at": isoformat_ns(u.created_ns),
            "password_set_at": isoformat_ns(u.password_set_ns),
            "password_expires_at": _iso(self.expires_ns),
            "locked_until": _iso(self.locked_until_ns),
        }


def _iso(ts_ns: int | None) -> str | None:
    return isoformat_ns(ts_ns) if ts_ns is not None else None
