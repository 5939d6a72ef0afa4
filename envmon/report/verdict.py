"""The one-line verdict per room or piece of equipment that a QA reviewer signs against."""

from __future__ import annotations

from collections.abc import Sequence

from envmon.alarms.events import Alarm, Level
from envmon.facility import Room
from envmon.report.text import duration_text
from envmon.report.values import DataGap, ExcursionRow, ParameterSummary, Verdict


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def verdict(
    room: Room | None,
    parameters: tuple[ParameterSummary, ...],
    excursions: list[ExcursionRow],
    gaps: list[DataGap],
    alarms: Sequence[Alarm] = (),
    unsigned_changes: int = 0,
) -> Verdict:
    """One line a QA reviewer can sign against, for a room, or for a piece of
    equipment (``room`` None: no grade, so a gap calls for review).

    Any action excursion means the room was not in control (Annex 1 action
    limit); so does a data gap in Grade A, which Annex 1 §9.17 requires to be
    monitored without interruption. Alert excursions (rate excursions
    included), unacknowledged alarms, missing samples, readings not judged
    (faulted) or from sensors past their calibration, and gaps elsewhere call
    for review; so do sensor fault (out-of-range included) and communication-loss
    alarms among ``alarms``, sensors out of service, and configuration changes
    in the window that nobody signed (``unsigned_changes``).
    """
    grade_a = room is not None and room.grade == "A"
    action = [r for r in excursions if r.excursion.level is Level.ACTION]
    alert = [r for r in excursions if r.excursion.level is Level.ALERT]
    action_unacked = sum(not r.acknowledged for r in action)
    alert_unacked = sum(not r.acknowledged for r in alert)
    known = [p.completeness_pct for p in parameters if p.completeness_pct is not None]
    completeness = min(known) if known else None
    completeness_text = (
        f"completeness {completeness:.1f} %" if completeness is not None else "no sensors"
    )

    findings: list[str] = []
    if action:
        if action_unacked == len(action):
            findings.append(f"{_plural(len(action), 'action excursion')} unacknowledged")
        elif action_unacked:
            findings.append(
                f"{_plural(len(action), 'action excursion')} ({action_unacked} unacknowledged)"
            )
        else:
            findings.append(f"{_plural(len(action), 'action excursion')} (acknowledged)")
    grade_a_gap = grade_a and bool(gaps)
    if grade_a_gap:
        findings.append(f"Grade A monitoring interrupted: {_plural(len(gaps), 'data gap')}")
    if action or grade_a_gap:
        rest = _review_findings(alert, alert_unacked, [], completeness, completeness_text)
        rest += _status_findings(parameters, alarms, unsigned_changes)
        return Verdict("not_in_control", "NOT IN CONTROL: " + "; ".join(findings + rest))

    review = _review_findings(alert, alert_unacked, gaps, completeness, completeness_text)
    review += _status_findings(parameters, alarms, unsigned_changes)
    if review:
        return Verdict("review", "Review: no action excursions; " + "; ".join(review))
    return Verdict("in_control", f"In control: no action excursions, {completeness_text}")


def _review_findings(
    alert: list[ExcursionRow],
    alert_unacked: int,
    gaps: list[DataGap],
    completeness: float | None,
    completeness_text: str,
) -> list[str]:
    findings = []
    if alert:
        suffix = f" ({alert_unacked} unacknowledged)" if alert_unacked else ""
        findings.append(_plural(len(alert), "alert excursion") + suffix)
    if completeness is None or completeness < 100.0:
        findings.append(completeness_text)
    if gaps:
        findings.append(_plural(len(gaps), "data gap"))
    return findings


def _status_findings(
    parameters: tuple[ParameterSummary, ...], alarms: Sequence[Alarm], unsigned_changes: int
) -> list[str]:
    """Readings not judged, readings from sensors past their calibration, sensor alarms,
    sensors out of service, unsigned configuration changes."""
    faulted = max((p.faulted_samples for p in parameters), default=0)
    uncalibrated = max((p.uncalibrated_samples for p in parameters), default=0)
    findings = []
    if faulted:
        findings.append(f"{_plural(faulted, 'faulted reading')} not judged")
    if uncalibrated:
        findings.append(f"{_plural(uncalibrated, 'reading')} past calibration due date")
    faults = sum(a.level is Level.FAULT for a in alarms)
    if faults:
        findings.append(_plural(faults, "sensor fault alarm"))
    silent = sum(a.level is Level.COMM_LOSS for a in alarms)
    if silent:
        findings.append(_plural(silent, "communication-loss alarm"))
    out_of_service = max((p.out_of_service_s for p in parameters), default=0.0)
    if out_of_service:
        findings.append(f"sensor out of service {duration_text(out_of_service)}")
    if unsigned_changes:
        findings.append(_plural(unsigned_changes, "unsigned configuration change"))
    return findings
