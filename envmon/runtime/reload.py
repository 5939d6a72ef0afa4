"""Loading the facility and settings files, and journaling every load (design.md section 10).

Each load is journaled with who or what caused it and its key-by-key
difference from the previous load (``envmon.config_load``):

- at service start, the settings and the facility, ``unsigned`` (source
  ``service start``): a file edited while the service was down shows here,
  unless a reload signed meanwhile is exactly this load (then it is that
  signed reload, applied at start);
- on a bare SIGHUP, the facility, ``unsigned`` (source ``SIGHUP``);
- on a signed ``envmon reload``, the facility, with the signature. The
  command signed the file's SHA-256 and its difference from the load the
  service is running (``prepare_reload``); the service prepares the same
  again and applies it only if both are still what was signed: the file
  unchanged, still valid, and the same difference. Otherwise the request is
  refused with the reason, and nothing changes.

A load is validated completely (every limit resolved, schedules parsed)
before it is journaled, and journaled before it is applied.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import envmon
from envmon.alarms.schedule import validate_schedules
from envmon.config_diff import flatten_settings
from envmon.config_load import (
    FACILITY,
    SETTINGS,
    Compared,
    ConfigLoad,
    ConfigSource,
    LoadBy,
    changes_json,
    compare_facility,
    compare_settings,
    facility_load_data,
    settings_load_data,
)
from envmon.errors import ConfigError, EnvmonError
from envmon.facility import Facility, parse_facility
from envmon.journal.journal import Journal
from envmon.journal.requests import SignedRequest
from envmon.limits_snapshot import LimitsSnapshot, snapshot_of
from envmon.settings import Settings
from envmon.signing.rules import Act

log = logging.getLogger("envmon.service")


def read_facility(path: Path) -> tuple[Facility, str]:
    """The facility file validated, and its text (whose SHA-256 is ``facility.sha256``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read facility file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None
    return parse_facility(text, path), text


@dataclass(frozen=True, slots=True)
class PreparedLoad:
    """A facility file read, validated completely, and compared with the last load."""

    facility: Facility
    text: str | None
    """The file's text; None when not known (it changed between loading and journaling)."""
    limits: LimitsSnapshot
    previous: ConfigLoad | None
    compared: Compared

    def reload_params(self) -> dict[str, Any]:
        """What a signed reload signs: the file, its hash, and the difference."""
        previous = self.previous
        return {
            "path": str(self.facility.path),
            "sha256": self.facility.sha256,
            "base_sha256": previous.sha256 if previous is not None else None,
            "base_seq": previous.seq if previous is not None else None,
            "changes": _changes_param(self.compared),
        }


def prepare_reload(journal: Journal, path: Path) -> PreparedLoad:
    """Read and validate ``path`` and compare it with the journal's last facility
    load; raises ``ConfigError`` naming the file and key."""
    facility, text = read_facility(path)
    validate_schedules(facility)
    limits = snapshot_of(facility)
    previous = journal.configs.last(FACILITY)
    return PreparedLoad(
        facility, text, limits, previous, compare_facility(previous, facility, limits)
    )


def _changes_param(compared: Compared) -> list[dict[str, Any]] | None:
    return None if compared.changes is None else changes_json(compared.changes)


def signed_mismatch(request_params: Mapping[str, Any], prepared: PreparedLoad) -> str | None:
    """Why what the service would load now is not what was signed, or None."""
    facility = prepared.facility
    if request_params.get("sha256") != facility.sha256:
        return (
            f"{facility.path} changed since the reload was signed (sha256 now "
            f"{facility.sha256[:12]}, signed {str(request_params.get('sha256'))[:12]}): sign again"
        )
    if request_params.get("changes") != _changes_param(prepared.compared):
        running = prepared.previous.sha256[:12] if prepared.previous is not None else "none"
        return (
            "the running facility changed since the reload was signed (running sha256 "
            f"{running}, signed against {str(request_params.get('base_sha256'))[:12]}): "
            "the difference is no longer the signed one: sign again"
        )
    return None


class Reloader:
    """The service's loads: at start, on SIGHUP and on signed requests.

    ``apply`` puts a validated facility in force (ingest, alarm worker,
    schedules); it is called only after the load is journaled.
    """

    def __init__(
        self, journal: Journal, facility: Facility, apply: Callable[[Facility], None]
    ) -> None:
        self._journal = journal
        self.facility = facility
        self._apply = apply

    def record_start(self, settings: Settings, facility_text: str | None) -> None:
        """Journal the settings and the facility the service starts with."""
        self.record_settings(settings)
        self.record_facility(facility_text)

    def record_settings(self, settings: Settings) -> None:
        """Journal the settings at start, unsigned, with their difference."""
        by = LoadBy(ConfigSource.SERVICE_START)
        flat = flatten_settings(settings)
        previous = self._journal.configs.last(SETTINGS)
        compared = compare_settings(previous, flat)
        path = str(settings.config_path or "")
        self._journal.configs.record(
            settings_load_data(path, settings.config_sha256, flat, compared, by, envmon.__version__)
        )
        _log_changes("settings", path, compared, "unsigned (service start)")

    def record_facility(self, facility_text: str | None) -> None:
        """Journal the facility at start with its difference (``facility_text``: the
        file's text as loaded; None when not known). Unsigned, unless a reload
        signed while the service was down is exactly this load: then it is that
        reload, applied now."""
        facility = self.facility
        text = facility_text
        if text is not None and hashlib.sha256(text.encode()).hexdigest() != facility.sha256:
            text = None
        limits = snapshot_of(facility)
        previous = self._journal.configs.last(FACILITY)
        compared = compare_facility(previous, facility, limits)
        prepared = PreparedLoad(facility, text, limits, previous, compared)
        request = self._signed_for(prepared)
        if request is None:
            self._record_facility(prepared, LoadBy(ConfigSource.SERVICE_START))
            _log_changes("facility", str(facility.path or ""), compared, "unsigned (service start)")
            return
        self._record_facility(prepared, _signed_by(request), finish_request=request.id)
        signature = request.signature
        how = f"signed by {signature.user} before the start: {signature.comment}"
        _log_changes("facility", str(facility.path or ""), compared, how)

    def _signed_for(self, prepared: PreparedLoad) -> SignedRequest | None:
        """The pending signed reload that is exactly ``prepared`` (the newest), if any."""
        path = str(prepared.facility.path)
        matching = [
            request
            for request in self._journal.requests.pending([Act.RELOAD.value])
            if request.params.get("path") == path
            and signed_mismatch(request.params, prepared) is None
        ]
        return matching[-1] if matching else None

    def reload_unsigned(self) -> bool:
        """SIGHUP: load the facility file again; keep the running one if it is wrong."""
        path = self.facility.path
        if path is None:
            log.error("facility reload refused: the facility was not loaded from a file")
            return False
        try:
            prepared = prepare_reload(self._journal, path)
        except EnvmonError as exc:
            log.error("facility reload refused, keeping the running facility: %s", exc)
            return False
        self._record_facility(prepared, LoadBy(ConfigSource.SIGHUP))
        self._put_in_force(prepared.facility, "unsigned (SIGHUP)", prepared.compared)
        return True

    def reload_signed(self, request: SignedRequest) -> None:
        """A signed ``envmon reload``: applied only if it is still what was signed."""
        if self._journal.requests.outcome(request.id) is not None:
            return  # queued twice while it waited
        try:
            prepared = self._prepare_signed(request)
        except EnvmonError as exc:
            self._journal.requests.finish(request.id, f"refused: {exc}")
            log.error("signed reload %d by %s refused: %s", request.id, request.signature.user, exc)
            return
        self._record_facility(prepared, _signed_by(request), finish_request=request.id)
        signature = request.signature
        self._put_in_force(
            prepared.facility,
            f"signed by {signature.user} ({signature.meaning}): {signature.comment}",
            prepared.compared,
        )

    def _prepare_signed(self, request: SignedRequest) -> PreparedLoad:
        path = self.facility.path
        if path is None:
            raise EnvmonError("the running facility was not loaded from a file")
        if request.params.get("path") != str(path):
            raise EnvmonError(
                f"the reload was signed for {request.params.get('path')}, the service runs {path}"
            )
        try:
            prepared = prepare_reload(self._journal, path)
        except ConfigError as exc:
            raise EnvmonError(f"{path} no longer validates: {exc}") from None
        mismatch = signed_mismatch(request.params, prepared)
        if mismatch is not None:
            raise EnvmonError(mismatch)
        return prepared

    def _record_facility(
        self, prepared: PreparedLoad, by: LoadBy, finish_request: int | None = None
    ) -> None:
        data = facility_load_data(
            prepared.facility,
            prepared.text,
            prepared.limits,
            prepared.previous,
            prepared.compared,
            by,
            envmon.__version__,
        )
        self._journal.configs.record(data, finish_request=finish_request)

    def _put_in_force(self, facility: Facility, how: str, compared: Compared) -> None:
        self._apply(facility)
        self.facility = facility
        _log_changes("facility", str(facility.path), compared, how)
        log.info(
            "facility reloaded from %s (sha256 %s): %d rooms, %d sensors",
            facility.path,
            facility.sha256[:12],
            len(facility.rooms),
            len(facility.sensors),
        )


def _signed_by(request: SignedRequest) -> LoadBy:
    """A load caused by the signed reload ``request``."""
    return LoadBy(ConfigSource.SIGNED_RELOAD, request.signature, request.signature_seq, request.id)


def _log_changes(what: str, path: str, compared: Compared, how: str) -> None:
    if compared.changes is None:
        log.info("%s %s loaded, %s: %s", what, path, how, compared.note)
    elif compared.changes:
        log.warning(
            "%s %s loaded with %d changes, %s: %s",
            what,
            path,
            len(compared.changes),
            how,
            "; ".join(f"{c.key}: {c.old!r} -> {c.new!r}" for c in compared.changes[:20]),
        )
