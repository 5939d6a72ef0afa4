"""Signed acknowledgement and ISA-18.2 shelving: the pure functions, the book, the engine."""

from __future__ import annotations

import pytest

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.errors import (
    AlarmAlreadyClosed,
    AlarmAlreadyShelved,
    AlarmNotShelved,
    AlarmShelved,
)
from envmon.alarms.events import Alarm, AlarmState, Transition
from envmon.alarms.lifecycle import acknowledge, return_to_normal
from envmon.alarms.shelving import expire, shelve, unshelve
from envmon.journal.audit import alarm_from_record, alarm_to_record
from envmon.notify.dispatcher import Decision, FlapFilter
from tests.support.journal_samples import T0, S, alarm
from tests.support.signing import facility, pressure, signature

HOUR = 3600 * S


def transitions(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.transition.value for e in events]


class TestSignedAcknowledge:
    def test_ack_takes_the_signature(self) -> None:
        """acked_by and acked_at are the signature's user and signed_at; it is kept."""
        sig = signature(signed_ns=T0 + 5 * S)
        events = acknowledge(alarm(), "", "", T0 + 9 * S, sig)
        after = events[0].alarm
        assert (after.acked_by, after.acked_ns, after.comment) == (
            "jdoe",
            T0 + 5 * S,
            "door held open for a delivery",
        )
        assert after.signatures == (sig,)
        assert events[0].at_ns == T0 + 9 * S

    def test_json_carries_signatures_and_shelved_until(self) -> None:
        """The alarm JSON has signatures {user, full_name, role, meaning, comment,
        signed_at} and shelved_until."""
        after = acknowledge(alarm(), "", "", T0, signature(signed_ns=T0 + 1500 * 1_000_000))[0]
        obj = after.alarm.to_json()
        assert obj["signatures"] == [
            {
                "user": "jdoe",
                "full_name": "Jane Doe",
                "role": "engineer",
                "meaning": "acknowledged",
                "comment": "door held open for a delivery",
                "signed_at": "2026-11-18T11:06:41.500Z",
            }
        ]
        assert obj["acked_at"] == "2026-11-18T11:06:41.500Z"
        assert obj["shelved_until"] is None
        assert "os_user" not in obj["signatures"][0]

    def test_record_round_trip_keeps_signatures_and_shelving(self) -> None:
        """The journal's record of an alarm keeps every signature field and the shelving."""
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        assert alarm_from_record(alarm_to_record(shelved)) == shelved

    def test_a_record_from_schema_1_reads(self) -> None:
        """Alarm records written before signatures read with none and not shelved."""
        record = alarm_to_record(alarm())
        for key in ("signatures", "shelved_until_ns", "underlying_state"):
            record.pop(key)
        old = alarm_from_record(record)
        assert old.signatures == () and old.shelved_until_ns is None and not old.shelved

    def test_ack_of_a_shelved_alarm_is_refused(self) -> None:
        """A shelved alarm must be unshelved before it is acknowledged."""
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        with pytest.raises(AlarmShelved, match="unshelve it"):
            acknowledge(shelved, "", "", T0, signature())


class TestShelve:
    def test_shelve_keeps_the_state_underneath(self) -> None:
        """Shelving sets state shelved, shelved_until, and remembers the state."""
        events = shelve(alarm(), signature(meaning="shelved"), T0 + HOUR, T0 + S)
        after = events[0].alarm
        assert transitions(events) == ["shelved"]
        assert after.state is AlarmState.SHELVED
        assert after.underlying_state is AlarmState.ACTIVE_UNACKED
        assert after.shelved_until_ns == T0 + HOUR
        assert after.active and after.open
        assert after.to_json()["shelved_until"] == "2026-11-18T12:06:40Z"

    def test_closed_or_shelved_alarm_cannot_be_shelved(self) -> None:
        """Shelving a closed alarm or a shelved one is refused."""
        with pytest.raises(AlarmAlreadyClosed):
            shelve(alarm(state=AlarmState.CLOSED), signature(), T0 + HOUR, T0)
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        with pytest.raises(AlarmAlreadyShelved, match="already shelved until"):
            shelve(shelved, signature(), T0 + HOUR, T0)

    def test_return_to_normal_while_shelved(self) -> None:
        """A shelved alarm that returns to normal stays shelved, cleared underneath."""
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        events = return_to_normal(shelved, T0 + 60 * S)
        after = events[0].alarm
        assert transitions(events) == ["cleared"]
        assert after.state is AlarmState.SHELVED
        assert after.underlying_state is AlarmState.CLEARED_UNACKED
        assert after.cleared_ns == T0 + 60 * S and not after.active

    def test_unshelve_returns_to_the_state_it_would_be_in(self) -> None:
        """Unshelving returns the alarm to its state underneath, signed."""
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        cleared = return_to_normal(shelved, T0 + 60 * S)[0].alarm
        events = unshelve(cleared, T0 + 120 * S, signature(meaning="returned to service"))
        after = events[0].alarm
        assert transitions(events) == ["unshelved"]
        assert after.state is AlarmState.CLEARED_UNACKED
        assert after.shelved_until_ns is None and after.underlying_state is None
        assert [s.meaning for s in after.signatures] == ["acknowledged", "returned to service"]

    def test_closed_underneath_closes_on_unshelve(self) -> None:
        """An acknowledged alarm that cleared while shelved closes when unshelved."""
        acked = acknowledge(alarm(), "", "", T0, signature())[0].alarm
        shelved = shelve(acked, signature(), T0 + HOUR, T0)[0].alarm
        cleared = return_to_normal(shelved, T0 + 60 * S)
        assert transitions(cleared) == ["cleared"]
        events = unshelve(cleared[0].alarm, T0 + 90 * S)
        assert transitions(events) == ["unshelved", "closed"]
        assert events[-1].alarm.state is AlarmState.CLOSED

    def test_unshelve_of_an_unshelved_alarm_is_refused(self) -> None:
        """Only a shelved alarm can be unshelved."""
        with pytest.raises(AlarmNotShelved, match="is not shelved"):
            unshelve(alarm(), T0, signature())

    def test_expiry(self) -> None:
        """At shelved_until the alarm unshelves by itself, not a moment before."""
        shelved = shelve(alarm(), signature(), T0 + HOUR, T0)[0].alarm
        assert expire(shelved, T0 + HOUR - 1) == []
        events = expire(shelved, T0 + HOUR)
        assert transitions(events) == ["unshelved"]
        assert events[0].alarm.state is AlarmState.ACTIVE_UNACKED
        assert expire(alarm(), T0 + 10 * HOUR) == []

    def test_shelved_alarms_are_not_notified(self) -> None:
        """The notification filter holds back every transition of a shelved alarm."""
        shelved_events = shelve(alarm(), signature(), T0 + HOUR, T0)
        cleared = return_to_normal(shelved_events[0].alarm, T0 + S)
        flap = FlapFilter(300)
        assert [flap.decide(e, T0) for e in shelved_events + cleared] == [
            Decision.SHELVED,
            Decision.SHELVED,
        ]
        assert not Decision.SHELVED.sends


def raised_engine() -> tuple[AlarmEngine, Alarm]:
    eng = AlarmEngine(facility(), start_ns=T0)
    eng.on_reading(pressure(T0, 15.0))
    events = eng.on_reading(pressure(T0 + 10 * S, 5.0))
    action = next(e.alarm for e in events if e.alarm.level.value == "action")
    return eng, action


class TestEngineSignedActs:
    def test_acknowledge_with_signature(self) -> None:
        """engine.acknowledge applies a signed ack; the alarm carries it."""
        eng, action = raised_engine()
        events = eng.acknowledge(action.id.upper(), signature(signed_ns=T0 + 20 * S), T0 + 21 * S)
        assert transitions(events) == ["acked"]
        acked = next(a for a in eng.open_alarms() if a.id == action.id)
        assert (acked.acked_by, acked.acked_ns) == ("jdoe", T0 + 20 * S)

    def test_shelve_clear_and_expire_through_the_engine(self) -> None:
        """A shelved alarm's clearing goes on underneath; expiry returns it latched."""
        eng, action = raised_engine()
        assert transitions(eng.shelve(action.id, signature(), T0 + HOUR, T0 + 20 * S)) == [
            "shelved"
        ]
        events = eng.on_reading(pressure(T0 + 30 * S, 15.0))
        mine = [e for e in events if e.alarm.id == action.id]
        assert transitions(mine) == ["cleared"]
        assert mine[0].alarm.state is AlarmState.SHELVED
        assert eng.expire_shelved(T0 + HOUR - 1) == []
        expired = eng.expire_shelved(T0 + HOUR)
        assert [(e.transition, e.alarm.state) for e in expired] == [
            (Transition.UNSHELVED, AlarmState.CLEARED_UNACKED)
        ]

    def test_unshelve_through_the_engine(self) -> None:
        """engine.unshelve ends a shelving by signature."""
        eng, action = raised_engine()
        eng.shelve(action.id, signature(), T0 + HOUR, T0 + 20 * S)
        events = eng.unshelve(action.id, signature(), T0 + 30 * S)
        assert [(e.transition, e.alarm.state) for e in events] == [
            (Transition.UNSHELVED, AlarmState.ACTIVE_UNACKED)
        ]

    def test_restored_shelved_alarm_keeps_its_excursion(self) -> None:
        """After a restart a shelved, still active alarm resumes its channel: no second raise."""
        eng, action = raised_engine()
        shelved = eng.shelve(action.id, signature(), T0 + HOUR, T0 + 20 * S)[0].alarm
        again = AlarmEngine(facility(), restored=[shelved], start_ns=T0)
        events = again.on_reading(pressure(T0 + 40 * S, 5.0))
        assert [e for e in events if e.alarm.level.value == "action"] == []
