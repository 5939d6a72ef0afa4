"""Audit entries as a person reads them: when, what, who, and a one-line summary.

Pure. Nothing secret is ever shown: keys that name a password, a hash, a
credential, a salt, a token or a secret are dropped from the summary wherever
they occur.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from envmon.alarms.events import Rule
from envmon.console.views import DASH, ParameterWords, level_label, time_label, where
from envmon.journal.audit import AuditEntry
from envmon.journal.audit_transients import KIND_TRANSIENT
from envmon.report.audit_extract import sentence

# What the service records by itself (a person's act shows their name instead).
_SERVICE_KINDS: Final = ("alarm.", "request_outcome", "room_state", "config_load")
_SECRET_WORDS: Final = ("password", "hash", "credential", "salt", "token", "secret", "key")

KIND_LABELS: Final = {
    "alarm.raised": "raised",
    "alarm.cleared": "cleared",
    "alarm.acked": "acknowledged",
    "alarm.closed": "closed",
    "alarm.escalated": "escalated",
    "alarm.shelved": "shelved",
    "alarm.unshelved": "unshelved",
    "ack_request": "acknowledgement asked",
    "ack_outcome": "acknowledgement applied",
    "room_state": "room state",
    "config_load": "configuration loaded",
    "signature": "signed",
    "signature_refused": "signature refused",
    "sign_in": "signed in",
    "request": "request queued",
    "request_outcome": "request applied",
    "user_added": "user added",
    "user_password": "password changed",
    "user_disabled": "user disabled",
}


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    when: str
    kind: str
    label: str
    subject: str
    who: str
    """The named person behind the entry, or empty."""
    by: str
    """``who``, else ``envmon`` for what the service did by itself."""
    os_user: str
    summary: str


def redact(value: Any) -> Any:
    """``value`` without any mapping key that names a secret, at any depth."""
    if isinstance(value, Mapping):
        return {
            k: redact(v)
            for k, v in value.items()
            if not any(word in str(k).lower() for word in _SECRET_WORDS)
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def who_of(data: Mapping[str, Any]) -> str:
    """The named person behind an entry: a signature's user, a request's user."""
    signature = data.get("signature")
    if isinstance(signature, Mapping) and signature.get("user"):
        return str(signature["user"])
    if data.get("user"):
        return str(data["user"])
    alarm = data.get("alarm")
    if not isinstance(alarm, Mapping):
        return ""
    if data.get("transition") == "acked" and alarm.get("acked_by"):
        return str(alarm["acked_by"])
    signatures = alarm.get("signatures")
    # A shelving is always signed: the alarm's newest signature is the shelver's.
    if data.get("transition") == "shelved" and isinstance(signatures, list) and signatures:
        last = signatures[-1]
        return str(last.get("user", "")) if isinstance(last, Mapping) else ""
    return ""


def summary_of(entry: AuditEntry, words: ParameterWords) -> str:
    data = entry.data
    alarm = data.get("alarm") if isinstance(data.get("alarm"), Mapping) else None
    if entry.kind.startswith("alarm.") and alarm is not None:
        parameter = str(alarm.get("parameter", ""))
        rule = str(alarm.get("rule", Rule.LIMIT))
        level = level_label(str(alarm.get("level", "")))
        place = where(str(alarm.get("room", "")), alarm.get("equipment") or None)
        parts = [f"{level} alarm, {words.label(parameter)} in {place}"]
        if rule == Rule.RATE:
            parts.append("rate of change")
        for key in ("value", "peak", "limit"):
            if alarm.get(key) is not None:
                parts.append(f"{key} {words.value(alarm[key], parameter, rule)}")
        if entry.kind == "alarm.acked" and alarm.get("comment"):
            parts.append(f"comment: {alarm['comment']}")
        parts.append(f"now {alarm.get('state', '')}")
        return "; ".join(parts)
    if entry.kind == "room_state":
        return f"{data.get('room')} → {data.get('state')} (source: {data.get('source')})"
    if entry.kind == "ack_request":
        return f"comment: {data.get('comment', '')}"
    if entry.kind == "ack_outcome":
        return str(data.get("outcome", ""))
    if entry.kind == "config_load":
        return f"{entry.subject} from {data.get('path', '')}"
    if entry.kind == "signature":
        who = f"{data.get('full_name', '')} ({data.get('user', '')}, {data.get('role', '')})"
        return f"{data.get('act', '')}, meaning {data.get('meaning', '')!r}, by {who}: " + str(
            data.get("comment", "")
        )
    if entry.kind == "signature_refused":
        client = f" from {data['client']}" if data.get("client") else ""
        return f"{data.get('act', '')} refused{client}: {data.get('reason', '')}"
    if entry.kind == "sign_in":
        return f"signed in from {data.get('client', '')}"
    if entry.kind == "request":
        params = {k: v for k, v in (data.get("params") or {}).items() if v is not None}
        shown = ", ".join(f"{k} {_param(k, v)}" for k, v in params.items())
        return f"{data.get('act', '')} {entry.subject}" + (f" ({shown})" if shown else "")
    if entry.kind == "request_outcome":
        return str(data.get("outcome", ""))
    if entry.kind in ("user_added", "user_password", "user_disabled"):
        text = f"{data.get('name', '')} ({data.get('full_name', '')}, {data.get('role', '')})"
        if entry.kind == "user_disabled":
            text += f": {data.get('disabled_reason', '')}"
        return text
    if entry.kind == KIND_TRANSIENT and isinstance(data.get("transient"), Mapping):
        return _transient(data["transient"], words)
    told = sentence(entry)
    if told is not None:
        return told
    shown = redact(data)
    return json.dumps(shown, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))[:400]


def _transient(t: Mapping[str, Any], words: ParameterWords) -> str:
    """A run beyond a limit shorter than its delay or persistence rule: no alarm."""
    parameter = str(t.get("parameter", ""))
    place = where(str(t.get("room", "")), t.get("equipment") or None)
    seconds = (int(t.get("end_ns", 0)) - int(t.get("start_ns", 0))) / 1e9
    return (
        f"{level_label(str(t.get('level', '')))} transient, {words.label(parameter)} "
        f"{t.get('side', '')} in {place} ({t.get('sensor', '')}): peak "
        f"{words.value(t.get('peak'), parameter)} against limit "
        f"{words.value(t.get('limit'), parameter)} for {seconds:.0f} s, "
        f"{t.get('samples', 0)} samples; shorter than its rule, no alarm"
    )


def _param(key: str, value: Any) -> str:
    if key.endswith("_ns") and isinstance(value, int):
        return time_label(value)
    return str(value)


def entry_view(entry: AuditEntry, words: ParameterWords) -> EntryView:
    """``when`` is when it happened: an alarm transition's own time, else the entry's;
    parameters are named and their values written as ``words`` has them."""
    at_ns = entry.data.get("at_ns")
    who = who_of(entry.data)
    return EntryView(
        seq=entry.seq,
        when=time_label(at_ns if isinstance(at_ns, int) else entry.ts_ns),
        kind=entry.kind,
        label=KIND_LABELS.get(entry.kind, entry.kind.replace("_", " ").replace(".", " ")),
        subject=entry.subject,
        who=who,
        by=who or ("envmon" if entry.kind.startswith(_SERVICE_KINDS) else DASH),
        os_user=entry.os_user,
        summary=summary_of(entry, words),
    )
