"""MES batch messages at ingest: the topic, the payload, rejects, and the router's hand-off."""

from __future__ import annotations

import json

import pytest

from envmon.batches import BatchEvent, BatchEventKind, BatchMessage
from envmon.ingest.ackgate import Pending
from envmon.ingest.batch_payload import decode_batch
from envmon.ingest.config import IngestSettings
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.ingest.mqtt import Delivery
from envmon.ingest.topics import TopicMap, TopicMatch
from envmon.ingest.values import DecodeError
from tests.support.facilities import small_facility
from tests.support.router_rig import RECEIVED_NS, Rig

NS = 1_000_000_000
TOPIC = "fac/site1/batch"
ROOMS = ("FILL-A", "PREP-C")


def payload(**fields: object) -> bytes:
    base: dict[str, object] = {"batch": "B-001", "event": "start", "rooms": ["FILL-A"]}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


class TestTopic:
    def test_the_batch_topic_is_recognised(self) -> None:
        """``<prefix>/<site>/batch`` is the MES topic of that site."""
        assert TopicMap("fac").match(TOPIC) == TopicMatch(
            site="site1", room=None, kind=None, sensor=None, batch=True
        )

    def test_other_three_level_topics_are_not(self) -> None:
        """Only ``batch`` at the third level, under the prefix."""
        assert TopicMap("fac").match("fac/site1/other") is None
        assert TopicMap("fac").match("plant/site1/batch") is None


class TestDecodeBatch:
    def test_a_start_with_everything(self) -> None:
        """Id, event, rooms, time and product become a start event."""
        event = decode_batch(
            payload(ts="2026-11-19T10:00:00Z", product="CAR-T", rooms=["FILL-A", "PREP-C"]),
            RECEIVED_NS,
            ROOMS,
        )
        assert event == BatchEvent(
            "B-001", BatchEventKind.START, 1_795_082_400 * NS, ("FILL-A", "PREP-C"), "CAR-T"
        )

    def test_time_defaults_to_receive_time_and_product_to_none(self) -> None:
        """Without ts the receive time applies; without product it is empty."""
        event = decode_batch(payload(), RECEIVED_NS, ROOMS)
        assert (event.at_ns, event.product) == (RECEIVED_NS, "")

    def test_an_end_needs_no_rooms(self) -> None:
        """An end names the batch and the time only; rooms are ignored."""
        event = decode_batch(payload(event="end", rooms=None, ts=1_795_082_500), RECEIVED_NS, ())
        assert event == BatchEvent("B-001", BatchEventKind.END, 1_795_082_500 * NS)

    @pytest.mark.parametrize(
        ("fields", "reason", "detail"),
        [
            ({"batch": None}, "bad_batch", "batch is null: expected the batch id"),
            ({"batch": "B 1"}, "bad_batch", "batch id 'B 1': 1 to 64 characters"),
            ({"event": "pause"}, "bad_batch", "event is a string 'pause': expected start or end"),
            ({"rooms": None}, "bad_batch", "rooms is null: a start needs a list of room ids"),
            ({"rooms": []}, "bad_batch", "rooms is an array: a start needs a list"),
            ({"rooms": ["NOPE"]}, "unknown_room", "rooms 'NOPE' not in the facility file"),
            ({"product": 5}, "bad_batch", "product is 5: expected text"),
            ({"ts": "yesterday"}, "bad_timestamp", "ts 'yesterday' is not ISO 8601"),
        ],
    )
    def test_a_bad_message_is_a_reject_with_its_reason(
        self, fields: dict[str, object], reason: str, detail: str
    ) -> None:
        """Each field is checked, and the rejection names it."""
        with pytest.raises(DecodeError) as caught:
            decode_batch(payload(**fields), RECEIVED_NS, ROOMS)
        assert caught.value.reason == reason
        assert caught.value.detail.startswith(detail)

    def test_not_json_is_bad_json(self) -> None:
        """A payload that is not JSON is rejected as any payload is."""
        with pytest.raises(DecodeError) as caught:
            decode_batch(b"start B-001", RECEIVED_NS, ROOMS)
        assert caught.value.reason == "bad_json"


class TestIngestor:
    def ingestor(self) -> Ingestor:
        return Ingestor(small_facility(), IngestSettings(), "fac")

    def test_a_batch_message_is_handed_on_with_its_topic(self) -> None:
        """The ingestor answers a ``BatchMessage`` naming its topic."""
        result = self.ingestor().handle(TOPIC, payload(), RECEIVED_NS)
        assert result == BatchMessage(
            BatchEvent("B-001", BatchEventKind.START, RECEIVED_NS, ("FILL-A",)), TOPIC
        )

    def test_another_site_is_rejected(self) -> None:
        """A batch topic of another site is a site mismatch."""
        result = self.ingestor().handle("fac/site2/batch", payload(), RECEIVED_NS)
        assert isinstance(result, Reject) and result.reason == "site_mismatch"

    def test_a_time_far_in_the_future_is_rejected(self) -> None:
        """The MES clock is held to max_future_s like a sensor's."""
        result = self.ingestor().handle(TOPIC, payload(ts=RECEIVED_NS / NS + 3600), RECEIVED_NS)
        assert isinstance(result, Reject) and result.reason == "future_timestamp"


class TestRouter:
    def test_a_batch_message_stores_nothing_and_waits_for_the_worker(self) -> None:
        """Nothing to store; its ack waits for the alarm worker, to whom it goes in order."""
        rig = Rig()
        rig.deliver(Delivery(topic=TOPIC, payload=payload(), mid=5, qos=1))
        assert rig.store.items == [(None, Pending(1, True, (5, 1)))]
        ((seq, message),) = rig.judge.batches[0]
        assert seq == 1 and isinstance(message, BatchMessage) and message.topic == TOPIC

    def test_a_bad_batch_message_is_a_reject(self) -> None:
        """A bad one is counted and published as a reject, acknowledged without the worker."""
        rig = Rig()
        rig.deliver(Delivery(topic=TOPIC, payload=payload(rooms=["NOPE"]), mid=6, qos=1))
        assert rig.store.items == [(None, Pending(1, False, (6, 1)))]
        assert rig.judge.batches == []
        assert rig.stats.rejects["unknown_room"] == 1
