"""What is fuzzed and what must hold: one strategy and one property check per target.

The property of every target: bad input is a ``DecodeError`` / ``Reject``
with a known reason code and a sentence, never any other exception; good
input gives values that are finite and encode to exactly one line-protocol
point with the facility's own tags; a reading the ingestor calls ``ok`` has
every value in its measuring range, one ``out_of_range`` has one beyond it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from hypothesis import strategies as st

from envmon.facility import Facility, parse_facility
from envmon.ingest.config import IngestSettings
from envmon.ingest.decoders import CONTRACT_SPEC, DecodeError, PayloadSpec, build_spec, decode
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.ingest.lineproto import parse_line
from envmon.ingest.rejects import rejected_payload
from envmon.ingest.topics import TopicMap
from envmon.readings import (
    PARAMETERS_BY_KIND,
    RANGE_OF_PARAMETER,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    Kind,
    Reading,
    RoomStateChange,
)
from envmon.store.lineproto import reading_line, room_state_line

KNOWN_REASONS: Final = frozenset(
    {
        "bad_json", "bad_line_protocol", "bad_shape", "bad_state", "bad_status",
        "bad_timestamp", "bad_value", "unknown_parameter", "no_values", "non_finite",
        "unknown_room", "unknown_sensor", "unknown_topic", "unknown_kind", "too_large",
        "site_mismatch", "room_mismatch", "kind_mismatch", "future_timestamp",
        "past_timestamp",
    }
)  # fmt: skip

FACILITY: Final = """
site = "site1"

[[rooms]]
id = "R1"
grade = "B"

[[rooms]]
id = "R.2-x"
grade = "C"

[[sensors]]
id = "PC1"
room = "R1"
kind = "particles"

[[sensors]]
id = "TH1"
room = "R1"
kind = "climate"

[[sensors]]
id = "DP_1"
room = "R.2-x"
kind = "pressure"
"""
NOW_NS: Final = 1_795_550_000_000_000_000
SENSOR_TOPICS: Final = (
    ("fac/site1/R1/particles/PC1", Kind.PARTICLES),
    ("fac/site1/R1/climate/TH1", Kind.CLIMATE),
    ("fac/site1/R.2-x/pressure/DP_1", Kind.PRESSURE),
)


@lru_cache(maxsize=1)
def facility() -> Facility:
    return parse_facility(FACILITY)


def mapped_json_spec() -> PayloadSpec:
    """A json_v2-like rule: nested paths, list indexes, non-contract units."""
    return build_spec(
        "json",
        "meta.time",
        "ms",
        "meta.state",
        {
            "temperature": ("data.t", "degF"),
            "humidity": ("data.rh", "fraction"),
            "diff_pressure": ("p.0", "inH2O"),
            "particles_0_5um": ("c.small", "count"),
            "particles_5_0um": ("c.big", "per_ft3"),
            "sample_volume": ("c.vol", "ft3"),
        },
    )


def line_protocol_spec() -> PayloadSpec:
    return build_spec("influx", "ts", "ns", "status", {})


def ingest_settings() -> IngestSettings:
    return IngestSettings.model_validate(
        {
            "max_payload_bytes": 4096,
            "topics": [
                {"pattern": "lab/{room}/+/{sensor}/data", "kind": "climate",
                 "fields": {"temperature": {"path": "t", "unit": "K"}}},
                {"pattern": "lp/{site}/{sensor}", "format": "influx"},
            ],
            "state_topics": ["states/{room}"],
        }
    )  # fmt: skip


# --- checks ---------------------------------------------------------------------


def check_values(values: dict[str, float], kind: Kind) -> None:
    assert set(values) <= set(PARAMETERS_BY_KIND[kind]), values
    for parameter, value in values.items():
        assert type(value) is float and math.isfinite(value), (parameter, value)


def check_status(reading: Reading) -> None:
    """``ok``: every value within its range; ``out_of_range``: one beyond it."""
    within = all(
        lo <= v <= hi for p, v in reading.values.items() for lo, hi in [RANGE_OF_PARAMETER[p]]
    )
    if reading.status == STATUS_OK:
        assert within, reading
    elif reading.status == STATUS_OUT_OF_RANGE:
        assert not within, reading


def check_decode(payload: bytes, kind: Kind, spec: PayloadSpec) -> str:
    """Decode; a reject must carry a known reason, an accept valid values."""
    try:
        decoded = decode(payload, kind, spec)
    except DecodeError as exc:
        assert exc.reason in KNOWN_REASONS, exc.reason
        assert exc.detail, exc
        return "reject"
    check_values(dict(decoded.values), kind)
    if decoded.sample_volume_l is not None:
        assert math.isfinite(decoded.sample_volume_l) and decoded.sample_volume_l > 0
    assert decoded.ts_ns is None or isinstance(decoded.ts_ns, int)
    return "accept"


def check_ingest(ingestor: Ingestor, topic: str, payload: bytes) -> str:
    """``Ingestor.handle`` never raises; what it accepts encodes to one exact point."""
    result = ingestor.handle(topic, payload, NOW_NS)
    if isinstance(result, Reject):
        assert result.reason in KNOWN_REASONS, result.reason
        assert result.detail
        notice = json.loads(rejected_payload(result, NOW_NS))
        assert notice["reason"] == result.reason
        return "reject"
    if isinstance(result, Reading):
        check_values(dict(result.values), result.kind)
        check_status(result)
        sensors = facility().sensors
        assert result.sensor in sensors and sensors[result.sensor].room == result.room
        encoded = reading_line(result)
        assert "\n" not in encoded
        point = parse_line(encoded)
        assert point.measurement == result.kind.value
        assert dict(point.tags) == {
            "site": "site1", "room": result.room, "grade": result.grade, "sensor": result.sensor
        }  # fmt: skip
        return "reading"
    if isinstance(result, RoomStateChange):
        assert result.room in facility().rooms
        assert "\n" not in room_state_line(result)
        return "state"
    assert result is None
    return "ignored"


def check_topic(topics: TopicMap, topic: str) -> str:
    match = topics.match(topic)
    if match is None:
        return "no_match"
    for value in (match.site, match.room, match.kind, match.sensor):
        assert value is None or (value and "/" not in value), match
    return "match"


# --- strategies -------------------------------------------------------------------

_SPECIAL = ",= \"'\\\n\r\t\x00/+#{}[]:.é€\U0001f600"
names = st.text(alphabet=st.sampled_from(list("abcXYZ019_-.") + list(_SPECIAL)), max_size=12)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_NOW_S: Final = NOW_NS // 1_000_000_000
# Around the fuzz "now": inside and just outside max_past_s (7 d) / max_future_s (300 s).
near_now = st.one_of(
    st.integers(_NOW_S - 8 * 86_400, _NOW_S + 1_000),
    st.floats(_NOW_S - 8 * 86_400, _NOW_S + 1_000),
    st.integers(_NOW_S - 3_600, _NOW_S).map(
        lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
    ),
)
timestamps = st.one_of(
    near_now,
    near_now,
    json_scalars,
    st.integers(min_value=1_700_000_000, max_value=1_900_000_000),
    st.floats(min_value=1.7e9, max_value=1.9e9),
    st.sampled_from(
        ["2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123456789+01:00", "2026-02-30T00:00:00Z",
         "2026-11-24T25:00:00Z", "2026-11-24T10:00:00", "yesterday", "9999-12-31T23:59:59Z"]
    ),
)  # fmt: skip
plausible = st.one_of(st.floats(-100.0, 1e7), st.integers(0, 10_000_000))
numbers = st.one_of(
    plausible,
    plausible,
    plausible,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**1100), max_value=2**1100),
    st.sampled_from([0, -1, -0.0, 1e308, 1e-320, 28.3, 100.0, 100.0001]),
    json_scalars,
)


def _optional(d: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=d)


contract_objects = _optional(
    {
        "ts": timestamps,
        "status": st.one_of(st.sampled_from(["ok", "flow_fault", "laser_fault"]), json_values),
        "sample_volume_l": numbers,
        "counts": st.one_of(_optional({"0.5": numbers, "5.0": numbers}), json_values),
        "per_m3": st.one_of(_optional({"0.5": numbers, "5.0": numbers}), json_values),
        "temperature_c": numbers,
        "humidity_pct": numbers,
        "diff_pressure_pa": numbers,
        "extra": json_values,
    }
)
mapped_objects = _optional(
    {
        "meta": _optional({"time": timestamps, "state": json_values}),
        "data": _optional({"t": numbers, "rh": numbers}),
        "p": st.lists(numbers, max_size=3),
        "c": _optional({"small": numbers, "big": numbers, "vol": numbers}),
    }
)


statuses = st.sampled_from(["ok", "ok", "flow_fault", "laser_fault", "sensor_fault"])


def valid_contract(kind: Kind) -> st.SearchStrategy[dict[str, Any]]:
    """Contract payloads of ``kind`` that should mostly be accepted."""
    optional = {"status": statuses}
    if kind is Kind.PARTICLES:
        sizes = st.fixed_dictionaries({}, optional={"0.5": plausible, "5.0": plausible})
        return st.one_of(
            st.fixed_dictionaries({"ts": near_now, "per_m3": sizes}, optional=optional),
            st.fixed_dictionaries(
                {"ts": near_now, "sample_volume_l": st.floats(0.1, 100.0), "counts": sizes},
                optional=optional,
            ),
        )
    if kind is Kind.CLIMATE:
        return st.fixed_dictionaries(
            {"ts": near_now},
            optional={
                **optional,
                "temperature_c": st.floats(-40.0, 80.0),
                "humidity_pct": st.floats(0.0, 100.0),
            },
        )
    return st.fixed_dictionaries(
        {"ts": near_now, "diff_pressure_pa": st.floats(-200.0, 200.0)}, optional=optional
    )


def _to_json(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A payload, sometimes truncated or with a byte flipped: near-valid garbage."""
    data = draw(base)
    how = draw(st.sampled_from(["keep", "keep", "cut", "flip"]))
    if how == "cut" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    return data


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 3000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    tail = draw(st.sampled_from([b"1", b"NaN", b"", b'"x"']))
    return b'{"temperature_c":' + opener * depth + tail + closer * depth + b"}"


@st.composite
def line_protocol(draw: st.DrawFn) -> bytes:
    measurement = draw(st.sampled_from(["particles", "climate", "pressure", "x"]) | names)
    tags = draw(st.lists(st.tuples(names, names), max_size=3))
    fields = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*PARAMETERS_BY_KIND[Kind.CLIMATE], "particles_0_5um",
                                 "diff_pressure", "status", "sample_volume_l"]) | names,
                st.one_of(
                    numbers.map(repr), st.integers(-(2**70), 2**70).map(lambda i: f"{i}i"),
                    st.sampled_from(["t", "false", '"ok"', '"fault"', '"x\\"y"', "NaN", "inf"]),
                    names,
                ),
            ),
            max_size=4,
        )
    )  # fmt: skip
    ts = draw(st.one_of(st.none(), st.integers(-(2**70), 2**70).map(str), names))
    text = measurement
    for k, v in tags:
        text += f",{k}={v}"
    text += " " + ",".join(f"{k}={v}" for k, v in fields)
    if ts is not None:
        text += f" {ts}"
    return text.encode("utf-8", errors="surrogatepass")


valid_mapped = st.fixed_dictionaries(
    {
        "meta": st.fixed_dictionaries(
            {"time": st.integers(NOW_NS // 10**6 - 10**6, NOW_NS // 10**6)}
        )
    },
    optional={
        "data": st.fixed_dictionaries({}, optional={"t": st.floats(0, 120), "rh": st.floats(0, 1)}),
        "p": st.lists(st.floats(-0.5, 0.5), min_size=1, max_size=2),
        "c": st.fixed_dictionaries(
            {"vol": st.floats(0.1, 2.0)},
            optional={"small": st.integers(0, 10_000), "big": st.floats(0, 1000)},
        ),
    },
)


def valid_line(kind: Kind) -> st.SearchStrategy[bytes]:
    """One line-protocol reading of ``kind`` with contract field names, mostly valid."""
    values = {
        Kind.PARTICLES: {
            "particles_0_5um": st.floats(0, 1e7),
            "particles_5_0um": st.floats(0, 1e5),
        },
        Kind.CLIMATE: {"temperature": st.floats(-40, 80), "humidity": st.floats(0, 100)},
        Kind.PRESSURE: {"diff_pressure": st.floats(-200, 200)},
    }[kind]

    def render(fields: dict[str, float], tag: str, ts: int | None) -> bytes:
        body = ",".join(f"{k}={v!r}" for k, v in fields.items()) or "x=1"
        return f"{kind.value},{tag} {body}{'' if ts is None else f' {ts}'}".encode()

    return st.builds(
        render,
        st.fixed_dictionaries({}, optional=values),
        st.sampled_from(["site=site1", "sensor=a\\ b", "room=R\\,1"]),
        st.one_of(st.none(), st.integers(NOW_NS - 10**12, NOW_NS + 10**12)),
    )


contract_payloads = mutated(contract_objects.map(_to_json))
mapped_payloads = mutated(mapped_objects.map(_to_json))
line_payloads = mutated(line_protocol())
raw_payloads = st.binary(max_size=300)
any_payload = st.one_of(
    contract_payloads, mapped_payloads, line_payloads, raw_payloads, deep_nesting(),
    st.sampled_from([b"at_rest", b"in_operation", b'{"state": "at_rest"}', b"", b" "]),
    st.integers(4000, 5000).map(lambda n: b'{"temperature_c": 20, "pad": "' + b"x" * n + b'"}'),
)  # fmt: skip

topic_levels = st.one_of(
    st.sampled_from(
        ["fac", "site1", "R1", "R.2-x", "particles", "climate", "pressure", "PC1", "TH1",
         "DP_1", "state", "envmon", "lab", "lp", "states", "data", "", "+", "#"]
    ),
    names,
)  # fmt: skip
topics = st.one_of(
    st.lists(topic_levels, min_size=0, max_size=7).map("/".join),
    st.tuples(*[topic_levels] * 5).map(lambda t: "/".join(("fac", *t[1:]))),
    st.tuples(topic_levels, topic_levels).map(lambda t: f"fac/site1/{t[0]}/climate/{t[1]}"),
    st.tuples(topic_levels, topic_levels).map(lambda t: f"lab/{t[0]}/x/{t[1]}/data"),
)
sensor_topics = st.sampled_from(SENSOR_TOPICS)


@dataclass(frozen=True)
class Target:
    """One fuzz target: a name, a strategy of arguments, and the check to run on them."""

    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], str]
    weight: float


def targets() -> list[Target]:
    """Every decoder, the topic mapper and the whole Ingestor, with their share of a run."""
    mapped, line = mapped_json_spec(), line_protocol_spec()
    ingestor = Ingestor(facility(), ingest_settings(), "fac")
    topic_map = TopicMap("fac", [r.pattern for r in ingest_settings().topics], ["states/{room}"])
    kinds = st.sampled_from([Kind.PARTICLES, Kind.CLIMATE, Kind.PRESSURE])

    def contract_args(kind: Kind) -> st.SearchStrategy[tuple[bytes, Kind]]:
        good = mutated(valid_contract(kind).map(_to_json))
        bad = st.one_of(contract_payloads, deep_nesting(), raw_payloads)
        return st.tuples(st.one_of(good, good, bad), st.just(kind))

    def sensor_args(tk: tuple[str, Kind]) -> st.SearchStrategy[tuple[tuple[str, Kind], bytes]]:
        good = valid_contract(tk[1]).map(_to_json)
        return st.tuples(st.just(tk), st.one_of(good, good, any_payload))

    return [
        Target(
            "contract JSON decoder",
            kinds.flatmap(contract_args),
            lambda a: check_decode(a[0], a[1], CONTRACT_SPEC),
            0.25,
        ),
        Target(
            "mapped JSON decoder (json_v2-like, unit conversion)",
            st.tuples(
                st.one_of(
                    valid_mapped.map(_to_json),
                    mutated(valid_mapped.map(_to_json)),
                    mapped_payloads,
                    raw_payloads,
                ),
                kinds,
            ),
            lambda a: check_decode(a[0], a[1], mapped),
            0.15,
        ),
        Target(
            "line-protocol decoder",
            kinds.flatmap(
                lambda k: st.tuples(
                    st.one_of(mutated(valid_line(k)), valid_line(k), line_payloads, raw_payloads),
                    st.just(k),
                )
            ),
            lambda a: check_decode(a[0], a[1], line),
            0.15,
        ),
        Target("topic mapper", topics, lambda t: check_topic(topic_map, t), 0.15),
        Target(
            "Ingestor, known sensor topics",
            sensor_topics.flatmap(sensor_args),
            lambda a: check_ingest(ingestor, a[0][0], a[1]),
            0.15,
        ),
        Target(
            "Ingestor, hostile topics",
            st.tuples(topics, any_payload),
            lambda a: check_ingest(ingestor, a[0], a[1]),
            0.15,
        ),
    ]
