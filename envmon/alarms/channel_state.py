"""A channel's restart state: what a checkpoint saves of a ``Channel``, and how a
channel continues from that checkpoint or from an alarm the journal kept open.

Plain functions over a ``Channel`` (``channel.py``), called by the engine: the
state machine itself does not know it is being saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from envmon.alarms.channel import RATE_RISE, Channel
from envmon.alarms.events import Alarm, Excursion, Level, Rule
from envmon.alarms.lifecycle import AlarmBook
from envmon.alarms.rules import LevelDetector, RateOfChange
from envmon.readings import RoomState, StateInForce


def to_state(channel: Channel) -> dict[str, Any]:
    """The channel's whole judgement state, JSON-ready: a restart checkpoint.

    Most channels are idle (no run, no history, no window): their state is
    only the last judged timestamp, which keeps checkpoints cheap at scale.
    """
    if _idle(channel):
        return {"last_ts_ns": channel.last_ts_ns}
    return {
        "last_ts_ns": channel.last_ts_ns,
        "alarm_ids": list(channel.alarm_ids),
        "detectors": [d.to_state() for d in channel.detectors],
        "window": channel.window.to_state() if channel.window is not None else None,
        "rate": channel.rate.to_state() if channel.rate is not None else None,
    }


def checkpoint_json(channel: Channel) -> str | None:
    """The state a checkpoint must save, or None when nothing it holds would change.

    An idle channel whose last saved state was idle too is not saved again,
    though its last timestamp moved: after a restart the broker redelivers
    only readings judged after the last checkpoint, and judging those again
    from an idle state ends exactly as the first time (an idle channel has
    neither run nor history to replay; a reading that raised or cleared an
    alarm was saved with that event). Most channels stay idle, so a
    checkpoint writes a handful of rows instead of one per reading.
    """
    if _idle(channel):
        if channel.saved_idle:
            return None
        channel.saved_idle = True
        return f'{{"last_ts_ns":{channel.last_ts_ns}}}'
    channel.saved_idle = False
    return json.dumps(to_state(channel), separators=(",", ":"))


def _idle(channel: Channel) -> bool:
    """No run, history or window to carry over a restart. The rate rule's previous
    reading is not counted: a restart from idle starts its rate afresh."""
    if channel.window is not None:
        return False
    for d in channel.detectors:
        if d.active or d.run_count or d.history:
            return False
    return channel.rate is None or channel.rate.idle()


def load_state(channel: Channel, state: Mapping[str, Any], book: AlarmBook) -> None:
    """Continue exactly where a checkpoint left off.

    An alarm id is kept only while the book (restored from the journal) still
    has that alarm active; otherwise its detector starts afresh.
    """
    alarm_ids = channel.alarm_ids
    channel.last_ts_ns = max(channel.last_ts_ns, int(state["last_ts_ns"]))
    if "detectors" not in state:  # idle when saved
        for i in range(len(alarm_ids)):
            if alarm_ids[i] is not None:
                book.untrack(alarm_ids[i])  # type: ignore[arg-type]
                alarm_ids[i] = None
        for detector in _all_detectors(channel):
            detector.active = False
            detector.run_count = 0
            detector.history.clear()
        channel.saved_idle = True
        return
    for detector, saved in zip(channel.detectors, state["detectors"], strict=True):
        detector.load_state(saved)
    saved_rate = state.get("rate")
    if channel.rate is not None and saved_rate is not None:
        channel.rate.load_state(saved_rate)
    # Checkpoints from before the rate rule hold four alarm slots.
    saved_ids = list(state["alarm_ids"]) + [None] * (6 - len(state["alarm_ids"]))
    for i, detector in enumerate(_all_detectors(channel)):
        alarm_id = saved_ids[i]
        alarm = book.get(alarm_id) if alarm_id is not None else None
        if alarm is not None and alarm.active and detector.active:
            alarm_ids[i] = alarm_id
            book.track(alarm_id, detector)
        else:
            if alarm_ids[i] is not None:
                book.untrack(alarm_ids[i])  # type: ignore[arg-type]
            alarm_ids[i] = None
            detector.active = False
    if channel.window is not None and state["window"] is not None:
        channel.window.load_state(state["window"])
    channel.saved_idle = _idle(channel)


def _all_detectors(channel: Channel) -> list[LevelDetector]:
    """The limit detectors, then the rate rule's rise and fall when it has one."""
    out = list(channel.detectors)
    if channel.rate is not None:
        out += [channel.rate.rise, channel.rate.fall]
    return out


def resume(channel: Channel, alarm: Alarm, excursion: Excursion | None, book: AlarmBook) -> bool:
    """Continue an active alarm restored from the journal; False if it is not this
    channel's kind (a fault or comm-loss alarm)."""
    if alarm.level not in (Level.ALERT, Level.ACTION) or not alarm.active:
        return False
    i = _detector_index(alarm)
    if i >= RATE_RISE and channel.rate is None:
        channel.rate = RateOfChange()
    if excursion is not None:
        start_ns, peak, samples = excursion.start_ns, excursion.peak, excursion.samples
        state_word = excursion.room_state
    else:
        start_ns, samples = alarm.raised_ns, alarm.samples
        peak = alarm.peak if alarm.peak is not None else (alarm.value or 0.0)
        state_word = alarm.room_state or RoomState.IN_OPERATION.value
    limit = alarm.limit if alarm.limit is not None else 0.0
    detector = channel.slot_detector(i)
    detector.resume(start_ns, peak, samples, limit, _room_state(state_word))
    channel.alarm_ids[i] = alarm.id
    channel.last_ts_ns = max(channel.last_ts_ns, alarm.raised_ns)
    book.track(alarm.id, detector)
    return True


def _detector_index(alarm: Alarm) -> int:
    """Which detector raised a limit alarm: the detail names the side; peak vs limit
    decides for alarms written without it."""
    if alarm.rule == Rule.RATE or alarm.detail.startswith("rate "):
        return RATE_RISE + 1 if alarm.detail.startswith("rate below") else RATE_RISE
    if alarm.detail.startswith("below"):
        high = False
    elif alarm.detail.startswith("above"):
        high = True
    else:
        high = not (alarm.peak is not None and alarm.limit is not None and alarm.peak < alarm.limit)
    level_offset = 1 if alarm.level is Level.ACTION else 0
    return level_offset if high else 2 + level_offset


def _room_state(word: str) -> StateInForce:
    try:
        return StateInForce(word)
    except ValueError:
        return StateInForce.IN_OPERATION
