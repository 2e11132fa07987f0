"""The funnel per track, and how leads flow between stages week by week.

Funnel: the journeys that entered a track in the period (their first step email on it went
out then), how many of them each of the track's steps reached, and how many then engaged,
were warm, were hot, were handed to sales, accepted, won. A journey counts in every track
it entered, and an outcome counts for a track when it came at or after the journey entered
it, so a funnel reads "of the leads this track took in, how many went on to ...".

Stage flow: per ISO week (Monday, UTC), the journeys' stage moves (`entered` for the stage
a journey started in) and how many journeys were in each stage at the week's end (a
journey that ended keeps its last stage). Both are SQL aggregates; Python only orders the
groups, fills weeks without moves and keeps the running stage counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Integer,
    and_,
    case,
    exists,
    func,
    null,
    or_,
    select,
    text,
    union_all,
)

from nurture.analytics.dialect import Dialect
from nurture.scenario.loader import valid_scenarios
from nurture.scenario.model import STAGES
from nurture.store.engine import Store
from nurture.store.models import Send, StageChange, Transition, utcnow

WENT_OUT = ("sent", "delivered", "opened", "clicked", "bounced")
NOT_STEPS = ("trigger", "sales")
OUTCOMES = ("engaged", "warm", "hot", "handed_off", "accepted", "won")
MAX_WEEKS = 520
DEFINITIONS: dict[str, str] = {
    "entered": "journeys whose first step email on the track went out in the period (a "
    "journey counts in every track it entered)",
    "steps": "of those, the journeys each step's email went out to before the period's end; "
    "drop_off is the share of the previous step's journeys the step did not reach (none "
    "when more reached it: journeys that entered the track past its first step)",
    "engaged": "a person opened or clicked one of the track's emails sent before the "
    "period's end (machine opens never count)",
    "warm": "the journey was warm or hot at some moment from entering the track on (hot: "
    "hot); stages are recorded from version record-stage-moves on",
    "handed_off": "moved to handed_off at or after entering the track; accepted: moved to "
    "sal (sales accepted or contacted the lead); won: moved to customer",
    "stage_flow": "per ISO week (Monday, UTC): stage moves by from → to (`entered`: the "
    "stage a journey started in) and the journeys in each stage at the week's end (a "
    "journey that ended keeps its last stage)",
}


class FunnelStep(BaseModel):
    step: str
    journeys: int
    drop_off: float | None  # of the previous step's journeys (the first: of entered)


class TrackFunnel(BaseModel):
    product: str
    track: str
    entered: int
    steps: list[FunnelStep]
    engaged: int
    warm: int
    hot: int
    handed_off: int
    accepted: int
    won: int


class StageWeek(BaseModel):
    week: date  # its Monday
    moves: dict[str, int]  # "cold → warm": count; "entered → cold" for starts
    in_stage: dict[str, int]  # journeys in each stage at the week's end


class ProductStageFlow(BaseModel):
    product: str
    weeks: list[StageWeek]


class FunnelReport(BaseModel):
    since: datetime | None
    until: datetime
    product: str | None
    tracks: list[TrackFunnel]
    stage_flow: list[ProductStageFlow]
    definitions: dict[str, str] = DEFINITIONS


def build_funnel_report(
    store: Store,
    scenarios_dir: Path,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> FunnelReport:
    until = until or utcnow()
    with store.session() as session:
        sql = Dialect.of(session)
        if sql.postgres:
            # PostgreSQL cannot estimate the join on a track cut out of the send key: it
            # expects a few thousand rows, gets every send, and sorts them all to count 20
            # groups. Hashing them is a third faster; nothing here needs an order.
            session.execute(text("SET LOCAL enable_sort = off"))
        # One statement over one cohort (a CTE the database computes once): the tracks'
        # outcome rows (step NULL) and their steps' rows (outcomes NULL), side by side.
        cohort = _cohort(sql, product, since, until)
        funnel = union_all(_outcomes(sql, cohort, until), _steps_reached(sql, cohort, until))
        rows = session.execute(funnel).all()
        moves = session.execute(_weekly_moves(sql, product, until)).all()
    order = _step_order(scenarios_dir)
    steps: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    outcomes = []
    for row_product, track, step, count, *flags in rows:
        if step is None:
            outcomes.append((row_product, track, count, flags))
        else:
            steps[(row_product, track)][step] = count
    tracks = [
        _track(row_product, track, entered, flags, steps[(row_product, track)], order)
        for row_product, track, entered, flags in sorted(outcomes)
    ]
    return FunnelReport(
        since=since,
        until=until,
        product=product,
        tracks=tracks,
        stage_flow=_stage_flow(moves, since, until),
    )


def _cohort(sql: Dialect, product: str | None, since: datetime | None, until: datetime) -> Any:
    """(product, track, journey, entered, engaged): each journey's first step email per
    track, for the journeys whose first one went out in the period, and whether a person
    read any of its emails on the track (the sends' rolled-up `ever_read`)."""
    track = sql.track(Send.send_key).label("track")
    entered = func.min(Send.journey_time)
    query = select(
        Send.product,
        track,
        Send.journey_id,
        entered.label("entered"),
        func.max(Send.ever_read).label("engaged"),
    ).where(Send.mail_type.notin_(NOT_STEPS), Send.status.in_(WENT_OUT), Send.journey_time < until)
    if product is not None:
        query = query.where(Send.product == product)
    query = query.group_by(Send.product, track, Send.journey_id)
    if since is not None:
        query = query.having(entered >= since)
    return query.cte("cohort")


def _outcomes(sql: Dialect, cohort: Any, until: datetime) -> Any:
    """Per (product, track): journeys entered, and how many reached each outcome."""

    def moved_to(*lifecycles: str) -> Any:
        return exists().where(
            Transition.journey_id == cohort.c.journey_id,
            Transition.to_lifecycle.in_(lifecycles),
            Transition.journey_time >= cohort.c.entered,
            Transition.journey_time < until,
        )

    def was(*stages: str) -> Any:
        stage_at_entry = (
            select(StageChange.to_stage)
            .where(
                StageChange.journey_id == cohort.c.journey_id,
                StageChange.journey_time < cohort.c.entered,
            )
            .order_by(StageChange.seq.desc())
            .limit(1)
            .correlate(cohort)
            .scalar_subquery()
        )
        later = exists().where(
            StageChange.journey_id == cohort.c.journey_id,
            StageChange.to_stage.in_(stages),
            StageChange.journey_time >= cohort.c.entered,
            StageChange.journey_time < until,
        )
        return or_(later, stage_at_entry.in_(stages))

    flags: dict[str, Any] = {
        "engaged": cohort.c.engaged == 1,
        "warm": was("warm", "hot"),
        "hot": was("hot"),
        "handed_off": moved_to("handed_off"),
        "accepted": moved_to("sal"),
        "won": moved_to("customer"),
    }

    def counted(flag: Any) -> Any:
        return func.sum(case((flag, 1), else_=0)).cast(Integer)

    return select(
        cohort.c.product,
        cohort.c.track,
        null().label("step"),
        func.count().label("journeys"),
        *(counted(flags[name]).label(name) for name in OUTCOMES),
    ).group_by(cohort.c.product, cohort.c.track)


def _steps_reached(sql: Dialect, cohort: Any, until: datetime) -> Any:
    """Per (product, track, step): the cohort's journeys that step's email went out to
    before the period's end. A plain count of their sends: a journey never gets a step of
    a track twice (re-entering a track starts at its first step not yet sent,
    `rules.first_unsent_step`), so no DISTINCT, which would sort every send."""
    step = sql.step(Send.send_key)
    return (
        select(
            cohort.c.product,
            cohort.c.track,
            step.label("step"),
            func.count().label("journeys"),
            *(null().label(name) for name in OUTCOMES),
        )
        .join(
            Send,
            and_(
                Send.journey_id == cohort.c.journey_id,
                sql.track(Send.send_key) == cohort.c.track,
                Send.mail_type.notin_(NOT_STEPS),
                Send.status.in_(WENT_OUT),
                Send.journey_time < until,
            ),
        )
        .group_by(cohort.c.product, cohort.c.track, step)
    )


def _weekly_moves(sql: Dialect, product: str | None, until: datetime) -> Any:
    """Stage moves per (product, week, from, to), from the first on: the stage counts at a
    week's end need every move before it."""
    week = sql.week(StageChange.journey_time)
    query = select(
        StageChange.product, week, StageChange.from_stage, StageChange.to_stage, func.count()
    ).where(StageChange.journey_time < until)
    if product is not None:
        query = query.where(StageChange.product == product)
    return query.group_by(StageChange.product, week, StageChange.from_stage, StageChange.to_stage)


def _step_order(scenarios_dir: Path) -> dict[tuple[str, str], list[str]]:
    """Each (product, track)'s steps in the scenario's order (its newest valid version)."""
    order: dict[tuple[str, str], list[str]] = {}
    for scenario in valid_scenarios(scenarios_dir):
        for name, track in scenario.tracks.items():
            order[(scenario.product, name)] = [step.key for step in track.steps]
    return order


def _track(
    product: str,
    track: str,
    entered: int,
    flags: list[int],
    reached: dict[str, int],
    order: dict[tuple[str, str], list[str]],
) -> TrackFunnel:
    known = order.get((product, track), [])
    names = known + sorted(set(reached) - set(known))
    steps, before = [], entered
    for name in names:
        count = reached.get(name, 0)
        # None: nothing to drop from, or journeys that entered the track past its first step
        drop = None if before == 0 or count > before else round(1 - count / before, 4)
        steps.append(FunnelStep(step=name, journeys=count, drop_off=drop))
        before = count
    return TrackFunnel(
        product=product,
        track=track,
        entered=entered,
        steps=steps,
        **{name: int(value or 0) for name, value in zip(OUTCOMES, flags, strict=True)},
    )


def _stage_flow(
    moves: Sequence[Any], since: datetime | None, until: datetime
) -> list[ProductStageFlow]:
    by_product: dict[str, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row_product, week_text, from_stage, to_stage, count in moves:
        key = f"{from_stage or 'entered'} → {to_stage}"
        counts = by_product[row_product][date.fromisoformat(str(week_text)[:10])]
        counts[key] = counts.get(key, 0) + count
    last = _monday(until - timedelta(microseconds=1))
    return [
        ProductStageFlow(product=name, weeks=_weeks(by_product[name], since, last))
        for name in sorted(by_product)
    ]


def _weeks(
    moves: dict[date, dict[str, int]], since: datetime | None, last: date
) -> list[StageWeek]:
    """Every week from the first shown to `last`, with the stage counts kept from the first
    move on (a week before the period still moves leads into its stages)."""
    first = min(moves)
    shown_from = max(first, _monday(since)) if since else first
    shown_from = max(shown_from, last - timedelta(weeks=MAX_WEEKS - 1))
    in_stage: dict[str, int] = dict.fromkeys(STAGES, 0)
    weeks, monday = [], first
    while monday <= last:
        for key, count in moves.get(monday, {}).items():
            source, _, target = key.partition(" → ")
            if source in in_stage:
                in_stage[source] -= count
            in_stage[target] = in_stage.get(target, 0) + count
        if monday >= shown_from:
            weekly = dict(moves.get(monday, {}))
            weeks.append(StageWeek(week=monday, moves=weekly, in_stage=dict(in_stage)))
        monday += timedelta(weeks=1)
    return weeks


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())
