"""``envmon reload``, ``batch start|end``, ``batches`` and ``report --batch``, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.engine import AlarmEngine
from envmon.batches import Batch, BatchBy
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal
from envmon.journal.requests import SignedRequest
from envmon.report.command import batch_scope
from tests.support.cli_run import Run
from tests.support.journal_samples import T0, S
from tests.support.signing import FACILITY, ServiceStandIn, add_user, facility

pytestmark = pytest.mark.usefixtures("cheap")

EDITED = FACILITY.replace("alert_low = 12.0", "alert_low = 13.0")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "facility.toml").write_text(FACILITY)
    path = tmp_path / "envmon.toml"
    path.write_text('[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n')
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    for name, role in (("olga", "operator"), ("jdoe", "engineer"), ("quinn", "qa")):
        add_user(journal, name, role)
    journal.close()
    return path


@pytest.fixture
def run(config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Run:
    return Run(config, monkeypatch, capsys)


def journal_of(config: Path) -> Journal:
    return Journal(config.parent / "state" / "journal.sqlite", readonly=True)


class Service:
    """The service's part: applies signed requests and reloads while the block runs."""

    def __init__(self, config: Path, before_reload: Any = None) -> None:
        self._stand_in = ServiceStandIn(
            config.parent / "state" / "journal.sqlite",
            AlarmEngine(facility(), start_ns=0),
            facility_path=config.parent / "facility.toml",
            before_reload=before_reload or (lambda request: None),
        )

    def __enter__(self) -> Service:
        self._stand_in.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stand_in.__exit__(*exc)


@pytest.fixture
def service(config: Path) -> Iterator[Service]:
    with Service(config) as s:
        yield s


def reload(run: Run, user: str = "jdoe", password: str | None = None) -> tuple[int, str, str]:
    from tests.support.signing import PASSWORD

    return run("reload", "--user", user, "--reason", "tighter DP alert after the audit",
               "--password-stdin", "--wait", "3", stdin=(password or PASSWORD) + "\n")  # fmt: skip


class TestReload:
    def test_a_signed_reload_shows_and_journals_the_difference(
        self, run: Run, config: Path, service: Service
    ) -> None:
        """The command shows each key, signs, and the service journals who, why and what."""
        (config.parent / "facility.toml").write_text(EDITED)
        rc, out, err = reload(run)
        assert rc == 0, err
        assert "facility.rooms.FILL-A.limits.diff_pressure.alert_low: 12.0 -> 13.0" in err
        assert "reloaded" in out and "signed by Jdoe Example (jdoe, engineer)" in out
        with journal_of(config) as journal:
            load = journal.configs.last("facility")
        assert load is not None and load.signature is not None
        assert (load.signature.user, load.reason) == ("jdoe", "tighter DP alert after the audit")
        assert load.changes is not None
        assert {c.key for c in load.changes} >= {
            "facility.rooms.FILL-A.limits.diff_pressure.alert_low"
        }

    def test_a_wrong_password_is_refused(self, run: Run, config: Path, service: Service) -> None:
        """Exit 2, the usual one line, and no load journaled."""
        (config.parent / "facility.toml").write_text(EDITED)
        rc, _, err = reload(run, password="not the password")
        assert rc == 2
        assert err.endswith("\nenvmon: signature refused: user name or password is wrong\n")
        with journal_of(config) as journal:
            assert journal.requests.pending() == []
            last = journal.configs.last("facility")
        assert last is not None and last.source == "service start"

    def test_an_operator_may_not_reload(self, run: Run, config: Path, service: Service) -> None:
        """An operator's reload is refused for the role: exit 2."""
        (config.parent / "facility.toml").write_text(EDITED)
        rc, _, err = reload(run, user="olga")
        assert rc == 2 and "role operator, which may not reload the configuration" in err

    def test_a_file_changed_after_signing_is_refused_by_the_service(
        self, run: Run, config: Path
    ) -> None:
        """The file edited again between signing and applying: exit 1 with the reason."""
        path = config.parent / "facility.toml"

        def edit_again(request: SignedRequest) -> None:
            path.write_text(EDITED.replace("13.0", "14.0"))

        with Service(config, before_reload=edit_again):
            path.write_text(EDITED)
            rc, _, err = reload(run)
        assert rc == 1
        assert "reload: the service refused: refused: " in err
        assert "changed since the reload was signed" in err
        with journal_of(config) as journal:
            last = journal.configs.last("facility")
        assert last is not None and last.source == "service start"

    def test_an_unchanged_file_is_not_signed(
        self, run: Run, config: Path, service: Service
    ) -> None:
        """Nothing to reload: exit 1 before any password is asked."""
        rc, _, err = reload(run)
        assert rc == 1 and "is unchanged since the service loaded it" in err

    def test_an_invalid_file_is_not_signed(self, run: Run, config: Path, service: Service) -> None:
        """A file that does not validate: exit 1 naming the file, nothing signed."""
        (config.parent / "facility.toml").write_text(FACILITY.replace('grade = "A"', "grade = 1"))
        rc, _, err = reload(run)
        assert rc == 1 and "facility.toml" in err
        with journal_of(config) as journal:
            assert [e.kind for e in journal.audit_entries()].count("signature") == 0


def batch(run: Run, *args: str, user: str = "jdoe") -> tuple[int, str, str]:
    from tests.support.signing import PASSWORD

    return run("batch", *args, "--user", user, "--comment", "line clearance done",
               "--password-stdin", "--wait", "3", stdin=PASSWORD + "\n")  # fmt: skip


class TestBatchCommands:
    def test_start_end_and_list(self, run: Run, config: Path, service: Service) -> None:
        """A batch started and ended by signature is listed with who did each and how."""
        rc, out, err = batch(run, "start", "B-001", "--rooms", "FILL-A,BG-B", "--at", "-2h",
                             "--product", "CAR-T lot 7")  # fmt: skip
        assert rc == 0, err
        assert "batch B-001 started in FILL-A, BG-B: signed by Jdoe Example" in out
        rc, _, err = batch(run, "end", "B-001", user="quinn")
        assert rc == 0, err
        rc, out, _ = run("batches", "--json")
        [listed] = json.loads(out)
        assert (listed["id"], listed["product"], listed["rooms"]) == (
            "B-001",
            "CAR-T lot 7",
            ["FILL-A", "BG-B"],
        )
        assert listed["started_by"]["user"] == "jdoe" and listed["started_by"]["how"] == "signed"
        assert listed["ended_by"]["user"] == "quinn" and listed["ended_by"]["role"] == "qa"
        assert listed["end"] is not None
        rc, out, _ = run("batches")
        assert rc == 0 and "B-001" in out and "jdoe (signed)" in out and "quinn (signed)" in out

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("start", "B-2", "--rooms", "FILL-A,NOPE"), "NOPE is not a room of the facility"),
            (("start", "B-2", "--rooms", ","), "a batch needs at least one room"),
            (("start", "B 2", "--rooms", "FILL-A"), "1 to 64 characters"),
            (("start", "B-2", "--rooms", "FILL-A", "--at", "+1h"), "is in the future"),
            (("end", "B-404"), "no batch B-404"),
        ],
    )
    def test_rules_refuse_with_one_line_before_the_password(
        self, run: Run, args: tuple[str, ...], message: str
    ) -> None:
        """Each rule is one clear line, exit 1, and no signature attempted."""
        rc, _, err = batch(run, *args)
        assert rc == 1 and message in err and err.count("\n") == 1

    def test_an_id_is_unique_and_a_batch_ends_once_after_its_start(
        self, run: Run, service: Service
    ) -> None:
        """Start twice, end before the start, end twice: each refused with its reason."""
        assert batch(run, "start", "B-3", "--rooms", "FILL-A", "--at", "-1h")[0] == 0
        rc, _, err = batch(run, "start", "B-3", "--rooms", "FILL-A")
        assert rc == 1 and "exists already" in err
        rc, _, err = batch(run, "end", "B-3", "--at", "-2h")
        assert rc == 1 and "is not after its start" in err
        assert batch(run, "end", "B-3")[0] == 0
        rc, _, err = batch(run, "end", "B-3")
        assert rc == 1 and "ended already" in err

    def test_an_operator_may_not_start_a_batch(self, run: Run, service: Service) -> None:
        """Batches are for engineers, QA and admins: exit 2 for an operator."""
        rc, _, err = batch(run, "start", "B-4", "--rooms", "FILL-A", user="olga")
        assert rc == 2 and "may not start or end batches" in err

    def test_an_empty_registry(self, run: Run) -> None:
        """No batches: the table says so and the JSON is an empty list."""
        assert run("batches")[1] == "no batches\n"
        assert json.loads(run("batches", "--json")[1]) == []


class TestBatchScope:
    mes = BatchBy.mqtt("fac/site1/batch")
    ended = Batch("B-1", "", ("FILL-A", "BG-B"), T0, mes, T0 + 3600 * S, mes)

    def test_the_batch_alone_gives_window_and_rooms(self) -> None:
        """--batch alone: the batch's start, end and rooms."""
        scope = batch_scope("B-1", self.ended, None, None, None, T0 + 9999 * S)
        assert (scope.from_ns, scope.to_ns, scope.rooms, scope.notes) == (
            T0,
            T0 + 3600 * S,
            ["FILL-A", "BG-B"],
            (),
        )

    def test_options_override_the_batch(self) -> None:
        """--from, --to and --room win over the registry."""
        scope = batch_scope("B-1", self.ended, T0 + S, T0 + 2 * S, ["FILL-A"], T0)
        assert (scope.from_ns, scope.to_ns, scope.rooms) == (T0 + S, T0 + 2 * S, ["FILL-A"])

    def test_a_running_batch_runs_to_now_with_a_note(self) -> None:
        """A batch not yet ended: the report runs to now and says so."""
        running = Batch("B-2", "", ("FILL-A",), T0, self.mes)
        scope = batch_scope("B-2", running, None, None, None, T0 + 60 * S)
        assert scope.to_ns == T0 + 60 * S and "has not ended" in scope.notes[0]

    def test_an_unknown_batch_needs_a_window(self) -> None:
        """Not in the registry: --from and --to are needed; with them it is a label, noted."""
        with pytest.raises(EnvmonError, match="no batch 'B-9' in the registry"):
            batch_scope("B-9", None, None, T0, None, T0)
        scope = batch_scope("B-9", None, T0, T0 + S, None, T0)
        assert "not in the registry" in scope.notes[0]
        with pytest.raises(EnvmonError, match="give --from and --to, or --batch ID"):
            batch_scope(None, None, T0, None, None, T0)
