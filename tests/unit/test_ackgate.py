"""The ack gate: durable and judged, in arrival order."""

from __future__ import annotations

from envmon.ingest.ackgate import AckGate, Pending


def gate() -> tuple[AckGate[str], list[str]]:
    acked: list[str] = []
    return AckGate(acked.extend), acked


class TestAckGate:
    def test_durable_alone_does_not_ack_a_reading(self) -> None:
        """A stored reading waits until the engine has judged it."""
        g, acked = gate()
        g.durable([Pending(0, True, "m0")])
        assert acked == [] and g.waiting == 1
        g.judged(0)
        assert acked == ["m0"] and g.waiting == 0

    def test_judged_alone_does_not_ack(self) -> None:
        """A judged reading waits until it is stored."""
        g, acked = gate()
        g.judged(5)
        assert acked == []
        g.durable([Pending(3, True, "m3")])
        assert acked == ["m3"]

    def test_order_is_kept_behind_an_unjudged_reading(self) -> None:
        """A reject that needs no judgement still waits behind an earlier reading."""
        g, acked = gate()
        g.durable([Pending(0, True, "r0"), Pending(1, False, "reject1"), Pending(2, True, "r2")])
        assert acked == []
        g.judged(0)
        assert acked == ["r0", "reject1"]
        g.judged(2)
        assert acked == ["r0", "reject1", "r2"]

    def test_messages_without_judgement_pass_at_once(self) -> None:
        """Rejects and ignored topics are acked as soon as they are durable."""
        g, acked = gate()
        g.durable([Pending(0, False, "a"), Pending(1, False, "b")])
        assert acked == ["a", "b"]

    def test_qos0_messages_take_part_in_order_but_send_no_ack(self) -> None:
        """A message without a token releases nothing but does not block others."""
        g, acked = gate()
        g.durable([Pending(0, True, None), Pending(1, True, "m1")])
        g.judged(1)
        assert acked == ["m1"]

    def test_judged_never_moves_backwards(self) -> None:
        """An older watermark arriving late changes nothing."""
        g, acked = gate()
        g.judged(4)
        g.judged(2)
        g.durable([Pending(3, True, "m3")])
        assert acked == ["m3"]
