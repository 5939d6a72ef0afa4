"""Every InfluxQL query of the Grafana dashboards returns rows from a simulator-filled InfluxDB."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.room_states import default_in_force
from envmon.facility import Facility, load_facility, parameters_of
from envmon.gmp import LIMIT_KEYS, limits_in_force, resolve_equipment_limits, resolve_limits
from envmon.readings import NS_PER_S, PARAMETERS_BY_KIND, RoomState
from envmon.simulate.fleet import Fleet
from envmon.simulate.scenarios import build_scenario
from envmon.store.lineproto import limits_line
from tests.support.servers import InfluxDB1

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "envmon.yaml"
MINUTE_NS = 60 * NS_PER_S

# What Grafana would put in for its macros and this test's template variables.
MACROS = {
    "$timeFilter": "time > now() - 6h",
    "$__interval_ms": "60000",
    "$__interval": "1m",
    "$site": "site1",
    "$room": "FILL-A",
    "$equipment": "INC-01",
    "$parameter": "co2",
}


def queries_of(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(location, query) for every raw InfluxQL query: panel targets, variables, annotations."""
    if isinstance(node, dict):
        if isinstance(node.get("query"), str) and node["query"].strip():
            yield where, node["query"]
        for key, value in node.items():
            label = node.get("title") or node.get("name") or node.get("refId") or ""
            yield from queries_of(value, f"{where}/{key}{f'[{label}]' if label else ''}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from queries_of(item, f"{where}[{i}]")


def substitute(query: str) -> str:
    for macro, value in MACROS.items():
        query = query.replace(macro, value)
    leftover = re.findall(r"\$\w+", query)
    assert not leftover, f"unsubstituted Grafana variables {leftover} in: {query}"
    return query


def sensor_line(fleet: Fleet, sensor_id: str, ts_ns: int, grade: str) -> str | None:
    sensor = fleet.facility.sensors[sensor_id]
    text = fleet.payload(sensor, ts_ns)
    if text is None:
        return None
    body = json.loads(text)
    tags = f"site={fleet.facility.site},room={sensor.room},grade={grade},sensor={sensor.id}"
    if sensor.kind == "equipment":
        tags += f",equipment={sensor.equipment}"
        fields = ",".join(f"{k}={float(v)!r}" for k, v in body["values"].items())
    elif sensor.kind == "particles":
        m3 = body["sample_volume_l"] / 1000
        fields = (
            f"particles_0_5um={body['counts']['0.5'] / m3},"
            f"particles_5_0um={body['counts']['5.0'] / m3},"
            f"sample_volume_l={body['sample_volume_l']}"
        )
    elif sensor.kind == "climate":
        fields = f"temperature={body['temperature_c']},humidity={body['humidity_pct']}"
    else:
        fields = f"diff_pressure={body['diff_pressure_pa']}"
    return f"{sensor.kind},{tags} {fields} {ts_ns}"


def simulated_lines(facility: Facility, now_ns: int) -> list[str]:
    """40 minutes of the demo scenario as line protocol, plus room states."""
    start_ns = now_ns - 40 * MINUTE_NS
    scenario = build_scenario("demo", facility)
    fleet = Fleet(facility, start_ns, scenario.events, 5, "fac", scenario.options)
    lines: list[str] = []
    previous: int | None = None
    for tick in range(120):
        ts_ns = start_ns + tick * 20 * NS_PER_S
        for room_id, state in fleet.state_changes(ts_ns, previous):
            lines.append(f'room_state,site=site1,room={room_id} state="{state}" {ts_ns}')
        for sensor in facility.model.sensors:
            line = sensor_line(fleet, sensor.id, ts_ns, facility.rooms[sensor.room].grade_tag)
            if line is not None:
                lines.append(line)
        previous = ts_ns
    return lines


def status_lines(now_ns: int) -> list[str]:
    """INC-01's sensor out of range once, and three readings past its calibration date."""
    tags = "equipment,site=site1,room=CELL-B,grade=B,equipment=INC-01,sensor=INC-01-S1"
    out = [f'{tags} co2_raw=25.0,status="out_of_range" {now_ns - 30 * MINUTE_NS + 1}']
    out += [
        f'{tags} co2=5.0,temperature=37.0,status="calibration_overdue" '
        f"{now_ns - (20 - i) * MINUTE_NS + 1}"
        for i in range(3)
    ]
    return out


def alarm_lines(now_ns: int) -> list[str]:
    """Alarm transitions in FILL-A: open particle alarms, closed ones on every parameter."""

    def alarm(
        parameter: str, level: str, state: str, value: float, limit: float, ago_min: int
    ) -> str:
        tags = f"site=site1,room=FILL-A,parameter={parameter},level={level}"
        fields = f'state="{state}",value={value},limit={limit},alarm_id="{parameter}-{level}"'
        return f"alarm,{tags} {fields} {now_ns - ago_min * MINUTE_NS}"

    return [
        # Past alarms on every parameter, so each limit line has a limit to draw.
        alarm("particles_0_5um", "alert", "closed", 2400.0, 2000, 35),
        alarm("particles_0_5um", "action", "closed", 4100.0, 3520, 35),
        alarm("temperature", "alert", "closed", 23.4, 23, 38),
        alarm("temperature", "action", "closed", 25.3, 25, 37),
        alarm("humidity", "alert", "closed", 56.0, 55, 38),
        alarm("humidity", "action", "closed", 61.0, 60, 37),
        alarm("diff_pressure", "alert", "closed", 11.5, 12, 36),
        alarm("particles_5_0um", "alert", "active_unacked", 247.3, 20, 25),
        alarm("particles_5_0um", "action", "active_unacked", 247.3, 29, 25),
        alarm("particles_5_0um", "action", "active_acked", 283.9, 29, 20),
        alarm("diff_pressure", "action", "active_unacked", 2.1, 10, 15),
        alarm("diff_pressure", "action", "cleared_unacked", 14.2, 10, 12),
        alarm("diff_pressure", "action", "closed", 14.2, 10, 10),
        # On equipment: a CO2 action alarm, and a freezer's rate alert.
        f"alarm,site=site1,room=CELL-B,equipment=INC-01,parameter=co2,level=action "
        f'state="active_unacked",value=4.1,limit=4.5,alarm_id="inc-co2",rule="limit" '
        f"{now_ns - 18 * MINUTE_NS}",
        f"alarm,site=site1,room=CELL-B,equipment=FRZ-01,parameter=temperature,level=alert "
        f'state="active_unacked",value=1.5,limit=0.5,alarm_id="frz-rate",rule="rate" '
        f"{now_ns - 16 * MINUTE_NS}",
    ]


def stats_lines(now_ns: int) -> list[str]:
    """envmon_stats every 30 s for 40 minutes, with one reject reason."""
    lines = []
    for i in range(80):
        ts_ns = now_ns - 40 * MINUTE_NS + i * 30 * NS_PER_S
        lines.append(
            "envmon_stats,site=site1 "
            f"readings_per_s={7.5 + i % 3},readings_total={i * 225}i,rejects_total={i // 4}i,"
            f"rejects_bad_json={i // 4}i,write_latency_ms={3.2 + i % 5},spool_depth_lines=0i,"
            f"spool_fill_pct=0,mqtt_connected=1i,influx_healthy={int(i != 40)}i,alarms_active=2i "
            f"{ts_ns}"
        )
    return lines


def limits_lines(facility: Facility, now_ns: int) -> list[str]:
    """The limits in force, as the service writes them every minute."""
    out = []
    for room in facility.model.rooms:
        kinds = {s.kind for s in facility.sensors_in(room.id)}
        state = default_in_force(room.default_room_state)
        owners = [
            (None, p, limits_in_force({s: resolve_limits(room, p, s) for s in RoomState})[state])
            for p in (p for kind in kinds for p in PARAMETERS_BY_KIND[kind])
        ]
        for item in facility.equipment_in(room.id):
            measured = {p for s in facility.sensors_on(item.id) for p in parameters_of(s)}
            owners += [
                (
                    item.id,
                    p,
                    limits_in_force({s: resolve_equipment_limits(item, p, s) for s in RoomState})[
                        state
                    ],
                )
                for p in sorted(measured)
            ]
        for equipment, parameter, limits in owners:
            if all(getattr(limits, key) is None for key in LIMIT_KEYS):
                continue
            levels = {key: getattr(limits, key) for key in LIMIT_KEYS}
            for minutes_ago in range(0, 40, 10):
                out.append(
                    limits_line(
                        facility.site,
                        room.id,
                        parameter,
                        state.value,
                        levels,
                        now_ns - minutes_ago * MINUTE_NS,
                        equipment,
                    )
                )
    return out


def write(influxdb: InfluxDB1, lines: list[str]) -> None:
    request = urllib.request.Request(
        f"{influxdb.url}/write?db={influxdb.database}&precision=ns",
        data="\n".join(lines).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204


def has_values(result: dict[str, Any]) -> bool:
    """At least one row with a non-null value besides time (and besides SHOW's key column)."""
    for series in result.get("series", []):
        for row in series["values"]:
            if any(v is not None for v in row[1:]):
                return True
    return False


class TestDashboardFiles:
    def test_every_dashboard_is_json_with_queries_on_the_envmon_data_source(self) -> None:
        """Each dashboard parses, has a uid, and every target uses the provisioned data source."""
        assert len(DASHBOARDS) >= 4
        uid = re.search(r"^\s*uid:\s*(\S+)", DATASOURCE.read_text(), re.MULTILINE)
        assert uid is not None
        for path in DASHBOARDS:
            board = json.loads(path.read_text())
            assert board["uid"].startswith("envmon-")
            for p in board["panels"]:
                assert p["targets"], f"{path.name}: panel {p['title']} has no query"
                for t in p["targets"]:
                    assert t["datasource"]["uid"] == uid.group(1)
                    assert t["rawQuery"] is True

    def test_room_dashboard_draws_limits_for_every_parameter(self) -> None:
        """The room page has one panel per contract parameter with a query of its limits."""
        board = json.loads((ROOT / "deploy/grafana/dashboards/envmon-room.json").read_text())
        queries = [t["query"] for p in board["panels"] for t in p["targets"]]
        for parameter in (
            "particles_0_5um", "particles_5_0um", "temperature", "humidity", "diff_pressure"
        ):  # fmt: skip
            assert any(f"\"parameter\" = '{parameter}'" in q and "limit" in q for q in queries)

    def test_equipment_dashboard_repeats_a_panel_per_parameter_with_its_limits(self) -> None:
        """The equipment page repeats one panel over its parameters, limit lines included."""
        board = json.loads((ROOT / "deploy/grafana/dashboards/envmon-equipment.json").read_text())
        repeated = [p for p in board["panels"] if p.get("repeat") == "parameter"]
        assert len(repeated) == 1
        queries = [t["query"] for t in repeated[0]["targets"]]
        assert any('FROM "limits"' in q and '"equipment" =~ /^$equipment$/' in q for q in queries)
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["parameter"]["query"] == 'SHOW FIELD KEYS FROM "equipment"'
        assert re.compile(r"^(?!status$)(?!.*_raw$).+$").match("co2_raw") is None

    def test_annotations_come_from_the_alarm_measurement(self) -> None:
        """Overview and room pages annotate alarm transitions from the alarm measurement."""
        for name in ("envmon-overview.json", "envmon-room.json", "envmon-equipment.json"):
            board = json.loads((ROOT / "deploy/grafana/dashboards" / name).read_text())
            annotation_queries = [a["query"] for a in board["annotations"]["list"]]
            assert any('FROM "alarm"' in q for q in annotation_queries)


@pytest.mark.integration
class TestDashboardQueries:
    def test_every_query_returns_rows(self, influxdb: InfluxDB1) -> None:
        """Each panel, variable and annotation query returns at least one non-empty row."""
        facility = load_facility(ROOT / "config" / "facility.toml")
        now_ns = time.time_ns()
        write(influxdb, simulated_lines(facility, now_ns))
        write(influxdb, alarm_lines(now_ns) + stats_lines(now_ns) + limits_lines(facility, now_ns))
        write(influxdb, status_lines(now_ns))
        checked, failures = 0, []
        for path in DASHBOARDS:
            for where, query in queries_of(json.loads(path.read_text())):
                sql = substitute(query)
                result = influxdb.query(sql)["results"][0]
                checked += 1
                if "error" in result:
                    failures.append(f"{path.name}{where}: error {result['error']}: {sql}")
                elif not has_values(result):
                    failures.append(f"{path.name}{where}: no rows: {sql}")
        assert checked >= 25
        assert failures == []
