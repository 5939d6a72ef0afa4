"""Writes envmon's Grafana dashboards (dashboards/*.json) from this description.

Run after editing: ``python deploy/grafana/generate.py``. The JSON files are
committed so that Grafana provisioning needs nothing but them.
Queries are raw InfluxQL against the schema of design.md sections 5 and 11
and the ``envmon_stats`` self-metrics; tests/integration/test_grafana_queries.py
runs every one of them against a real InfluxDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "influxdb", "uid": "envmon-influxdb"}
SITE = '"site" =~ /^$site$/'
ROOM = '"room" =~ /^$room$/'
EQUIPMENT = '"equipment" =~ /^$equipment$/'

# (parameter, measurement, title, unit, log scale)
PARAMETERS = [
    ("particles_0_5um", "particles", "Particles ≥0.5 µm", "counts/m³", True),
    ("particles_5_0um", "particles", "Particles ≥5.0 µm", "counts/m³", True),
    ("temperature", "climate", "Temperature", "celsius", False),
    ("humidity", "climate", "Relative humidity", "humidity", False),
    ("diff_pressure", "pressure", "Differential pressure to reference room", "pressurepa", False),
]

Panel = dict[str, Any]


def target(ref: str, query: str, fmt: str = "time_series", alias: str = "") -> dict[str, Any]:
    t = {
        "refId": ref,
        "datasource": DATASOURCE,
        "rawQuery": True,
        "query": query,
        "resultFormat": fmt,
    }
    if alias:
        t["alias"] = alias
    return t


def panel(
    kind: str, title: str, grid: tuple[int, int, int, int], targets: list, **extra: Any
) -> Panel:
    x, y, w, h = grid
    p: Panel = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
    }
    p.update(extra)
    return p


def query_variable(
    name: str, query: str, *, hide: int = 0, multi: bool = False, regex: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "refresh": 2,  # on time range change
        "hide": hide,
        "multi": multi,
        "includeAll": multi,
        "sort": 1,
        "regex": regex,
    }


def site_variable(measurement: str) -> dict[str, Any]:
    return query_variable("site", f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site"')


def alarm_annotation(where: str) -> dict[str, Any]:
    """Every alarm transition as an annotation: raised, acked, cleared, closed."""
    return {
        "name": "Alarms",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "query": (
            'SELECT "state", "value", "limit", "alarm_id" FROM "alarm" '
            f"WHERE {where} AND $timeFilter"
        ),
        "textColumn": "state",
        "tagsColumn": "room,equipment,parameter,level",
    }


def dashboard(
    uid: str, title: str, panels: list[Panel], variables: list, annotations: list
) -> dict:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "tags": ["envmon"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": annotations},
        "links": [
            {"type": "dashboards", "tags": ["envmon"], "asDropdown": True, "title": "envmon"}
        ],
        "panels": panels,
    }


# --- facility overview --------------------------------------------------------------


def overview() -> dict:
    latest = "Latest value per room; state is the last retained room state; grade from the tag."
    rooms_table = panel(
        "table",
        "Rooms",
        (0, 0, 24, 8),
        [
            target(
                "A",
                f'SELECT last("state") AS "state" FROM "room_state" WHERE {SITE} GROUP BY "room"',
                "table",
            ),
            target(
                "B",
                'SELECT last("particles_0_5um") AS "≥0.5 µm /m³", '
                'last("particles_5_0um") AS "≥5.0 µm /m³" FROM "particles" '
                f'WHERE {SITE} AND $timeFilter GROUP BY "room", "grade"',
                "table",
            ),
            target(
                "C",
                'SELECT last("temperature") AS "°C", last("humidity") AS "%RH" FROM "climate" '
                f'WHERE {SITE} AND $timeFilter GROUP BY "room"',
                "table",
            ),
            target(
                "D",
                'SELECT last("diff_pressure") AS "Pa" FROM "pressure" '
                f'WHERE {SITE} AND $timeFilter GROUP BY "room"',
                "table",
            ),
            target(
                "E",
                'SELECT count("state") AS "active alarms" FROM ('
                'SELECT last("state") AS "state" FROM "alarm" '
                f'WHERE {SITE} GROUP BY "room", "equipment", "parameter", "level") '
                'WHERE "state" =~ /^active/ GROUP BY "room"',
                "table",
            ),
        ],
        description=latest,
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
    )
    open_alarms = panel(
        "table",
        "Open alarms (active, or cleared and awaiting acknowledgement)",
        (0, 8, 24, 7),
        [
            target(
                "A",
                'SELECT "state", "value", "limit", "alarm_id" FROM ('
                'SELECT last("state") AS "state", last("value") AS "value", '
                'last("limit") AS "limit", last("alarm_id") AS "alarm_id" FROM "alarm" '
                f'WHERE {SITE} GROUP BY "room", "equipment", "parameter", "level") '
                'WHERE "state" =~ /^(active|cleared_unacked)/ '
                'GROUP BY "room", "equipment", "parameter", "level"',
                "table",
            )
        ],
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
    )
    trends = [
        panel(
            "timeseries",
            "Differential pressure cascade",
            (0, 15, 12, 8),
            [
                target(
                    "A",
                    'SELECT mean("diff_pressure") FROM "pressure" '
                    f'WHERE {SITE} AND $timeFilter GROUP BY time($__interval), "room" fill(null)',
                    alias="$tag_room",
                )
            ],
            fieldConfig={"defaults": {"unit": "pressurepa"}, "overrides": []},
        ),
        panel(
            "timeseries",
            "Particles ≥0.5 µm by room",
            (12, 15, 12, 8),
            [
                target(
                    "A",
                    'SELECT max("particles_0_5um") FROM "particles" '
                    f'WHERE {SITE} AND $timeFilter GROUP BY time($__interval), "room" fill(null)',
                    alias="$tag_room",
                )
            ],
            fieldConfig={
                "defaults": {"custom": {"scaleDistribution": {"type": "log", "log": 10}}},
                "overrides": [],
            },
        ),
    ]
    return dashboard(
        "envmon-overview",
        "envmon: facility overview",
        [rooms_table, open_alarms, *trends],
        [site_variable("room_state")],
        [alarm_annotation(SITE)],
    )


# --- room detail --------------------------------------------------------------------


def parameter_panel(
    index: int, parameter: str, measurement: str, title: str, unit: str, log: bool
) -> Panel:
    """Measured values per sensor, with the alert and action limits drawn as dashed steps.

    Limits come from the ``limits`` measurement, which envmon writes for
    every room and measured parameter (the limits in force for the room's
    current state) every ``alarms.limits_write_interval_s`` and on reload.
    """
    custom: dict[str, Any] = {"spanNulls": False}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    overrides = limit_line_overrides()
    return panel(
        "timeseries",
        title,
        (0 if index % 2 == 0 else 12, 6 + 8 * (index // 2), 12, 8),
        [
            target(
                "A",
                f'SELECT mean("{parameter}") FROM "{measurement}" '
                f'WHERE {ROOM} AND $timeFilter GROUP BY time($__interval), "sensor" fill(null)',
                alias="$tag_sensor",
            ),
            target(
                "B",
                'SELECT last("alert_high") AS "alert high limit", '
                'last("action_high") AS "action high limit", '
                'last("alert_low") AS "alert low limit", '
                'last("action_low") AS "action low limit" FROM "limits" '
                f"WHERE {ROOM} AND \"parameter\" = '{parameter}' "
                "AND $timeFilter GROUP BY time($__interval) fill(previous)",
                alias="$col",
            ),
        ],
        description=f"{parameter} in {unit}; dashed: alert (orange) and action (red) limits.",
        fieldConfig={"defaults": {"unit": unit, "custom": custom}, "overrides": overrides},
    )


def room_state_panel(title: str, grid: tuple[int, int, int, int]) -> Panel:
    """The chosen room's operating state over time (room and equipment dashboards)."""
    return panel(
        "state-timeline",
        title,
        grid,
        [
            target(
                "A",
                'SELECT last("state") FROM "room_state" '
                f"WHERE {ROOM} AND $timeFilter GROUP BY time($__interval) fill(previous)",
                alias="state",
            )
        ],
    )


def room() -> dict:
    state = room_state_panel("Room state", (0, 0, 12, 3))
    grade = panel(
        "stat",
        "Grade",
        (12, 0, 4, 3),
        [
            target(
                "A",
                'SELECT last("particles_0_5um") FROM "particles" '
                f'WHERE {ROOM} AND $timeFilter GROUP BY "grade"',
                "table",
            )
        ],
        options={"reduceOptions": {"fields": "/^grade$/", "calcs": ["lastNotNull"]}},
    )
    alarms = panel(
        "table",
        "Alarm transitions in range",
        (16, 0, 8, 6),
        [
            target(
                "A",
                'SELECT "parameter", "level", "state", "value", "limit", "alarm_id" FROM "alarm" '
                f"WHERE {ROOM} AND $timeFilter",
                "table",
            )
        ],
    )
    gaps = panel(
        "stat",
        "Samples in range per sensor",
        (0, 3, 16, 3),
        [
            target(
                "A",
                f'SELECT count("{parameter}") FROM "{measurement}" '
                f'WHERE {ROOM} AND $timeFilter GROUP BY "sensor"',
                alias="$tag_sensor",
            )
            for parameter, measurement in (
                ("particles_0_5um", "particles"),
                ("temperature", "climate"),
                ("diff_pressure", "pressure"),
            )
        ],
    )
    for i, t in enumerate(gaps["targets"]):
        t["refId"] = "ABC"[i]
    parameter_panels = [parameter_panel(i, *spec) for i, spec in enumerate(PARAMETERS)]
    return dashboard(
        "envmon-room",
        "envmon: room detail",
        [state, grade, alarms, gaps, *parameter_panels],
        [
            site_variable("particles"),
            query_variable(
                "room", f'SHOW TAG VALUES FROM "particles" WITH KEY = "room" WHERE {SITE}'
            ),
        ],
        [alarm_annotation(ROOM)],
    )


def limit_line_overrides() -> list[dict[str, Any]]:
    """Alert limit lines dashed orange, action limit lines dashed red."""
    dashed = {"dash": [10, 10], "fill": "dash"}
    return [
        {
            "matcher": {"id": "byRegexp", "options": f"^{level} (high|low) limit$"},
            "properties": [
                {"id": "custom.lineStyle", "value": dashed},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": colour}},
            ],
        }
        for level, colour in (("alert", "orange"), ("action", "red"))
    ]


# --- equipment detail ---------------------------------------------------------------


def equipment_parameter_panel() -> Panel:
    """One panel per parameter (repeated over $parameter): values per sensor, limit lines."""
    overrides = limit_line_overrides()
    return panel(
        "timeseries",
        "$parameter",
        (0, 9, 24, 8),
        [
            target(
                "A",
                'SELECT mean("$parameter") FROM "equipment" '
                f'WHERE {EQUIPMENT} AND $timeFilter GROUP BY time($__interval), "sensor" '
                "fill(null)",
                alias="$tag_sensor",
            ),
            target(
                "B",
                'SELECT last("alert_high") AS "alert high limit", '
                'last("action_high") AS "action high limit", '
                'last("alert_low") AS "alert low limit", '
                'last("action_low") AS "action low limit" FROM "limits" '
                f"WHERE {EQUIPMENT} AND \"parameter\" = '$parameter' "
                "AND $timeFilter GROUP BY time($__interval) fill(previous)",
                alias="$col",
            ),
        ],
        description=(
            "Judged readings per sensor (readings not judged are kept as <parameter>_raw); "
            "dashed: alert (orange) and action (red) limits of the equipment."
        ),
        repeat="parameter",
        repeatDirection="v",
        fieldConfig={"defaults": {"custom": {"spanNulls": False}}, "overrides": overrides},
    )


def equipment() -> dict:
    latest = panel(
        "table",
        "Equipment now (latest values)",
        (0, 0, 24, 6),
        [
            target(
                "A",
                f'SELECT last(*) FROM "equipment" WHERE {SITE} AND $timeFilter '
                'GROUP BY "room", "equipment"',
                "table",
            )
        ],
        description="Latest value of each parameter per equipment; status when not ok.",
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
    )
    state = room_state_panel("State of the equipment's room", (0, 6, 8, 3))
    statuses = panel(
        "stat",
        "Readings not judged / past calibration",
        (8, 6, 6, 3),
        [
            target(
                "A",
                'SELECT count("status") AS "not judged" FROM "equipment" '
                f"WHERE {EQUIPMENT} AND \"status\" != 'calibration_overdue' AND $timeFilter",
            ),
            target(
                "B",
                'SELECT count("status") AS "past calibration" FROM "equipment" '
                f"WHERE {EQUIPMENT} AND \"status\" = 'calibration_overdue' AND $timeFilter",
            ),
        ],
        description="Out of range, sensor faults, out of service; and readings judged after "
        "the sensor's calibration due date.",
    )
    alarms = panel(
        "table",
        "Alarm transitions in range",
        (14, 6, 10, 3),
        [
            target(
                "A",
                'SELECT "parameter", "level", "state", "value", "limit", "rule", "alarm_id" '
                f'FROM "alarm" WHERE {EQUIPMENT} AND $timeFilter',
                "table",
            )
        ],
        description="rule rate: value and limit are changes per minute.",
    )
    return dashboard(
        "envmon-equipment",
        "envmon: equipment",
        [latest, state, statuses, alarms, equipment_parameter_panel()],
        [
            site_variable("equipment"),
            query_variable(
                "equipment",
                f'SHOW TAG VALUES FROM "equipment" WITH KEY = "equipment" WHERE {SITE}',
            ),
            query_variable(
                "room",
                f'SHOW TAG VALUES FROM "equipment" WITH KEY = "room" WHERE {EQUIPMENT}',
                hide=2,
            ),
            query_variable(
                "parameter",
                'SHOW FIELD KEYS FROM "equipment"',
                multi=True,
                # Neither the status word nor the values of readings not judged.
                regex="/^(?!status$)(?!.*_raw$).+$/",
            ),
        ],
        [alarm_annotation(EQUIPMENT)],
    )


# --- envmon health ------------------------------------------------------------------

HEALTH_SERIES = [
    # (field, title, unit, aggregate)
    ("readings_per_s", "Readings per second", "reqps", "mean"),
    ("write_latency_ms", "InfluxDB write latency", "ms", "max"),
    ("spool_depth_lines", "Spool depth (readings waiting for InfluxDB)", "short", "max"),
    ("spool_fill_pct", "Spool fill", "percent", "max"),
    ("alarms_active", "Active alarms", "short", "max"),
]


def health() -> dict:
    where = f"WHERE {SITE} AND $timeFilter"
    stats = panel(
        "stat",
        "Now",
        (0, 0, 24, 4),
        [
            target(
                "A",
                'SELECT last("mqtt_connected") AS "MQTT connected", '
                'last("influx_healthy") AS "InfluxDB healthy", '
                'last("readings_per_s") AS "readings/s", '
                'last("spool_depth_lines") AS "spool lines", '
                f'last("alarms_active") AS "active alarms" FROM "envmon_stats" {where}',
                "table",
            )
        ],
        description="MQTT connected and InfluxDB healthy are 1 (yes) or 0 (no).",
    )
    series = [
        panel(
            "timeseries",
            title,
            (0 if i % 2 == 0 else 12, 4 + 7 * (i // 2), 12, 7),
            [
                target(
                    "A",
                    f'SELECT {aggregate}("{field}") FROM "envmon_stats" {where} '
                    "GROUP BY time($__interval) fill(null)",
                    alias=field,
                )
            ],
            fieldConfig={"defaults": {"unit": unit}, "overrides": []},
        )
        for i, (field, title, unit, aggregate) in enumerate(HEALTH_SERIES)
    ]
    connectivity = panel(
        "state-timeline",
        "Connections (1 = up)",
        (12, 18, 12, 7),
        [
            target(
                "A",
                'SELECT min("mqtt_connected") AS "MQTT", min("influx_healthy") AS "InfluxDB" '
                f'FROM "envmon_stats" {where} GROUP BY time($__interval) fill(null)',
            )
        ],
    )
    rejects = panel(
        "timeseries",
        "Rejected payloads per minute, by reason",
        (0, 25, 24, 7),
        [
            target(
                "A",
                'SELECT non_negative_derivative(last("rejects_total"), 1m) AS "all" '
                f'FROM "envmon_stats" {where} GROUP BY time($__interval) fill(null)',
            ),
            target(
                "B",
                f'SELECT last(/^rejects_/) FROM "envmon_stats" {where} '
                "GROUP BY time($__interval) fill(null)",
            ),
        ],
        description="A: rate of all rejects. B: running total per reason (rejects_<reason>).",
    )
    return dashboard(
        "envmon-health",
        "envmon: service health",
        [stats, *series, connectivity, rejects],
        [site_variable("envmon_stats")],
        [],
    )


def main() -> None:
    out = HERE / "dashboards"
    out.mkdir(exist_ok=True)
    boards = (("overview", overview), ("room", room), ("equipment", equipment), ("health", health))
    for name, build in boards:
        path = out / f"envmon-{name}.json"
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
