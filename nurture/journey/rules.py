"""The journey's decisions: which rule fires, what is due, where a lead goes next.

Pure functions of the journey's memory, its scenario and the time it is given, so
LeadJourney only orchestrates (waits, activity calls, handlers) and every decision here is
unit-tested without a Temporal server. Nothing here reads a clock or does I/O: the
workflow passes `workflow.now()` in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from nurture.journey.contract import JourneyMemory
from nurture.journey.lifecycle import NURTURING
from nurture.leads.events import DELIVERY_ENDING_TYPES, BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import (
    Condition,
    Goal,
    LeadCondition,
    Scenario,
    SendWindow,
    Stage,
    Step,
    Trigger,
)
from nurture.schedule.send_window import hour_ever_open, preferred_send_hour
from nurture.scoring.score import Discount, ScoreBreakdown

STAGE_PRECISION = timedelta(minutes=1)
SEND_BACKOFF = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4), timedelta(hours=12))
SEND_GIVE_UP = timedelta(days=3)  # of provider outage for one step: skipped, recorded


def concerns_another_product(event: BehaviorEvent, product: str) -> bool:
    """An event about another product does not score here; a bounce or a spam report
    ends email whichever product's send it came from."""
    return event.product not in (None, product) and event.type not in DELIVERY_ENDING_TYPES


def exit_reason(
    scenario: Scenario,
    event: BehaviorEvent | None,
    stage: str,
    before: str,
    patterns_met: Set[str] = frozenset(),
    profile: LeadProfile | None = None,
) -> str | None:
    """The exit rule that ends the journey now, as its reason: an event it names, a stage
    the lead has just entered, a pattern it has just met, or who the lead is."""
    for rule in scenario.exit.when:
        if condition_holds(rule, event, stage, before, patterns_met, profile):
            return f"exit rule: {rule.describe()}"
    return None


def condition_holds(
    rule: Condition,
    event: BehaviorEvent | None,
    stage: str,
    before: str,
    patterns_met: Set[str],
    profile: LeadProfile | None = None,
) -> bool:
    """Whether a branch's or an exit's condition is met now."""
    if rule.lead is not None:
        return profile is not None and rule.lead.holds(profile)
    if event is not None and rule.matches_event(event):
        return True
    if rule.stage is not None and stage != before and rule.stage == stage:
        return True
    return rule.pattern is not None and rule.pattern in patterns_met


def goal_reached(
    scenario: Scenario,
    event: BehaviorEvent | None,
    lifecycle: str | None,
    reached: Sequence[str],
) -> Goal | None:
    """The first goal not reached before that `event` (or a move to `lifecycle`) reaches."""
    for goal in scenario.goals:
        if goal.name in reached:
            continue
        if (event is not None and goal.matches_event(event)) or (
            lifecycle is not None and goal.lifecycle == lifecycle
        ):
            return goal
    return None


def for_lead(condition: LeadCondition | None, profile: LeadProfile) -> bool:
    """Whether a rule with this `only_if` applies to the lead (no condition: every lead)."""
    return condition is None or condition.holds(profile)


def branch_to(
    scenario: Scenario,
    event: BehaviorEvent | None,
    stage: str,
    before: str,
    track: str,
    profile: LeadProfile | None = None,
    patterns_met: Set[str] = frozenset(),
) -> tuple[str, str] | None:
    """The first branch rule that moves the lead off `track`: (new track, why)."""
    for branch in scenario.branches:
        if profile is not None and not for_lead(branch.only_if, profile):
            continue
        cond = branch.when
        hit = condition_holds(cond, event, stage, before, patterns_met, profile)
        if hit and branch.to != track and (branch.from_ is None or track in branch.from_):
            if cond.event and event:
                return branch.to, f"event {event.type}"
            return branch.to, f"stage {stage}" if cond.stage else cond.describe()
    return None


def nurtured(m: JourneyMemory) -> bool:
    """Whether marketing sends this lead its track's messages now: a lead it nurtures, or a
    customer on the `on_customer` track."""
    return m.lifecycle in NURTURING or (m.lifecycle == "customer" and m.customer_nurtured)


def trigger_allowed(m: JourneyMemory, trigger: Trigger, now: datetime) -> bool:
    """A trigger email goes to a lead marketing still nurtures, who takes email and trigger
    mail, in the trigger's stages, once per cool-down."""
    if not nurtured(m) or m.paused or m.email_stopped:
        return False
    if "trigger" in m.suppressed_mail_types:
        return False
    if trigger.stages is not None and m.stage not in trigger.stages:
        return False
    last = m.trigger_fired_at.get(trigger.key)
    return last is None or now - last >= trigger.cooldown


def handoff_signals(
    scenario: Scenario, events: Sequence[BehaviorEvent], discount: Discount | None
) -> list[str]:
    """The required buying signals seen since the lead was last recycled."""
    since = discount.before if discount else None
    return [
        match.event
        for match in scenario.handoff.requires_any
        if any(match.matches(e) and (since is None or e.occurred_at >= since) for e in events)
    ]


def meets_handoff_conditions(
    scenario: Scenario, fit: int, events: Sequence[BehaviorEvent], discount: Discount | None
) -> bool:
    """The hand-off's conditions beside the score: enough fit, and a buying signal since
    the last recycle when the scenario requires one."""
    rule = scenario.handoff
    if rule.fit_at_least is not None and fit < rule.fit_at_least:
        return False
    return not rule.requires_any or bool(handoff_signals(scenario, events, discount))


def handoff_reason(scenario: Scenario, score: ScoreBreakdown, m: JourneyMemory) -> str | None:
    """Why the lead is ready for sales (score, fit, buying signals), or None."""
    if score.total < scenario.handoff_threshold:
        return None
    if not meets_handoff_conditions(scenario, score.fit, m.events, m.discount):
        return None
    signals = handoff_signals(scenario, m.events, m.discount)
    reason = f"score {score.total} ≥ {scenario.handoff_threshold}"
    if signals:
        reason += f"; signals: {', '.join(signals)}"
    return reason


def next_stage_change(
    now: datetime, until: datetime, stage: str, stage_at: Callable[[datetime], str]
) -> datetime | None:
    """When decay (or a pattern window closing) first moves the stage, if before `until`.

    Without new events a score only falls, so a bisection finds the moment to the minute.
    """
    if stage_at(until) == stage:
        return None
    low, high = now, until
    while high - low > STAGE_PRECISION:
        middle = low + (high - low) / 2
        if stage_at(middle) == stage:
            low = middle
        else:
            high = middle
    return high


def current_step(scenario: Scenario, m: JourneyMemory) -> Step | None:
    steps = scenario.tracks[m.track].steps
    return steps[m.step_index] if m.step_index < len(steps) else None


def first_unsent_step(steps: Sequence[Step], sent: Sequence[str]) -> int:
    """Where a lead enters a track: its first step this lead has not had (no content twice);
    `len(steps)` when it has had them all."""
    return next((i for i, s in enumerate(steps) if s.key not in sent), len(steps))


def next_step_index(m: JourneyMemory) -> int:
    """The step after the one just sent. A journey moved to another scenario version, or a
    restarted one, may find steps it had further on (a reordered track, a step added since):
    those are passed over. Other journeys keep the plain next step, as their histories
    recorded."""
    index = m.step_index + 1
    if m.version_moves or m.restarted:
        steps = m.scenario.tracks[m.track].steps
        had = set(m.steps_sent.get(m.track, []))
        while index < len(steps) and steps[index].key in had:
            index += 1
    return index


def step_due(m: JourneyMemory, step: Step, now: datetime) -> datetime:
    """The earliest moment the step may go, before the send window has its say: its wait
    after the last step, not in the past, not before a deferral."""
    return max(m.step_anchor + step.wait, now, m.deferred_until or now)


def send_hour(
    window: SendWindow | None, open_hours: dict[int, int], role_hour: int | None
) -> int | None:
    """The lead's own best hour, else its role's, else the scenario's default: the first
    one the window allows (a lead reading mail at 23:00 gets its role's). None: any time
    the window allows."""
    if window is None or window.optimise_send_time is None:
        return None
    settings = window.optimise_send_time
    choices = (
        preferred_send_hour(open_hours, settings.min_events),
        role_hour,
        settings.default_hour,
    )
    return next((h for h in choices if h is not None and hour_ever_open(window, h)), None)


@dataclass(frozen=True)
class Outage:
    """What a provider outage does to the current step: give up, or try again at `retry_at`."""

    give_up: bool
    retry_at: datetime | None
    lasted: timedelta


def step_outage(since: datetime, attempts: int, now: datetime) -> Outage:
    """The provider stayed away for a whole send bound: back off (15 min, 1 h, 4 h, then
    every 12 h) while behaviour is handled, and give the step up after three days."""
    if now - since >= SEND_GIVE_UP:
        return Outage(give_up=True, retry_at=None, lasted=now - since)
    wait = SEND_BACKOFF[min(attempts, len(SEND_BACKOFF) - 1)]
    return Outage(give_up=False, retry_at=now + wait, lasted=now - since)


_ENTRY = re.compile(r"#\d+(\.[a-z]+)?")  # the track entry, and a channel's mark (.line)


def step_of(send_key: str) -> tuple[str, str]:
    """(track, step) of a send key: `cold#2/welcome` → (cold, welcome), and so does the
    LINE send `cold#2.line/welcome`; a trigger email `trigger:download-followup#3` →
    (trigger, download-followup); a broadcast `broadcast:seminar-jan` → (broadcast,
    seminar-jan), so the reports show broadcasts beside the steps."""
    if send_key.startswith("broadcast:"):  # a LINE broadcast's: `broadcast:seminar-jan.line`
        return "broadcast", send_key.removeprefix("broadcast:").removesuffix(".line")
    if send_key.startswith("trigger:"):
        return "trigger", _ENTRY.sub("", send_key.removeprefix("trigger:"))
    track, _, step = _ENTRY.sub("", send_key).partition("/")
    return track, step


def line_send_key(key: str) -> str:
    """A LINE send's key: `warm#1.line/seminar` beside its email fallback's
    `warm#1/seminar` (a trigger's: `trigger:roi#2.line`), so both have a row and the
    reports still read track and step."""
    entry, slash, step = key.partition("/")
    return f"{entry}.line{slash}{step}"


def patterns_newly_met(before: ScoreBreakdown, now: ScoreBreakdown, scenario: Scenario) -> set[str]:
    """The scoring patterns the lead meets now and did not at the last scoring."""
    names = {pattern.name for pattern in scenario.scoring.patterns}
    had = {rule.rule for rule in before.rules}
    return {rule.rule for rule in now.rules if rule.rule in names and rule.rule not in had}


def trigger_cause(
    trigger: Trigger,
    event: BehaviorEvent | None,
    stage: Stage,
    stage_before: Stage,
    patterns_met: set[str],
    moved_to: str | None = None,
) -> str | None:
    """What fires `trigger` now, in words (the event's type, `stage hot`, `pattern '…'`,
    `lifecycle recycled`), or None: its event arrived, the lead entered its stage, newly met
    its pattern, or made its lifecycle move (`moved_to`, judged on its own)."""
    when = trigger.when
    if when.lifecycle is not None or moved_to is not None:
        return f"lifecycle {moved_to}" if moved_to == when.lifecycle else None
    if when.event is not None:
        return event.type if event is not None and when.matches_event(event) else None
    if when.stage is not None:
        return f"stage {stage}" if stage == when.stage and stage_before != stage else None
    if when.pattern in patterns_met:
        return f"pattern '{when.pattern}'"
    return None
