"""Running ``envmon`` in-process, as the command-line tests do."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from envmon.cli import main
from tests.support.signing import PASSWORD


class Run:
    """Runs ``envmon`` in-process, feeding stdin, keeping every output for the leak check."""

    def __init__(self, config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
        self.config = config
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        self.outputs: list[str] = []

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        self._monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        rc = main([*args, "--config", str(self.config)])
        captured = self._capsys.readouterr()
        self.outputs += [captured.out, captured.err]
        return rc, captured.out, captured.err

    def signed(
        self, *args: str, user: str = "jdoe", password: str = PASSWORD
    ) -> tuple[int, str, str]:
        return self(
            *args,
            "--user",
            user,
            "--comment",
            "checked on the floor",
            "--password-stdin",
            "--wait",
            "3",
            stdin=password + "\n",
        )
