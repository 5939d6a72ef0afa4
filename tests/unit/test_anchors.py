"""Anchors: the point written to InfluxDB, reading them back, and a journal checked against them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envmon.journal.anchors import (
    PAGE,
    Anchor,
    anchor_line,
    anchors_statement,
    check_anchors,
    fetch_anchors,
)
from envmon.journal.journal import Journal
from tests.support.journal_samples import T0, S, settings_load
from tests.support.tamper import edit_data, rehash_plain, truncate

H = {seq: f"{seq:02d}" * 32 for seq in range(1, 30)}


def stored(upto: int) -> Callable[[Sequence[int]], Mapping[int, str]]:
    """``hash_at`` of a journal holding entries 1..upto with hashes ``H``."""

    def hash_at(seqs: Sequence[int]) -> Mapping[int, str]:
        return {s: H[s] for s in seqs if s <= upto}

    return hash_at


def anchor(seq: int, minutes: int = 0, sha256: str | None = None) -> Anchor:
    return Anchor(ts_ns=T0 + minutes * 60 * S, seq=seq, sha256=sha256 or H[seq])


class TestAnchorLine:
    def test_line_has_the_contract_tag_and_fields(self) -> None:
        """measurement audit_anchor, tag site, integer seq and string sha256."""
        assert anchor_line("site1", 42, "ab" * 32, T0) == (
            f'audit_anchor,site=site1 seq=42i,sha256="{"ab" * 32}" {T0}'
        )

    def test_statement_pages_by_time_for_one_site(self) -> None:
        """Anchors are read for one site, oldest first, from after a time, a page at a time."""
        assert anchors_statement("site1", 5) == (
            'SELECT "seq", "sha256" FROM "audit_anchor" WHERE "site" = \'site1\' '
            f"AND time > 5 ORDER BY time LIMIT {PAGE}"
        )


class TestCheckAnchors:
    def test_a_journal_reaching_every_anchor_passes(self) -> None:
        """Every anchored seq exists with its anchored hash: no problem; the latest is named."""
        check = check_anchors([anchor(3), anchor(7, 5), anchor(7, 10)], 9, stored(9))
        assert check.problems == [] and check.anchors == 3
        assert check.latest == anchor(7, 10)

    def test_a_truncated_journal_fails(self) -> None:
        """Anchors beyond the trail's end mean its last entries were deleted."""
        check = check_anchors([anchor(3), anchor(9, 5)], 6, stored(6))
        [problem] = check.problems
        assert problem.startswith("the journal ends at seq 6, but InfluxDB anchored seq 9 at ")
        assert "entries 7..9 were deleted" in problem

    def test_a_rewritten_entry_fails(self) -> None:
        """An anchored seq whose stored hash differs was rewritten."""
        check = check_anchors([anchor(4, sha256="ff" * 32)], 9, stored(9))
        [problem] = check.problems
        assert problem.startswith(f"audit seq 4 has hash {H[4][:12]}, InfluxDB anchored ffffff")

    def test_two_hashes_for_one_seq_fail(self) -> None:
        """The same seq anchored with two hashes: the journal was rewritten between them."""
        anchors = [anchor(4), anchor(4, 5, sha256="ee" * 32)]
        check = check_anchors(anchors, 9, stored(9))
        assert any("two hashes for seq 4" in p for p in check.problems)

    def test_no_anchors_is_no_problem_and_no_latest(self) -> None:
        """Nothing anchored: nothing to compare (the caller says it is not verified)."""
        check = check_anchors([], 9, stored(9))
        assert (check.problems, check.latest, check.anchors) == ([], None, 0)


@dataclass(frozen=True)
class FakeSeries:
    rows: tuple[dict[str, object], ...]


class FakeInflux:
    """Answers anchor queries from a list of rows, ``PAGE`` at a time."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows
        self.statements: list[str] = []

    def query(self, statements: Sequence[str]) -> list[list[FakeSeries]]:
        [statement] = statements
        self.statements.append(statement)
        after = int(statement.split("time > ")[1].split(" ")[0])
        page = [r for r in self.rows if int(r["time"]) > after][:PAGE]  # type: ignore[call-overload]
        return [[FakeSeries(tuple(page))] if page else []]


class TestFetchAnchors:
    def test_every_page_is_read(self) -> None:
        """More anchors than one page are all read, in order, in several queries."""
        rows = [{"time": T0 + i, "seq": i + 1, "sha256": "ab" * 32} for i in range(PAGE + 5)]
        client = FakeInflux(rows)
        anchors = fetch_anchors(client, "site1")
        assert [a.seq for a in anchors] == list(range(1, PAGE + 6))
        assert len(client.statements) == 2

    def test_rows_that_are_not_anchors_are_skipped(self) -> None:
        """A row without a string sha256 or a number seq is not an anchor."""
        client = FakeInflux([{"time": T0, "seq": 1, "sha256": None}, {"time": T0 + 1, "seq": 2,
                             "sha256": "ab" * 32}])  # fmt: skip
        assert fetch_anchors(client, "site1") == [Anchor(T0 + 1, 2, "ab" * 32)]


class TestJournalAgainstAnchors:
    def setup_journal(self, path: Path, key: bytes | None = None) -> list[Anchor]:
        """Ten loads, anchored after the 4th and the 8th, as the service would."""
        anchors = []
        with Journal(path, key=key) as journal:
            for i in range(10):
                journal.configs.record(settings_load(f"/e/{i}.toml"))
                if i in (3, 7):
                    seq, sha256 = journal.head()
                    anchors.append(Anchor(T0 + i * S, seq, sha256))
        return anchors

    def check(self, path: Path, anchors: list[Anchor], key: bytes | None = None) -> list[str]:
        with Journal(path, readonly=True, key=key) as journal:
            result = journal.verify()
            return (
                result.problems + check_anchors(anchors, result.last_seq, journal.hashes).problems
            )

    def test_an_untouched_journal_passes(self, tmp_path: Path) -> None:
        """The journal the anchors were taken from agrees with them."""
        path = tmp_path / "journal.sqlite"
        anchors = self.setup_journal(path)
        assert self.check(path, anchors) == []

    def test_a_journal_whose_last_entries_were_deleted_fails(self, tmp_path: Path) -> None:
        """Deleting the last entries and fixing the head fools the chain, not the anchors."""
        path = tmp_path / "journal.sqlite"
        anchors = self.setup_journal(path)
        truncate(path, 6)
        with Journal(path, readonly=True) as journal:
            assert journal.verify().ok  # the file alone looks whole
        [problem] = self.check(path, anchors)
        assert "the journal ends at seq 6, but InfluxDB anchored seq 8" in problem

    def test_an_unkeyed_journal_rewritten_consistently_fails(self, tmp_path: Path) -> None:
        """Without a key a rewrite can be made consistent; the anchored hash shows it."""
        path = tmp_path / "journal.sqlite"
        anchors = self.setup_journal(path)
        edit_data(path, 2, settings_load("/e/forged.toml"))
        rehash_plain(path, 2)
        problems = self.check(path, anchors)
        assert [p.split(" has hash")[0] for p in problems] == ["audit seq 4", "audit seq 8"]
