"""What changed between two loads of the configuration, key by key (design.md section 10).

A configuration is flattened into dotted keys with plain values: the
facility file as validated, plus every resolved limit (so that a change of a
built-in Annex 1 number, or of a room's grade, shows as the limits it moved),
or the service settings with secrets masked. Lists of entries with an ``id``
(rooms, sensors, equipment, parameters) are keyed by that id, so reordering
a file changes nothing; other lists of tables by position; lists of plain
values are one value. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envmon.facility import Facility
from envmon.gmp import LIMIT_KEYS, RATE_KEYS, RULE_KEYS, resolve_facility
from envmon.settings import Settings

Flat = dict[str, Any]

MASKED = "(secret)"


@dataclass(frozen=True, slots=True)
class Change:
    """One key whose value differs; ``None`` on a side where the key is absent."""

    key: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new}


def flatten(value: Any, prefix: str = "") -> Flat:
    """Nested mappings and lists as ``{dotted.key: plain value}``."""
    out: Flat = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        for index, item in enumerate(value):
            name = item.get("id", index)
            rest = {k: v for k, v in item.items() if k != "id"} if "id" in item else item
            out.update(flatten(rest, f"{prefix}.{name}" if prefix else str(name)))
    elif isinstance(value, list | tuple):
        out[prefix] = [plain(v) for v in value]
    elif value is not None:
        out[prefix] = plain(value)
    return out


def plain(value: Any) -> Any:
    """A JSON-ready scalar: enums by value, dates and paths as text."""
    if isinstance(value, bool | int | float | str):
        return value.value if hasattr(value, "value") else value
    return str(value)


def flatten_facility(facility: Facility) -> Flat:
    """The facility file as validated, plus the limits it resolves to per room state,
    for every room and every piece of equipment (keyed by its id)."""
    out = flatten(facility.model.model_dump(mode="json", exclude_none=True), "facility")
    rooms, equipment = resolve_facility(facility)
    for owner, table in (*rooms.items(), *equipment.items()):
        for parameter, by_state in table.items():
            for state, resolved in by_state.items():
                prefix = f"resolved.{owner}.{parameter}.{state.value}"
                for key in (*LIMIT_KEYS, *RATE_KEYS, *RULE_KEYS):
                    value = getattr(resolved, key)
                    if value is not None:
                        out[f"{prefix}.{key}"] = plain(list(value) if key == "n_of_m" else value)
    return out


def flatten_settings(settings: Settings) -> Flat:
    """The service settings; every secret is shown only as set."""
    dumped = settings.model_dump(mode="json")
    flat = flatten(dumped, "settings")
    for key, value in flat.items():
        if _is_secret(key) and value is not None:
            flat[key] = MASKED
    return flat


def _is_secret(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last in {"password", "token", "key"} or last.endswith("_secret")


def diff(old: Flat, new: Flat) -> list[Change]:
    """Every key added, removed or changed, sorted by key."""
    return [
        Change(key, old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]
