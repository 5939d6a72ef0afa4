"""What the signing commands share: reading a password, naming the terminal,
signing through the one path (``envmon.signing.signer``) and waiting for the
service to apply the request."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from envmon.cli.common import EXIT_OK, EXIT_SIGNATURE_REFUSED, EXIT_UNCONFIRMED, current_os_user
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal
from envmon.journal.requests import OUTCOME_OK
from envmon.readings import isoformat_ns
from envmon.settings import Settings
from envmon.signing.rules import Act
from envmon.signing.signer import SignatureAttempt, SignatureRefused, Signed, Signer

POLL_S = 0.1


def add_signing_options(p: argparse.ArgumentParser, *, wait: bool = True) -> None:
    p.add_argument("--user", required=True, help="who signs (envmon user list)")
    p.add_argument("--comment", required=True, help="why (required)")
    p.add_argument("--meaning", help="what the signature means (from [signatures] meanings)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input instead of the terminal",
    )
    if wait:
        p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the service")


def check_signing_args(args: argparse.Namespace, act: Act) -> None:
    """Usage mistakes, before anything is opened or asked."""
    if not args.user.strip():
        raise EnvmonError(f"{act.value}: --user must name who signs")
    if not args.comment.strip():
        raise EnvmonError(f"{act.value}: --comment must say why (a signature needs a reason)")


def read_password(from_stdin: bool, prompt: str, *, confirm: bool = False) -> str:
    """One line of standard input, or asked on the terminal (twice with ``confirm``)."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EnvmonError("--password-stdin: no password on standard input")
        return line.removesuffix("\n").removesuffix("\r")
    if not have_terminal():
        raise EnvmonError(
            "no terminal to ask the password on: give it on standard input with --password-stdin"
        )
    password = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != password:
        raise EnvmonError("the two passwords differ; nothing changed")
    return password


def have_terminal() -> bool:
    """Whether getpass can ask on a terminal (it reads /dev/tty, not standard input)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
    except OSError:
        return False
    return True


def client_name() -> str:
    """The terminal this command runs on, as a signature's client."""
    for fd in (0, 1, 2):
        try:
            return f"cli {os.ttyname(fd)}"
        except OSError:
            continue
    return "cli (no terminal)"


def signer_for(settings: Settings, journal: Journal) -> Signer:
    return Signer(journal, settings.security.policy(), settings.signatures.meanings)


def sign(
    args: argparse.Namespace,
    settings: Settings,
    journal: Journal,
    act: Act,
    subject: str,
    params: Callable[[], Mapping[str, Any]] | None = None,
) -> Signed:
    """Ask for the password and sign ``act`` on ``subject``; raises
    ``SignatureRefused`` or ``EnvmonError``. ``params`` is called after the
    password is read (a shelving's end counts from then)."""
    check_signing_args(args, act)
    signer = signer_for(settings, journal)
    meaning = signer.meaning(act, args.meaning)
    password = read_password(args.password_stdin, f"Password for {args.user}: ")
    attempt = SignatureAttempt(
        user=args.user,
        password=password,
        act=act,
        subject=subject,
        comment=args.comment,
        meaning=meaning,
        params=params() if params is not None else {},
        os_user=current_os_user(),
        client=client_name(),
    )
    return signer.sign(attempt)


def sign_and_wait(
    args: argparse.Namespace,
    settings: Settings,
    journal: Journal,
    act: Act,
    subject: str,
    done: str,
    params: Callable[[], Mapping[str, Any]] | None = None,
) -> int:
    """Sign, queue the request, and wait for the service to apply it.

    Prints ``done`` (``"alarm X acknowledged"``) with the signature on success;
    exit 2 for a refused signature, 1 when the service refused the act, 3 when
    it did not answer within ``--wait`` seconds (the request stays queued).
    """
    try:
        signed = sign(args, settings, journal, act, subject, params)
    except SignatureRefused as exc:
        print(f"envmon: {exc}", file=sys.stderr)
        return EXIT_SIGNATURE_REFUSED
    assert signed.request_id is not None
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        outcome = journal.requests.outcome(signed.request_id)
        if outcome is not None:
            if outcome != OUTCOME_OK:
                raise EnvmonError(f"{act.value}: the service refused: {outcome}")
            sig = signed.signature
            print(
                f"{done}: signed by {sig.full_name} ({sig.user}, {sig.role}) "
                f"at {isoformat_ns(sig.signed_ns)}, meaning {sig.meaning!r}"
            )
            return EXIT_OK
        time.sleep(POLL_S)
    print(
        f"{act.value} request {signed.request_id} for {subject} is signed and queued: the "
        f"service has not confirmed it within {args.wait:g} s (is `envmon run` running?); "
        "it is applied when the service next runs",
        file=sys.stderr,
    )
    return EXIT_UNCONFIRMED
