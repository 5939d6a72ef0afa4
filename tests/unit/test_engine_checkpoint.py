"""AlarmEngine restart from a checkpoint: an excursion continues exactly, as if never stopped."""

from __future__ import annotations

import json

from envmon.alarms import channel_state
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent, Transition
from envmon.facility import parse_facility
from envmon.readings import NS_PER_S, Kind, Reading

FACILITY = parse_facility(
    """
site = "site1"

[[rooms]]
id = "FILL"
grade = "A"

[rooms.limits.particles_5_0um]
alert_high = 20
n_of_m = [2, 4]

[rooms.limits.diff_pressure]
action_low = 10.0
delay_s = 3

[[sensors]]
id = "PC1"
room = "FILL"
kind = "particles"

[[sensors]]
id = "DP1"
room = "FILL"
kind = "pressure"
"""
)
T0 = 1_795_550_000 * NS_PER_S
# Pressure: a dip judged with a 3 s delay; particles (28.3 L): N-of-M counts.
PRESSURE = [15.0, 8.0, 7.0, 6.0, 5.0, 4.5, 6.0, 9.0, 15.0, 15.0]
COUNTS_5UM = [0, 1, 0, 2, 3, 1, 0, 0, 0, 0]


def readings() -> list[Reading]:
    out = []
    for i in range(len(PRESSURE)):
        ts = T0 + i * NS_PER_S
        out.append(
            Reading(ts, "site1", "FILL", "A", "DP1", Kind.PRESSURE,
                    {"diff_pressure": PRESSURE[i]}, received_ns=ts)
        )  # fmt: skip
        per_m3 = COUNTS_5UM[i] / 28.3 * 1000
        out.append(
            Reading(ts, "site1", "FILL", "A", "PC1", Kind.PARTICLES,
                    {"particles_0_5um": 100.0, "particles_5_0um": per_m3},
                    sample_volume_l=28.3, received_ns=ts)
        )  # fmt: skip
    return out


def run(engine: AlarmEngine, rs: list[Reading]) -> list[AlarmEvent]:
    return [e for r in rs for e in engine.on_reading(r)]


def latest_alarms(events: list[AlarmEvent]) -> list:
    latest = {}
    for e in events:
        latest[e.alarm.id] = e.alarm
    return list(latest.values())


class TestCheckpointRestart:
    def test_every_split_point_gives_the_same_excursions(self) -> None:
        """Stopping after any reading and resuming from alarms + checkpoint changes nothing."""
        rs = readings()
        reference = run(AlarmEngine(FACILITY), rs)
        ref_ended = {
            e.alarm.id: e.excursion for e in reference if e.transition is Transition.CLEARED
        }
        assert len(ref_ended) == 3  # particles alert and action, pressure action
        for split in range(1, len(rs)):
            first = AlarmEngine(FACILITY)
            before = run(first, rs[:split])
            checkpoint = first.checkpoint()
            # The broker redelivers the readings after the split and some before it.
            resumed = AlarmEngine(FACILITY, restored=latest_alarms(before), checkpoint=checkpoint)
            after = run(resumed, rs[max(0, split - 3) :])
            assert [(e.transition, e.alarm.id) for e in before + after] == [
                (e.transition, e.alarm.id) for e in reference
            ], f"split at {split}"
            ended = {e.alarm.id: e.excursion for e in after if e.transition is Transition.CLEARED}
            for alarm_id, excursion in ended.items():
                assert excursion == ref_ended[alarm_id], f"split at {split}"

    def test_checkpoint_holds_only_channels_whose_state_matters(self) -> None:
        """Idle channels are not saved; one with N-of-M history is; a second checkpoint
        without new readings is empty."""
        engine = AlarmEngine(FACILITY)
        run(engine, readings()[:2])
        first = engine.checkpoint()
        # particles_5_0um counts N of M: its history (one reading over 0) is state.
        assert set(first) == {"FILL/PC1/particles_5_0um"}
        assert engine.checkpoint() == {}
        state = json.loads(first["FILL/PC1/particles_5_0um"])
        assert state["last_ts_ns"] == T0

    def test_an_idle_channel_is_saved_once_when_it_returns_to_idle(self) -> None:
        """Non-idle, then idle: the idle state is written once (it overwrites the
        run that was saved), then not again while the channel stays idle."""
        engine = AlarmEngine(FACILITY)
        rs = [r for r in readings() if r.sensor == "DP1"]
        run(engine, rs[:2])  # 15 Pa, then 8 Pa: a dip under 10 Pa starts its 3 s delay
        assert "FILL/DP1/diff_pressure" in engine.checkpoint()
        run(engine, rs[2:9])  # the dip goes on, is raised, clears at 15 Pa
        saved = engine.checkpoint()
        assert json.loads(saved["FILL/DP1/diff_pressure"]) == {"last_ts_ns": rs[8].ts_ns}
        run(engine, rs[9:])
        assert "FILL/DP1/diff_pressure" not in engine.checkpoint()

    def test_idle_readings_leave_nothing_to_save(self) -> None:
        """Readings that keep saved-idle channels idle give an empty checkpoint; a
        reading that starts a run gives that channel's state."""
        engine = AlarmEngine(FACILITY)
        rs = [r for r in readings() if r.sensor == "DP1"]
        run(engine, rs[:1])  # 15 Pa: within limits, and a new channel counts as saved idle
        assert engine.checkpoint() == {}
        run(engine, rs[1:2])  # 8 Pa: a dip starts its delay, which is state
        assert list(engine.checkpoint()) == ["FILL/DP1/diff_pressure"]

    def test_checkpoint_text_is_the_channel_state(self) -> None:
        """Each checkpoint value, idle or in an excursion, is exactly the channel's
        ``channel_state.to_state`` as JSON (the idle case is written without the encoder)."""
        seen = 0
        engine = AlarmEngine(FACILITY)
        for r in readings():
            engine.on_reading(r)
            saved = engine.checkpoint()
            for st in engine._sensors.values():
                for channel in st.channels.values():
                    if channel.key in saved:
                        seen += 1
                        assert json.loads(saved[channel.key]) == channel_state.to_state(channel)
        assert seen >= 10


class TestPrime:
    def test_builds_every_channel_of_every_sensor(self) -> None:
        """Every (sensor, parameter of its kind) with limits exists before any reading."""
        engine = AlarmEngine(FACILITY)
        assert engine.prime() == 3
        channels = {ch.key for st in engine._sensors.values() for ch in st.channels.values()}
        assert channels == {
            "FILL/DP1/diff_pressure", "FILL/PC1/particles_0_5um", "FILL/PC1/particles_5_0um"
        }  # fmt: skip
        assert engine.prime() == 0
        assert engine.checkpoint() == {}  # built, not judged: nothing to save

    def test_primed_engine_judges_the_same(self) -> None:
        """Priming changes no event: same transitions, ids and excursions."""
        rs = readings()
        plain = run(AlarmEngine(FACILITY), rs)
        primed_engine = AlarmEngine(FACILITY)
        primed_engine.prime()
        primed = run(primed_engine, rs)
        assert [(e.transition, e.alarm, e.excursion) for e in primed] == [
            (e.transition, e.alarm, e.excursion) for e in plain
        ]
