"""The Python ceiling: a bare paho-mqtt subscriber doing what envmon must do at least.

MQTT 5, QoS 1, ``manual_ack=True``, every message's JSON parsed (orjson, as
envmon's decoder) and acked in arrival order from the callback. Prints
``ready`` once subscribed, then, after ``--count`` messages, one JSON object:
received, t_first_ns, t_last_ns (wall clock).

    python bench/paho_ceiling.py --port P --count N [--topic 'fac/#']
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--topic", default="fac/#")
    ap.add_argument("--timeout-s", type=float, default=300.0)
    args = ap.parse_args()

    done = threading.Event()
    state = {"n": 0, "first": 0, "last": 0, "bad": 0}

    def on_connect(c: paho.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        c.subscribe([(args.topic, SubscribeOptions(qos=1))])

    def on_subscribe(c: paho.Client, u: Any, mid: int, rcs: Any, p: Any) -> None:
        print("ready", flush=True)

    def on_message(c: paho.Client, u: Any, msg: paho.MQTTMessage) -> None:
        now = time.time_ns()
        try:
            orjson.loads(msg.payload)
        except orjson.JSONDecodeError:
            state["bad"] += 1
        c.ack(msg.mid, msg.qos)
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= args.count:
            done.set()

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-paho-ceiling",
        protocol=paho.MQTTv5,
        manual_ack=True,
    )
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = 20000
    client.connect("127.0.0.1", args.port, clean_start=True, properties=props)
    client.loop_start()
    done.wait(args.timeout_s)
    client.disconnect()
    client.loop_stop()
    print(
        json.dumps(
            {
                "received": state["n"],
                "bad_json": state["bad"],
                "t_first_ns": state["first"],
                "t_last_ns": state["last"],
            }
        ),
        flush=True,
    )
    return 0 if state["n"] >= args.count else 1


if __name__ == "__main__":
    sys.exit(main())
