"""scripts/demo.sh end to end: servers, envmon, simulator, and a report with an excursion."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
class TestDemoScript:
    def test_demo_ends_with_a_report_listing_an_excursion_and_stops_everything(
        self, tmp_path: Path
    ) -> None:
        """A 40 s demo writes a PDF and a JSON report with a cleanroom and an incubator
        excursion, and leaves no process."""
        run_dir = tmp_path / "demo"
        env = dict(os.environ, DEMO_SKIP_INSTALL="1", DEMO_SECONDS="40", DEMO_DIR=str(run_dir))
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "demo.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        report = json.loads((run_dir / "report.json").read_text())
        assert any(e["room"] == "FILL-A" for e in report["excursions"])
        assert any(
            e["equipment"] == "INC-01" and e["parameter"] == "co2" for e in report["excursions"]
        )
        assert [e["equipment"] for e in report["equipment"]][:2] == ["BSC-01", "FRG-01"]
        # The window is the one simulated: no sensor seems silent at its end.
        assert [g for g in report["data_gaps"] if g["end"] == report["to"]] == []
        assert (run_dir / "report.pdf").read_bytes().startswith(b"%PDF")
        assert "[alarm]" in result.stdout  # alarms were shown as they arrived
        assert "web console: http://127.0.0.1:" in result.stdout
        assert "(user demo-engineer, password demo-" in result.stdout
        assert not (run_dir / "pids").exists()
        leftovers = subprocess.run(
            ["pgrep", "-f", str(run_dir)], capture_output=True, text=True
        ).stdout.split()
        assert leftovers == []

    def test_demo_refuses_to_wipe_a_directory_it_did_not_make(self, tmp_path: Path) -> None:
        """DEMO_DIR pointing at a non-empty foreign directory is refused and left intact."""
        (tmp_path / "precious.txt").write_text("keep me")
        env = dict(os.environ, DEMO_SKIP_INSTALL="1", DEMO_DIR=str(tmp_path))
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "demo.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "refusing to wipe" in result.stderr
        assert (tmp_path / "precious.txt").read_text() == "keep me"
