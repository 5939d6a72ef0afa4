"""The facility the console shows: the one the service judges against.

The service journals each facility it loads as a ``config_load`` entry with the
file's text (``envmon.config_load``). The console shows the latest load's text,
parsed once per load, so its sensors, rooms, limits and parameter names are the
ones in force, not an edit on disk that the service has not loaded yet (or
refused). The file on disk is read to say that it differs, and is shown only
when the journal holds no load with its text; each case carries a one-sentence
notice for the pages.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from envmon.config_load import FACILITY, ConfigLoad, ConfigSource
from envmon.console.views import time_label
from envmon.errors import ConfigError
from envmon.facility import Facility, parse_facility
from envmon.facility.file import facility_sha256, read_facility_text
from envmon.journal.configs import Configs

_KEPT_PARSES = 2
"""Facilities kept parsed: the one in force and the file on disk."""


@dataclass(frozen=True, slots=True)
class Shown:
    """The facility the pages show, and what they must say about it ("": nothing)."""

    facility: Facility
    notice: str = ""


def loaded_label(load: ConfigLoad) -> str:
    """When the load was made and by whom, or what made it when nobody signed."""
    at = time_label(load.at_ns)
    if load.signature is not None:
        return f"loaded at {at} by {load.signature.full_name} ({load.signature.user})"
    if load.source == ConfigSource.SERVICE_START:
        return f"loaded at {at} when the service started"
    if load.source == ConfigSource.SIGHUP:
        return f"loaded at {at} on SIGHUP"
    return f"loaded at {at}"


def changed_notice(load: ConfigLoad) -> str:
    return (
        f"The facility file on disk has changed since it was {loaded_label(load)}; "
        "the pages show the facility in force until the service reloads it."
    )


def unreadable_notice(load: ConfigLoad, problem: str) -> str:
    return (
        f"The facility file on disk cannot be read ({problem}); "
        f"the pages show the facility in force, {loaded_label(load)}."
    )


def on_disk_notice(load: ConfigLoad | None) -> str:
    """Why the pages show the file on disk: nothing in force is known to differ from it."""
    if load is None:
        return (
            "The journal holds no facility load yet (the service has not run): the pages "
            "show the facility file as it is on disk, in force only once the service loads it."
        )
    return (
        f"The facility in force was {loaded_label(load)} but journaled without its text: "
        "the pages show the facility file as it is on disk, which has changed since."
    )


@dataclass(frozen=True, slots=True)
class _Disk:
    """The facility file as last read: its text and hash, or why it cannot be read."""

    stamp: tuple[int, int, int] | None
    text: str | None
    sha256: str | None
    problem: str = ""


class FacilityInForce:
    """The facility to show, from the journal's loads (``configs``) and the file at
    ``path``. Thread-safe; a load is parsed once, the file hashed once per change."""

    def __init__(self, configs: Configs, path: Path) -> None:
        self._configs = configs
        self._path = path
        self._lock = threading.Lock()
        self._load: ConfigLoad | None = None
        self._disk = _Disk(None, None, None)
        self._parsed: dict[tuple[str, Path], Facility | str] = {}
        self.last_good: Facility | None = None
        """The last facility shown, for a caller that must go on when one cannot be."""

    def shown(self) -> Shown:
        """The facility in force with its notice, else the file on disk with why;
        ``ConfigError`` if neither can be shown (``last_good`` may still help)."""
        with self._lock:
            load = self._latest_load()
            disk = self._read_disk()
            shown = self._choose(load, disk)
            self.last_good = shown.facility
            return shown

    def _choose(self, load: ConfigLoad | None, disk: _Disk) -> Shown:
        if load is not None and load.text is not None:
            facility = self._parse(
                load.text,
                load.sha256,
                Path(load.path) if load.path else self._path,
                _in_force_name(load),
            )
            if disk.sha256 == load.sha256:
                return Shown(facility)
            if disk.sha256 is None:
                return Shown(facility, unreadable_notice(load, disk.problem))
            return Shown(facility, changed_notice(load))
        if disk.text is None:
            raise ConfigError(disk.problem)
        facility = self._parse(disk.text, disk.sha256 or facility_sha256(disk.text), self._path)
        if load is not None and load.sha256 == disk.sha256:
            # Journaled without its text, but the file on disk is that text.
            return Shown(facility)
        return Shown(facility, on_disk_notice(load))

    def _latest_load(self) -> ConfigLoad | None:
        """The latest facility load, read again only when a newer one is journaled."""
        seq = self._configs.last_seq(FACILITY)
        if seq is None:
            self._load = None
        elif self._load is None or self._load.seq != seq:
            self._load = self._configs.last(FACILITY)
        return self._load

    def _read_disk(self) -> _Disk:
        """The file's text and hash, read again only when its stat changes."""
        try:
            st = os.stat(self._path)
        except OSError as exc:
            problem = f"{self._path}: cannot read facility file: {exc.strerror}"
            self._disk = _Disk(None, None, None, problem)
            return self._disk
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._disk.stamp:
            try:
                text = read_facility_text(self._path)
            except ConfigError as exc:
                self._disk = _Disk(stamp, None, None, str(exc))
            else:
                self._disk = _Disk(stamp, text, facility_sha256(text))
        return self._disk

    def _parse(self, text: str, sha256: str, path: Path, name: str = "") -> Facility:
        """``text`` parsed, kept by its ``sha256`` (known already: the load's, or the
        file's as read, so a page does not hash the text again), as is why it does not
        validate (said of ``name``, else of ``path`` alone)."""
        key = (sha256, path)
        parsed = self._parsed.get(key)
        if parsed is None:
            try:
                parsed = parse_facility(text, path)
            except ConfigError as exc:
                parsed = f"{name} does not validate: {exc}" if name else str(exc)
            if len(self._parsed) >= _KEPT_PARSES:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = parsed
        if isinstance(parsed, str):
            raise ConfigError(parsed)
        return parsed


def _in_force_name(load: ConfigLoad) -> str:
    return f"the facility in force (journal seq {load.seq})"
