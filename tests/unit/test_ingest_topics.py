"""Topic mapping: contract layout, configured patterns, own topics."""

from __future__ import annotations

import pytest

from envmon.ingest.topics import TopicMap, TopicMatch, TopicPattern, rejected_topic


class TestTopicPatternParse:
    def test_captures_named_levels(self) -> None:
        """A pattern records which of site, room, kind and sensor it captures."""
        p = TopicPattern.parse("plant/{site}/{room}/{kind}/{sensor}")
        assert p.captures == {"site", "room", "kind", "sensor"}
        assert not p.rest

    def test_hash_only_last(self) -> None:
        """A '#' anywhere but the last level is refused."""
        with pytest.raises(ValueError, match="'#' must be the last level"):
            TopicPattern.parse("a/#/{sensor}")

    def test_unknown_placeholder(self) -> None:
        """An unknown placeholder is refused and the known ones are listed."""
        with pytest.raises(ValueError, match=r"unknown placeholder \{building\}"):
            TopicPattern.parse("a/{building}/{sensor}")

    def test_duplicate_placeholder(self) -> None:
        """The same placeholder twice is refused."""
        with pytest.raises(ValueError, match="appears twice"):
            TopicPattern.parse("{sensor}/{sensor}")

    def test_data_pattern_needs_sensor(self) -> None:
        """A data pattern without {sensor} cannot identify a sensor and is refused."""
        with pytest.raises(ValueError, match=r"needs \{sensor\}"):
            TopicPattern.parse("a/{room}")

    def test_state_pattern_needs_room(self) -> None:
        """A state pattern without {room} is refused; {sensor} is not allowed there."""
        with pytest.raises(ValueError, match=r"needs \{room\}"):
            TopicPattern.parse("a/{site}/mode", state=True)
        with pytest.raises(ValueError, match="unknown placeholder"):
            TopicPattern.parse("a/{room}/{sensor}", state=True)

    def test_mixed_level(self) -> None:
        """A level mixing text and a wildcard or placeholder is refused."""
        with pytest.raises(ValueError, match="mixes text"):
            TopicPattern.parse("a/x{sensor}")
        with pytest.raises(ValueError, match="mixes text"):
            TopicPattern.parse("a/x+/{sensor}")

    def test_empty_and_system_topics(self) -> None:
        """Empty patterns and $SYS-like patterns are refused."""
        for bad in ("", "$SYS/{sensor}"):
            with pytest.raises(ValueError, match="non-empty"):
                TopicPattern.parse(bad)

    def test_match_wildcards(self) -> None:
        """'+' matches one non-empty level, '#' the rest, literals exactly."""
        p = TopicPattern.parse("a/+/{sensor}/#")
        assert p.match(["a", "x", "S1", "y", "z"]) == {"sensor": "S1"}
        assert p.match(["a", "x", "S1"]) == {"sensor": "S1"}
        assert p.match(["b", "x", "S1"]) is None
        assert p.match(["a", "", "S1"]) is None
        assert p.match(["a", "x"]) is None

    def test_match_length_exact_without_hash(self) -> None:
        """Without '#' the topic must have exactly as many levels as the pattern."""
        p = TopicPattern.parse("a/{sensor}")
        assert p.match(["a", "S1", "extra"]) is None
        assert p.match(["a", ""]) is None


class TestTopicMap:
    def test_contract_data_topic(self) -> None:
        """<prefix>/<site>/<room>/<kind>/<sensor> is the contract data layout."""
        m = TopicMap("fac").match("fac/site1/R1/climate/TH1")
        assert m == TopicMatch(site="site1", room="R1", kind="climate", sensor="TH1")

    def test_contract_state_topic(self) -> None:
        """<prefix>/<site>/<room>/state is a room-state topic."""
        m = TopicMap("fac").match("fac/site1/R1/state")
        assert m is not None and m.state and m.room == "R1" and m.site == "site1"

    def test_other_prefix_or_shape_unknown(self) -> None:
        """Topics outside the prefix or with another number of levels match nothing."""
        tm = TopicMap("fac")
        for topic in (
            "other/site1/R1/climate/TH1",
            "fac/site1/R1/climate",
            "fac/site1/R1/climate/TH1/x",
            "fac/site1/R1/mode",
            "fac/site1//climate/TH1",
            "fac",
        ):
            assert tm.match(topic) is None, topic

    def test_own_topics(self) -> None:
        """<prefix>/<any site>/envmon/... is ours, whatever follows."""
        tm = TopicMap("fac")
        assert tm.is_own("fac/site1/envmon/rejected")
        assert tm.is_own("fac/other/envmon/alarms/R1/temperature")
        assert tm.is_own("fac/site1/envmon")
        assert not tm.is_own("fac/site1/R1/climate/TH1")
        assert not tm.is_own("plant/site1/envmon/rejected")

    def test_configured_rules_first_then_contract(self) -> None:
        """Configured patterns are tried in order before the contract layout."""
        tm = TopicMap(
            "fac",
            ["plant/{room}/th/{sensor}", "plant/{room}/+/{sensor}", "fac/{site}/+/x/{sensor}"],
        )
        assert tm.match("plant/R1/th/S1") == TopicMatch(None, "R1", None, "S1", rule=0)
        assert tm.match("plant/R1/dp/S2") == TopicMatch(None, "R1", None, "S2", rule=1)
        assert tm.match("fac/site1/R1/x/S3") == TopicMatch("site1", None, None, "S3", rule=2)
        assert tm.match("fac/site1/R1/climate/S4") == TopicMatch("site1", "R1", "climate", "S4")

    def test_prefix_placeholder(self) -> None:
        """{prefix} in a pattern stands for the configured MQTT prefix."""
        tm = TopicMap("acme", ["{prefix}/sensors/{sensor}"])
        assert tm.match("acme/sensors/S1") == TopicMatch(None, None, None, "S1", rule=0)
        assert tm.match("fac/sensors/S1") is None

    def test_configured_state_patterns(self) -> None:
        """Configured state patterns yield state matches with the captured room."""
        tm = TopicMap("fac", state_patterns=["bms/{room}/mode"])
        m = tm.match("bms/R1/mode")
        assert m is not None and m.state and m.room == "R1" and m.site is None

    def test_rejected_topic(self) -> None:
        """Rejects are published below the site's own envmon level."""
        assert rejected_topic("fac", "site1") == "fac/site1/envmon/rejected"
        assert TopicMap("fac").is_own(rejected_topic("fac", "site1"))
