"""The fast slice of the ingest fuzzing, run with the normal suite.

Each target of ``targets.py`` gets a few hundred Hypothesis examples here
(the 100 000-payload run is ``python -m tests.fuzz.run``); then the named
kinds of bad input from issue 6, each with the exact reject reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from envmon.errors import ConfigError
from envmon.ingest.config import IngestSettings
from envmon.ingest.decoders import CONTRACT_SPEC, DecodeError, decode
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.readings import Kind, Reading
from tests.fuzz.targets import NOW_NS, Target, facility, ingest_settings, targets

FAST = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
_TARGETS = {t.name: t for t in targets()}


def _fuzz(target: Target) -> None:
    @FAST
    @given(target.strategy)
    def run(args: Any) -> None:
        target.check(args)

    run()


class TestFuzzSlice:
    @pytest.mark.parametrize("name", sorted(_TARGETS))
    def test_target_never_crashes_nor_accepts_a_bad_value(self, name: str) -> None:
        """300 generated inputs: only known-reason rejects or valid, encodable readings."""
        _fuzz(_TARGETS[name])


def _ingest(topic: str, payload: bytes) -> Reject:
    result = Ingestor(facility(), ingest_settings(), "fac").handle(topic, payload, NOW_NS)
    assert isinstance(result, Reject), result
    return result


CLIMATE = "fac/site1/R1/climate/TH1"
PARTICLES = "fac/site1/R1/particles/PC1"
TS = NOW_NS / 1e9


class TestNamedBadInput:
    def test_oversized_payload_is_too_large(self) -> None:
        """A payload over max_payload_bytes is rejected as too_large before parsing."""
        payload = json.dumps({"temperature_c": 20, "pad": "x" * 5000}).encode()
        assert _ingest(CLIMATE, payload).reason == "too_large"

    @pytest.mark.parametrize("depth", [33, 500, 100_000])
    def test_deeply_nested_json_is_a_shape_or_json_reject(self, depth: int) -> None:
        """Nesting beyond 32 levels is refused, even 100 000 deep (no RecursionError)."""
        payload = b'{"temperature_c": ' + b"[" * depth + b"]" * depth + b"}"
        with pytest.raises(DecodeError) as err:
            decode(payload, Kind.CLIMATE, CONTRACT_SPEC)
        assert err.value.reason in {"bad_shape", "bad_json"}

    @pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
    def test_nan_and_infinity_are_non_finite(self, token: bytes) -> None:
        """NaN, ±Infinity and overflowing numbers are named non_finite, never stored."""
        payload = b'{"ts": %.0f, "temperature_c": %s, "humidity_pct": 40}' % (TS, token)
        assert _ingest(CLIMATE, payload).reason == "non_finite"

    @pytest.mark.parametrize(
        "payload",
        [
            {"per_m3": {"0.5": -1, "5.0": 0}},
            {"counts": {"0.5": 3, "5.0": -2}, "sample_volume_l": 28.3},
        ],
    )
    def test_negative_counts_are_out_of_range(self, payload: dict[str, Any]) -> None:
        """Negative particle counts (per m³ or per sample) are stored as out_of_range."""
        body = json.dumps({"ts": TS, **payload}).encode()
        result = Ingestor(facility(), ingest_settings(), "fac").handle(PARTICLES, body, NOW_NS)
        assert isinstance(result, Reading) and result.status == "out_of_range"

    def test_unknown_unit_in_a_payload_key_carries_no_value(self) -> None:
        """A climate payload in an unknown unit key (temperature_r) has no contract value."""
        body = json.dumps({"ts": TS, "temperature_r": 528.0}).encode()
        assert _ingest(CLIMATE, body).reason == "no_values"

    def test_unknown_unit_in_a_topic_rule_is_a_config_error(self) -> None:
        """An unknown unit in [[ingest.topics]] fails at load, naming the key and unit."""
        rule = {"pattern": "x/{sensor}", "kind": "climate",
                "fields": {"temperature": {"path": "t", "unit": "rankine"}}}  # fmt: skip
        with pytest.raises((ConfigError, ValueError)) as err:
            IngestSettings.model_validate({"topics": [rule]})
        assert "rankine" in str(err.value) and "temperature" in str(err.value)

    @pytest.mark.parametrize(
        ("offset_s", "reason"), [(301.0, "future_timestamp"), (-8 * 86_400.0, "past_timestamp")]
    )
    def test_timestamps_far_from_receive_time_are_rejected(
        self, offset_s: float, reason: str
    ) -> None:
        """A ts over max_future_s ahead or max_past_s behind is rejected, saying by how much."""
        body = json.dumps({"ts": TS + offset_s, "temperature_c": 20.0}).encode()
        reject = _ingest(CLIMATE, body)
        assert reject.reason == reason
        assert "s " in reject.detail and "max_" in reject.detail

    def test_tolerance_is_configurable(self) -> None:
        """With max_future_s = 1000 a reading 301 s ahead is accepted."""
        settings_ = IngestSettings(max_future_s=1000.0)
        body = json.dumps({"ts": TS + 301.0, "temperature_c": 20.0}).encode()
        result = Ingestor(facility(), settings_, "fac").handle(CLIMATE, body, NOW_NS)
        assert not isinstance(result, Reject), result

    @pytest.mark.parametrize(
        "topic",
        [
            "fac/site1/R1,sensor=evil/climate/TH1",
            "fac/site1/R1/climate/TH1 temperature=99",
            "fac/site1/R1/climate/TH1\nclimate,sensor=evil temperature=99",
            "fac/site1/R1\\/climate/TH1",
            "fac/site1/R1/climate/TH1\x00",
        ],
    )
    def test_hostile_ids_in_topics_are_rejected(self, topic: str) -> None:
        """Tag or line-protocol syntax in a topic's room or sensor never becomes a reading."""
        body = json.dumps({"ts": TS, "temperature_c": 20.0}).encode()
        assert _ingest(topic, body).reason in {"unknown_room", "unknown_sensor", "unknown_topic"}
