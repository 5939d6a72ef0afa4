"""The batch record's CSV sections (``render_csv``), from the report's JSON object."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

Cell = str | int | float | bool | None
Section = tuple[str, Sequence[str], list[list[Cell]]]

RECORD_SECTIONS = ("alarms", "out_of_service", "limits_in_force", "config_changes", "audit_extract")
"""Keys of the report object told as sections here (``journal_head`` is in the report's)."""

_ALARM_KEYS = (
    "id", "room", "equipment", "sensor", "parameter", "level", "rule", "state", "raised_at",
    "cleared_at", "acked_by", "acked_at", "comment", "peak", "limit",
)  # fmt: skip
_SIGNATURE_KEYS = ("user", "full_name", "role", "meaning", "comment", "signed_at")
_LIMIT_KEYS = (
    "room", "equipment", "parameter", "room_state", "alert_high", "action_high", "alert_low",
    "action_low", "from", "to",
)  # fmt: skip
_SOURCE_KEYS = ("seq", "sha256", "signed", "by", "load")


def _who(signature: dict[str, Any] | None) -> str:
    return "" if signature is None else signature["user"]


def record_sections(obj: dict[str, Any]) -> Iterator[Section]:
    alarms = obj["alarms"]
    yield "alarms", _ALARM_KEYS, [[a[k] for k in _ALARM_KEYS] for a in alarms]
    yield (
        "alarm_signatures",
        ("alarm", *_SIGNATURE_KEYS),
        [[a["id"], *(s[k] for k in _SIGNATURE_KEYS)] for a in alarms for s in a["signatures"]],
    )
    yield (
        "shelved",
        ("alarm", "from", "to", "until", "by", "reason", "ended_by"),
        [
            [a["id"], p["from"], p["to"], p["until"], _who(p["by"]), p["reason"],
             _who(p["ended_by"])]
            for a in alarms
            for p in a["shelved"]
        ],
    )  # fmt: skip
    yield (
        "out_of_service",
        ("sensor", "room", "equipment", "from", "to", "until", "by", "reason", "returned_by"),
        [
            [p["sensor"], p["room"], p["equipment"], p["from"], p["to"], p["until"],
             _who(p["by"]), p["by"]["comment"], _who(p["returned_by"])]
            for p in obj["out_of_service"]
        ],
    )  # fmt: skip
    yield (
        "limits_in_force",
        (*_LIMIT_KEYS, *(f"source_{k}" for k in _SOURCE_KEYS)),
        [
            [*(r[k] for k in _LIMIT_KEYS), *(r["source"][k] for k in _SOURCE_KEYS)]
            for r in obj["limits_in_force"]
        ],
    )
    yield (
        "config_changes",
        ("at", "what", "seq", "sha256", "signed", "by", "source", "reason", "key", "old", "new"),
        [
            [c["at"], c["what"], c["seq"], c["sha256"], c["signed"], _who(c["by"]), c["source"],
             c["reason"], *key]
            for c in obj["config_changes"]
            for key in _keys(c)
        ],
    )  # fmt: skip
    yield (
        "audit_extract",
        ("seq", "at", "kind", "subject", "user", "os_user", "text"),
        [[r[k] for k in ("seq", "at", "kind", "subject", "user", "os_user", "text")]
         for r in obj["audit_extract"]],
    )  # fmt: skip


def _keys(change: dict[str, Any]) -> list[list[Cell]]:
    """One row per key; a load not compared, or changing nothing, still one row."""
    if change["changes"] is None:
        return [["(not compared)", change["note"], None]]
    if not change["changes"]:
        return [["(nothing changed)", None, None]]
    return [[c["key"], _plain(c["old"]), _plain(c["new"])] for c in change["changes"]]


def _plain(value: Any) -> Cell:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
