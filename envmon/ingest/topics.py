"""Topic mapping: which site, room, kind and sensor a topic speaks for.

Patterns work like Telegraf's topic parsing: a pattern has one entry per
topic level, either a literal, a named capture (``{site}``, ``{room}``,
``{kind}``, ``{sensor}``), ``+`` (any one level) or a final ``#`` (the rest).
``{prefix}`` stands for the configured MQTT prefix.

Order: configured data rules, configured state patterns, then the contract
layout (``<prefix>/<site>/<room>/state``,
``<prefix>/<site>/<room>/<kind>/<sensor_id>`` and the MES's
``<prefix>/<site>/batch``). Our own output topics
(``<prefix>/<site>/envmon/...``) are recognised before any pattern, so they
are never read back as input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

CAPTURES: Final = frozenset({"site", "room", "kind", "sensor"})
STATE_CAPTURES: Final = frozenset({"site", "room"})
OWN_LEVEL: Final = "envmon"
BATCH_LEVEL: Final = "batch"

_LITERAL: Final = 0
_CAPTURE: Final = 1
_ANY: Final = 2


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """What a topic names; ``None`` where the pattern does not capture it.

    ``rule`` is the index of the configured data rule, ``None`` for the
    contract layout. ``state`` marks a room-state topic, ``batch`` the MES's
    batch topic.
    """

    site: str | None
    room: str | None
    kind: str | None
    sensor: str | None
    rule: int | None = None
    state: bool = False
    batch: bool = False


@dataclass(frozen=True, slots=True)
class TopicPattern:
    """A parsed pattern: ``levels`` of (type, text), and whether it ends in ``#``."""

    text: str
    levels: tuple[tuple[int, str], ...]
    rest: bool

    @classmethod
    def parse(cls, text: str, *, state: bool = False, prefix: str = "{prefix}") -> TopicPattern:
        """Parse and check a pattern; ``ValueError`` says what is wrong with it."""
        allowed = STATE_CAPTURES if state else CAPTURES
        if not text or text.startswith("$"):
            raise ValueError(f"pattern {text!r}: must be a non-empty topic not starting with $")
        parts = text.split("/")
        levels: list[tuple[int, str]] = []
        seen: set[str] = set()
        rest = False
        for i, part in enumerate(parts):
            if part == "#":
                if i != len(parts) - 1:
                    raise ValueError(f"pattern {text!r}: '#' must be the last level")
                rest = True
            elif part == "+":
                levels.append((_ANY, ""))
            elif part == "{prefix}":
                levels.append((_LITERAL, prefix))
            elif part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if name not in allowed:
                    raise ValueError(
                        f"pattern {text!r}: unknown placeholder {part} "
                        f"(known: {', '.join('{' + n + '}' for n in sorted(allowed))})"
                    )
                if name in seen:
                    raise ValueError(f"pattern {text!r}: {part} appears twice")
                seen.add(name)
                levels.append((_CAPTURE, name))
            elif any(c in part for c in "{}+#"):
                raise ValueError(f"pattern {text!r}: level {part!r} mixes text and a wildcard")
            else:
                levels.append((_LITERAL, part))
        if state and "room" not in seen:
            raise ValueError(f"pattern {text!r}: a state pattern needs {{room}}")
        if not state and "sensor" not in seen:
            raise ValueError(f"pattern {text!r}: a data pattern needs {{sensor}}")
        return cls(text=text, levels=tuple(levels), rest=rest)

    @property
    def captures(self) -> frozenset[str]:
        return frozenset(text for kind, text in self.levels if kind == _CAPTURE)

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Captured values if the topic levels ``parts`` fit this pattern."""
        n = len(self.levels)
        if len(parts) < n or (not self.rest and len(parts) != n):
            return None
        found: dict[str, str] = {}
        for (kind, text), part in zip(self.levels, parts, strict=False):
            if kind == _LITERAL:
                if part != text:
                    return None
            elif kind == _CAPTURE:
                if not part:
                    return None
                found[text] = part
            elif not part:
                return None
        return found


class TopicMap:
    """Resolves topics against the configured patterns and the contract layout."""

    __slots__ = ("_data", "_prefix", "_state")

    def __init__(
        self,
        prefix: str,
        data_patterns: Sequence[str] = (),
        state_patterns: Sequence[str] = (),
    ) -> None:
        self._prefix = prefix
        self._data = tuple(TopicPattern.parse(p, prefix=prefix) for p in data_patterns)
        self._state = tuple(
            TopicPattern.parse(p, state=True, prefix=prefix) for p in state_patterns
        )

    def is_own(self, topic: str) -> bool:
        """``<prefix>/<anything>/envmon/...``: what envmon itself publishes."""
        parts = topic.split("/", 3)
        return len(parts) >= 3 and parts[0] == self._prefix and parts[2] == OWN_LEVEL

    def match(self, topic: str) -> TopicMatch | None:
        """What ``topic`` names, or ``None`` if no pattern fits."""
        parts = topic.split("/")
        for index, pattern in enumerate(self._data):
            found = pattern.match(parts)
            if found is not None:
                return TopicMatch(
                    site=found.get("site"),
                    room=found.get("room"),
                    kind=found.get("kind"),
                    sensor=found.get("sensor"),
                    rule=index,
                )
        for pattern in self._state:
            found = pattern.match(parts)
            if found is not None:
                return TopicMatch(
                    site=found.get("site"), room=found["room"], kind=None, sensor=None, state=True
                )
        if parts[0] != self._prefix or "" in parts:
            return None
        if len(parts) == 5:
            return TopicMatch(site=parts[1], room=parts[2], kind=parts[3], sensor=parts[4])
        if len(parts) == 4 and parts[3] == "state":
            return TopicMatch(site=parts[1], room=parts[2], kind=None, sensor=None, state=True)
        if len(parts) == 3 and parts[2] == BATCH_LEVEL:
            return TopicMatch(site=parts[1], room=None, kind=None, sensor=None, batch=True)
        return None


def rejected_topic(prefix: str, site: str) -> str:
    """Where rejected payloads are published (design.md section 3)."""
    return f"{prefix}/{site}/{OWN_LEVEL}/rejected"
