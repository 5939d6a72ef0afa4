"""Each sensor's calibration over the report window (``envmon.calibration``), pure."""

from __future__ import annotations

from envmon.calibration import overdue_spans, state_of
from envmon.report.values import ReportInputs, SensorCalibration


def sensor_calibrations(inputs: ReportInputs) -> tuple[SensorCalibration, ...]:
    """Per sensor of the report, by room and id: the calibration in force at the
    window's end, the spans it was overdue, and its readings counted as uncalibrated."""
    records = inputs.calibration_records
    out = []
    for sensor in sorted(inputs.sensors, key=lambda s: (s.room, s.id)):
        state = state_of(sensor, records, inputs.to_ns - 1)
        uncalibrated = {
            c.parameter: c.samples for c in inputs.uncalibrated if c.sensor == sensor.id
        }
        out.append(
            SensorCalibration(
                sensor=sensor.id,
                room=sensor.room,
                equipment=sensor.equipment,
                due=state.due,
                certificate=state.certificate,
                source=state.source,
                state=state.status.value,
                overdue=tuple(overdue_spans(sensor, records, inputs.from_ns, inputs.to_ns)),
                # A reading counts once however many of its parameters it carries.
                uncalibrated_samples=max(uncalibrated.values(), default=0),
            )
        )
    return tuple(out)
