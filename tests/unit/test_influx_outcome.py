"""Sorting InfluxDB's HTTP answers into write outcomes, as Telegraf does."""

from __future__ import annotations

import pytest

from envmon.store.influx import Outcome, classify


class TestClassify:
    @pytest.mark.parametrize("status", [200, 204])
    def test_success(self, status: int) -> None:
        """2xx means every point is stored."""
        assert classify(status, "").outcome is Outcome.OK

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_throttling_and_server_errors_retry(self, status: int) -> None:
        """429 and 5xx are worth retrying later; the status is kept."""
        result = classify(status, "busy")
        assert (result.outcome, result.status) == (Outcome.RETRY, status)

    def test_too_large(self) -> None:
        """413 asks the caller to split the batch."""
        assert classify(413, "Request Entity Too Large").outcome is Outcome.TOO_LARGE

    @pytest.mark.parametrize("status", [401, 403, 404])
    def test_setup_errors_retry_so_nothing_is_dead_lettered(self, status: int) -> None:
        """Wrong credentials, bucket or URL spool the data until an operator fixes the set-up."""
        result = classify(status, "unauthorized")
        assert result.outcome is Outcome.RETRY
        assert "credentials" in result.reason

    def test_partial_write_is_rejected_with_the_servers_message(self) -> None:
        """InfluxDB 1.x's partial write is a REJECT carrying the JSON error text."""
        body = '{"error":"partial write: field type conflict: input field \\"v\\" ... dropped=1"}'
        result = classify(400, body)
        assert result.outcome is Outcome.REJECT
        assert result.reason.startswith("HTTP 400: partial write: field type conflict")

    def test_422_is_rejected(self) -> None:
        """InfluxDB 2.x's 422 (e.g. outside retention) is a REJECT."""
        assert classify(422, "unprocessable entity").outcome is Outcome.REJECT

    def test_long_messages_are_cut(self) -> None:
        """A huge error body does not end up whole in logs and dead letters."""
        assert len(classify(400, "x" * 100_000).reason) < 600
