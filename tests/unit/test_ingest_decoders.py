"""Payload decoders and their value checks: contract JSON, mapped JSON, line protocol, times."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from envmon.ingest.decoders import CONTRACT_SPEC, build_spec, decode
from envmon.ingest.lineproto import LineProtocolError, parse_line
from envmon.ingest.values import (
    DecodeError,
    decimal_steps,
    load_object,
    number,
    parse_iso_ns,
    parse_status,
    parse_timestamp,
    whole_steps,
)
from envmon.readings import Kind

T0 = 1_795_082_400  # 2026-11-19T10:00:00Z
NS = 1_000_000_000


def _reason(payload: bytes, kind: Kind, spec: object = CONTRACT_SPEC) -> str:
    with pytest.raises(DecodeError) as info:
        decode(payload, kind, spec)  # type: ignore[arg-type]
    return info.value.reason


class TestIsoTimestamps:
    def test_zulu_seconds(self) -> None:
        """A whole-second UTC time converts exactly."""
        assert parse_iso_ns("2026-11-19T10:00:00Z") == T0 * NS

    def test_milliseconds_exact(self) -> None:
        """Milliseconds become exact nanoseconds, without float rounding."""
        assert parse_iso_ns("2026-11-19T10:00:00.123Z") == T0 * NS + 123_000_000

    def test_nanoseconds_exact(self) -> None:
        """Nine fraction digits are kept to the nanosecond."""
        assert parse_iso_ns("2026-11-19T10:00:00.000000001Z") == T0 * NS + 1

    def test_offsets(self) -> None:
        """Offsets with and without a colon are applied, both signs."""
        assert parse_iso_ns("2026-11-19T11:00:00+01:00") == T0 * NS
        assert parse_iso_ns("2026-11-19T04:30:00-0530") == T0 * NS
        assert parse_iso_ns("2026-11-19 10:00:00.5z") == T0 * NS + 500_000_000

    def test_naive_rejected_saying_why(self) -> None:
        """A time without zone is refused and the detail says to add one."""
        with pytest.raises(DecodeError, match="no time zone") as info:
            parse_iso_ns("2026-11-19T10:00:00")
        assert info.value.reason == "bad_timestamp"

    @pytest.mark.parametrize(
        "text",
        [
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-19T24:00:00Z",
            "2026-11-19T10:60:00Z",
            "2026-11-19T10:00:60Z",
            "yesterday",
            "2026-11-19",
            "2026-11-19T10:00Z",
            "2026-11-19T10:00:00.1234567890Z",
            "",
        ],
    )
    def test_invalid(self, text: str) -> None:
        """Impossible dates and times and other shapes are bad_timestamp."""
        with pytest.raises(DecodeError) as info:
            parse_iso_ns(text)
        assert info.value.reason == "bad_timestamp"


class TestEpochTimestamps:
    def test_int_seconds_exact(self) -> None:
        """Integer epoch seconds are exact."""
        assert parse_timestamp(T0, NS, "ts") == T0 * NS

    def test_float_seconds_to_microseconds(self) -> None:
        """Float epoch seconds are rounded to the microsecond."""
        assert parse_timestamp(T0 + 0.5, NS, "ts") == T0 * NS + 500_000_000
        assert parse_timestamp(T0 + 0.1234567, NS, "ts") == T0 * NS + 123_457_000
        assert parse_timestamp(T0 + 0.001, NS, "ts") == T0 * NS + 1_000_000

    def test_other_precisions(self) -> None:
        """Milliseconds and nanoseconds precisions scale integers exactly."""
        assert parse_timestamp(T0 * 1000 + 7, 1_000_000, "t") == T0 * NS + 7_000_000
        assert parse_timestamp(T0 * NS + 3, 1, "t") == T0 * NS + 3
        assert parse_timestamp(float(T0 * 1000) + 0.5, 1_000_000, "t") == T0 * NS + 500_000

    @given(
        value=st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(min_value=T0 - 1e7, max_value=T0 + 1e9),
            st.integers(0, 2 * 10**15).map(lambda us: us / 1e6),
            st.integers(0, 2 * 10**16).map(lambda tenths: float(f"{tenths // 10}.{tenths % 10}")),
        ),
        precision_ns=st.sampled_from([NS, 1_000_000, 1_000]),
    )
    @example(value=T0 + 0.0000005, precision_ns=NS)  # a tie: half-even goes down
    @example(value=T0 + 0.0000015, precision_ns=NS)  # a tie: half-even goes up
    @example(value=1e308, precision_ns=NS)  # the binary product overflows
    def test_floats_round_from_the_decimal_the_sender_wrote(
        self, value: float, precision_ns: int
    ) -> None:
        """Every float lands on the µs that its shortest decimal form rounds to, half-even."""
        exact = Decimal(repr(value)) * (precision_ns // 1000)
        expected = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN)) * 1000
        assert parse_timestamp(value, precision_ns, "ts") == expected

    @pytest.mark.parametrize("value", [True, False])
    def test_booleans_are_refused_by_name(self, value: bool) -> None:
        """A boolean is not epoch 1 or 0: bad_timestamp, and the detail says boolean."""
        with pytest.raises(DecodeError, match=r"ts is (true|false) \(a boolean\)") as info:
            parse_timestamp(value, NS, "ts")
        assert info.value.reason == "bad_timestamp"

    def test_float_nanoseconds_round_to_the_ns_from_the_written_decimal(self) -> None:
        """With ns precision a float rounds to the ns its shortest decimal form gives."""
        # The binary float is ...768 ns; the sender wrote (and repr gives) ...800.
        value = 1.7950824001234568e18
        assert parse_timestamp(value, 1, "t") == 1_795_082_400_123_456_800

    def test_float_milliseconds_round_half_even_to_the_microsecond(self) -> None:
        """Milliseconds with a µs tie go to the even µs, from the decimal written."""
        assert parse_timestamp(T0 * 1000 + 0.0005, 1_000_000, "t") == T0 * NS
        assert parse_timestamp(T0 * 1000 + 0.0015, 1_000_000, "t") == T0 * NS + 2_000

    @pytest.mark.parametrize("value", [True, None, [1], {"s": 1}, float("nan"), float("inf")])
    def test_wrong_types(self, value: object) -> None:
        """Booleans, nulls, containers and non-finite numbers are bad_timestamp."""
        with pytest.raises(DecodeError) as info:
            parse_timestamp(value, NS, "ts")
        assert info.value.reason == "bad_timestamp"


def _written(whole: int, fraction: str) -> list[float]:
    """The floats a sender writes as ``whole.fraction`` and ``-whole.fraction``."""
    return [float(f"{whole}.{fraction}"), float(f"-{whole}.{fraction}")]


_WHOLES = [0, 1, 59, T0, T0 * 1000, 2**31, 2**32, 2**33 - 1, 2**33, 4_503_599_627, 10**12]
_WHOLES += [4_503_599_627_370, 2**52 - 1, 2**52, 10**15, 10**17, 10**22]
_FRACTIONS = ["0", "5", "05", "123", "999", "0005", "0015", "1234", "12345", "000001", "000005"]
_FRACTIONS += ["123456", "999999", "999995", "0000005", "0000015", "1234565", "9999995", "1234567"]
_FRACTIONS += ["00000049", "12345678", "123456789"]


class TestWholeStepsFastPath:
    """The exact timestamp without ``Decimal``: the same steps as the decimal path, or none."""

    @pytest.mark.parametrize("steps_per_unit", [1_000_000, 1_000, 1])
    def test_same_as_the_decimal_path_for_written_values(self, steps_per_unit: int) -> None:
        """Negative, ties, 6 and 7 decimals, huge and integral values: never a different answer."""
        values = [v for w in _WHOLES for f in _FRACTIONS for v in _written(w, f)]
        values += [0.0, -0.0, 5e-324, 1e-7, 1e308, -1e308, 1.7976931348623157e308]
        values += [float(n) for n in (T0, -T0, 2**53, 2**53 + 2, 10**30)]
        for value in values:
            fast = whole_steps(value, steps_per_unit)
            assert fast is None or fast == decimal_steps(value, steps_per_unit), value

    def test_every_microsecond_of_a_second_takes_the_fast_path(self) -> None:
        """Epoch seconds written with 1 to 6 decimals (every µs of one second): exact and fast."""
        for us in range(1_000_000):
            value = float(f"{T0}.{us:06d}")
            assert whole_steps(value, 1_000_000) == T0 * 1_000_000 + us, value

    def test_every_millisecond_written_short(self) -> None:
        """``T0.5``, ``T0.05``, ``T0.123``: every ms as a sender writes it, and negative."""
        for ms in range(1000):
            text = f"{ms:03d}".rstrip("0") or "0"
            for value in _written(T0, text):
                assert whole_steps(value, 1_000_000) == decimal_steps(value, 1_000_000), value
                assert whole_steps(value, 1_000_000) is not None

    def test_finer_than_a_step_leaves_it_to_the_decimal_path(self) -> None:
        """Seven decimals, or a tie, are the decimal path's: rounded half-even there."""
        assert whole_steps(T0 + 0.1234567, 1_000_000) is None
        assert whole_steps(T0 + 0.0000005, 1_000_000) is None
        for value, expected_us in [
            (0.0000005, 0),
            (0.0000015, 2),
            (-0.0000025, -2),
            (2.0000005, 2_000_000),
        ]:
            assert whole_steps(value, 1_000_000) is None
            assert parse_timestamp(value, NS, "ts") == expected_us * 1000

    def test_huge_and_overflowing_values_leave_it_to_the_decimal_path(self) -> None:
        """From 2**52 steps on floats are a step or more apart: the decimal path decides."""
        assert whole_steps(1e308, 1_000_000) is None
        assert whole_steps(float(2**52), 1) is None
        assert whole_steps(4_503_599_628.0, 1_000_000) is None

    @given(
        value=st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(10**16), 10**16).map(lambda us: us / 1e6),
            st.integers(-(10**16), 10**16).map(lambda ms: ms / 1e3),
        ),
        steps_per_unit=st.sampled_from([1_000_000, 1_000, 1]),
    )
    def test_any_float(self, value: float, steps_per_unit: int) -> None:
        """Any finite float: the fast path answers as the decimal path, or not at all."""
        fast = whole_steps(value, steps_per_unit)
        assert fast is None or fast == decimal_steps(value, steps_per_unit)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (T0, T0 * NS),
            (-T0, -T0 * NS),
            (0, 0),
            (2**63, 2**63 * NS),
            ("2026-11-19T10:00:00.123456Z", T0 * NS + 123_456_000),
        ],
    )
    def test_ints_and_strings_do_not_take_it(self, value: int | str, expected: int) -> None:
        """Integers stay exact whatever their size; strings are ISO 8601 as before."""
        assert parse_timestamp(value, NS, "ts") == expected

    def test_a_number_in_a_string_is_still_refused(self) -> None:
        """``"1795082400.5"`` is not ISO 8601: bad_timestamp, as before."""
        with pytest.raises(DecodeError) as info:
            parse_timestamp(f"{T0}.5", NS, "ts")
        assert info.value.reason == "bad_timestamp"


class TestValues:
    def test_numbers(self) -> None:
        """Ints and floats become floats."""
        assert number(3, "x") == 3.0 and isinstance(number(3, "x"), float)
        assert number(-1.5, "x") == -1.5

    @pytest.mark.parametrize("value", [True, False, "20.1", None, [], {}])
    def test_not_numbers(self, value: object) -> None:
        """Booleans, strings, null and containers are bad_value naming the field."""
        with pytest.raises(DecodeError, match="temperature_c is") as info:
            number(value, "temperature_c")
        assert info.value.reason == "bad_value"

    @pytest.mark.parametrize("value", [True, False])
    def test_booleans_are_refused_by_name(self, value: bool) -> None:
        """A boolean is not the number 1 or 0: bad_value, and the detail says boolean."""
        with pytest.raises(DecodeError, match=r"x is (true|false) \(a boolean\)") as info:
            number(value, "x")
        assert info.value.reason == "bad_value"

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite(self, value: float) -> None:
        """NaN and ±inf are non_finite."""
        with pytest.raises(DecodeError) as info:
            number(value, "x")
        assert info.value.reason == "non_finite"

    def test_huge_int(self) -> None:
        """An integer too large for a float is bad_value, not an exception."""
        with pytest.raises(DecodeError) as info:
            number(10**400, "x")
        assert info.value.reason == "bad_value"

    def test_status(self) -> None:
        """Absent status is ok; a fault word is kept; other shapes are bad_status."""
        assert parse_status(None, "status") == "ok"
        assert parse_status("flow_fault", "status") == "flow_fault"
        for bad in (1, "", "x" * 65, "two words", True):
            with pytest.raises(DecodeError) as info:
                parse_status(bad, "status")
            assert info.value.reason == "bad_status"


class TestJsonShape:
    def test_bad_json(self) -> None:
        """Unparseable and truncated payloads are bad_json."""
        for payload in (b"", b"{", b'{"ts": ', b"\xff\xfe", b"not json"):
            with pytest.raises(DecodeError) as info:
                load_object(payload)
            assert info.value.reason == "bad_json", payload

    def test_not_an_object(self) -> None:
        """A JSON array, string or number is bad_shape."""
        for payload in (b"[1, 2]", b'"x"', b"3", b"null"):
            with pytest.raises(DecodeError) as info:
                load_object(payload)
            assert info.value.reason == "bad_shape", payload

    def test_too_deep(self) -> None:
        """A payload nested deeper than 32 levels is bad_shape."""
        deep = b'{"a":' * 40 + b"1" + b"}" * 40
        with pytest.raises(DecodeError, match="nests deeper") as info:
            load_object(deep)
        assert info.value.reason == "bad_shape"

    def test_many_braces_shallow_is_fine(self) -> None:
        """Many shallow objects are not mistaken for deep nesting."""
        wide = b'{"x": [' + b",".join([b"{}"] * 100) + b"]}"
        assert len(load_object(wide)["x"]) == 100

    def test_nan_and_infinity_tokens_are_non_finite(self) -> None:
        """NaN, Infinity and overflowing numbers from lax encoders are non_finite."""
        for payload in (
            b'{"temperature_c": NaN}',
            b'{"temperature_c": Infinity}',
            b'{"temperature_c": -Infinity}',
            b'{"temperature_c": 1e999}',
        ):
            assert _reason(payload, Kind.CLIMATE) == "non_finite", payload


class TestContractParticles:
    def test_counts_per_sample(self) -> None:
        """Counts per sample become per m³ with the sample volume (litres / 1000)."""
        d = decode(
            b'{"ts": "2026-11-19T10:00:00Z", "sample_volume_l": 28.3,'
            b' "counts": {"0.5": 40, "5.0": 1}, "status": "ok"}',
            Kind.PARTICLES,
        )
        assert d.values == {
            "particles_0_5um": pytest.approx(40 / 0.0283),
            "particles_5_0um": pytest.approx(1 / 0.0283),
        }
        assert d.sample_volume_l == 28.3 and d.ts_ns == T0 * NS and d.status == "ok"

    def test_per_m3(self) -> None:
        """Already normalised values are kept as they are."""
        d = decode(b'{"per_m3": {"0.5": 1413.4, "5.0": 0}}', Kind.PARTICLES)
        assert d.values == {"particles_0_5um": 1413.4, "particles_5_0um": 0.0}
        assert d.sample_volume_l is None and d.ts_ns is None

    def test_partial_and_null_sizes(self) -> None:
        """Only present sizes give values; null counts as absent; other sizes are ignored."""
        d = decode(
            b'{"sample_volume_l": 100, "counts": {"0.5": 10, "5.0": null, "1.0": 3}}',
            Kind.PARTICLES,
        )
        assert d.values == {"particles_0_5um": 100.0}

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (b'{"counts": {"0.5": 1}}', "bad_value"),
            (b'{"sample_volume_l": 0, "counts": {"0.5": 1}}', "bad_value"),
            (b'{"sample_volume_l": -28.3, "counts": {"0.5": 1}}', "bad_value"),
            (b'{"sample_volume_l": "28.3", "counts": {"0.5": 1}}', "bad_value"),
            (b'{"sample_volume_l": 28.3, "counts": [40, 0]}', "bad_shape"),
            (b'{"per_m3": 5}', "bad_shape"),
            (b'{"per_m3": {"0.5": 1}, "counts": {"0.5": 1}, "sample_volume_l": 1}', "bad_shape"),
            (b'{"sample_volume_l": 28.3, "counts": {}}', "no_values"),
            (b'{"sample_volume_l": 28.3, "counts": {"0.5": true}}', "bad_value"),
            (b'{"ts": "2026-11-19T10:00:00Z"}', "no_values"),
            (b'{"ts": true, "per_m3": {"0.5": 1}}', "bad_timestamp"),
            (b'{"sample_volume_l": true, "counts": {"0.5": 1}}', "bad_value"),
        ],
    )
    def test_rejects(self, payload: bytes, reason: str) -> None:
        """Missing or bad volumes and wrong shapes are refused with a reason."""
        assert _reason(payload, Kind.PARTICLES) == reason

    def test_negative_counts_are_decoded_for_the_range_check(self) -> None:
        """A negative count is no payload error: the ingestor finds it out of range."""
        d = decode(b'{"sample_volume_l": 28.3, "counts": {"0.5": -1}}', Kind.PARTICLES)
        assert d.values["particles_0_5um"] < 0
        assert decode(b'{"per_m3": {"5.0": -0.5}}', Kind.PARTICLES).values == {
            "particles_5_0um": -0.5
        }

    def test_fault_without_values(self) -> None:
        """A faulted reading may carry no values and is still decoded."""
        d = decode(b'{"ts": 1795082400, "status": "flow_fault"}', Kind.PARTICLES)
        assert d.values == {} and d.status == "flow_fault" and d.ts_ns == T0 * NS

    def test_fault_with_partial_values(self) -> None:
        """A faulted reading keeps the values it has."""
        d = decode(b'{"status": "laser_fault", "per_m3": {"0.5": 12}}', Kind.PARTICLES)
        assert d.values == {"particles_0_5um": 12.0} and d.status == "laser_fault"


class TestContractClimateAndPressure:
    def test_climate(self) -> None:
        """temperature_c and humidity_pct map to temperature and humidity."""
        d = decode(b'{"temperature_c": 20.4, "humidity_pct": 43.0}', Kind.CLIMATE)
        assert d.values == {"temperature": 20.4, "humidity": 43.0}

    def test_humidity_beyond_0_100_is_decoded_for_the_range_check(self) -> None:
        """Humidity outside 0-100 decodes: the ingestor stamps it out of range."""
        assert decode(b'{"humidity_pct": 0}', Kind.CLIMATE).values == {"humidity": 0.0}
        assert decode(b'{"humidity_pct": 100.1}', Kind.CLIMATE).values == {"humidity": 100.1}

    def test_pressure_may_be_negative(self) -> None:
        """A negative differential pressure is a real (bad) reading, not a decode error."""
        assert decode(b'{"diff_pressure_pa": -3.5}', Kind.PRESSURE).values == {
            "diff_pressure": -3.5
        }

    def test_other_kinds_fields_give_no_values(self) -> None:
        """A climate payload sent for a pressure sensor has no values of its kind."""
        assert _reason(b'{"temperature_c": 20.4}', Kind.PRESSURE) == "no_values"

    def test_bad_status_and_timestamp(self) -> None:
        """A bad status word or time is refused before values are looked at."""
        assert _reason(b'{"status": 3, "diff_pressure_pa": 1}', Kind.PRESSURE) == "bad_status"
        assert _reason(b'{"ts": "x", "diff_pressure_pa": 1}', Kind.PRESSURE) == "bad_timestamp"


def _json_spec(fields: dict[str, tuple[str, str | None]], **kw: str) -> object:
    return build_spec(
        "json",
        kw.get("timestamp", "ts"),
        kw.get("precision", "s"),
        kw.get("status", "status"),
        fields,
    )


class TestMappedJson:
    def test_paths_and_units(self) -> None:
        """Configured paths are followed and values converted to contract units."""
        spec = _json_spec(
            {"temperature": ("env.t", "degF"), "humidity": ("env.rh", "fraction")},
            timestamp="time",
            precision="ms",
            status="state",
        )
        d = decode(
            b'{"time": 1795082400250, "state": "ok", "env": {"t": 68.0, "rh": 0.45}}',
            Kind.CLIMATE,
            spec,  # type: ignore[arg-type]
        )
        assert d.values == {"temperature": 20.0, "humidity": pytest.approx(45.0)}
        assert d.ts_ns == T0 * NS + 250_000_000

    def test_escaped_dot_and_list_index(self) -> None:
        """'\\.' is a dot inside a key; a number indexes a list."""
        spec = _json_spec(
            {
                "particles_0_5um": (r"c.0\.5", "count"),
                "particles_5_0um": ("c5.1", "count"),
                "sample_volume": ("vol", "ft3"),
            }
        )
        d = decode(
            b'{"vol": 1.0, "c": {"0.5": 100}, "c5": [9, 2]}',
            Kind.PARTICLES,
            spec,  # type: ignore[arg-type]
        )
        litres = 28.316846592
        assert d.values["particles_0_5um"] == pytest.approx(100 / (litres / 1000))
        assert d.values["particles_5_0um"] == pytest.approx(2 / (litres / 1000))
        assert d.sample_volume_l == pytest.approx(litres)

    def test_pressure_in_inh2o(self) -> None:
        """A pressure in inches of water becomes pascals."""
        spec = _json_spec({"diff_pressure": ("dp", "inH2O")})
        d = decode(b'{"dp": 0.06}', Kind.PRESSURE, spec)  # type: ignore[arg-type]
        assert d.values["diff_pressure"] == pytest.approx(0.06 * 249.08891)

    def test_count_needs_volume_in_payload(self) -> None:
        """Per-sample counts without the volume in the payload are bad_value."""
        spec = _json_spec({"particles_0_5um": ("n", "count"), "sample_volume": ("v", None)})
        assert _reason(b'{"n": 5}', Kind.PARTICLES, spec) == "bad_value"

    def test_unmapped_kind_uses_contract(self) -> None:
        """A kind with no mapped parameter reads the contract payload."""
        spec = _json_spec({"temperature": ("t", None)}, timestamp="when")
        d = decode(
            b'{"when": "2026-11-19T10:00:00Z", "diff_pressure_pa": 11}',
            Kind.PRESSURE,
            spec,  # type: ignore[arg-type]
        )
        assert d.values == {"diff_pressure": 11.0} and d.ts_ns == T0 * NS

    def test_conversion_overflow_is_non_finite(self) -> None:
        """A value that overflows on conversion is non_finite."""
        spec = _json_spec({"diff_pressure": ("dp", "kPa")})
        assert _reason(b'{"dp": 1e306}', Kind.PRESSURE, spec) == "non_finite"


class TestLineProtocolParse:
    def test_full_line(self) -> None:
        """Measurement, tags, typed fields and timestamp are parsed."""
        line = parse_line('climate,room=R1,sensor=TH1 temperature=20.5,n=3i,u=4u,ok=t,s="a b" 17\n')
        assert line.measurement == "climate"
        assert line.tags == {"room": "R1", "sensor": "TH1"}
        assert line.fields == {"temperature": 20.5, "n": 3, "u": 4, "ok": True, "s": "a b"}
        assert line.timestamp == 17

    def test_escapes(self) -> None:
        """Escaped commas, spaces, equals and quotes are unescaped."""
        line = parse_line(r'my\ m,t\=k=v\,w f\ 1="q\"x\\",f2=1 ')
        assert line.measurement == "my m"
        assert line.tags == {"t=k": "v,w"}
        assert line.fields == {"f 1": 'q"x\\', "f2": 1.0}
        assert line.timestamp is None

    def test_comments_and_blank_lines_skipped(self) -> None:
        """Comment and blank lines around the one line are ignored."""
        assert parse_line("# hello\n\npressure diff_pressure=1\n").fields == {"diff_pressure": 1.0}

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "climate",
            "climate ",
            "climate t=",
            "climate t=x",
            'climate t="abc',
            ",a=b t=1",
            "climate,a t=1",
            "climate t=1 notatime",
            "a t=1\nb t=2",
            "c t=-1u",
        ],
    )
    def test_invalid(self, text: str) -> None:
        """Malformed lines raise LineProtocolError."""
        with pytest.raises(LineProtocolError):
            parse_line(text)


def _influx_spec(
    fields: dict[str, tuple[str, str | None]] | None = None, precision: str = "ns"
) -> object:
    return build_spec("influx", "ts", precision, "status", fields or {})


class TestLineProtocolDecode:
    def test_contract_field_names(self) -> None:
        """Fields named like the schema map to parameters; the timestamp is exact ns."""
        d = decode(
            b"climate,sensor=TH1 temperature=20.4,humidity=43 1795082400123456789",
            Kind.CLIMATE,
            _influx_spec(),  # type: ignore[arg-type]
        )
        assert d.values == {"temperature": 20.4, "humidity": 43.0}
        assert d.ts_ns == 1795082400123456789

    def test_mapping_units_and_precision(self) -> None:
        """Mapped field keys, units and timestamp precision apply."""
        spec = _influx_spec({"temperature": ("tF", "degF")}, precision="s")
        d = decode(b"sht31 tF=212,other=1 1795082400", Kind.CLIMATE, spec)  # type: ignore[arg-type]
        assert d.values == {"temperature": 100.0} and d.ts_ns == T0 * NS

    def test_particles_with_volume_and_status(self) -> None:
        """Per-m³ fields, sample_volume_l and a string status field are read."""
        d = decode(
            b'particles particles_0_5um=100,sample_volume_l=28.3,status="flow_fault"',
            Kind.PARTICLES,
            _influx_spec(),  # type: ignore[arg-type]
        )
        assert d.values == {"particles_0_5um": 100.0}
        assert d.sample_volume_l == 28.3 and d.status == "flow_fault" and d.ts_ns is None

    @pytest.mark.parametrize(
        ("payload", "kind", "reason"),
        [
            (b"pressure diff_pressure=1", Kind.CLIMATE, "kind_mismatch"),
            (b'climate temperature="20"', Kind.CLIMATE, "bad_value"),
            (b"climate temperature=t", Kind.CLIMATE, "bad_value"),
            (b"climate temperature=nan", Kind.CLIMATE, "non_finite"),
            (b"climate temperature=inf", Kind.CLIMATE, "non_finite"),
            (b"climate other=1", Kind.CLIMATE, "no_values"),
            (b"climate", Kind.CLIMATE, "bad_line_protocol"),
            (b"\xff\xfe t=1", Kind.CLIMATE, "bad_line_protocol"),
            (b"climate temperature=1\nclimate temperature=2", Kind.CLIMATE, "bad_line_protocol"),
        ],
    )
    def test_rejects(self, payload: bytes, kind: Kind, reason: str) -> None:
        """Wrong measurement, types and syntax are refused with a reason."""
        assert _reason(payload, kind, _influx_spec()) == reason
