"""The batch registry's values and rules, with plain values."""

from __future__ import annotations

import pytest

from envmon.batches import (
    Batch,
    BatchBy,
    BatchEvent,
    BatchEventKind,
    How,
    batch_id_problem,
    event_from_params,
    event_params,
    event_problem,
    is_redelivery,
)
from envmon.errors import EnvmonError
from tests.support.journal_samples import T0, S
from tests.support.signing import signature

ROOMS = ("FILL-A", "BG-B")
MES = BatchBy.mqtt("fac/site1/batch")
SIGNED = BatchBy.signed(signature(), 7, 3)


def start(batch: str = "B-001", at_ns: int = T0, rooms: tuple[str, ...] = ROOMS) -> BatchEvent:
    return BatchEvent(batch, BatchEventKind.START, at_ns, rooms, "CAR-T lot")


def end(batch: str = "B-001", at_ns: int = T0 + 3600 * S) -> BatchEvent:
    return BatchEvent(batch, BatchEventKind.END, at_ns)


def running(by: BatchBy = MES) -> Batch:
    return Batch("B-001", "CAR-T lot", ROOMS, T0, by)


class TestBatchId:
    @pytest.mark.parametrize("ok", ["B-001", "LOT2026/11:3", "a", "x" * 64])
    def test_usual_ids_are_accepted(self, ok: str) -> None:
        """Letters, digits and _ . : / - up to 64 characters name a batch."""
        assert batch_id_problem(ok) is None

    @pytest.mark.parametrize("bad", ["", "-B1", "B 1", "x" * 65, "B1\n", "B;1"])
    def test_other_ids_are_refused_with_the_rule(self, bad: str) -> None:
        """Empty, leading punctuation, spaces, control characters or too long: refused."""
        problem = batch_id_problem(bad)
        assert problem is not None and "1 to 64 characters" in problem


class TestStartRules:
    def test_a_new_batch_with_known_rooms_may_start(self) -> None:
        """A fresh id with rooms of the facility is accepted."""
        assert event_problem(start(), None, ROOMS) is None

    def test_an_id_is_never_reused(self) -> None:
        """Starting an id that exists, running or ended, is refused saying when and by whom."""
        problem = event_problem(start(), running(), ROOMS)
        assert problem == (
            "batch B-001 exists already (started 2026-11-18T11:06:40Z by MES "
            "(fac/site1/batch)): batch ids are never reused"
        )

    def test_a_batch_needs_rooms(self) -> None:
        """No rooms: refused."""
        assert event_problem(start(rooms=()), None, ROOMS) == (
            "batch B-001: a batch needs at least one room"
        )

    def test_rooms_must_be_in_the_facility(self) -> None:
        """Rooms the facility lacks are named."""
        assert event_problem(start(rooms=("FILL-A", "NOPE")), None, ROOMS) == (
            "batch B-001: NOPE is not a room of the facility"
        )
        assert event_problem(start(rooms=("X", "Y")), None, ROOMS) == (
            "batch B-001: X, Y are not rooms of the facility"
        )

    def test_rooms_are_not_checked_without_the_facility(self) -> None:
        """The journal, which does not know the facility, checks the rest only."""
        assert event_problem(start(rooms=("NOPE",)), None) is None


class TestEndRules:
    def test_a_running_batch_may_end_after_its_start(self) -> None:
        """An end after the start of a running batch is accepted."""
        assert event_problem(end(), running()) is None

    def test_an_unknown_batch_cannot_end(self) -> None:
        """Ending an id the registry lacks is refused."""
        assert event_problem(end(), None) == "no batch B-001 (see `envmon batches`)"

    def test_a_batch_ends_once(self) -> None:
        """Ending an ended batch is refused, saying when it ended."""
        ended = Batch("B-001", "", ROOMS, T0, MES, T0 + 60 * S, MES)
        assert event_problem(end(), ended) == "batch B-001 ended already at 2026-11-18T11:07:40Z"

    @pytest.mark.parametrize("at_ns", [T0, T0 - S])
    def test_an_end_must_follow_the_start(self, at_ns: int) -> None:
        """An end at or before the start is refused with both times."""
        problem = event_problem(end(at_ns=at_ns), running())
        assert problem is not None and problem.startswith("batch B-001: the end 2026-11-18T11:06:")
        assert problem.endswith("is not after its start 2026-11-18T11:06:40Z")


class TestRedelivery:
    def test_the_same_mes_start_again_is_a_redelivery(self) -> None:
        """An MES start equal to the registered one, from the same topic, is the same event."""
        assert is_redelivery(start(), MES, running())

    def test_a_different_start_is_not(self) -> None:
        """Another time, rooms, topic, or a signed start is not a redelivery."""
        assert not is_redelivery(start(at_ns=T0 + S), MES, running())
        assert not is_redelivery(start(rooms=("FILL-A",)), MES, running())
        assert not is_redelivery(start(), BatchBy.mqtt("fac/site1/other"), running())
        assert not is_redelivery(start(), SIGNED, running(SIGNED))
        assert not is_redelivery(start(), MES, None)

    def test_the_same_mes_end_again_is_a_redelivery(self) -> None:
        """An MES end equal to the registered end is the same event."""
        ended = Batch("B-001", "", ROOMS, T0, MES, T0 + 3600 * S, MES)
        assert is_redelivery(end(), MES, ended)
        assert not is_redelivery(end(at_ns=T0 + 7200 * S), MES, ended)


class TestRecords:
    def test_by_round_trips_signed_and_mqtt(self) -> None:
        """A BatchBy survives its journal record, with or without a signature."""
        for by in (MES, SIGNED):
            assert BatchBy.from_record(by.to_record()) == by

    def test_json_shows_the_signature_or_the_topic(self) -> None:
        """For people: section 8's signature object, or the MES topic."""
        assert MES.to_json() == {"how": "mqtt", "topic": "fac/site1/batch"}
        signed = SIGNED.to_json()
        assert signed["how"] == How.SIGNED and signed["user"] == "jdoe"
        assert set(signed) == {"how", "user", "full_name", "role", "meaning", "comment",
                               "signed_at"}  # fmt: skip

    def test_batch_json(self) -> None:
        """A running batch lists its rooms, start, no end, and who started it."""
        assert running().to_json() == {
            "id": "B-001",
            "product": "CAR-T lot",
            "rooms": ["FILL-A", "BG-B"],
            "start": "2026-11-18T11:06:40Z",
            "end": None,
            "started_by": {"how": "mqtt", "topic": "fac/site1/batch"},
            "ended_by": None,
        }

    def test_params_round_trip(self) -> None:
        """What a signature covers gives back the same event."""
        for event in (start(), end()):
            assert event_from_params(event.batch, event_params(event)) == event

    def test_malformed_params_are_refused(self) -> None:
        """A request without its event or time is refused, not crashed on."""
        with pytest.raises(EnvmonError, match="malformed batch request"):
            event_from_params("B-1", {"event": "pause", "at_ns": 1})
        with pytest.raises(EnvmonError, match="malformed batch request"):
            event_from_params("B-1", {"event": "start"})
