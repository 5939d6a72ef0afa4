"""The signing commands in-process: users, signed acts, refusals, and no secret in any output."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.engine import AlarmEngine
from envmon.journal.journal import Journal
from tests.support.cli_run import Run
from tests.support.signing import (
    FACILITY,
    PASSWORD,
    SECRETS_LEAK_MARKERS,
    ServiceStandIn,
    facility,
    pressure,
)

pytestmark = pytest.mark.usefixtures("cheap")
S = 1_000_000_000


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "facility.toml").write_text(FACILITY)
    path = tmp_path / "envmon.toml"
    path.write_text('[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n')
    return path


@pytest.fixture
def run(config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Iterator[Run]:
    r = Run(config, monkeypatch, capsys)
    assert (
        r(
            "user",
            "add",
            "olga",
            "--role",
            "operator",
            "--full-name",
            "Olga Op",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )[0]
        == 0
    )
    assert (
        r(
            "user",
            "add",
            "jdoe",
            "--role",
            "engineer",
            "--full-name",
            "Jane Doe",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )[0]
        == 0
    )
    yield r


@pytest.fixture
def engine(config: Path, run: Run) -> AlarmEngine:
    """An engine with one open action alarm, journaled as the service would."""
    eng = AlarmEngine(facility(), start_ns=0)
    events = eng.on_reading(pressure(1_795_000_000 * S, 15.0))
    events += eng.on_reading(pressure(1_795_000_010 * S, 5.0))
    journal = Journal(config.parent / "state" / "journal.sqlite")
    journal.record_events(events)
    journal.close()
    return eng


def action_id(engine: AlarmEngine) -> str:
    return next(a.id for a in engine.open_alarms() if a.level.value == "action")


def journal_rows(config: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, for "nothing changed" checks."""
    with sqlite3.connect(config.parent / "state" / "journal.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}


def alarms_json(run: Run) -> dict[str, dict[str, Any]]:
    rc, out, _ = run("alarms", "--all", "--json")
    assert rc == 0
    return {a["id"]: a for a in json.loads(out)}


class TestUserCommands:
    def test_list_shows_users_and_never_a_hash(self, run: Run) -> None:
        """user list (text and JSON) names, roles and states users, without hashes."""
        rc, out, _ = run("user", "list")
        assert rc == 0 and "Jane Doe" in out and "engineer" in out and "active" in out
        rc, out, _ = run("user", "list", "--json")
        users = {u["name"]: u for u in json.loads(out)}
        assert users["olga"]["role"] == "operator" and users["olga"]["state"] == "active"
        assert set(users["jdoe"]) == {
            "name",
            "full_name",
            "role",
            "state",
            "disabled",
            "disabled_reason",
            "created_at",
            "password_set_at",
            "password_expires_at",
            "locked_until",
        }

    def test_weak_password_is_refused_and_nothing_added(self, run: Run) -> None:
        """A password shorter than the minimum adds nobody."""
        rc, _, err = run(
            "user",
            "add",
            "bob",
            "--role",
            "qa",
            "--full-name",
            "Bob",
            "--password-stdin",
            stdin="short\n",
        )
        assert rc == 1 and "at least 10 characters" in err
        assert "bob" not in run("user", "list")[1]

    def test_passwd_requires_a_new_password(self, run: Run) -> None:
        """user passwd refuses the current password and accepts a new one."""
        rc, _, err = run("user", "passwd", "jdoe", "--password-stdin", stdin=PASSWORD + "\n")
        assert rc == 1 and "must differ" in err
        rc, out, _ = run("user", "passwd", "jdoe", "--password-stdin", stdin="a fresh new secret\n")
        assert rc == 0 and "password of user jdoe changed" in out

    def test_disable_and_the_disabled_user_cannot_sign(self, run: Run, engine: AlarmEngine) -> None:
        """A disabled user is listed so and refused at signing (exit 2)."""
        assert run("user", "disable", "olga", "--reason", "left the company")[0] == 0
        assert "disabled: left the company" in run("user", "list")[1]
        rc, _, err = run.signed("ack", action_id(engine), user="olga")
        assert rc == 2 and err.strip() == "envmon: signature refused: user olga is disabled"

    def test_without_stdin_flag_and_terminal_it_says_how(
        self, run: Run, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no terminal to ask on, the command says to use --password-stdin."""
        monkeypatch.setattr("envmon.cli.signing_io.have_terminal", lambda: False)
        rc, _, err = run("user", "add", "zed", "--role", "qa", "--full-name", "Zed")
        assert rc == 1 and "--password-stdin" in err

    def test_terminal_asks_twice(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        """On a terminal the new password is asked twice; a mismatch changes nothing."""
        answers = iter(["first password here", "second password here"])
        monkeypatch.setattr("envmon.cli.signing_io.have_terminal", lambda: True)
        monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
        rc, _, err = run("user", "add", "zed", "--role", "qa", "--full-name", "Zed")
        assert rc == 1 and "differ" in err


class TestSignedActs:
    def test_wrong_password_exits_2_and_changes_nothing_but_the_refusal(
        self, run: Run, engine: AlarmEngine, config: Path
    ) -> None:
        """A wrong password: exit 2, one line, only a failed-attempt entry is added."""
        before = journal_rows(config)
        rc, out, err = run.signed("ack", action_id(engine), password="not my password")
        assert (rc, out) == (2, "")
        assert err == "envmon: signature refused: user name or password is wrong\n"
        after = journal_rows(config)
        changed = {t for t in after if after[t] != before[t]}
        assert changed == {"audit", "chain_head", "failed_signatures"}
        assert len(after["audit"]) == len(before["audit"]) + 1
        assert after["audit"][-1][2] == "signature_refused"

    def test_five_failures_lock_out_and_the_right_password_is_refused(
        self, run: Run, engine: AlarmEngine
    ) -> None:
        """After five wrong passwords the right one is refused too (exit 2, locked out)."""
        alarm_id = action_id(engine)
        for _ in range(5):
            assert run.signed("ack", alarm_id, password="not my password")[0] == 2
        rc, _, err = run.signed("ack", alarm_id)
        assert rc == 2 and "locked out until" in err
        listed = {u["name"]: u for u in json.loads(run("user", "list", "--json")[1])}
        assert listed["jdoe"]["state"] == "locked_out"

    def test_no_service_exits_3_with_the_request_queued(
        self, run: Run, engine: AlarmEngine
    ) -> None:
        """Without a running service the signed request stays queued: exit 3."""
        rc, _, err = run(
            "ack",
            action_id(engine),
            "--user",
            "jdoe",
            "--comment",
            "c",
            "--password-stdin",
            "--wait",
            "0.2",
            stdin=PASSWORD + "\n",
        )
        assert rc == 3 and "signed and queued" in err

    def test_ack_applied_shows_the_signature(
        self, run: Run, engine: AlarmEngine, config: Path
    ) -> None:
        """An applied ack prints the signature; alarms JSON and table carry it."""
        alarm_id = action_id(engine)
        with ServiceStandIn(config.parent / "state" / "journal.sqlite", engine):
            rc, out, err = run.signed("ack", alarm_id, user="olga")
        assert rc == 0, err
        assert out.startswith(f"alarm {alarm_id} acknowledged: signed by Olga Op (olga, operator)")
        a = alarms_json(run)[alarm_id]
        assert a["state"] == "active_acked" and a["acked_by"] == "olga"
        assert a["signatures"][0]["full_name"] == "Olga Op"
        assert a["acked_at"] == a["signatures"][0]["signed_at"]
        table = run("alarms")[1]
        assert f"Olga Op {a['acked_at']} (acknowledged)" in table

    def test_operator_cannot_shelve_engineer_can_then_unshelve(
        self, run: Run, engine: AlarmEngine, config: Path
    ) -> None:
        """An operator's shelve is refused (exit 2); an engineer's shelves and unshelves."""
        alarm_id = action_id(engine)
        rc, _, err = run.signed("shelve", alarm_id, "--for", "2h", user="olga")
        assert rc == 2 and "role operator, which may not shelve alarms" in err
        with ServiceStandIn(config.parent / "state" / "journal.sqlite", engine):
            rc, _out, err = run.signed("shelve", alarm_id, "--for", "2h")
            assert rc == 0, err
            a = alarms_json(run)[alarm_id]
            assert a["state"] == "shelved" and a["shelved_until"] is not None
            rc, _, err = run.signed("unshelve", alarm_id)
            assert rc == 0, err
        a = alarms_json(run)[alarm_id]
        assert a["state"] == "active_unacked" and a["shelved_until"] is None
        assert [s["meaning"] for s in a["signatures"]] == ["shelved", "returned to service"]

    def test_shelving_beyond_the_maximum_is_refused_before_the_password(
        self, run: Run, engine: AlarmEngine
    ) -> None:
        """--for beyond [alarms] max_shelve_s is refused without reading a password."""
        rc, _, err = run.signed("shelve", action_id(engine), "--for", "9h")
        assert rc == 1 and "max_shelve_s" in err

    def test_out_of_service_and_back(self, run: Run, engine: AlarmEngine, config: Path) -> None:
        """out-of-service then in-service, applied, leave one closed period in the journal."""
        with ServiceStandIn(config.parent / "state" / "journal.sqlite", engine):
            rc, _out, err = run.signed("out-of-service", "DP-FILL-1", "--until", "+4h")
            assert rc == 0, err
            assert run.signed("out-of-service", "DP-FILL-1")[0] == 1  # already out
            rc, _, err = run.signed("in-service", "DP-FILL-1")
            assert rc == 0, err
        journal = Journal(config.parent / "state" / "journal.sqlite", readonly=True)
        [period] = journal.requests.service_periods()
        journal.close()
        assert period.returned_ns is not None and period.signature.meaning == "out of service"

    def test_room_state_is_journaled_with_the_signer(
        self, run: Run, engine: AlarmEngine, config: Path
    ) -> None:
        """A signed room-state change is journaled with source user:<name>."""
        with ServiceStandIn(config.parent / "state" / "journal.sqlite", engine):
            rc, _, err = run.signed("room-state", "BG-B", "in_operation")
        assert rc == 0, err
        assert engine.room_state("BG-B", time.time_ns()).value == "in_operation"
        rows = journal_rows(config)["room_states"]
        assert [(r[2], r[3], r[4]) for r in rows] == [("BG-B", "in_operation", "user:jdoe")]

    def test_unknown_meaning_and_sensor_are_usage_errors(
        self, run: Run, engine: AlarmEngine
    ) -> None:
        """A meaning not listed, or a sensor not in the facility, is exit 1 and no attempt."""
        rc, _, err = run.signed("ack", action_id(engine), "--meaning", "agreed")
        assert rc == 1 and "not in [signatures] meanings" in err
        rc, _, err = run.signed("out-of-service", "NOPE")
        assert rc == 1 and "no sensor 'NOPE'" in err

    def test_no_secret_in_any_output(
        self, run: Run, engine: AlarmEngine, config: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No password, hash or salt appears in command output, logs or the audit trail."""
        caplog.set_level(logging.DEBUG)
        alarm_id = action_id(engine)
        run.signed("ack", alarm_id, password="wrong secret 123")
        with ServiceStandIn(config.parent / "state" / "journal.sqlite", engine):
            run.signed("ack", alarm_id)
        run("user", "passwd", "olga", "--password-stdin", stdin="another secret 456\n")
        run("user", "list")
        run("user", "list", "--json")
        run("alarms", "--all", "--json")
        run("audit")
        assert run("audit", "--verify", "--chain-only")[0] == 0
        with sqlite3.connect(config.parent / "state" / "journal.sqlite") as db:
            hashes = [r[0] for r in db.execute("SELECT password_hash FROM credentials")]
        secrets = [PASSWORD, "wrong secret 123", "another secret 456", *SECRETS_LEAK_MARKERS]
        secrets += hashes + [h.split("$")[-2] for h in hashes] + [h.split("$")[-1] for h in hashes]
        text = "\n".join(run.outputs) + "\n" + caplog.text
        assert [s for s in secrets if s in text] == []
