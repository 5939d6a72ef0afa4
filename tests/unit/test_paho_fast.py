"""The bulk PUBACK encoding of envmon's paho client."""

from __future__ import annotations

import struct

import paho.mqtt.client as paho

from envmon.ingest import _paho_fast


class TestPubackPackets:
    def test_same_bytes_as_paho_sends_one_by_one(self) -> None:
        """Each PUBACK is paho's own: type 0x40, remaining length 2, the packet id."""
        mids = [1, 2, 255, 256, 65535]
        expected = b"".join(struct.pack("!BBH", int(paho.PUBACK), 2, mid) for mid in mids)
        assert _paho_fast.puback_packets(mids) == expected

    def test_order_kept(self) -> None:
        """PUBACKs go out in the order given (MQTT 3.1.1 §4.6: arrival order)."""
        packets = _paho_fast.puback_packets([7, 3, 9])
        assert [int.from_bytes(packets[i + 2 : i + 4], "big") for i in (0, 4, 8)] == [7, 3, 9]

    def test_nothing_for_no_mids(self) -> None:
        """An empty batch is no bytes at all."""
        assert _paho_fast.puback_packets([]) == b""

    def test_installed_paho_is_supported(self) -> None:
        """The installed paho-mqtt has the private methods the fast client relies on."""
        assert _paho_fast.supported()
