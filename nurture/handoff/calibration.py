"""Which hand-off threshold would have given sales the precision it needs, at a volume it can
follow up.

When fewer than ~3 in 10 handed-over leads become deals, salespeople stop
following marketing's leads up; a small team wants fewer, better leads. So for each candidate
threshold (every distinct score hand-offs were made at) we replay the hand-offs that would
have passed it: their precision (won / decided) and their volume (hand-offs per day). The
recommendation is the LOWEST threshold that meets the target precision, within the daily
capacity when one is set, and judged on at least `min_decided` decided hand-offs.

Selection bias, stated wherever the result is shown: only leads that were handed off have
outcomes, so thresholds below the lowest hand-off score cannot be judged at all, and a
lead handed off at 72 might have reached 80 a week later under a higher threshold; the table
is what these hand-offs would have been at the moment they were made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from nurture.handoff.outcomes import HandoffOutcome

# Below 20 decided hand-offs a 30% precision is ±20 points (95%): too noisy to move a
# threshold on. The same floor applies to each threshold's row.
MIN_DECIDED = 20
_EPSILON = 1e-9  # 93 / 310 is exactly 30%, whatever binary floating point says

CalibrationStatus = Literal["recommended", "too_little_data", "target_not_met", "over_capacity"]


class ThresholdRow(BaseModel):
    """The hand-offs that would have passed `score ≥ threshold`."""

    threshold: int
    handoffs: int
    per_day: float
    decided: int
    won: int
    precision: float | None
    enough_data: bool
    meets_target: bool
    within_capacity: bool


class Calibration(BaseModel):
    status: CalibrationStatus
    recommended_threshold: int | None
    message: str
    min_decided: int
    lowest_judged_score: int | None
    """Thresholds below this cannot be judged: no lead was handed off there."""
    rows: list[ThresholdRow]


def threshold_rows(
    outcomes: Sequence[HandoffOutcome],
    *,
    days: int,
    target: float,
    capacity: int | None,
    min_decided: int = MIN_DECIDED,
) -> list[ThresholdRow]:
    """One row per distinct hand-off score, ascending. Volume counts open hand-offs too
    (sales follows them up as well); precision counts only decided ones."""
    at_score: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # hand-offs, decided, won
    for o in outcomes:
        tally = at_score[o.score]
        tally[0] += 1
        tally[1] += o.decided
        tally[2] += o.outcome == "won"
    rows = []
    passed = decided = won = 0
    for threshold in sorted(at_score, reverse=True):  # running totals from the top score down
        here, here_decided, here_won = at_score[threshold]
        passed, decided, won = passed + here, decided + here_decided, won + here_won
        precision = won / decided if decided else None
        per_day = passed / days
        rows.append(
            ThresholdRow(
                threshold=threshold,
                handoffs=passed,
                per_day=round(per_day, 3),
                decided=decided,
                won=won,
                precision=precision,
                enough_data=decided >= min_decided,
                meets_target=precision is not None and precision >= target - _EPSILON,
                within_capacity=capacity is None or per_day <= capacity + _EPSILON,
            )
        )
    return rows[::-1]


def calibrate(
    outcomes: Sequence[HandoffOutcome],
    *,
    days: int,
    target: float,
    capacity: int | None,
    current_threshold: int | None,
    min_decided: int = MIN_DECIDED,
) -> Calibration:
    """Recommend a hand-off threshold from delivered hand-offs, or say why none can be."""
    rows = threshold_rows(
        outcomes, days=days, target=target, capacity=capacity, min_decided=min_decided
    )
    lowest = rows[0].threshold if rows else None
    decided = sum(o.decided for o in outcomes)

    def done(status: CalibrationStatus, message: str, threshold: int | None = None) -> Calibration:
        return Calibration(
            status=status,
            recommended_threshold=threshold,
            message=message,
            min_decided=min_decided,
            lowest_judged_score=lowest,
            rows=rows,
        )

    if decided < min_decided:
        open_ = sum(o.outcome == "open" for o in outcomes)
        return done(
            "too_little_data",
            f"too little data: {decided} decided hand-off(s) ({open_} still open); at least "
            f"{min_decided} are needed before a threshold can be recommended",
        )
    judged = [r for r in rows if r.enough_data]
    meeting = [r for r in judged if r.meets_target]
    if not meeting:
        best = max(judged, key=lambda r: (r.precision or 0.0, -r.threshold))
        return done(
            "target_not_met",
            f"no threshold reaches the target precision of {target:.0%} on at least "
            f"{min_decided} decided hand-offs; the best is score ≥ {best.threshold} at "
            f"{best.precision or 0:.0%} ({best.won}/{best.decided}): better leads need a "
            "better scenario (fit, buying signals), not only a higher threshold",
        )
    fitting = [r for r in meeting if r.within_capacity]
    if not fitting:
        low = meeting[0]
        return done(
            "over_capacity",
            f"score ≥ {low.threshold} meets the target ({low.precision or 0:.0%} ≥ "
            f"{target:.0%}) but brings {low.per_day:.1f} hand-offs/day, over the daily "
            f"capacity of {capacity}; "
            f"the thresholds within capacity have fewer than {min_decided} decided hand-offs "
            "or miss the target",
        )
    pick = fitting[0]
    message = (
        f"hand off from score {pick.threshold}: precision {pick.precision or 0:.0%} "
        f"({pick.won}/{pick.decided} decided), {pick.per_day:.1f} hand-offs/day"
    )
    if capacity is not None and pick is not meeting[0]:
        message += f" (score ≥ {meeting[0].threshold} meets the target but exceeds {capacity}/day)"
    at_floor = pick.threshold == lowest
    if current_threshold is not None:
        if pick.threshold > current_threshold and not at_floor:
            verb = "raise"
        elif pick.threshold < current_threshold:
            verb = "lower"
        else:
            verb = "keep"  # at the floor, a higher threshold would not have changed a thing
        message += f"; {verb} the scenario's threshold (now {current_threshold})"
    if at_floor:
        message += f"; scores below {lowest} were never handed off and cannot be judged"
    return done("recommended", message, pick.threshold)
