"""A naive MQTT → alarm + InfluxDB bridge, the yardstick for envmon's alarm latency.

What a site might write in an afternoon: paho-mqtt's ``on_message`` parses each
reading (orjson), compares ≥0.5 µm particles with one limit, publishes a
retained alarm at once when it is crossed, and writes the point with
influxdb-client's default (batching) write API. No persistence, no acks held
back, no journal, no room states: none of envmon's guarantees. Prints
``ready`` once subscribed; runs until SIGTERM.

    python bench/naive_bridge.py --port P --influx-url URL [--limit 3520]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

import orjson
import paho.mqtt.client as paho
from influxdb_client import InfluxDBClient, Point
from paho.mqtt.enums import CallbackAPIVersion

ALARM_PREFIX = "bench/bridge/alarms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--influx-url", required=True)
    ap.add_argument("--limit", type=float, default=3520.0)
    ap.add_argument("--topic", default="fac/#")
    args = ap.parse_args()

    influx = InfluxDBClient(url=args.influx_url, token="unused", org="bench")
    write_api = influx.write_api()  # the library's default: batches in a thread of its own
    alarmed: set[str] = set()

    def on_connect(c: paho.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe(args.topic, qos=1)

    def on_subscribe(c: paho.Client, u: Any, mid: int, rcs: Any, props: Any) -> None:
        print("ready", flush=True)

    def on_message(c: paho.Client, u: Any, msg: paho.MQTTMessage) -> None:
        try:
            reading = orjson.loads(msg.payload)
            _prefix, _site, room, kind, sensor = msg.topic.split("/")
        except (orjson.JSONDecodeError, ValueError):
            return
        if kind == "particles":
            value = reading["per_m3"]["0.5"]
            if value > args.limit and room not in alarmed:
                alarmed.add(room)
                alarm = {"room": room, "parameter": "particles_0_5um", "level": "action"}
                alarm |= {"state": "active_unacked", "value": value, "limit": args.limit}
                c.publish(
                    f"{ALARM_PREFIX}/{room}/particles_0_5um",
                    orjson.dumps(alarm),
                    qos=1,
                    retain=True,
                )
            point = Point(kind).tag("sensor", sensor).field("particles_0_5um", value)
        else:
            point = Point(kind).tag("sensor", sensor).field("value", 1.0)
        write_api.write(bucket="bridge", record=point.time(int(reading["ts"] * 1e9)))

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-naive-bridge")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()
    write_api.close()
    influx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
