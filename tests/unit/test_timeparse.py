"""Command-line times."""

from __future__ import annotations

import pytest

from envmon.errors import EnvmonError
from envmon.timeparse import parse_time

NOW = 1_795_000_000 * 10**9


class TestParseTime:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("now", NOW),
            ("-90s", NOW - 90 * 10**9),
            ("-2h", NOW - 7200 * 10**9),
            ("-1d", NOW - 86400 * 10**9),
            ("1795000000", NOW),
            ("1795000000.5", NOW + 5 * 10**8),
            ("2026-11-24T10:00:00Z", 1_795_514_400 * 10**9),
            ("2026-11-24T11:00:00+01:00", 1_795_514_400 * 10**9),
            ("2026-11-24T10:00:00.250Z", 1_795_514_400 * 10**9 + 250_000_000),
        ],
    )
    def test_accepted_forms(self, text: str, expected: int) -> None:
        """ISO 8601 with zone, epoch seconds, now and relative times become UTC ns."""
        assert parse_time(text, NOW, "--from") == expected

    @pytest.mark.parametrize(
        "text", ["2026-11-24T10:00:00", "yesterday", "-5w", "", "Infinity", "NaN"]
    )
    def test_rejected_forms_name_the_option(self, text: str) -> None:
        """A naive or meaningless time is refused naming the option."""
        with pytest.raises(EnvmonError, match="--to"):
            parse_time(text, NOW, "--to")
