"""Time a 24-hour QA report for 50 rooms against a real influxd.

Each room has a particle counter (every 60 s), a climate sensor and a
pressure sensor (every 10 s): 936 000 points for the day. The script starts
its own influxd (Debian's 1.x, as the tests do) in a temp dir, seeds the day
over HTTP line protocol, writes a journal with a few excursions, then times
``generate`` for each format. Not part of the test suite (seeding takes a while).

    python bench/report_bench.py [--rooms 50] [--formats json,csv,html,pdf] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition
from envmon.facility import load_facility
from envmon.journal.journal import Journal
from envmon.readings import NS_PER_S
from envmon.report.command import generate
from envmon.settings import load_settings
from tests.support.servers import InfluxDB1

DAY_S = 86_400
T0 = 1_800_000_000 * NS_PER_S - (1_800_000_000 % DAY_S) * NS_PER_S  # a UTC midnight
BATCH_POINTS = 50_000


def facility_text(rooms: int) -> str:
    parts = ['site = "site1"\n']
    for r in range(rooms):
        room = f"R{r:02d}"
        grade = "ABCD"[r % 4]
        parts.append(f'[[rooms]]\nid = "{room}"\ngrade = "{grade}"\n')
        parts.append("[rooms.limits.diff_pressure]\nalert_low = 12.0\naction_low = 10.0\n")
        parts.append(
            "[rooms.limits.temperature]\nalert_high = 23.0\naction_high = 25.0\n"
            "alert_low = 17.0\naction_low = 15.0\n"
        )
    for r in range(rooms):
        room = f"R{r:02d}"
        for kind, interval in (("particles", 60), ("climate", 10), ("pressure", 10)):
            parts.append(
                f'[[sensors]]\nid = "{kind[:2].upper()}-{room}"\nroom = "{room}"\n'
                f'kind = "{kind}"\ninterval_s = {interval}\n'
            )
    return "\n".join(parts)


def lines(rooms: int):  # type: ignore[no-untyped-def]
    """Line protocol for the whole day, room by room."""
    for r in range(rooms):
        room = f"R{r:02d}"
        grade = "ABCD"[r % 4]
        base = f"site=site1,room={room},grade={grade}"
        for i in range(DAY_S // 60):
            ts = T0 + i * 60 * NS_PER_S
            yield (
                f"particles,{base},sensor=PA-{room} particles_0_5um={500 + (i * 37 + r) % 900},"
                f"particles_5_0um={((i + r) % 7 == 0 and 35.3) or 0},sample_volume_l=28.3 {ts}"
            )
        for i in range(DAY_S // 10):
            ts = T0 + i * 10 * NS_PER_S
            wave = math.sin(i / 500 + r)
            yield (
                f"climate,{base},sensor=CL-{room} temperature={20 + wave:.2f},"
                f"humidity={45 + 3 * wave:.1f} {ts}"
            )
            yield f"pressure,{base},sensor=PR-{room} diff_pressure={15 + 2 * wave:.2f} {ts}"


def seed_influx(url: str, rooms: int) -> int:
    batch: list[str] = []
    total = 0

    def flush() -> None:
        request = urllib.request.Request(
            f"{url}/write?db=envmon&precision=ns", data="\n".join(batch).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status == 204, response.status
        batch.clear()

    for line in lines(rooms):
        batch.append(line)
        total += 1
        if len(batch) >= BATCH_POINTS:
            flush()
    if batch:
        flush()
    return total


def seed_journal(path: Path, rooms: int) -> None:
    journal = Journal(path)
    events = []
    for r in range(0, rooms, 5):
        room = f"R{r:02d}"
        start = T0 + (3600 + r * 600) * NS_PER_S
        alarm = Alarm(
            id=f"{r:010x}", site="site1", room=room, sensor=f"PR-{room}",
            parameter="diff_pressure", level=Level.ACTION, state=AlarmState.ACTIVE_UNACKED,
            raised_ns=start, limit=10.0, room_state="in_operation",
        )  # fmt: skip
        exc = Excursion(
            id=alarm.id, alarm_id=alarm.id, site="site1", room=room, sensor=alarm.sensor,
            parameter="diff_pressure", level=Level.ACTION, start_ns=start,
            end_ns=start + 120 * NS_PER_S, peak=8.5, limit=10.0, room_state="in_operation",
            samples=12,
        )  # fmt: skip
        cleared = alarm.with_(state=AlarmState.CLEARED_UNACKED, cleared_ns=exc.end_ns)
        events += [
            AlarmEvent(Transition.RAISED, alarm, start, exc),
            AlarmEvent(Transition.CLEARED, cleared, start + 120 * NS_PER_S, exc),
        ]
    journal.record_events(events)
    journal.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--formats", default="json,csv,html,pdf")
    parser.add_argument("--keep", type=Path, help="write the reports into this directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="envmon-bench-"))
    server = InfluxDB1(work / "influxdb")
    server.start()
    try:
        server.create_database()
        (work / "facility.toml").write_text(facility_text(args.rooms))
        (work / "envmon.toml").write_text(
            f'[influx]\nurl = "{server.url}"\napi = "v1"\ndatabase = "envmon"\n'
            '[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n'
        )
        settings = load_settings(work / "envmon.toml")
        facility = load_facility(settings.facility.file)
        started = time.monotonic()
        points = seed_influx(server.url, args.rooms)
        print(f"seeded {points} points in {time.monotonic() - started:.1f} s")
        seed_journal(settings.storage.journal_path, args.rooms)
        for fmt in args.formats.split(","):
            started = time.monotonic()
            out = generate(
                settings, facility, T0, T0 + DAY_S * NS_PER_S, None, "BENCH-1", fmt, "bench"
            )
            elapsed = time.monotonic() - started
            print(f"{fmt:>4}: {elapsed:6.2f} s  ({len(out) / 1e6:.2f} MB)")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"report.{fmt}").write_bytes(out)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
