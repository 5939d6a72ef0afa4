"""The single entry point for a received message: topic + payload → Reading.

Pure: no I/O, no clock (the receive time is passed in). The service calls
``Ingestor.handle`` for every message; the answer is a ``Reading``, a
``RoomStateChange``, a ``BatchMessage`` (from the MES), a ``Reject``
(counted, logged, published by the caller)
or ``None`` for a topic ignored on purpose (envmon's own output topics, and an
emptied retained state topic).

The reading's status is stamped here, in this order (``readings.py`` says
what each means): the sensor's own fault word wins; else a value beyond the
sensor's measuring range makes it ``out_of_range``; else a reading taken
after the sensor's calibration due date (``envmon.calibration``, at the
reading's own time) is ``calibration_overdue``; else ``ok``. What each sensor
measures, its ranges and its calibration are resolved once per facility
load, not per reading.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from envmon.batches import BatchMessage
from envmon.calibration import CalibrationRecord, OverdueTimeline
from envmon.errors import ConfigError
from envmon.facility import Facility, Room, Sensor, parameters_of
from envmon.ingest.batch_payload import decode_batch
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.ingest.decoders import CONTRACT_SPEC, PayloadSpec, build_spec, decode
from envmon.ingest.topics import TopicMap, TopicMatch
from envmon.ingest.units import is_builtin_key
from envmon.ingest.values import DecodeError, load_object, parse_timestamp
from envmon.readings import (
    NS_PER_S,
    STATUS_CALIBRATION_OVERDUE,
    STATUS_OK,
    Kind,
    Reading,
    RoomState,
    RoomStateChange,
)

EXCERPT_CHARS: Final = 256
# Topics remembered per configured sensor before the cache starts over (a
# sensor may publish under a few topic forms; `+` levels allow any number).
ROUTES_PER_SENSOR: Final = 4
_KINDS: Final[Mapping[str, Kind]] = {k.value: k for k in Kind}
_STATES: Final[Mapping[str, RoomState]] = {s.value: s for s in RoomState}


@dataclass(frozen=True, slots=True)
class Reject:
    """A message that did not become a reading.

    ``reason`` is a short stable code (``bad_json``, ``unknown_room``...),
    ``detail`` a sentence naming the field, ``payload_excerpt`` the start of
    the payload as text (undecodable bytes escaped), at most 256 characters.
    """

    topic: str
    reason: str
    detail: str
    payload_excerpt: str


def excerpt(payload: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The payload's start as safe text: invalid UTF-8 shown as ``\\xNN`` escapes."""
    text = payload[: limit * 4].decode("utf-8", errors="backslashreplace")
    return text[:limit]


def _reject(topic: str, reason: str, detail: str, payload: bytes) -> Reject:
    return Reject(topic=topic, reason=reason, detail=detail, payload_excerpt=excerpt(payload))


@dataclass(frozen=True, slots=True)
class _SensorInfo:
    """What the facility says about one sensor, resolved once per load."""

    grade: str
    ranges: Mapping[str, tuple[float, float]]
    """Every parameter the sensor measures → its measuring range (inclusive)."""
    declared: frozenset[str] | None
    """The parameters an equipment sensor lists; None for room kinds (fixed by kind)."""
    overdue: OverdueTimeline
    first_overdue_ns: int
    """No reading before this is overdue: the usual test is this one comparison."""


@dataclass(frozen=True, slots=True)
class _Route:
    """What a data topic alone decides: the sensor, and how to read its payloads."""

    sensor: str
    room: str
    grade: str
    kind: Kind
    spec: PayloadSpec
    equipment: str | None
    info: _SensorInfo


@dataclass(frozen=True, slots=True)
class _Index:
    """The facility as the ingestor needs it; swapped as one object on reload,
    with the routes found under it (only ever for topics of its own sensors)."""

    site: str
    rooms: Mapping[str, Room]
    sensors: Mapping[str, Sensor]
    infos: Mapping[str, _SensorInfo]
    routes: dict[str, _Route]

    @property
    def max_routes(self) -> int:
        """How many topics are remembered before the memory starts over."""
        return ROUTES_PER_SENSOR * len(self.sensors) + 1000


class Ingestor:
    """Maps topics, decodes payloads and checks them against the facility."""

    __slots__ = (
        "_facility",
        "_index",
        "_max_future_ns",
        "_max_past_ns",
        "_max_payload",
        "_records",
        "_replacing",
        "_specs",
        "_topics",
    )

    def __init__(
        self,
        facility: Facility,
        settings: IngestSettings,
        prefix: str,
        records: Sequence[CalibrationRecord] = (),
    ) -> None:
        """Raises ``ConfigError`` when a topic rule maps a parameter the facility lacks."""
        problems = topic_field_problems(settings, facility)
        if problems:
            raise ConfigError("\n".join(problems))
        self._topics = TopicMap(prefix, [r.pattern for r in settings.topics], settings.state_topics)
        self._specs: tuple[tuple[TopicRule, PayloadSpec], ...] = tuple(
            (rule, _spec_of(rule)) for rule in settings.topics
        )
        self._max_payload = settings.max_payload_bytes
        self._max_future_ns = int(settings.max_future_s * NS_PER_S)
        self._max_past_ns = int(settings.max_past_s * NS_PER_S)
        self._facility = facility
        self._records: tuple[CalibrationRecord, ...] = tuple(records)
        self._index = _index_of(facility, self._records)
        # Reloads (main thread) and calibration records (alarm worker) each build
        # the index from both; one at a time, so neither swap loses the other's.
        self._replacing = threading.Lock()

    @property
    def site(self) -> str:
        """The site of the facility in use."""
        return self._index.site

    def replace_facility(self, facility: Facility) -> None:
        """Use a reloaded facility file from the next message on (one atomic swap)."""
        with self._replacing:
            self._facility = facility
            self._index = _index_of(facility, self._records)

    def replace_calibration(self, records: Sequence[CalibrationRecord]) -> None:
        """Signed calibration records (all of them) in force from the next message on."""
        with self._replacing:
            self._records = tuple(records)
            self._index = _index_of(self._facility, self._records)

    def handle(
        self, topic: str, payload: bytes, received_ns: int
    ) -> Reading | RoomStateChange | BatchMessage | Reject | None:
        """Decide what one received message is; never raises for bad input."""
        index = self._index
        # A topic seen before skips matching and the facility checks: its route is kept.
        route = index.routes.get(topic)
        if route is None and self._topics.is_own(topic):
            return None
        if len(payload) > self._max_payload:
            return _reject(
                topic,
                "too_large",
                f"payload is {len(payload)} bytes, over max_payload_bytes {self._max_payload}",
                payload,
            )
        try:
            if route is not None:
                return self._reading(index, route, payload, received_ns)
            match = self._topics.match(topic)
            if match is None:
                return _reject(topic, "unknown_topic", "topic fits no configured pattern", payload)
            if match.state:
                return self._state(index, match, payload, received_ns)
            if match.batch:
                return self._batch(index, match, topic, payload, received_ns)
            route = self._route(index, match)
            if len(index.routes) >= index.max_routes:
                index.routes.clear()  # wildcard levels can make topics without end
            index.routes[topic] = route
            return self._reading(index, route, payload, received_ns)
        except DecodeError as exc:
            return _reject(topic, exc.reason, exc.detail, payload)

    def _reading(self, index: _Index, route: _Route, payload: bytes, received_ns: int) -> Reading:
        spec = route.spec
        info = route.info
        decoded = decode(payload, route.kind, spec, info.ranges)
        ts_ns = received_ns if decoded.ts_ns is None else decoded.ts_ns
        self._check_time(ts_ns, received_ns, spec.timestamp_name)
        values = decoded.values
        if info.declared is not None and not info.declared.issuperset(values):
            _undeclared(route.sensor, values, info.declared)
        status = decoded.status
        if (
            ts_ns >= info.first_overdue_ns
            and status == STATUS_OK
            and info.overdue.overdue_at(ts_ns)
        ):
            status = STATUS_CALIBRATION_OVERDUE
        return Reading(
            ts_ns=ts_ns,
            site=index.site,
            room=route.room,
            grade=route.grade,
            sensor=route.sensor,
            kind=route.kind,
            values=values,
            sample_volume_l=decoded.sample_volume_l,
            status=status,
            received_ns=received_ns,
            equipment=route.equipment,
        )

    def _route(self, index: _Index, match: TopicMatch) -> _Route:
        """Check a data topic against the facility; raises ``DecodeError``."""
        rule: TopicRule | None = None
        spec = CONTRACT_SPEC
        if match.rule is not None:
            rule, spec = self._specs[match.rule]
        if match.site is not None and match.site != index.site:
            raise DecodeError(
                "site_mismatch", f"topic site {match.site!r} is not this facility's {index.site!r}"
            )
        sensor_id = match.sensor
        assert sensor_id is not None  # every data pattern captures {sensor}
        if match.room is not None and match.room not in index.rooms:
            raise DecodeError("unknown_room", f"room {match.room!r} is not in the facility file")
        sensor = index.sensors.get(sensor_id)
        if sensor is None:
            raise DecodeError("unknown_sensor", f"sensor {sensor_id!r} is not in the facility file")
        if match.room is not None and sensor.room != match.room:
            raise DecodeError(
                "room_mismatch",
                f"sensor {sensor_id!r} belongs to room {sensor.room!r}, not {match.room!r}",
            )
        kind = sensor.kind
        named_kind: Kind | str | None = match.kind or (rule.kind if rule is not None else None)
        if named_kind is not None:
            topic_kind = _KINDS.get(named_kind)
            if topic_kind is None:
                raise DecodeError(
                    "unknown_kind",
                    f"kind {named_kind!r} is not one of {', '.join(_KINDS)}",
                )
            if topic_kind is not kind:
                raise DecodeError(
                    "kind_mismatch",
                    f"sensor {sensor_id!r} is a {kind.value} sensor, the topic says {named_kind}",
                )
        info = index.infos[sensor_id]
        return _Route(sensor_id, sensor.room, info.grade, kind, spec, sensor.equipment, info)

    def _state(
        self, index: _Index, match: TopicMatch, payload: bytes, received_ns: int
    ) -> RoomStateChange | None:
        if match.site is not None and match.site != index.site:
            raise DecodeError(
                "site_mismatch", f"topic site {match.site!r} is not this facility's {index.site!r}"
            )
        room = match.room
        assert room is not None  # every state pattern captures {room}
        if room not in index.rooms:
            raise DecodeError("unknown_room", f"room {room!r} is not in the facility file")
        text = payload.strip()
        if not text:
            return None  # a retained state message being cleared
        ts_ns = received_ns
        if text.startswith(b"{"):
            obj = load_object(text)
            raw: Any = obj.get("state")
            if obj.get("ts") is not None:
                ts_ns = parse_timestamp(obj["ts"], NS_PER_S, "ts")
                self._check_time(ts_ns, received_ns, "ts")
        else:
            raw = text.decode("utf-8", errors="replace")
        state = _STATES.get(raw) if isinstance(raw, str) else None
        if state is None:
            shown = repr(raw)[:40] if raw is not None else "missing"
            raise DecodeError("bad_state", f"state is {shown}: expected {' or '.join(_STATES)}")
        return RoomStateChange(ts_ns=ts_ns, site=index.site, room=room, state=state)

    def _batch(
        self, index: _Index, match: TopicMatch, topic: str, payload: bytes, received_ns: int
    ) -> BatchMessage:
        if match.site is not None and match.site != index.site:
            raise DecodeError(
                "site_mismatch", f"topic site {match.site!r} is not this facility's {index.site!r}"
            )
        event = decode_batch(payload, received_ns, index.rooms)
        self._check_time(event.at_ns, received_ns, "ts")
        return BatchMessage(event, topic)

    def _check_time(self, ts_ns: int, received_ns: int, name: str) -> None:
        ahead = ts_ns - received_ns
        if ahead > self._max_future_ns:
            raise DecodeError(
                "future_timestamp",
                f"{name} is {_seconds(ahead)} ahead of the receive time "
                f"(max_future_s {self._max_future_ns / NS_PER_S:g}): check the sensor clock",
            )
        if -ahead > self._max_past_ns:
            raise DecodeError(
                "past_timestamp",
                f"{name} is {_seconds(-ahead)} behind the receive time "
                f"(max_past_s {self._max_past_ns / NS_PER_S:g})",
            )


def _seconds(ns: int) -> str:
    try:
        return f"{ns / NS_PER_S:.3g} s"
    except OverflowError:  # a garbage timestamp too large for a float
        return "far"


def _spec_of(rule: TopicRule) -> PayloadSpec:
    return build_spec(
        rule.format,
        rule.timestamp,
        rule.effective_precision,
        rule.status,
        {key: (f.path, f.unit) for key, f in rule.fields.items()},
    )


def _index_of(facility: Facility, records: Sequence[CalibrationRecord]) -> _Index:
    return _Index(
        site=facility.site,
        rooms=dict(facility.rooms),
        sensors=dict(facility.sensors),
        infos={s.id: _info_of(facility, s, records) for s in facility.model.sensors},
        routes={},
    )


def _info_of(
    facility: Facility, sensor: Sensor, records: Sequence[CalibrationRecord]
) -> _SensorInfo:
    measured = parameters_of(sensor)
    overdue = OverdueTimeline(sensor.calibration_due, records, sensor.id)
    return _SensorInfo(
        grade=facility.rooms[sensor.room].grade_tag,
        ranges={p: facility.range_of(sensor, p) for p in measured},
        declared=frozenset(measured) if sensor.kind is Kind.EQUIPMENT else None,
        overdue=overdue,
        first_overdue_ns=overdue.first_overdue_ns,
    )


def _undeclared(sensor: str, values: Mapping[str, float], declared: frozenset[str]) -> None:
    extra = sorted(set(values) - declared)
    raise DecodeError(
        "unknown_parameter",
        f"{', '.join(extra)}: not among the parameters sensor {sensor!r} lists in the "
        f"facility file ({', '.join(sorted(declared))})",
    )


def topic_field_problems(settings: IngestSettings, facility: Facility) -> list[str]:
    """Topic rules mapping a parameter that is neither built in nor declared in the facility."""
    where = str(facility.path) if facility.path else "the facility file"
    declared = [p for p, info in facility.parameters.items() if not info.builtin]
    out = []
    for i, rule in enumerate(settings.topics):
        for key in rule.fields:
            if not is_builtin_key(key) and key not in facility.parameters:
                out.append(
                    f"ingest.topics[{i}].fields.{key}: no parameter {key!r} in {where} "
                    f"(declared there: {', '.join(declared) or 'none'})"
                )
    return out
