"""The report's ``audit_extract``: the journal entries of the window, in words; pure.

A reviewer reads who did what and when, without opening the journal:
signatures, refused signatures and failed sign-ins, console sign-ins,
user administration, what the service did with each signed request
(shelving, service states, room states, calibration records, reloads),
shelving and unshelving of alarms, room states with their source,
configuration loads, batch events, and the journal's own changes (schema,
keying). Alarm transitions are the report's ``alarms``; queued requests
are told with their outcome. Each row is built from named fields only:
no password, password hash or salt can reach it (user entries hold the
SHA-256 of a hash, which is never shown either).

Entries about a room, sensor, piece of equipment or alarm outside the
report's scope (``foreign``) are left out. Entries about the report's batch
are kept whenever they were journaled: its end is signed as it ends, so
that signature comes just after the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from envmon.alarms.events import Transition
from envmon.journal.audit import KIND_ALARM_PREFIX, KIND_CONFIG_LOAD, KIND_ROOM_STATE, AuditEntry
from envmon.journal.audit_batches import KIND_BATCH_ENDED, KIND_BATCH_REFUSED, KIND_BATCH_STARTED
from envmon.journal.audit_signing import (
    KIND_REQUEST,
    KIND_REQUEST_OUTCOME,
    KIND_SCHEMA_MIGRATED,
    KIND_SIGN_IN,
    KIND_SIGNATURE,
    KIND_SIGNATURE_REFUSED,
    KIND_USER_ADDED,
    KIND_USER_DISABLED,
    KIND_USER_PASSWORD,
)
from envmon.journal.chain import KIND_CHAIN_KEYED
from envmon.readings import isoformat_ns
from envmon.report.records import ExtractRow

SHELVING: Final = (
    KIND_ALARM_PREFIX + Transition.SHELVED.value,
    KIND_ALARM_PREFIX + Transition.UNSHELVED.value,
)


def audit_extract(
    entries: Iterable[AuditEntry],
    from_ns: int,
    to_ns: int,
    foreign: frozenset[str] = frozenset(),
    batch: str | None = None,
) -> tuple[ExtractRow, ...]:
    """The rows of the entries journaled in ``[from_ns, to_ns)`` or about ``batch``, in
    journal order."""
    entries = sorted(
        (e for e in entries if from_ns <= e.ts_ns < to_ns or (batch and e.subject == batch)),
        key=lambda e: e.seq,
    )
    requests = {int(e.data["id"]): e for e in entries if e.kind == KIND_REQUEST}
    signers = {e.seq: str(e.data["user"]) for e in entries if e.kind == KIND_SIGNATURE}
    rows = []
    for entry in entries:
        if entry.subject in foreign:
            continue
        told = _told(entry, requests, signers)
        if told is not None:
            user, text = told
            rows.append(
                ExtractRow(entry.seq, entry.ts_ns, entry.kind, entry.subject, user,
                           entry.os_user, text)
            )  # fmt: skip
    return tuple(rows)


def sentence(entry: AuditEntry) -> str | None:
    """One entry in words, as the extract tells it (a request's outcome without its
    request); None for a kind the extract does not show."""
    told = _told(entry, {}, {})
    return None if told is None else told[1]


def _told(
    entry: AuditEntry, requests: Mapping[int, AuditEntry], signers: Mapping[int, str]
) -> tuple[str | None, str] | None:
    """(the named user, the sentence) of an entry the extract shows; None for the others."""
    d, kind = entry.data, entry.kind
    if kind == KIND_SIGNATURE:
        return d["user"], (
            f"{d['full_name']} ({d['role']}) signed {_act(d['act'])} of {entry.subject}, "
            f"meaning {d['meaning']!r}, at {isoformat_ns(d['signed_ns'])}: {d['comment']}"
        )
    if kind == KIND_SIGNATURE_REFUSED:
        what = "sign-in" if d["act"] == "sign_in" else f"signature ({_act(d['act'])} of " \
            f"{d['subject']})"  # fmt: skip
        return d["user"], f"{what} refused: {d['reason']}"
    if kind == KIND_SIGN_IN:
        return d["user"], f"signed in to the console from {d['client']}"
    if kind == KIND_USER_ADDED:
        return None, f"user {d['name']} added: {d['full_name']}, role {d['role']}"
    if kind == KIND_USER_PASSWORD:
        return None, f"password of user {d['name']} set"
    if kind == KIND_USER_DISABLED:
        return None, f"user {d['name']} disabled: {d['disabled_reason']}"
    if kind == KIND_REQUEST_OUTCOME:
        return _outcome(entry, requests, signers)
    if kind in SHELVING:
        return _shelving(entry)
    if kind == KIND_ROOM_STATE:
        return None, f"room {d['room']} {d['state'].replace('_', ' ')} (source: {d['source']})"
    if kind == KIND_CONFIG_LOAD:
        return _config_load(d)
    if kind in (KIND_BATCH_STARTED, KIND_BATCH_ENDED, KIND_BATCH_REFUSED):
        return _batch(kind, d)
    if kind == KIND_CHAIN_KEYED:
        return None, f"journal chain keyed ({d['algorithm']}) from this entry on"
    if kind == KIND_SCHEMA_MIGRATED:
        return None, f"journal schema migrated from {d['from']} to {d['to']}"
    return None


def _act(act: str) -> str:
    return act.replace("_", " ")


def _outcome(
    entry: AuditEntry, requests: Mapping[int, AuditEntry], signers: Mapping[int, str]
) -> tuple[str | None, str]:
    d = entry.data
    request = requests.get(int(d["id"]))
    if request is None:  # queued before the window
        return None, f"signed request {d['id']} on {entry.subject}: {d['outcome']}"
    act = str(request.data["act"])
    params = _params(request.data.get("params") or {})
    user = signers.get(int(request.data["signature_seq"]))
    what = f"{_act(act)} of {entry.subject}{params}"
    if d["outcome"] == "ok":
        return user, f"{what} applied by the service"
    return user, f"{what} not applied: {d['outcome']}"


def _params(params: Mapping[str, Any]) -> str:
    """The request's parameters a reviewer needs: until, state, due date, certificate."""
    parts = []
    if params.get("until_ns") is not None:
        parts.append(f"until {isoformat_ns(int(params['until_ns']))}")
    for key in ("state", "due", "certificate", "sha256"):
        if params.get(key) is not None:
            value = params[key]
            parts.append(f"{key} {str(value)[:12] if key == 'sha256' else value}")
    return f" ({', '.join(parts)})" if parts else ""


def _shelving(entry: AuditEntry) -> tuple[str | None, str]:
    alarm = entry.data["alarm"]
    signatures = alarm.get("signatures") or []
    if entry.kind == SHELVING[0]:
        until = alarm.get("shelved_until_ns")
        user = signatures[-1]["user"] if signatures else None
        to = f" until {isoformat_ns(int(until))}" if until is not None else ""
        return user, f"alarm {entry.subject} shelved{to}"
    # A signed unshelve is its own signature row; this says when shelving ended.
    return None, f"alarm {entry.subject} unshelved"


def _config_load(d: Mapping[str, Any]) -> tuple[str | None, str]:
    by = d.get("by")
    changes = d.get("changes")
    counted = "not compared" if changes is None else f"{len(changes)} changes"
    who = f"signed by {by['user']}: {d.get('reason', '')}" if by else "UNSIGNED"
    text = f"{d['what']} loaded ({d['source']}), sha256 {d['sha256'][:12]}, {counted}, {who}"
    return (by["user"] if by else None), text


def _batch(kind: str, d: Mapping[str, Any]) -> tuple[str | None, str]:
    by = d.get("by") or {}
    signature = by.get("signature")
    user = signature["user"] if signature else None
    source = f"signed by {user}" if user else f"from {by.get('topic')}"
    if kind == KIND_BATCH_STARTED:
        rooms = ", ".join(d["rooms"])
        return user, f"batch {d['batch']} started at {isoformat_ns(d['start_ns'])} in {rooms}, " \
            f"{source}"  # fmt: skip
    if kind == KIND_BATCH_ENDED:
        return user, f"batch {d['batch']} ended at {isoformat_ns(d['end_ns'])}, {source}"
    return user, f"batch {d['batch']} {d['event']} refused: {d['reason']} ({source})"
