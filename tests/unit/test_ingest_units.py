"""Unit conversions at ingest: every supported unit to the contract unit."""

from __future__ import annotations

import math

import pytest

from envmon.errors import ConfigError
from envmon.ingest.units import (
    CONTRACT_UNIT,
    UNITS_BY_KEY,
    conversion,
    per_sample_to_per_m3,
)


def _to_contract(key: str, unit: str, value: float) -> float:
    return conversion(key, unit, "x").apply(value)


class TestConversion:
    @pytest.mark.parametrize(
        ("unit", "value", "celsius"),
        [
            ("degC", 20.5, 20.5),
            ("degF", 212.0, 100.0),
            ("degF", 32.0, 0.0),
            ("degF", 68.0, 20.0),
            ("F", -40.0, -40.0),
            ("°F", 71.6, 22.0),
            ("K", 293.15, 20.0),
            ("kelvin", 273.15, 0.0),
        ],
    )
    def test_temperature(self, unit: str, value: float, celsius: float) -> None:
        """°F and K become °C."""
        assert _to_contract("temperature", unit, value) == pytest.approx(celsius, abs=1e-9)

    def test_fahrenheit_round_values_exact(self) -> None:
        """Round Fahrenheit values convert exactly, without float noise."""
        assert _to_contract("temperature", "degF", 212.0) == 100.0
        assert _to_contract("temperature", "degF", 50.0) == 10.0

    @pytest.mark.parametrize(
        ("unit", "value", "pa"),
        [
            ("Pa", 12.5, 12.5),
            ("hPa", 0.15, 15.0),
            ("mbar", 0.15, 15.0),
            ("kPa", 0.015, 15.0),
            ("inH2O", 0.05, 12.4544455),
            ("inH2O", 1.0, 249.08891),
            ("mmH2O", 1.0, 9.80665),
            ("mmH2O", 1.5, 14.709975),
        ],
    )
    def test_pressure(self, unit: str, value: float, pa: float) -> None:
        """inH2O, mmH2O, hPa, mbar and kPa become Pa."""
        assert _to_contract("diff_pressure", unit, value) == pytest.approx(pa, rel=1e-7)

    @pytest.mark.parametrize(
        ("unit", "value", "litres"),
        [("L", 28.3, 28.3), ("ft3", 1.0, 28.316846592), ("m3", 0.1, 100.0), ("liter", 1.0, 1.0)],
    )
    def test_volume(self, unit: str, value: float, litres: float) -> None:
        """ft³ and m³ become litres."""
        assert _to_contract("sample_volume", unit, value) == pytest.approx(litres, rel=1e-12)

    @pytest.mark.parametrize(
        ("unit", "value", "per_m3"),
        [
            ("per_m3", 3520.0, 3520.0),
            ("per_ft3", 100.0, 3531.4666721),
            ("/ft3", 1.0, 35.314666721),
            ("per_L", 3.52, 3520.0),
        ],
    )
    def test_particles(self, unit: str, value: float, per_m3: float) -> None:
        """Counts per ft³ and per litre become counts per m³."""
        assert _to_contract("particles_0_5um", unit, value) == pytest.approx(per_m3, rel=1e-9)

    def test_humidity_fraction(self) -> None:
        """A 0-1 fraction becomes %RH; % stays."""
        assert _to_contract("humidity", "fraction", 0.43) == pytest.approx(43.0)
        assert _to_contract("humidity", "%", 43.0) == 43.0

    def test_count_per_sample_is_marked(self) -> None:
        """The 'count' unit is marked per sample and not scaled by itself."""
        c = conversion("particles_5_0um", "count", "x")
        assert c.per_sample and c.apply(3.0) == 3.0 and not c.identity

    def test_per_sample_to_per_m3(self) -> None:
        """One count in 28.3 L is about 35.3 per m³ (above the Grade A 29)."""
        assert per_sample_to_per_m3(1, 28.3) == pytest.approx(35.3356890)
        assert per_sample_to_per_m3(40, 28.3) == pytest.approx(1413.42756)

    def test_none_means_contract_unit(self) -> None:
        """No unit means the contract unit, which converts nothing."""
        for key in CONTRACT_UNIT:
            c = conversion(key, None, "x")
            assert c.identity and c.apply(1.25) == 1.25

    def test_every_unit_finite(self) -> None:
        """Every known unit converts a finite value to a finite value."""
        for key, table in UNITS_BY_KEY.items():
            for unit in table:
                assert math.isfinite(_to_contract(key, unit, 1.0)), (key, unit)


class TestConversionErrors:
    def test_unknown_unit_names_key(self) -> None:
        """An unknown unit is a ConfigError naming the settings key and listing known units."""
        with pytest.raises(ConfigError, match=r"ingest\.topics\[0\]: unknown unit 'degX'.*degF"):
            conversion("temperature", "degX", "ingest.topics[0]")

    def test_unit_of_other_quantity(self) -> None:
        """A pressure unit for temperature is refused."""
        with pytest.raises(ConfigError, match="unknown unit 'Pa' for temperature"):
            conversion("temperature", "Pa", "k")

    def test_unknown_key(self) -> None:
        """A mapping key that cannot be a parameter id is refused."""
        with pytest.raises(ConfigError, match="unknown field 'co-2'"):
            conversion("co-2", None, "k")

    def test_declared_parameter_is_taken_as_declared(self) -> None:
        """A declared parameter's values pass unchanged; a unit for it is refused."""
        assert conversion("co2", None, "k").apply(5.1) == 5.1
        with pytest.raises(ConfigError, match="k: co2 is not a built-in parameter"):
            conversion("co2", "%", "k")
