"""Running a simulation: the real journeys, a day at a time, on a time-skipping server.

Each simulated day the run reads the throwaway store for what the journeys did (emails
sent, sends deferred by the weekly cap, hand-offs), then gives each journey what its
persona does that day: scripted and weekly behaviour, opens and clicks of the emails it
got, a bounce, an unsubscribe, sales feedback. Events go straight to the journeys as the
API's relay would send them.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import SalesFeedback, Unsubscribe
from nurture.journey.search_attributes import NEXT_TOUCH
from nurture.leads.events import EMAIL_BOUNCE, EMAIL_CLICK, EMAIL_OPEN, BehaviorEvent
from nurture.scenario.attribute_checks import declared_attributes
from nurture.scenario.model import Scenario
from nurture.simulation.personas import BOUNCE, PAGE, UNSUBSCRIBE, Action, Feedback, Persona
from nurture.simulation.results import ItemKind
from nurture.store.engine import ConsentIn, LeadIn, Store
from nurture.store.models import Send, Transition

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
READ_AFTER = timedelta(hours=2)  # when a persona opens an email it got
# A persona acts at an odd moment of its day (10:00-11:00 for a 09:00 start, to the
# millisecond): journeys wake at round times (the send window's opening, whole days
# after a send), and Temporal's time-skipping server loses a journey whose timer fires
# at the very moment a signal arrives (it refuses the task that cancels that timer).
ACT_AFTER = timedelta(hours=1)
BOUNCE_AFTER = timedelta(minutes=1)  # the receiving server refuses at once


ODD = timedelta(minutes=7, seconds=13, milliseconds=517)  # off every round time


def _jitter(rng: random.Random) -> timedelta:
    return timedelta(milliseconds=rng.randrange(1, 3_600_000))


CONSENT = ConsentIn(basis="opt_in_form", wording="simulation")


@dataclass
class SimulatedLead:
    """One lead of the population, and what its persona has still to do."""

    index: int
    persona: Persona
    lead_id: str
    handle: WorkflowHandle[object, object]
    rng: random.Random
    plan: list[tuple[datetime, Action]]  # what it will do, and when
    done: list[tuple[datetime, ItemKind, str]] = field(default_factory=list)  # what it did
    bounces_from: datetime | None = None
    handed_off_at: datetime | None = None
    feedback: list[tuple[datetime, Feedback]] = field(default_factory=list)
    weeks_drawn: int = 0  # weeks whose `weekly` behaviour is in the plan
    next_touch: datetime | None = None  # its next email, as its journey last said
    events: int = 0  # signalled so far: numbers each event id
    ended: bool = False  # its journey is closed: nothing it does is heard any more


@dataclass
class Observed:
    """What the run saw the journeys do, read from the store."""

    sends: list[Send] = field(default_factory=list)
    deferrals: set[tuple[str, datetime | None]] = field(default_factory=set)
    seen_sends: set[str] = field(default_factory=set)
    seen_handoffs: set[int] = field(default_factory=set)
    watermark: datetime | None = None  # the last look


@dataclass
class Run:
    scenario: Scenario
    store: Store
    started_at: datetime
    ended_at: datetime
    seed: int
    leads: list[SimulatedLead]
    observed: Observed
    client: Client


def population(personas: list[Persona], leads: int | None, seed: int) -> list[Persona]:
    """One lead per persona, or `leads` drawn by the personas' weights (seeded)."""
    if not leads:
        return list(personas)
    rng = random.Random(seed)
    weights = [p.weight for p in personas]
    drawn = list(personas) if leads >= len(personas) else []
    drawn += rng.choices(personas, weights=weights, k=leads - len(drawn))
    return drawn


def first_monday_morning(now: datetime, scenario: Scenario) -> datetime:
    """The next Monday 09:00 in the scenario's timezone: every run starts alike."""
    zone = ZoneInfo(scenario.send_window.timezone if scenario.send_window else "UTC")
    local = now.astimezone(zone)
    monday = (local + timedelta(days=(7 - local.weekday()) % 7 or 7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return monday


def month_end(start: datetime, months: int) -> datetime:
    year, month = divmod(start.month - 1 + months, 12)
    day = min(start.day, 28)
    return start.replace(year=start.year + year, month=month + 1, day=day)


async def drive(
    env: WorkflowEnvironment,
    settings: Settings,
    scenario: Scenario,
    store: Store,
    personas: list[Persona],
    *,
    months: int,
    seed: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> Run:
    """Start a journey per persona on the next Monday morning and live `months` of days."""
    now = await env.get_current_time()
    start = first_monday_morning(now, scenario)
    await env.sleep(start - now)
    end = month_end(start, months) + ODD
    run = Run(scenario, store, start, end, seed, [], Observed(), env.client)
    await _start_leads(run, settings, personas)
    await _live(env, run, on_progress)
    return run


def _lead_fields(scenario: Scenario, persona: Persona) -> dict[str, Any]:
    """A persona's lead fields; what is no lead field is a custom attribute, checked against
    the scenario's declarations (ValueError naming the persona)."""
    fields: dict[str, Any] = {"first_name": persona.name.title()}
    custom = {}
    for name, value in persona.attributes.items():
        if name in LeadIn.model_fields:
            fields[name] = value
        else:
            custom[name] = value
    if custom:
        catalog = declared_attributes([scenario])
        try:
            fields["attributes"] = catalog.check(custom)
        except ValueError as err:
            raise ValueError(f"persona {persona.name!r}: {err}") from None
    return fields


async def _start_leads(run: Run, settings: Settings, personas: list[Persona]) -> None:
    for index, persona in enumerate(personas):
        fields = _lead_fields(run.scenario, persona)
        lead, _ = run.store.upsert_lead(
            LeadIn(email=f"lead{index}@simulation.example.com", consent=CONSENT, **fields)
        )
        outcome = await start_journey(run.client, settings, run.store, lead, run.scenario.product)
        rng = random.Random(f"{run.seed}:{index}")
        plan = [(_day(run, a.day, rng), a) for a in persona.script if a.event != BOUNCE]
        bounce = min((a.day for a in persona.script if a.event == BOUNCE), default=None)
        run.leads.append(
            SimulatedLead(
                index,
                persona,
                lead.id,
                run.client.get_workflow_handle(outcome.journey_id),
                rng,
                sorted(plan, key=lambda item: item[0]),
                bounces_from=None if bounce is None else run.started_at + bounce * DAY,
            )
        )


def _day(run: Run, day: int, rng: random.Random) -> datetime:
    """When a persona acts on `day` of its journey (see ACT_AFTER)."""
    return run.started_at + day * DAY + ACT_AFTER + _jitter(rng)


async def _live(
    env: WorkflowEnvironment, run: Run, on_progress: Callable[[int, int], None] | None
) -> None:
    """From one moment something happens to the next: an action, a feedback, an email
    (read two hours later), a new week; at least weekly."""
    moment = run.started_at
    await _refresh(run, run.leads)
    total = (run.ended_at - run.started_at).days
    while True:
        fresh = _observe(run, moment)
        touched = [lead for lead in run.leads if await _act(run, lead, moment, fresh)]
        touched += [
            lead
            for lead in run.leads
            if lead not in touched and lead.next_touch is not None and lead.next_touch <= moment
        ]
        await _refresh(run, touched)
        if on_progress is not None:
            on_progress((moment - run.started_at).days, total)
        if moment >= run.ended_at:
            break
        following = _next_moment(run, moment)
        await env.sleep(following - await env.get_current_time())
        moment = following
    await env.sleep(timedelta(hours=1))  # what the last moment started finishes
    _observe(run, run.ended_at + timedelta(hours=1))


def _next_moment(run: Run, moment: datetime) -> datetime:
    candidates = [moment + WEEK + ODD, run.ended_at]
    for lead in run.leads:
        candidates += [at for at, _ in lead.plan[:1]]
        candidates += [at for at, _ in lead.feedback]
        if lead.next_touch is not None:
            candidates.append(lead.next_touch + READ_AFTER + ODD)
        if lead.persona.weekly:
            candidates.append(run.started_at + lead.weeks_drawn * WEEK + ODD)
    return min(at for at in candidates if at > moment)


async def _refresh(run: Run, leads: list[SimulatedLead]) -> None:
    """Read when these journeys send next: their NextTouchAt search attribute, which each
    publishes before it waits (a description costs the worker nothing; a query would replay
    the journey)."""
    gate = asyncio.Semaphore(16)

    async def ask(lead: SimulatedLead) -> None:
        async with gate:
            lead.next_touch = await next_touch(run.client, lead.handle.id)

    await asyncio.gather(*(ask(lead) for lead in leads))


async def next_touch(client: Client, workflow_id: str) -> datetime | None:
    """The journey's NextTouchAt, read raw: the test server keeps an unset attribute as a
    null payload, which the client's typed description cannot decode."""
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    info = response.workflow_execution_info
    if info.status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return None
    payload = info.search_attributes.indexed_fields.get(NEXT_TOUCH.name)
    value = json.loads(payload.data) if payload is not None and payload.data else None
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _observe(run: Run, moment: datetime) -> dict[str, list[Send]]:
    """New sends (by lead), new cap deferrals and new hand-offs since the last look."""
    seen = run.observed
    since = (seen.watermark or moment) - DAY
    seen.watermark = moment
    with run.store.session() as session:
        sends = session.scalars(
            select(Send).where(Send.journey_time >= since).order_by(Send.journey_time)
        ).all()
        handoffs = session.scalars(
            select(Transition).where(
                Transition.to_lifecycle == "handed_off", Transition.journey_time >= since
            )
        ).all()
        session.expunge_all()
    fresh: dict[str, list[Send]] = {}
    for send in sends:
        if send.status == "deferred":
            seen.deferrals.add((send.id, send.deferred_until))
        elif send.status not in ("queued", "sending") and send.id not in seen.seen_sends:
            seen.seen_sends.add(send.id)
            if send.status != "suppressed":
                seen.sends.append(send)
                fresh.setdefault(send.lead_id, []).append(send)
    by_lead = {lead.lead_id: lead for lead in run.leads}
    for transition in handoffs:
        if transition.id not in seen.seen_handoffs and transition.lead_id in by_lead:
            seen.seen_handoffs.add(transition.id)
            _handed_off(by_lead[transition.lead_id], as_utc(transition.journey_time))
    return fresh


def _handed_off(lead: SimulatedLead, at: datetime) -> None:
    lead.handed_off_at = lead.handed_off_at or at
    lead.feedback += [
        (at + f.days_after_handoff * DAY + _jitter(lead.rng), f) for f in lead.persona.feedback
    ]


async def _act(
    run: Run, lead: SimulatedLead, moment: datetime, fresh: dict[str, list[Send]]
) -> bool:
    """What the lead does by `moment`; whether its journey heard of it. A lead whose
    journey ended does nothing more (its journey would not hear it)."""
    if lead.ended:
        return False
    try:
        return await _act_on(run, lead, moment, fresh)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        lead.ended = True  # it ended (exit rule, unsubscribe, age) since the last look
        return False


async def _act_on(
    run: Run, lead: SimulatedLead, moment: datetime, fresh: dict[str, list[Send]]
) -> bool:
    _draw_weeks(run, lead, moment)
    due = [action for at, action in lead.plan if at <= moment]
    del lead.plan[: len(due)]
    events = _reactions(lead, fresh.get(lead.lead_id, []), moment)
    events += _behaviour(run, lead, [a for a in due if a.event != UNSUBSCRIBE], moment)
    if events:
        await lead.handle.signal("behaviors", events)
    if any(a.event == UNSUBSCRIBE for a in due):
        lead.done.append((moment, "behaviour", "unsubscribes"))
        await lead.handle.signal("unsubscribe", Unsubscribe(reason="simulated unsubscribe"))
    answers = [f for f in lead.feedback if f[0] <= moment]
    for item in answers:
        lead.feedback.remove(item)
        await _feedback(lead, item[1], moment)
    return bool(events or due or answers)


async def _feedback(lead: SimulatedLead, feedback: Feedback, moment: datetime) -> None:
    try:
        await lead.handle.execute_update(
            "sales_feedback", SalesFeedback(outcome=feedback.outcome, by="simulated sales")
        )
        lead.done.append((moment, "feedback", f"sales: {feedback.outcome}"))
    except WorkflowUpdateFailedError as err:
        lead.done.append(
            (moment, "feedback", f"sales: {feedback.outcome} refused ({err.cause or err})")
        )


def _reactions(lead: SimulatedLead, sends: list[Send], moment: datetime) -> list[BehaviorEvent]:
    """Opens and clicks of the emails it got since the last moment; a bounce of the first
    after its bounce day."""
    events = []
    for send in sends:
        if send.mail_type == "sales":
            continue
        sent = as_utc(send.journey_time)
        at = min(sent + READ_AFTER, moment)
        if lead.bounces_from is not None and sent >= lead.bounces_from:
            at = min(sent + BOUNCE_AFTER, moment)
            lead.bounces_from = None
            lead.done.append((at, "behaviour", "address bounces"))
            events.append(_event(lead, EMAIL_BOUNCE, at, send_id=send.id))
            continue
        habits = lead.persona.emails
        if lead.rng.random() < habits.open:
            events.append(_event(lead, EMAIL_OPEN, at, send_id=send.id))
            if lead.rng.random() < habits.click:
                events.append(_event(lead, EMAIL_CLICK, at, send_id=send.id))
    return events


def _behaviour(
    run: Run, lead: SimulatedLead, actions: list[Action], moment: datetime
) -> list[BehaviorEvent]:
    events = []
    for action in actions:
        kind = page_event(run.scenario, action.url or "") if action.event == PAGE else action.event
        lead.done.append((moment, "behaviour", kind + (f" {action.url}" if action.url else "")))
        events.append(_event(lead, kind, moment, url=action.url, **action.properties))
    return events


def _draw_weeks(run: Run, lead: SimulatedLead, moment: datetime) -> None:
    """Plan the `weekly` behaviour of every week begun by `moment` (seeded draws)."""
    if not lead.persona.weekly:
        return
    while run.started_at + lead.weeks_drawn * WEEK <= moment:
        for what, chance in lead.persona.weekly.items():
            if lead.rng.random() < chance:
                kind, _, url = what.partition(" ")
                day = lead.weeks_drawn * 7 + lead.rng.randrange(7)
                lead.plan.append(
                    (_day(run, day, lead.rng), Action(day=day, event=kind, url=url or None))
                )
        lead.weeks_drawn += 1
    lead.plan.sort(key=lambda item: item[0])


def page_event(scenario: Scenario, url: str) -> str:
    """The product event a page view becomes, by the scenario's `pages:` rules; a path
    ('/pricing') matches a rule's path on any host."""
    for rule in scenario.pages:
        path = rule.url_contains[rule.url_contains.find("/") :] if "/" in rule.url_contains else ""
        if rule.url_contains in url or (url.startswith("/") and path and path in url):
            return rule.event
    return "page_view"


def _event(
    lead: SimulatedLead, kind: str, at: datetime, url: str | None = None, **properties: object
) -> BehaviorEvent:
    lead_events = len(lead.done) + lead.rng.randrange(1_000_000)
    return BehaviorEvent(
        event_id=f"sim-{lead.index}-{kind}-{at:%Y%m%d%H%M}-{lead_events}",
        type=kind,
        occurred_at=at,
        url=url,
        properties=properties,
    )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
