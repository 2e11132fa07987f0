"""Which variant of a step has won its A/B test, for journeys whose scenario promotes winners.

The answer is an activity's result, so it is recorded in the journey's history: a replay
sends the variant the journey chose then, whatever the test says today. The verdict is the
A/B report's (nurture/analytics/ab_report.py), over all the product's sends so far, cached
for a few minutes per product: every send of a popular step asks.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity

from nurture.analytics.ab_report import AbReport, build_ab_report
from nurture.store.engine import Store

CACHE_SECONDS = 300


class AbWinnerInput(BaseModel):
    product: str
    track: str
    step: str


class AbWinnerResult(BaseModel):
    variant: int | None  # 0 for A, 1 for B, ...; None while no arm has won
    why: str


class AbActivities:
    def __init__(self, scenarios_dir: Path, store: Store) -> None:
        self.scenarios_dir = scenarios_dir
        self.store = store
        self._reports: dict[str, tuple[float, AbReport]] = {}
        self._lock = threading.Lock()

    @activity.defn(name="ab_winner")
    def ab_winner(self, input: AbWinnerInput) -> AbWinnerResult:
        report = self._report(input.product)
        for test in report.tests:
            if (test.track, test.step) == (input.track, input.step):
                if test.verdict == "winner" and test.leader is not None:
                    return AbWinnerResult(variant=ord(test.leader) - ord("A"), why=test.why)
                return AbWinnerResult(variant=None, why=f"{test.verdict}: {test.why}")
        return AbWinnerResult(variant=None, why="no test yet: one variant sent, or none")

    def _report(self, product: str) -> AbReport:
        with self._lock:
            cached = self._reports.get(product)
            if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
        report = build_ab_report(self.store, self.scenarios_dir, product=product)
        with self._lock:
            self._reports[product] = (time.monotonic(), report)
        return report
