"""The signing commands as real processes, with the default argon2id profile:
exit codes, lockout, --password-stdin, and no secret in any output."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from envmon.journal.journal import Journal
from tests.support.journal_samples import alarm, raised
from tests.support.signing import FACILITY, PASSWORD, SECRETS_LEAK_MARKERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "facility.toml").write_text(FACILITY)
    path = tmp_path / "envmon.toml"
    path.write_text(
        '[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n'
        "[security]\nmax_failed_attempts = 3\n"
    )
    return path


def envmon(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_signing_from_the_command_line(config: Path) -> None:
    """A user added with --password-stdin; a wrong password exits 2 and adds only the
    refusal; three failures lock the user out, the right password then exits 2 too;
    no password, hash or salt is in any output."""
    outputs: list[str] = []

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = envmon(config, *args, stdin=stdin)
        outputs.extend([result.stdout, result.stderr])
        return result

    added = run("user", "add", "jdoe", "--role", "engineer", "--full-name", "Jane Doe",
                "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    journal_path = config.parent / "state" / "journal.sqlite"
    journal = Journal(journal_path)
    journal.record_events([raised(alarm("a1"))])
    journal.close()

    def ack(password: str) -> subprocess.CompletedProcess[str]:
        return run("ack", "a1", "--user", "jdoe", "--comment", "door", "--password-stdin",
                   "--wait", "0.3", stdin=password + "\n")  # fmt: skip

    with sqlite3.connect(journal_path) as db:
        before = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    wrong = ack("not the password")
    assert wrong.returncode == 2
    assert wrong.stderr == "envmon: signature refused: user name or password is wrong\n"
    with sqlite3.connect(journal_path) as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM audit WHERE seq > ?", (before,))]
        assert kinds == ["signature_refused"]
        assert db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0

    assert ack("not the password").returncode == 2
    assert ack("not the password").returncode == 2
    locked = ack(PASSWORD)
    assert locked.returncode == 2 and "locked out until" in locked.stderr

    audit = run("audit")
    assert audit.returncode == 0 and "signature_refused" in audit.stdout
    assert run("audit", "--verify").returncode == 0
    assert run("user", "list", "--json").returncode == 0
    with sqlite3.connect(journal_path) as db:
        [stored] = [r[0] for r in db.execute("SELECT password_hash FROM credentials")]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's default profile
    salt, digest = stored.split("$")[-2:]
    text = "\n".join(outputs)
    leaks = [
        s
        for s in (PASSWORD, "not the password", stored, salt, digest, *SECRETS_LEAK_MARKERS)
        if s in text
    ]
    assert leaks == []
