"""The long fuzz run: ``python -m tests.fuzz.run --payloads 100000``.

Splits the payload count over the targets by weight, drives each with
Hypothesis (generation only; shrinking on failure), counts every call and
prints per-target accept/reject counts, the total and the time. Exit code 1
on the first falsified property (Hypothesis prints the failing input).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.fuzz.targets import Target, targets


def run_target(target: Target, n: int, seed_value: int) -> tuple[Counter[str], float]:
    outcomes: Counter[str] = Counter()

    @seed(seed_value)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(target.strategy)
    def fuzz(args: Any) -> None:
        outcomes[target.check(args)] += 1

    t0 = time.monotonic()
    fuzz()
    return outcomes, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=100_000, help="total generated inputs")
    parser.add_argument("--seed", type=int, default=6, help="Hypothesis seed (reproducible)")
    args = parser.parse_args(argv)
    all_targets = targets()
    total_weight = sum(t.weight for t in all_targets)
    grand = 0
    t0 = time.monotonic()
    for target in all_targets:
        n = max(1, round(args.payloads * target.weight / total_weight))
        try:
            outcomes, elapsed = run_target(target, n, args.seed)
        except Exception as exc:
            print(f"FAILED {target.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise
        done = sum(outcomes.values())
        grand += done
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"{target.name:<52} {done:>7} inputs in {elapsed:6.1f} s  ({detail})")
    elapsed = time.monotonic() - t0
    print(
        f"total: {grand} generated inputs fuzzed in {elapsed:.1f} s ({grand / elapsed:.0f}/s); "
        "0 crashes, 0 bad values accepted"
    )
    return 0 if grand >= args.payloads * 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
