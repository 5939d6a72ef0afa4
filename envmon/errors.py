"""Errors a user can cause, each carrying one clear message and no traceback."""

from __future__ import annotations

from pydantic import ValidationError


class EnvmonError(Exception):
    """Base of errors that the command line prints as one line and exits on."""


class ConfigError(EnvmonError):
    """A settings or facility file is wrong; the message names file and key."""


class ServiceUnavailable(EnvmonError):
    """A server (broker, database) cannot be reached; the message names it."""


def format_validation_error(where: str, exc: ValidationError) -> str:
    """One line per problem: ``file: key.path: reason``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{where}: {loc}: {msg}")
    return "\n".join(lines)
