"""One lifecycle for every part of the service that touches the outside world.

A component is validated, started, stopped and closed, like a Telegraf plugin:

- ``validate``: check what can be checked before anything starts (files,
  settings); raise ``ConfigError`` naming the file and key.
- ``start``: begin work (threads, connections).
- ``stop``: stop taking new work and finish what was taken, by the deadline.
- ``close``: release connections and files.

``Lifecycle`` starts components in the order given (consumers before
producers: nothing arrives with nowhere to go), stops them in reverse order
(producers first: the MQTT source stops handing on messages, then the alarm
worker and the store finish theirs and release their acknowledgements), and
only then closes them in reverse order (the MQTT connection stays open until
the last acknowledgement is sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from envmon.runtime.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point on the monotonic clock by which a stop must be done."""

    at: float
    clock: Clock = SYSTEM_CLOCK

    def remaining(self, floor_s: float = 0.0, reserve_s: float = 0.0) -> float:
        """Seconds left, less ``reserve_s`` kept for what stops after; at least
        ``floor_s`` (a stop always gets a moment to try)."""
        return max(floor_s, self.at - self.clock.monotonic() - reserve_s)


class Component(Protocol):
    @property
    def name(self) -> str:
        """What the component is called in logs."""
        ...

    def validate(self) -> None: ...

    def start(self) -> None: ...

    def stop(self, deadline: Deadline) -> None: ...

    def close(self) -> None: ...


class Lifecycle:
    """Runs components through their lifecycle in a visible order."""

    def __init__(self, components: Sequence[Component], clock: Clock = SYSTEM_CLOCK) -> None:
        self._components = list(components)
        self._clock = clock
        self._started: list[Component] = []

    @property
    def order(self) -> list[str]:
        """The components' names in start order."""
        return [c.name for c in self._components]

    def validate(self) -> None:
        for component in self._components:
            component.validate()

    def start(self) -> None:
        """Validate all, then start each in order; if one fails, the started ones are
        stopped and closed again and the error is raised."""
        self.validate()
        for component in self._components:
            try:
                component.start()
            except BaseException:
                log.error("%s failed to start; stopping what was started", component.name)
                self.stop(budget_s=5.0)
                raise
            self._started.append(component)
            log.debug("started %s", component.name)

    def stop(self, budget_s: float) -> None:
        """Stop the started components in reverse order within ``budget_s`` in all,
        then close them in reverse order. A component that fails to stop or close
        is logged; the others still get theirs."""
        deadline = Deadline(self._clock.monotonic() + budget_s, self._clock)
        started, self._started = self._started, []
        for component in reversed(started):
            try:
                component.stop(deadline)
            except Exception:
                log.exception("%s did not stop cleanly", component.name)
        for component in reversed(started):
            try:
                component.close()
            except Exception:
                log.exception("%s did not close cleanly", component.name)


class Closes:
    """A resource whose only part in the lifecycle is being closed (the journal)."""

    def __init__(self, name: str, close: Callable[[], None]) -> None:
        self.name = name
        self._close = close

    def validate(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self, deadline: Deadline) -> None:
        pass

    def close(self) -> None:
        self._close()
