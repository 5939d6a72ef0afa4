"""The record of one electronic signature, as alarms and requests carry it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envmon.readings import isoformat_ns


@dataclass(frozen=True, slots=True)
class Signature:
    """Who signed, as whom, meaning what, and when they signed.

    ``signed_ns`` is when the person signed (the password was checked), not
    when the service applied the act. ``os_user`` and ``client`` (the terminal,
    or the console's remote address) say where from.
    """

    user: str
    full_name: str
    role: str
    meaning: str
    comment: str
    signed_ns: int
    os_user: str = ""
    client: str = ""

    def to_json(self) -> dict[str, Any]:
        """The contract object of the alarm JSON (design.md section 8)."""
        return {**self._signer(), "signed_at": isoformat_ns(self.signed_ns)}

    def to_record(self) -> dict[str, Any]:
        """Lossless, for the journal."""
        return {
            **self._signer(),
            "signed_ns": self.signed_ns,
            "os_user": self.os_user,
            "client": self.client,
        }

    def _signer(self) -> dict[str, Any]:
        """Who signed, meaning what and why: what both forms show first."""
        return {
            "user": self.user,
            "full_name": self.full_name,
            "role": self.role,
            "meaning": self.meaning,
            "comment": self.comment,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Signature:
        return cls(
            user=record["user"],
            full_name=record["full_name"],
            role=record["role"],
            meaning=record["meaning"],
            comment=record["comment"],
            signed_ns=record["signed_ns"],
            os_user=record.get("os_user", ""),
            client=record.get("client", ""),
        )
