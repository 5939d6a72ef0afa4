"""The simulated fleet: deterministic, plausible, and shaped as each scenario intends."""

from __future__ import annotations

import itertools
import json
import random
import statistics
from datetime import datetime
from pathlib import Path

import pytest

from envmon.errors import ConfigError
from envmon.facility import Facility, load_facility
from envmon.readings import NS_PER_S, RoomState, isoformat_ns
from envmon.simulate.events import DoorOpening, Dropout, ParticleBurst, StateChange
from envmon.simulate.fleet import Fleet, FleetOptions, iso_us, poisson
from envmon.simulate.scenarios import SCENARIOS, build_scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "facility.toml"
START_NS = 1_795_000_000 * NS_PER_S
S = NS_PER_S


@pytest.fixture(scope="module")
def facility() -> Facility:
    return load_facility(EXAMPLE)


def fleet_for(facility: Facility, scenario: str = "normal", seed: int = 7) -> Fleet:
    chosen = build_scenario(scenario, facility)
    return Fleet(facility, START_NS, chosen.events, seed, "fac", chosen.options)


def payloads(fleet: Fleet, sensor_id: str, seconds: range) -> list[dict | None]:
    sensor = fleet.facility.sensors[sensor_id]
    out = []
    for s in seconds:
        text = fleet.payload(sensor, START_NS + s * S)
        out.append(None if text is None else json.loads(text))
    return out


def per_m3(payload: dict, size: str) -> float:
    return payload["counts"][size] / (payload["sample_volume_l"] / 1000)


class TestFleetMessages:
    def test_same_arguments_give_same_messages(self, facility: Facility) -> None:
        """Two fleets with the same seed publish identical messages at the same time."""
        a = fleet_for(facility).messages(START_NS + 5 * S, START_NS + 4 * S)
        b = fleet_for(facility).messages(START_NS + 5 * S, START_NS + 4 * S)
        assert a == b

    def test_other_seed_gives_other_values(self, facility: Facility) -> None:
        """A different seed changes the sampled values."""
        a = fleet_for(facility, seed=1).messages(START_NS, None)
        b = fleet_for(facility, seed=2).messages(START_NS, None)
        assert a != b

    def test_first_tick_publishes_every_room_state_retained(self, facility: Facility) -> None:
        """The first tick carries one retained state message per room, defaults applied."""
        retained = [m for m in fleet_for(facility).messages(START_NS) if m.retain]
        assert {json.loads(m.payload)["ts"] for m in retained} == {isoformat_ns(START_NS)}
        states = {m.topic: json.loads(m.payload)["state"] for m in retained}
        assert states == {
            "fac/site1/FILL-A/state": "in_operation",
            "fac/site1/BG-B/state": "in_operation",
            "fac/site1/PREP-C/state": "in_operation",
            "fac/site1/CORR-D/state": "in_operation",
            "fac/site1/AIRLOCK-D/state": "at_rest",
            "fac/site1/CELL-B/state": "in_operation",
        }

    def test_later_ticks_publish_only_state_changes(self, facility: Facility) -> None:
        """A state message is repeated only when the room's state changed since the last tick."""
        fleet = Fleet(facility, START_NS, (StateChange(10.0, "AIRLOCK-D", RoomState.IN_OPERATION),))
        quiet = [m for m in fleet.messages(START_NS + 5 * S, START_NS + 4 * S) if m.retain]
        change = [m for m in fleet.messages(START_NS + 10 * S, START_NS + 9 * S) if m.retain]
        assert quiet == []
        assert [(m.topic, json.loads(m.payload)) for m in change] == [
            (
                "fac/site1/AIRLOCK-D/state",
                {"state": "in_operation", "ts": isoformat_ns(START_NS + 10 * S)},
            )
        ]

    def test_one_reading_per_sensor_on_contract_topics(self, facility: Facility) -> None:
        """Every sensor publishes once per tick on <prefix>/<site>/<room>/<kind>/<sensor>."""
        readings = [m for m in fleet_for(facility).messages(START_NS) if not m.retain]
        expected = {f"fac/site1/{s.room}/{s.kind}/{s.id}" for s in facility.model.sensors}
        assert sorted(m.topic for m in readings) == sorted(expected)

    def test_payloads_decode_as_the_contract_says(self, facility: Facility) -> None:
        """Each payload is JSON with an ISO 8601 ts and the contract's fields for its kind."""
        fleet = fleet_for(facility)
        for sensor in facility.model.sensors:
            body = json.loads(fleet.payload(sensor, START_NS + 3 * S) or "")
            assert datetime.fromisoformat(body["ts"]).timestamp() == START_NS / S + 3
            if sensor.kind == "particles":
                assert body["sample_volume_l"] == 28.3
                assert set(body["counts"]) == {"0.5", "5.0"}
                assert body["counts"]["0.5"] >= body["counts"]["5.0"] >= 0
                assert body["status"] == "ok"
            elif sensor.kind == "climate":
                assert set(body) == {"ts", "temperature_c", "humidity_pct"}
            elif sensor.kind == "equipment":
                assert set(body) == {"ts", "values", "status"}
                assert set(body["values"]) == set(sensor.parameters or ())
            else:
                assert set(body) == {"ts", "diff_pressure_pa"}


class TestPlausibleValues:
    def test_climate_stays_inside_the_example_alert_limits(self, facility: Facility) -> None:
        """Over a simulated day, temperature stays in 19-23 °C and humidity in 35-55 %RH."""
        values = payloads(fleet_for(facility), "TH-FILL-A-1", range(0, 86_400, 600))
        assert all(19.0 < v["temperature_c"] < 23.0 for v in values if v)
        assert all(35.0 < v["humidity_pct"] < 55.0 for v in values if v)

    def test_temperature_drifts_with_the_time_of_day(self, facility: Facility) -> None:
        """Afternoon (UTC) readings are warmer than early-morning ones."""
        fleet = fleet_for(facility)
        day0 = START_NS - START_NS % (86_400 * S)
        sensor = facility.sensors["TH-BG-B-1"]

        def mean_at(hour: int) -> float:
            temps = [
                json.loads(fleet.payload(sensor, day0 + (hour * 3600 + k) * S) or "")[
                    "temperature_c"
                ]
                for k in range(20)
            ]
            return statistics.mean(temps)

        assert mean_at(15) > mean_at(3) + 0.8

    def test_pressure_cascade_holds_10_to_15_pa_steps(self, facility: Facility) -> None:
        """Undisturbed, each room sits 10-16 Pa above its reference room."""
        fleet = fleet_for(facility)
        for sensor in facility.model.sensors:
            if sensor.kind == "pressure":
                values = payloads(fleet, sensor.id, range(0, 600, 7))
                assert all(10.0 < v["diff_pressure_pa"] < 16.0 for v in values if v)

    def test_background_particles_stay_below_action_limits(self, facility: Facility) -> None:
        """In the normal scenario the Grade A ≥0.5 µm average is far below 3 520/m³."""
        values = payloads(fleet_for(facility), "PC-FILL-A-1", range(600))
        mean = statistics.mean(per_m3(v, "0.5") for v in values if v)
        assert 100 < mean < 1000

    def test_grade_a_large_particles_are_rare_and_isolated(self, facility: Facility) -> None:
        """Grade A ≥5.0 µm counts are mostly zero and never two samples in a row."""
        values = [
            v["counts"]["5.0"]
            for v in payloads(fleet_for(facility), "PC-FILL-A-1", range(2000))
            if v
        ]
        assert sum(1 for c in values if c > 0) < 40
        assert not any(a > 0 and b > 0 for a, b in itertools.pairwise(values))

    def test_particles_rise_when_a_room_goes_into_operation(self, facility: Facility) -> None:
        """The same room counts more particles in operation than at rest."""
        fleet = Fleet(
            facility, START_NS, (StateChange(300.0, "AIRLOCK-D", RoomState.IN_OPERATION),)
        )
        values = payloads(fleet, "PC-AIRLOCK-D-1", range(600))
        at_rest = statistics.mean(v["counts"]["0.5"] for v in values[:300] if v)
        in_operation = statistics.mean(v["counts"]["0.5"] for v in values[300:] if v)
        assert in_operation > 2 * at_rest


class TestScenarios:
    def test_unknown_scenario_lists_the_known_ones(self, facility: Facility) -> None:
        """An unknown name is a ConfigError naming every scenario."""
        with pytest.raises(
            ConfigError, match="known: normal, excursion, door, dropout, equipment, demo, load"
        ):
            build_scenario("nope", facility)

    def test_every_scenario_builds_for_the_example_facility(self, facility: Facility) -> None:
        """All named scenarios build and describe themselves."""
        for name in SCENARIOS:
            assert build_scenario(name, facility).description

    def test_excursion_puts_grade_a_beyond_its_5_0um_limit_for_minutes(
        self, facility: Facility
    ) -> None:
        """In the excursion, every Grade A sample from 10 s to 130 s exceeds 29/m³ at ≥5.0 µm."""
        values = payloads(fleet_for(facility, "excursion"), "PC-FILL-A-1", range(10, 130))
        assert all(per_m3(v, "5.0") > 29 for v in values if v)
        assert all(per_m3(v, "0.5") > 3520 for v in values if v)

    def test_door_short_dip_then_long_dip(self, facility: Facility) -> None:
        """The door scenario dips FILL-A below 10 Pa for about 10 s, recovers, then for 120 s."""
        values = payloads(fleet_for(facility, "door"), "DP-FILL-A-1", range(200))
        low = [s for s, v in enumerate(values) if v and v["diff_pressure_pa"] < 10.0]
        short = [s for s in low if s < 60]
        long = [s for s in low if s >= 60]
        assert 10 <= len(short) <= 13 and short[0] == 10
        assert 120 <= len(long) <= 123 and long[0] == 60

    def test_dropout_silences_one_sensor_only(self, facility: Facility) -> None:
        """From 10 s the Grade A particle counter publishes nothing; the others go on."""
        fleet = fleet_for(facility, "dropout")
        assert all(p is not None for p in payloads(fleet, "PC-FILL-A-1", range(10)))
        assert all(p is None for p in payloads(fleet, "PC-FILL-A-1", range(10, 1000, 50)))
        assert all(p is not None for p in payloads(fleet, "TH-FILL-A-1", range(10, 1000, 50)))

    def test_demo_raises_an_excursion_within_60_s(self, facility: Facility) -> None:
        """At a 2 s interval the demo has consecutive Grade A ≥5.0 µm exceedances before 60 s."""
        values = payloads(fleet_for(facility, "demo"), "PC-FILL-A-1", range(0, 60, 2))
        beyond = [v is not None and per_m3(v, "5.0") > 29 for v in values]
        assert any(a and b for a, b in itertools.pairwise(beyond))

    def test_demo_door_dip_is_shorter_than_the_delay(self, facility: Facility) -> None:
        """The demo's door dip stays below 60 s, so it must not alarm."""
        values = payloads(fleet_for(facility, "demo"), "DP-FILL-A-1", range(120))
        low = [s for s, v in enumerate(values) if v and v["diff_pressure_pa"] < 10.0]
        assert 0 < len(low) < 15


class TestRandomDisturbances:
    def test_random_dropouts_occur_at_roughly_the_configured_rate(self, facility: Facility) -> None:
        """At 6 dropouts/h of 30 s, about 5 % of a sensor's ticks are silent."""
        fleet = Fleet(facility, START_NS, (), 3, "fac", FleetOptions(random_dropouts_per_h=6))
        values = payloads(fleet, "TH-BG-B-1", range(0, 36_000, 5))
        silent = sum(v is None for v in values) / len(values)
        assert 0.02 < silent < 0.09

    def test_random_bursts_show_but_stay_below_action_limits(self, facility: Facility) -> None:
        """Random bursts raise Grade D counts visibly, yet never to the 3 520 000/m³ limit."""
        options = FleetOptions(random_bursts_per_h=60)
        fleet = Fleet(facility, START_NS, (), 4, "fac", options)
        values = [v for v in payloads(fleet, "PC-CORR-D-1", range(0, 7200, 5)) if v]
        quiet = [v for v in payloads(fleet_for(facility), "PC-CORR-D-1", range(0, 7200, 5)) if v]
        assert max(per_m3(v, "0.5") for v in values) > 1.5 * max(per_m3(v, "0.5") for v in quiet)
        assert max(per_m3(v, "0.5") for v in values) < 3_520_000
        assert max(per_m3(v, "5.0") for v in values) < 29_300

    def test_no_random_disturbance_by_default(self, facility: Facility) -> None:
        """Without options, nothing is silent."""
        values = payloads(fleet_for(facility), "TH-BG-B-1", range(0, 3600, 5))
        assert all(v is not None for v in values)

    def test_scripted_burst_and_dropout_apply_only_inside_their_span(
        self, facility: Facility
    ) -> None:
        """Events hold from start (inclusive) to start + duration (exclusive)."""
        burst = ParticleBurst(start_s=5, duration_s=5, room="CORR-D", per_m3_0_5um=1e7)
        gone = Dropout(start_s=5, duration_s=5, sensor="PC-CORR-D-1")
        door = DoorOpening(start_s=5, duration_s=5, room="CORR-D")
        assert burst.covers(5) and burst.covers(9.99) and not burst.covers(10)
        fleet = Fleet(facility, START_NS, (burst, door))
        values = payloads(fleet, "PC-CORR-D-1", range(12))
        assert all(per_m3(v, "0.5") > 5e6 for v in values[5:10] if v)
        assert all(per_m3(v, "0.5") < 3e6 for v in values[:5] + values[10:] if v)
        assert Fleet(facility, START_NS, (gone,)).dropped_out("PC-CORR-D-1", START_NS + 7 * S)


class TestHelpers:
    def test_poisson_mean_and_variance(self) -> None:
        """Draws have the requested mean and a variance close to it, small and large."""
        rng = random.Random(5)
        for mean in (0.5, 7.0, 400.0):
            draws = [poisson(rng, mean) for _ in range(4000)]
            assert abs(statistics.mean(draws) - mean) < 0.1 * mean + 0.05
            assert 0.8 * mean < statistics.variance(draws) < 1.2 * mean + 0.1
        assert poisson(rng, 0.0) == 0

    def test_iso_us_keeps_microseconds(self) -> None:
        """Timestamps are UTC with six fractional digits and a Z."""
        assert iso_us(START_NS + 1_234_567_000) == "2026-11-18T11:06:41.234567Z"


def equipment_values(fleet: Fleet, sensor_id: str, seconds: range) -> list[dict[str, float]]:
    return [p["values"] for p in payloads(fleet, sensor_id, seconds) if p is not None]


class TestEquipment:
    def test_equipment_stays_within_its_alert_limits_when_left_alone(
        self, facility: Facility
    ) -> None:
        """Over a day without doors opened every equipment parameter stays inside its alerts."""
        fleet = Fleet(facility, START_NS, (), 7, "fac")
        bounds = {
            "INC-01-S1": {"co2": (4.7, 5.3), "temperature": (36.5, 37.5)},
            "FRZ-01-S1": {"temperature": (-90.0, -70.0)},
            "FRG-01-S1": {"temperature": (3.0, 7.0)},
            "BSC-01-S1": {"inflow_velocity": (0.45, 0.6)},
            "LN2-01-S1": {"cryo_temperature": (-200.0, -160.0), "ln2_level": (39.9, 90.1)},
        }
        for sensor, limits in bounds.items():
            for values in equipment_values(fleet, sensor, range(0, 86_400, 300)):
                for parameter, (lo, hi) in limits.items():
                    assert lo < values[parameter] < hi, (sensor, parameter, values)

    def test_ln2_level_falls_slowly_and_is_refilled(self, facility: Facility) -> None:
        """The level falls about 3 %/h and jumps back up when the automatic fill runs."""
        fleet = Fleet(facility, START_NS, (), 7, "fac")
        levels = [
            v["ln2_level"] for v in equipment_values(fleet, "LN2-01-S1", range(0, 172_800, 600))
        ]
        steps = [b - a for a, b in itertools.pairwise(levels)]
        assert min(steps) == pytest.approx(-0.5, abs=0.01)  # 3 %/h over 10 minutes
        assert max(steps) > 20  # a fill

    def test_incubator_door_left_open_is_a_co2_excursion(self, facility: Facility) -> None:
        """The equipment scenario's open door takes INC-01's CO2 under 4.5 % for minutes."""
        values = equipment_values(fleet_for(facility, "equipment"), "INC-01-S1", range(0, 600, 10))
        below = [v["co2"] < 4.5 for v in values]
        assert not below[0] and sum(below) * 10 > 120
        assert values[-1]["co2"] > values[10]["co2"]  # recovering once closed

    def test_freezer_warming_passes_its_rate_before_its_limit(self, facility: Facility) -> None:
        """The warming freezer rises 1.5 °C/min: over 0.5 °C/min long before -65 °C."""
        values = equipment_values(fleet_for(facility, "equipment"), "FRZ-01-S1", range(0, 900, 60))
        temps = [v["temperature"] for v in values]
        assert temps[0] < -79
        assert temps[3] - temps[2] > 1.0 and temps[3] < -70
        assert temps[-1] > -65

    def test_random_doors_recover_within_the_incubator_delay(self, facility: Facility) -> None:
        """Short random door openings dip CO2, never below 4.5 % for 10 minutes."""
        fleet = Fleet(
            facility, START_NS, (), 3, "fac", FleetOptions(random_equipment_doors_per_h=6)
        )
        values = [v["co2"] for v in equipment_values(fleet, "INC-01-S1", range(0, 36_000, 30))]
        assert min(values) < 4.7
        run = longest = 0
        for co2 in values:
            run = run + 1 if co2 < 4.5 else 0
            longest = max(longest, run)
        assert longest * 30 < 600

    def test_demo_includes_the_incubator_door(self, facility: Facility) -> None:
        """The demo opens INC-01's door at 5 s: its CO2 is under 4.5 % from 12 s to the end."""
        values = equipment_values(fleet_for(facility, "demo"), "INC-01-S1", range(0, 90, 1))
        below = [s for s, v in enumerate(values) if v["co2"] < 4.5]
        assert values[4]["co2"] > 4.7 and below[0] <= 12 and below == list(range(below[0], 90))
