"""[ingest] settings: topic rules, field mappings and units are validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from envmon.errors import ConfigError
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.settings import load_settings


class TestTopicRule:
    def test_valid_rule(self) -> None:
        """A pattern with fields and units is accepted; precision defaults per format."""
        rule = TopicRule.model_validate(
            {
                "pattern": "plant/{site}/{room}/{kind}/{sensor}",
                "fields": {"temperature": {"path": "t", "unit": "degF"}},
            }
        )
        assert rule.format == "json" and rule.effective_precision == "s"
        influx = TopicRule(pattern="lp/{sensor}", format="influx", kind="climate")
        assert influx.effective_precision == "ns"

    def test_unknown_unit_names_field(self) -> None:
        """An unknown unit is refused naming the field and listing known units."""
        with pytest.raises(
            ValidationError, match=r"fields\.temperature\.unit: unknown unit 'degX'"
        ):
            TopicRule.model_validate(
                {"pattern": "a/{sensor}", "fields": {"temperature": {"path": "t", "unit": "degX"}}}
            )

    def test_unknown_field(self) -> None:
        """A mapping key that cannot be a parameter id is refused."""
        with pytest.raises(ValidationError, match="unknown field 'CO2'"):
            TopicRule.model_validate({"pattern": "a/{sensor}", "fields": {"CO2": {"path": "c"}}})

    def test_declared_parameter_is_mapped_without_a_unit(self) -> None:
        """A declared parameter (co2) maps for equipment; a unit for it is refused."""
        rule = TopicRule.model_validate(
            {"pattern": "a/{sensor}", "kind": "equipment", "fields": {"co2": {"path": "c"}}}
        )
        assert rule.fields["co2"].path == "c"
        with pytest.raises(ValidationError, match="co2 is not a built-in parameter"):
            TopicRule.model_validate(
                {"pattern": "a/{sensor}", "fields": {"co2": {"path": "c", "unit": "ppm"}}}
            )

    def test_equipment_rule_may_map_built_in_parameters(self) -> None:
        """An incubator's temperature maps under kind equipment, in any temperature unit."""
        rule = TopicRule.model_validate(
            {
                "pattern": "a/{sensor}",
                "kind": "equipment",
                "fields": {"temperature": {"path": "t", "unit": "K"}},
            }
        )
        assert rule.kind == "equipment"

    def test_bad_pattern(self) -> None:
        """A pattern problem is reported by the pattern parser."""
        with pytest.raises(ValidationError, match=r"needs \{sensor\}"):
            TopicRule(pattern="a/{room}")

    def test_kind_twice(self) -> None:
        """A fixed kind and a {kind} level together are refused."""
        with pytest.raises(ValidationError, match="not both"):
            TopicRule(pattern="a/{kind}/{sensor}", kind="climate")

    def test_parameter_of_other_kind(self) -> None:
        """With a fixed kind, a parameter of another kind is refused."""
        with pytest.raises(ValidationError, match="not a parameter of kind climate"):
            TopicRule.model_validate(
                {
                    "pattern": "a/{sensor}",
                    "kind": "climate",
                    "fields": {"diff_pressure": {"path": "p"}},
                }
            )

    def test_count_needs_sample_volume(self) -> None:
        """Per-sample particle counts need a sample_volume mapping."""
        with pytest.raises(ValidationError, match=r"needs fields\.sample_volume"):
            TopicRule.model_validate(
                {
                    "pattern": "a/{sensor}",
                    "fields": {"particles_0_5um": {"path": "n", "unit": "count"}},
                }
            )

    def test_state_topics_checked(self) -> None:
        """A state pattern without {room} is refused with its index."""
        with pytest.raises(ValidationError, match=r"state_topics\[1\]"):
            IngestSettings(state_topics=["bms/{room}/mode", "bms/mode"])


class TestFromSettingsFile:
    def test_toml_rules(self, tmp_path: Path) -> None:
        """[[ingest.topics]] tables load in order with their field mappings."""
        path = tmp_path / "envmon.toml"
        path.write_text(
            "[[ingest.topics]]\n"
            'pattern = "plant/{room}/th/{sensor}"\n'
            'kind = "climate"\n'
            'fields = { temperature = { path = "t", unit = "degF" } }\n'
            "[[ingest.topics]]\n"
            'pattern = "lp/{sensor}"\n'
            'format = "influx"\n'
        )
        settings = load_settings(path)
        rules = settings.ingest.topics
        assert [r.pattern for r in rules] == ["plant/{room}/th/{sensor}", "lp/{sensor}"]
        assert rules[0].fields["temperature"].unit == "degF"

    def test_toml_error_names_file_and_key(self, tmp_path: Path) -> None:
        """A bad unit in the file is a ConfigError naming the file and the rule."""
        path = tmp_path / "envmon.toml"
        path.write_text(
            "[[ingest.topics]]\n"
            'pattern = "a/{sensor}"\n'
            'fields = { humidity = { path = "h", unit = "percent" } }\n'
        )
        with pytest.raises(ConfigError, match=r"envmon\.toml: ingest\.topics\.0: .*'percent'"):
            load_settings(path)
