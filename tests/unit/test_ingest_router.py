"""The ingest router: each message decoded once, then to the store and the alarm worker."""

from __future__ import annotations

import pytest

from envmon.ingest.ackgate import Pending
from envmon.ingest.ingestor import Ingestor
from envmon.ingest.mqtt import Delivery
from envmon.readings import STATUS_OUT_OF_SERVICE, Reading, RoomState, RoomStateChange
from envmon.sensor_service import ServicePeriod, ServiceStates
from tests.support.facilities import particles, pressure
from tests.support.router_rig import NS, T0, Rig
from tests.support.signing import signature


def msg(topic_payload: tuple[str, bytes], mid: int, qos: int = 1) -> Delivery:
    topic, payload = topic_payload
    return Delivery(topic=topic, payload=payload, mid=mid, qos=qos)


class TestRouter:
    def test_reading_is_stored_with_its_token_and_judged(self) -> None:
        """A reading goes to the store with a token that waits for judgement, and to the worker."""
        rig = Rig()
        rig.deliver(msg(pressure(T0, 14.0), mid=7))
        ((point, token),) = rig.store.items
        assert isinstance(point, Reading) and point.values == {"diff_pressure": 14.0}
        assert token == Pending(1, True, (7, 1))
        assert rig.judge.batches == [[(1, point)]]
        assert rig.stats.readings_total == 1

    def test_one_read_is_one_batch_each_way(self) -> None:
        """The messages of one socket read reach the store and the worker as one batch each."""
        rig = Rig()
        rig.deliver(*(msg(pressure(T0 + i, 14.0), mid=i + 1) for i in range(5)))
        assert rig.store.calls == 1 and len(rig.judge.batches) == 1
        assert [seq for seq, _ in rig.judge.batches[0]] == [1, 2, 3, 4, 5]

    def test_arrival_numbers_continue_across_reads(self) -> None:
        """Each message's place in arrival order counts on across socket reads."""
        rig = Rig()
        rig.deliver(msg(pressure(T0, 14.0), mid=1))
        rig.deliver(msg(pressure(T0 + 1, 14.0), mid=2))
        assert [token.seq for _, token in rig.store.items if token] == [1, 2]

    def test_room_state_is_stored_as_a_line_and_judged(self) -> None:
        """A room-state message is stored as its ``room_state`` line and judged in order."""
        rig = Rig()
        rig.deliver(msg(("fac/site1/FILL-A/state", b"at_rest"), mid=3))
        ((point, token),) = rig.store.items
        assert isinstance(point, str) and point.startswith("room_state,")
        assert token == Pending(1, True, (3, 1))
        ((_seq, change),) = rig.judge.batches[0]
        assert isinstance(change, RoomStateChange) and change.state is RoomState.AT_REST

    def test_reject_is_acknowledged_in_order_without_judgement(self) -> None:
        """A reject stores nothing, needs no judgement, is counted and published."""
        rig = Rig()
        rig.deliver(msg(("fac/site1/PREP-C/pressure/DP1", b"{not json"), mid=4))
        assert rig.store.items == [(None, Pending(1, False, (4, 1)))]
        assert rig.judge.batches == []
        assert rig.stats.rejects["bad_json"] == 1
        topic, payload, qos = rig.publish.sent[0]
        assert topic == "fac/site1/envmon/rejected" and qos == 0 and b"bad_json" in payload

    def test_own_topics_are_acknowledged_and_ignored(self) -> None:
        """envmon's own alarm topics come back through the subscription and are left alone."""
        rig = Rig()
        rig.deliver(msg(("fac/site1/envmon/alarms/FILL-A/particles_0_5um", b"{}"), mid=5))
        assert rig.store.items == [(None, Pending(1, False, (5, 1)))]
        assert rig.judge.batches == [] and rig.publish.sent == []

    def test_qos0_message_has_no_token(self) -> None:
        """A QoS 0 message is stored and judged but has nothing to acknowledge."""
        rig = Rig()
        rig.deliver(msg(pressure(T0, 14.0), mid=0, qos=0))
        assert rig.store.items[0][1] is None
        assert len(rig.judge.batches[0]) == 1

    def test_failed_courtesy_publish_does_not_stop_ingest(self) -> None:
        """A reject notice that cannot be published costs nothing else."""
        rig = Rig(publish_fails=True)
        rig.deliver(
            msg(("fac/site1/PREP-C/pressure/DP1", b"[]"), mid=1), msg(pressure(T0, 9.0), mid=2)
        )
        assert len(rig.store.items) == 2 and len(rig.judge.batches[0]) == 1

    def test_a_bug_costs_only_its_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unexpected error on one message leaves it unacknowledged; the rest go on."""
        rig = Rig()
        handle = Ingestor.handle

        def flaky(self: Ingestor, topic: str, payload: bytes, received_ns: int) -> object:
            if b"13.0" in payload:
                raise RuntimeError("bug")
            return handle(self, topic, payload, received_ns)

        monkeypatch.setattr(Ingestor, "handle", flaky)
        rig.deliver(msg(pressure(T0, 13.0), mid=1), msg(pressure(T0 + 1, 14.0), mid=2))
        assert [token.token for _, token in rig.store.items if token] == [(2, 1)]
        assert [seq for seq, _ in rig.judge.batches[0]] == [2]

    def test_nothing_is_taken_after_stop_accepting(self) -> None:
        """Once stopped, messages are neither stored nor judged: the broker redelivers them."""
        rig = Rig()
        rig.router.stop_accepting()
        rig.deliver(msg(pressure(T0, 14.0), mid=1))
        assert rig.store.items == [] and rig.judge.batches == []

    def test_clock_drift_is_published_as_a_warning(self) -> None:
        """A sensor whose clock is far off gets a warning on the warnings topic."""
        rig = Rig(drift_window_s=1.0)
        for i in range(3):  # 120 s ahead of their receive times, over more than a window
            rig.deliver(msg(pressure(T0 + 121 + i, 14.0), mid=i + 1), later_s=i)
        assert [t for t, _, _ in rig.publish.sent] == ["fac/site1/envmon/warnings"]

    def test_particles_reading_keeps_contract_values(self) -> None:
        """The router hands on exactly what the ingestor decoded."""
        rig = Rig()
        rig.deliver(msg(particles(T0, 5000.0), mid=1))
        reading = rig.store.items[0][0]
        assert isinstance(reading, Reading)
        assert reading.values == {"particles_0_5um": 5000.0, "particles_5_0um": 0.0}

    def test_out_of_service_sensor_readings_are_stamped(self) -> None:
        """A reading of a sensor signed out of service is stored with that status."""
        rig = Rig()
        period = ServicePeriod("DP1", from_ns=(T0 - 10) * NS, until_ns=(T0 + 10) * NS,
                               signature=signature())  # fmt: skip
        rig.router.set_service_states(ServiceStates([period]))
        rig.deliver(msg(pressure(T0, 14.0), mid=1), msg(pressure(T0 + 20, 14.0), mid=2))
        statuses = [r.status for r, _ in rig.store.items if isinstance(r, Reading)]
        assert statuses == [STATUS_OUT_OF_SERVICE, "ok"]
