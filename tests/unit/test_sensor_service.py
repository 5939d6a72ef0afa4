"""Sensor service periods (pure), the engine's comm loss around them, and applying
signed requests to the engine."""

from __future__ import annotations

import pytest

from envmon.alarms.engine import COMM_LOSS, AlarmEngine
from envmon.alarms.events import AlarmState, Transition
from envmon.errors import EnvmonError
from envmon.journal.requests import SignedRequest
from envmon.readings import RoomState
from envmon.sensor_service import ServicePeriod, ServiceStates
from envmon.signing.apply import apply_request
from tests.support.journal_samples import T0, S
from tests.support.signing import facility, pressure, signature


def period(
    from_s: float, until_s: float | None = None, returned_s: float | None = None
) -> ServicePeriod:
    return ServicePeriod(
        sensor="DP-FILL-1",
        from_ns=T0 + round(from_s * S),
        until_ns=None if until_s is None else T0 + round(until_s * S),
        signature=signature(meaning="out of service"),
        returned_ns=None if returned_s is None else T0 + round(returned_s * S),
    )


def at(seconds: float) -> int:
    return T0 + round(seconds * S)


class TestServicePeriod:
    def test_open_ended_period_covers_from_its_start(self) -> None:
        """Without until or return, a period covers everything from its start."""
        p = period(10)
        assert not p.covers(at(9)) and p.covers(at(10)) and p.covers(at(10**6))
        assert p.end_ns is None

    def test_ends_at_until_or_return_whichever_first(self) -> None:
        """The end is the earlier of --until and a signed return to service."""
        assert period(0, until_s=100, returned_s=50).end_ns == at(50)
        assert period(0, until_s=100, returned_s=150).end_ns == at(100)
        assert not period(0, until_s=100).covers(at(100))

    def test_overlap(self) -> None:
        """overlap_ns counts the part of a window inside the period."""
        assert period(10, until_s=20).overlap_ns(at(0), at(15)) == 5 * S
        assert period(10).overlap_ns(at(0), at(30)) == 20 * S
        assert period(10, until_s=20).overlap_ns(at(30), at(40)) == 0


class TestServiceStates:
    def test_out_of_service_and_period_at(self) -> None:
        """A sensor is out of service inside a period, in service outside."""
        states = ServiceStates([period(10, until_s=20)])
        assert states.out_of_service("DP-FILL-1", at(15))
        assert not states.out_of_service("DP-FILL-1", at(25))
        assert not states.out_of_service("OTHER", at(15))
        assert states.period_at("DP-FILL-1", at(15)) == period(10, until_s=20)

    def test_returned_ns_is_the_latest_end_so_far(self) -> None:
        """returned_ns gives when the sensor last came back by then."""
        states = ServiceStates([period(10, until_s=20), period(30, returned_s=40)])
        assert states.returned_ns("DP-FILL-1", at(15)) is None
        assert states.returned_ns("DP-FILL-1", at(25)) == at(20)
        assert states.returned_ns("DP-FILL-1", at(45)) == at(40)

    def test_out_of_service_seconds_in_a_window(self) -> None:
        """Seconds out of service in a window, overlapping periods counted once."""
        states = ServiceStates([period(10, until_s=20), period(15, until_s=30), period(50)])
        assert states.out_of_service_s("DP-FILL-1", at(0), at(60)) == 30.0
        assert states.out_of_service_s("DP-FILL-1", at(25), at(55)) == 10.0
        assert states.out_of_service_s("OTHER", at(0), at(60)) == 0.0

    def test_empty(self) -> None:
        """No periods: falsy, and nothing is out of service."""
        assert not ServiceStates() and not ServiceStates().has_periods("DP-FILL-1")


class TestEngineCommLoss:
    def test_no_comm_loss_while_out_of_service(self) -> None:
        """A silent sensor out of service raises no comm_loss."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        eng.on_reading(pressure(at(0), 15.0))
        eng.set_service_states(ServiceStates([period(5)]))
        assert eng.check_stale(at(100)) == []

    def test_silence_counts_from_the_return(self) -> None:
        """Back in service, a sensor is stale only stale_after_s after its return."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        eng.on_reading(pressure(at(0), 15.0))
        eng.set_service_states(ServiceStates([period(5, until_s=100)]))
        assert eng.check_stale(at(120)) == []
        raised = eng.check_stale(at(131))
        assert [(e.alarm.parameter, e.alarm.sensor) for e in raised] == [(COMM_LOSS, "DP-FILL-1")]


def request(act: str, subject: str, **params: object) -> SignedRequest:
    return SignedRequest(
        id=1,
        act=act,
        subject=subject,
        signature=signature(),
        signature_seq=5,
        os_user="jdoe_os",
        requested_ns=at(0),
        params=params,
    )


def engine_with_alarm() -> tuple[AlarmEngine, str]:
    eng = AlarmEngine(facility(), start_ns=at(0))
    eng.on_reading(pressure(at(0), 15.0))
    events = eng.on_reading(pressure(at(10), 5.0))
    return eng, next(e.alarm.id for e in events if e.alarm.level.value == "action")


class TestApplyRequest:
    def test_ack(self) -> None:
        """An ack request acknowledges with its signature."""
        eng, alarm_id = engine_with_alarm()
        applied = apply_request(eng, request("ack", alarm_id), at(20), ServiceStates())
        assert [e.transition for e in applied.events] == [Transition.ACKED]
        assert applied.events[0].alarm.signatures == (signature(),)

    def test_shelve_and_unshelve(self) -> None:
        """Shelve takes until_ns; unshelve returns the alarm."""
        eng, alarm_id = engine_with_alarm()
        shelved = apply_request(
            eng, request("shelve", alarm_id, until_ns=at(3600)), at(20), ServiceStates()
        )
        assert shelved.events[0].alarm.state is AlarmState.SHELVED
        back = apply_request(eng, request("unshelve", alarm_id), at(30), ServiceStates())
        assert back.events[0].alarm.state is AlarmState.ACTIVE_UNACKED

    def test_shelving_that_ended_before_it_applied_is_refused(self) -> None:
        """A shelve request applied after its end is refused."""
        eng, alarm_id = engine_with_alarm()
        with pytest.raises(EnvmonError, match="ended"):
            apply_request(eng, request("shelve", alarm_id, until_ns=at(5)), at(20), ServiceStates())

    def test_refusals_of_the_engine_are_the_outcome(self) -> None:
        """An act the alarm cannot take raises with the reason (recorded as the outcome)."""
        eng, alarm_id = engine_with_alarm()
        apply_request(eng, request("ack", alarm_id), at(20), ServiceStates())
        with pytest.raises(EnvmonError, match="already acknowledged"):
            apply_request(eng, request("ack", alarm_id), at(21), ServiceStates())

    def test_out_of_service_and_in_service(self) -> None:
        """Service requests check the sensor and its state, and ask for a reload."""
        eng, _ = engine_with_alarm()
        assert apply_request(
            eng, request("out_of_service", "DP-FILL-1", until_ns=None), at(20), ServiceStates()
        ).service_changed
        with pytest.raises(EnvmonError, match="already out of service"):
            apply_request(
                eng, request("out_of_service", "DP-FILL-1"), at(20), ServiceStates([period(10)])
            )
        with pytest.raises(EnvmonError, match="is in service"):
            apply_request(eng, request("in_service", "DP-FILL-1"), at(20), ServiceStates())
        with pytest.raises(EnvmonError, match="no sensor 'NOPE'"):
            apply_request(eng, request("out_of_service", "NOPE"), at(20), ServiceStates())

    def test_room_state_is_sourced_to_the_signer(self) -> None:
        """A signed room state change records the user as its source."""
        eng, _ = engine_with_alarm()
        applied = apply_request(
            eng, request("room_state", "BG-B", state="in_operation"), at(20), ServiceStates()
        )
        change = applied.room_state
        assert change is not None
        assert (change.room, change.state, change.source, change.ts_ns) == (
            "BG-B",
            RoomState.IN_OPERATION,
            "user:jdoe",
            at(20),
        )

    def test_unknown_act_or_room(self) -> None:
        """Unknown acts, rooms and states are refused."""
        eng, _ = engine_with_alarm()
        for req, message in [
            (request("dance", "x"), "unknown act"),
            (request("room_state", "NOPE", state="at_rest"), "no room"),
            (request("room_state", "BG-B", state="asleep"), "unknown room state"),
            (request("review", "x"), "does not apply review"),
        ]:
            with pytest.raises(EnvmonError, match=message):
                apply_request(eng, req, at(20), ServiceStates())
