"""Escalation of unacknowledged action alarms, with plain values."""

from __future__ import annotations

import pytest

from envmon.alarms.events import AlarmState, Level, Transition
from envmon.notify.escalation import due_escalations
from tests.support.journal_samples import T0, S, alarm

AFTER_S = 900.0


class TestDueEscalations:
    def test_not_before_the_time(self) -> None:
        """An alarm raised less than escalate_after_s ago is not escalated."""
        assert due_escalations([alarm("A1")], T0 + 899 * S, AFTER_S, set()) == []

    def test_exactly_at_the_time(self) -> None:
        """At escalate_after_s after the raise, one ESCALATED event at now is due."""
        a = alarm("A1")
        (event,) = due_escalations([a], T0 + 900 * S, AFTER_S, set())
        assert (event.transition, event.alarm, event.at_ns) == (
            Transition.ESCALATED,
            a,
            T0 + 900 * S,
        )

    def test_only_once(self) -> None:
        """An alarm already escalated is not escalated again."""
        assert due_escalations([alarm("A1")], T0 + 2000 * S, AFTER_S, {"A1"}) == []

    @pytest.mark.parametrize(
        ("state", "due"),
        [
            (AlarmState.ACTIVE_UNACKED, True),
            (AlarmState.CLEARED_UNACKED, True),
            (AlarmState.ACTIVE_ACKED, False),
            (AlarmState.CLOSED, False),
        ],
    )
    def test_only_unacknowledged(self, state: AlarmState, due: bool) -> None:
        """Acknowledged or closed alarms never escalate; latched unacked ones do."""
        got = due_escalations([alarm("A1", state=state)], T0 + 1000 * S, AFTER_S, set())
        assert bool(got) is due

    @pytest.mark.parametrize("level", [Level.ALERT, Level.FAULT, Level.COMM_LOSS])
    def test_only_action_alarms(self, level: Level) -> None:
        """Alert, fault and comm-loss alarms do not escalate."""
        assert due_escalations([alarm("A1", level=level)], T0 + 1000 * S, AFTER_S, set()) == []

    def test_several_in_input_order(self) -> None:
        """Each due alarm gives one event, in the order given."""
        alarms = [
            alarm("A2", raised_ns=T0 + 50 * S),
            alarm("A1"),
            alarm("A3", raised_ns=T0 + 500 * S),
        ]
        got = due_escalations(alarms, T0 + 1000 * S, AFTER_S, set())
        assert [e.alarm.id for e in got] == ["A2", "A1"]

    def test_does_not_modify_already(self) -> None:
        """The caller's set is left for the caller to update."""
        already: set[str] = set()
        due_escalations([alarm("A1")], T0 + 1000 * S, AFTER_S, already)
        assert already == set()
