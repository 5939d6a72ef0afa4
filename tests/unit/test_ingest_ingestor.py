"""Ingestor.handle: every outcome of a received message, with plain values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envmon.facility import Facility, parse_facility
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.ingest.ingestor import Ingestor, Reject, excerpt
from envmon.readings import Kind, Reading, RoomState, RoomStateChange

NS = 1_000_000_000
T0 = 1_795_082_400  # 2026-11-19T10:00:00Z
NOW = T0 * NS + 2 * NS  # received two seconds after the sample

FACILITY = """
site = "site1"
[[rooms]]
id = "FILL-A"
grade = "A"
[[rooms]]
id = "PREP-C"
grade = "C"
[[rooms]]
id = "LAB"
iso_class = 7
[[sensors]]
id = "PC1"
room = "FILL-A"
kind = "particles"
[[sensors]]
id = "TH1"
room = "FILL-A"
kind = "climate"
[[sensors]]
id = "DP1"
room = "PREP-C"
kind = "pressure"
[[sensors]]
id = "TH9"
room = "LAB"
kind = "climate"
"""

PARTICLES = (
    b'{"ts": "2026-11-19T10:00:00.123Z", "sample_volume_l": 28.3,'
    b' "counts": {"0.5": 40, "5.0": 0}, "status": "ok"}'
)


def _facility(text: str = FACILITY) -> Facility:
    return parse_facility(text)


def _ingestor(**settings: Any) -> Ingestor:
    return Ingestor(_facility(), IngestSettings(**settings), "fac")


def _reading(result: object) -> Reading:
    assert isinstance(result, Reading), result
    return result


def _reason(result: object) -> str:
    assert isinstance(result, Reject), result
    return result.reason


class TestReadings:
    def test_contract_particles(self) -> None:
        """A contract particle payload becomes a Reading with exact ns time and grade tag."""
        r = _reading(_ingestor().handle("fac/site1/FILL-A/particles/PC1", PARTICLES, NOW))
        assert r.ts_ns == T0 * NS + 123_000_000
        assert (r.site, r.room, r.grade, r.sensor, r.kind) == (
            "site1",
            "FILL-A",
            "A",
            "PC1",
            Kind.PARTICLES,
        )
        assert r.values["particles_0_5um"] == pytest.approx(40 / 0.0283)
        assert r.values["particles_5_0um"] == 0.0
        assert r.sample_volume_l == 28.3 and r.status == "ok" and r.received_ns == NOW

    def test_receive_time_when_no_ts(self) -> None:
        """Without ts the receive time is the sample time."""
        r = _reading(
            _ingestor().handle("fac/site1/PREP-C/pressure/DP1", b'{"diff_pressure_pa": 14.8}', NOW)
        )
        assert r.ts_ns == NOW and r.values == {"diff_pressure": 14.8} and r.grade == "C"

    def test_iso_class_grade_tag(self) -> None:
        """A room with only an ISO class gets the ISO<n> grade tag."""
        r = _reading(_ingestor().handle("fac/site1/LAB/climate/TH9", b'{"temperature_c": 21}', NOW))
        assert r.grade == "ISO7"

    def test_epoch_float_rounded_to_microseconds(self) -> None:
        """An epoch float timestamp is rounded to the microsecond."""
        payload = b'{"ts": 1795082400.0000014, "temperature_c": 21}'
        r = _reading(_ingestor().handle("fac/site1/FILL-A/climate/TH1", payload, NOW))
        assert r.ts_ns == T0 * NS + 1000

    def test_faulted_reading_without_values(self) -> None:
        """A faulted sensor message is still a Reading, with its status and no values."""
        r = _reading(
            _ingestor().handle("fac/site1/FILL-A/particles/PC1", b'{"status": "flow_fault"}', NOW)
        )
        assert r.faulted and r.status == "flow_fault" and r.values == {}


class TestOwnAndUnknownTopics:
    def test_own_topics_ignored(self) -> None:
        """envmon's own output topics are ignored, whatever their payload."""
        ing = _ingestor()
        assert ing.handle("fac/site1/envmon/rejected", b"garbage", NOW) is None
        assert ing.handle("fac/site1/envmon/alarms/FILL-A/temperature", b"{}", NOW) is None

    def test_unknown_topic(self) -> None:
        """A topic fitting no pattern is rejected as unknown_topic."""
        assert (
            _reason(_ingestor().handle("fac/site1/FILL-A/climate", b"{}", NOW)) == "unknown_topic"
        )


class TestRejects:
    @pytest.mark.parametrize(
        ("topic", "payload", "reason"),
        [
            ("fac/site1/FILL-A/climate/TH1", b"{not json", "bad_json"),
            ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": 2', "bad_json"),
            ("fac/site1/FILL-A/climate/TH1", b"[20.4]", "bad_shape"),
            ("fac/site1/NOPE/climate/TH1", b'{"temperature_c": 20}', "unknown_room"),
            ("fac/site1/FILL-A/climate/TH404", b'{"temperature_c": 20}', "unknown_sensor"),
            ("fac/site1/FILL-A/pressure/TH1", b'{"diff_pressure_pa": 1}', "kind_mismatch"),
            ("fac/site1/FILL-A/co2/TH1", b'{"ppm": 400}', "unknown_kind"),
            ("fac/site1/PREP-C/climate/TH1", b'{"temperature_c": 20}', "room_mismatch"),
            ("fac/site2/FILL-A/climate/TH1", b'{"temperature_c": 20}', "site_mismatch"),
            ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": "20"}', "bad_value"),
            ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": true}', "bad_value"),
            ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": NaN}', "non_finite"),
            (
                "fac/site1/FILL-A/climate/TH1",
                b'{"ts": "noon", "temperature_c": 1}',
                "bad_timestamp",
            ),
            (
                "fac/site1/FILL-A/climate/TH1",
                b'{"ts": "2026-11-19T10:00:00", "temperature_c": 1}',
                "bad_timestamp",
            ),
            (
                "fac/site1/FILL-A/climate/TH1",
                b'{"ts": "2026-11-19T11:00:00Z", "temperature_c": 1}',
                "future_timestamp",
            ),
            (
                "fac/site1/FILL-A/climate/TH1",
                b'{"ts": "2026-10-01T10:00:00Z", "temperature_c": 1}',
                "past_timestamp",
            ),
            ("fac/site1/FILL-A/climate/TH1", b'{"ts": 1795082400}', "no_values"),
            (
                "fac/site1/FILL-A/climate/TH1",
                b'{"status": ["x"], "temperature_c": 1}',
                "bad_status",
            ),
        ],
    )
    def test_reason(self, topic: str, payload: bytes, reason: str) -> None:
        """Each kind of bad message gets its stable reason code."""
        result = _ingestor().handle(topic, payload, NOW)
        assert _reason(result) == reason
        assert isinstance(result, Reject) and result.topic == topic and result.detail

    def test_too_large(self) -> None:
        """A payload over max_payload_bytes is too_large, checked before decoding."""
        payload = b'{"temperature_c": 20, "pad": "' + b"x" * 200 + b'"}'
        result = _ingestor(max_payload_bytes=128).handle(
            "fac/site1/FILL-A/climate/TH1", payload, NOW
        )
        assert _reason(result) == "too_large"
        assert isinstance(result, Reject) and "max_payload_bytes 128" in result.detail

    def test_time_window_configurable(self) -> None:
        """max_future_s and max_past_s bound the accepted sample time."""
        ing = _ingestor(max_future_s=1.0, max_past_s=1.0)
        topic = "fac/site1/FILL-A/climate/TH1"
        assert _reason(ing.handle(topic, b'{"ts": 1795082400, "temperature_c": 1}', NOW)) == (
            "past_timestamp"
        )
        later = b'{"ts": 1795082403.5, "temperature_c": 1}'
        assert _reason(ing.handle(topic, later, NOW)) == "future_timestamp"
        assert _reading(ing.handle(topic, b'{"ts": 1795082402.5, "temperature_c": 1}', NOW))

    def test_details_name_the_field(self) -> None:
        """The detail sentence names the offending field or identifier."""
        ing = _ingestor()
        r = ing.handle("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": "warm"}', NOW)
        assert isinstance(r, Reject) and "temperature_c" in r.detail
        r = ing.handle("fac/site1/NOPE/climate/TH1", b"{}", NOW)
        assert isinstance(r, Reject) and "'NOPE'" in r.detail
        r = ing.handle("fac/site1/FILL-A/climate/TH1", b'{"ts": "2026-11-19T10:00:00"}', NOW)
        assert isinstance(r, Reject) and "no time zone" in r.detail

    def test_excerpt_bounded_and_safe(self) -> None:
        """The payload excerpt is at most 256 characters and escapes invalid UTF-8."""
        r = _ingestor().handle("fac/site1/FILL-A/climate/TH1", b"\xff\xfe" + b"a" * 1000, NOW)
        assert isinstance(r, Reject)
        assert r.payload_excerpt.startswith("\\xff\\xfe") and len(r.payload_excerpt) == 256
        assert excerpt("é".encode() * 300) == "é" * 256


class TestRoomState:
    def test_plain_and_json_state(self) -> None:
        """Plain text and {"state": ...} payloads both become RoomStateChange."""
        ing = _ingestor()
        plain = ing.handle("fac/site1/FILL-A/state", b"at_rest\n", NOW)
        assert plain == RoomStateChange(
            ts_ns=NOW, site="site1", room="FILL-A", state=RoomState.AT_REST
        )
        js = ing.handle(
            "fac/site1/PREP-C/state",
            b'{"state": "in_operation", "ts": "2026-11-19T10:00:00Z"}',
            NOW,
        )
        assert js == RoomStateChange(
            ts_ns=T0 * NS, site="site1", room="PREP-C", state=RoomState.IN_OPERATION
        )

    def test_bad_states(self) -> None:
        """Unknown words, missing state keys and unknown rooms are rejected."""
        ing = _ingestor()
        assert _reason(ing.handle("fac/site1/FILL-A/state", b"busy", NOW)) == "bad_state"
        assert _reason(ing.handle("fac/site1/FILL-A/state", b'{"mode": "x"}', NOW)) == "bad_state"
        assert _reason(ing.handle("fac/site1/FILL-A/state", b'{"state": 1}', NOW)) == "bad_state"
        assert _reason(ing.handle("fac/site1/FILL-A/state", b"{bad", NOW)) == "bad_json"
        assert _reason(ing.handle("fac/site1/X/state", b"at_rest", NOW)) == "unknown_room"
        assert _reason(ing.handle("fac/site9/FILL-A/state", b"at_rest", NOW)) == "site_mismatch"

    def test_cleared_retained_state_ignored(self) -> None:
        """An empty payload (a retained state being cleared) is ignored, not rejected."""
        assert _ingestor().handle("fac/site1/FILL-A/state", b"", NOW) is None

    def test_configured_state_topic(self) -> None:
        """A configured state pattern is read like the contract one."""
        ing = _ingestor(state_topics=["bms/{room}/mode"])
        r = ing.handle("bms/LAB/mode", b"at_rest", NOW)
        assert isinstance(r, RoomStateChange) and r.room == "LAB" and r.site == "site1"


class TestConfiguredRules:
    def test_rule_without_room_uses_sensor_room(self) -> None:
        """A pattern without {room} takes the sensor's room; units convert."""
        rule = TopicRule.model_validate(
            {
                "pattern": "plant/th/{sensor}",
                "kind": "climate",
                "fields": {"temperature": {"path": "t", "unit": "degF"}},
            }
        )
        ing = _ingestor(topics=[rule])
        r = _reading(ing.handle("plant/th/TH9", b'{"t": 212}', NOW))
        assert r.room == "LAB" and r.values == {"temperature": 100.0}

    def test_fixed_kind_mismatch(self) -> None:
        """A rule's fixed kind that is not the sensor's kind is kind_mismatch."""
        ing = _ingestor(topics=[TopicRule(pattern="plant/th/{sensor}", kind="climate")])
        assert (
            _reason(ing.handle("plant/th/DP1", b'{"diff_pressure_pa": 1}', NOW)) == "kind_mismatch"
        )

    def test_line_protocol_rule(self) -> None:
        """An influx-format rule decodes line protocol with the sensor's kind."""
        ing = _ingestor(topics=[TopicRule(pattern="lp/{room}/{sensor}", format="influx")])
        r = _reading(
            ing.handle("lp/PREP-C/DP1", b"pressure diff_pressure=12.5 1795082400000000007", NOW)
        )
        assert r.values == {"diff_pressure": 12.5} and r.ts_ns == T0 * NS + 7
        assert _reason(ing.handle("lp/PREP-C/DP1", b"pressure diff_pressure=", NOW)) == (
            "bad_line_protocol"
        )

    def test_contract_layout_still_applies(self) -> None:
        """Configured rules do not disable the contract layout."""
        ing = _ingestor(topics=[TopicRule(pattern="plant/th/{sensor}", kind="climate")])
        assert _reading(ing.handle("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": 1}', NOW))


class TestReplaceFacility:
    def test_new_sensor_known_after_reload(self) -> None:
        """After replace_facility, a newly added sensor is accepted, a removed one rejected."""
        ing = _ingestor()
        topic = "fac/site1/FILL-A/climate/TH2"
        assert _reason(ing.handle(topic, b'{"temperature_c": 1}', NOW)) == "unknown_sensor"
        text = FACILITY.replace('id = "TH1"', 'id = "TH2"')
        ing.replace_facility(_facility(text))
        assert _reading(ing.handle(topic, b'{"temperature_c": 1}', NOW)).sensor == "TH2"
        old = "fac/site1/FILL-A/climate/TH1"
        assert _reason(ing.handle(old, b'{"temperature_c": 1}', NOW)) == "unknown_sensor"


class TestTopicsSeenBefore:
    """The ingestor remembers each data topic's sensor; the answers must not change."""

    MESSAGES = [
        ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": 20.5}'),
        ("fac/site1/FILL-A/climate/TH1", b'{"temperature_c": "warm"}'),
        ("fac/site1/FILL-A/climate/TH1", b"x" * 70_000),
        ("fac/site1/PREP-C/climate/TH1", b'{"temperature_c": 20.5}'),
        ("fac/site1/FILL-A/pressure/TH1", b'{"diff_pressure_pa": 1}'),
        ("fac/site1/FILL-A/particles/PC1", PARTICLES),
        ("fac/site1/FILL-A/particles/PC1", b'{"per_m3": {"0.5": -1}}'),
        ("fac/site1/envmon/alarms/FILL-A/x", b"{}"),
        ("fac/site1/FILL-A/state", b"at_rest"),
    ]

    def test_same_answers_as_a_fresh_ingestor(self) -> None:
        """Each message, repeated, is judged as a first sight of its topic would be."""
        ing = _ingestor()
        for _ in range(3):
            for topic, payload in self.MESSAGES:
                assert ing.handle(topic, payload, NOW) == _ingestor().handle(topic, payload, NOW)

    def test_a_reload_forgets_what_topics_meant(self) -> None:
        """A sensor moved to another room is read in its new room after the reload."""
        rule = TopicRule(pattern="plant/th/{sensor}", kind="climate")
        ing = Ingestor(_facility(), IngestSettings(topics=[rule]), "fac")
        assert _reading(ing.handle("plant/th/TH9", b'{"temperature_c": 1}', NOW)).room == "LAB"
        moved = FACILITY.replace('id = "TH9"\nroom = "LAB"', 'id = "TH9"\nroom = "PREP-C"')
        ing.replace_facility(_facility(moved))
        r = _reading(ing.handle("plant/th/TH9", b'{"temperature_c": 1}', NOW))
        assert (r.room, r.grade) == ("PREP-C", "C")
        ing.replace_facility(_facility(FACILITY.replace('id = "TH9"', 'id = "TH8"')))
        assert _reason(ing.handle("plant/th/TH9", b'{"temperature_c": 1}', NOW)) == (
            "unknown_sensor"
        )

    def test_wildcard_topics_do_not_grow_without_bound(self) -> None:
        """A `+` level lets a sender invent topics; what is remembered stays bounded."""
        rule = TopicRule(pattern="plant/+/{sensor}", kind="climate")
        ing = Ingestor(_facility(), IngestSettings(topics=[rule]), "fac")
        for i in range(5_000):
            _reading(ing.handle(f"plant/x{i}/TH9", b'{"temperature_c": 1}', NOW))
        index = ing._index
        assert len(index.routes) <= index.max_routes < 5_000


class TestNeverRaises:
    @settings(max_examples=300, deadline=None)
    @given(
        topic=st.sampled_from(
            [
                "fac/site1/FILL-A/particles/PC1",
                "fac/site1/FILL-A/climate/TH1",
                "fac/site1/PREP-C/pressure/DP1",
                "fac/site1/FILL-A/state",
                "fac/x/y",
            ]
        ),
        payload=st.one_of(
            st.binary(max_size=300),
            st.recursive(
                st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                lambda inner: (
                    st.lists(inner, max_size=4)
                    | st.dictionaries(
                        st.sampled_from(
                            [
                                "ts",
                                "status",
                                "counts",
                                "per_m3",
                                "sample_volume_l",
                                "0.5",
                                "5.0",
                                "temperature_c",
                                "humidity_pct",
                                "diff_pressure_pa",
                                "state",
                            ]
                        ),
                        inner,
                        max_size=6,
                    )
                ),
                max_leaves=12,
            ).map(lambda v: __import__("json").dumps(v).encode()),
        ),
    )
    def test_any_payload(self, topic: str, payload: bytes) -> None:
        """Arbitrary bytes and JSON never raise: the answer is always one of the four outcomes."""
        result = _ingestor().handle(topic, payload, NOW)
        assert result is None or isinstance(result, Reading | RoomStateChange | Reject)
        if isinstance(result, Reading):
            assert all(v == v and abs(v) != float("inf") for v in result.values.values())
