"""Anchors: the journal's chain head, written to InfluxDB, against which a journal is checked.

The service writes ``audit_anchor,site=<site> seq=<n>i,sha256="<hash>"``
every ``[storage] anchor_interval_s`` and when it stops. A journal is then
compared with every anchor of its site: the trail must reach each anchored
seq, with the anchored hash there. So deleting the last entries (and
rewriting the chain head to match) is detected, as is rewriting anchored
entries, which someone who can write the journal file but not InfluxDB
cannot hide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from envmon.readings import isoformat_ns
from envmon.report.influxql import quote_string
from envmon.store.lineproto import line

MEASUREMENT: Final = "audit_anchor"
PAGE: Final = 10_000


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain head (``seq``, ``sha256``) as it was at ``ts_ns``."""

    ts_ns: int
    seq: int
    sha256: str


def anchor_line(site: str, seq: int, sha256: str, ts_ns: int) -> str:
    """``audit_anchor,site=… seq=…i,sha256="…" <ts>``."""
    return line(MEASUREMENT, {"site": site}, {"seq": seq, "sha256": sha256}, ts_ns)


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """The journal against its anchors: ``problems`` are evidence of tampering."""

    anchors: int
    problems: list[str] = field(default_factory=list)
    latest: Anchor | None = None


def check_anchors(
    anchors: Sequence[Anchor], last_seq: int, hash_at: Callable[[Sequence[int]], Mapping[int, str]]
) -> AnchorCheck:
    """Compare anchors with a journal whose trail ends at ``last_seq``;
    ``hash_at`` gives the stored hash of each requested seq that exists."""
    problems: list[str] = []
    by_seq: dict[int, Anchor] = {}
    for anchor in anchors:
        if anchor.seq <= 0:
            continue
        kept = by_seq.get(anchor.seq)
        if kept is not None and kept.sha256 != anchor.sha256:
            problems.append(
                f"InfluxDB holds two hashes for seq {anchor.seq} ({kept.sha256[:12]} at "
                f"{isoformat_ns(kept.ts_ns)}, {anchor.sha256[:12]} at "
                f"{isoformat_ns(anchor.ts_ns)}): the journal was rewritten between them"
            )
        by_seq.setdefault(anchor.seq, anchor)
    latest = max(anchors, key=lambda a: (a.seq, a.ts_ns), default=None)
    beyond = [a for a in by_seq.values() if a.seq > last_seq]
    if beyond:
        top = max(beyond, key=lambda a: a.seq)
        problems.append(
            f"the journal ends at seq {last_seq}, but InfluxDB anchored seq {top.seq} at "
            f"{isoformat_ns(top.ts_ns)}: entries {last_seq + 1}..{top.seq} were deleted "
            "(journal truncated or replaced)"
        )
    within = sorted(seq for seq in by_seq if seq <= last_seq)
    stored = hash_at(within)
    mismatched = [seq for seq in within if stored.get(seq) != by_seq[seq].sha256]
    for seq in mismatched[:10]:
        anchor = by_seq[seq]
        have = stored.get(seq)
        what = "is missing" if have is None else f"has hash {have[:12]}"
        problems.append(
            f"audit seq {seq} {what}, InfluxDB anchored {anchor.sha256[:12]} at "
            f"{isoformat_ns(anchor.ts_ns)}: the journal was rewritten"
        )
    if len(mismatched) > 10:
        problems.append(f"... and {len(mismatched) - 10} more anchored entries differ")
    return AnchorCheck(anchors=len(anchors), problems=problems, latest=latest)


class Series(Protocol):
    @property
    def rows(self) -> Sequence[Mapping[str, object]]: ...


class Query(Protocol):
    def query(self, statements: Sequence[str]) -> Sequence[Sequence[Series]]: ...


def anchors_statement(site: str, after_ns: int, limit: int = PAGE) -> str:
    return (
        f'SELECT "seq", "sha256" FROM "{MEASUREMENT}" WHERE "site" = {quote_string(site)} '
        f"AND time > {after_ns} ORDER BY time LIMIT {limit}"
    )


def fetch_anchors(client: Query, site: str) -> list[Anchor]:
    """Every anchor of ``site``, oldest first, a page at a time (servers cap rows
    per answer); raises what the client raises (``ServiceUnavailable``...)."""
    out: list[Anchor] = []
    after_ns = -(2**62)
    while True:
        [series] = client.query([anchors_statement(site, after_ns)])
        rows = [row for s in series for row in s.rows]
        for row in rows:
            seq, sha256, ts = row.get("seq"), row.get("sha256"), row.get("time")
            if isinstance(seq, int | float) and isinstance(sha256, str) and isinstance(ts, int):
                out.append(Anchor(ts_ns=ts, seq=int(seq), sha256=sha256))
        if len(rows) < PAGE:
            return out
        last = rows[-1].get("time")
        if not isinstance(last, int):
            return out
        after_ns = last
