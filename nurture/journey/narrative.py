"""How a journey tells its story: timeline texts, timer and activity summaries, the card.

Operators read these in the Temporal UI and in `state`; sales reads some in hand-offs.
Pure functions of what the journey knows, kept apart from LeadJourney so the wording can
be read (and tested) in one place. A text here is history once written: changing one
changes what new journeys say, never what a recorded one replays.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from nurture.journey.contract import JourneyMemory
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.mail.sales import SalesMailKind
from nurture.scenario.durations import format_duration
from nurture.scenario.model import Step
from nurture.scoring.score import ScoreBreakdown


def describe(event: BehaviorEvent) -> str:
    """The event for the timeline and the UI card: no query string, where trackers and
    email links put addresses and tokens."""
    where = f" {event.url.split('?')[0].split('#')[0]}" if event.url else ""
    return f"{event.type}{where}"


def variant_letter(variant: int) -> str:
    return chr(ord("A") + variant)


def step_what(index: int, total: int, key: str, track: str) -> str:
    return f"step {index + 1}/{total} '{key}' on {track}"


def step_wait(m: JourneyMemory, step: Step, total: int, due: datetime) -> str:
    """The timer's summary before a step: which step, and why it waits longer than its
    `wait` (the weekly cap, an outage, the send window)."""
    text = f"wait {format_duration(step.wait)} → step {m.step_index + 1}/{total} '{step.key}'"
    if m.deferred_until is not None and due >= m.deferred_until:
        if m.deferred_why:
            text += f" (deferred to {due:%Y-%m-%d %H:%M} UTC: {m.deferred_why})"
        else:
            text += f" (deferred by the weekly frequency cap to {due:%Y-%m-%d %H:%M} UTC)"
    elif due > m.step_anchor + step.wait:
        text += f" (send window opens {due:%a %H:%M} UTC)"
    return text


def listen_until_exit(exit_at: datetime) -> str:
    return f"listen for behaviour until exit on {exit_at:%Y-%m-%d}"


def wait_for_capacity(position: int | None, wake_at: datetime) -> str:
    return f"wait for sales capacity (#{position} in the queue) until {wake_at:%Y-%m-%d %H:%M %Z}"


def sales_owns(lifecycle: str) -> str:
    return f"{lifecycle}: sales owns the lead; listen for behaviour"


def decay(now: datetime, wake_at: datetime, stage: str) -> str:
    minutes = timedelta(minutes=math.ceil((wake_at - now) / timedelta(minutes=1)))
    return f"wait {format_duration(minutes)} → score decays out of {stage}"


def sla_wait(due: datetime, notice: str) -> str:
    then = "remind the owner" if notice == "remind" else "escalate"
    return f"wait for sales feedback until {due:%Y-%m-%d %H:%M} UTC (SLA) → {then}"


def sla_overdue(days: int, handoff_no: int, notice: str) -> str:
    action = "reminding the owner" if notice == "remind" else "escalating"
    return f"SLA: no sales feedback {days} business days after hand-off #{handoff_no}; {action}"


def sales_mail(
    kind: SalesMailKind, handoff_no: int, business_days: int, slack: bool = False
) -> tuple[str, str]:
    """(what the activity does, what the timeline says once done) for a notice to sales:
    an email to the owner, and with `slack` a message in the product's Slack channel."""
    what, done = _sales_mail(kind, handoff_no, business_days)
    if slack:
        return f"{what} (and in Slack)", f"{done} (and in Slack)"
    return what, done


def _sales_mail(kind: SalesMailKind, handoff_no: int, business_days: int) -> tuple[str, str]:
    sla = f"no sales feedback for {business_days} business days (SLA)"
    return {
        "handoff": (
            f"email hand-off #{handoff_no} to the owner",
            f"emailed hand-off #{handoff_no} to the owner",
        ),
        "remind": (
            f"remind the owner of hand-off #{handoff_no}: {sla}",
            f"reminded the owner of hand-off #{handoff_no}: {sla}",
        ),
        "escalate": (
            f"escalate hand-off #{handoff_no}: {sla}",
            f"escalated hand-off #{handoff_no}: {sla}",
        ),
    }[kind]


def provider_gave_up(what: str, lasted: timedelta, cause: object) -> str:
    return (
        f"gave up on {what}: the email provider was unavailable for "
        f"{format_duration(lasted)} ({cause})"
    )


def crm_refused(handoff_id: int, outlasted: timedelta | None, cause: object) -> str:
    refused = "was unreachable for " + format_duration(outlasted) if outlasted else "refused"
    return f"the CRM webhook {refused} hand-off #{handoff_id}: {cause}"


def card(
    *,
    name: str,
    lead_id: str,
    m: JourneyMemory,
    score: ScoreBreakdown,
    steps: int,
    next_touch: datetime | None,
    sla: tuple[datetime, str] | None,
) -> str:
    """The journey as a short Markdown card (`workflow.set_current_details`): where the
    lead stands and what happens next, at a glance in the Temporal UI."""
    lines = [
        f"**{name}** · lead `{lead_id}`",
        "",
        f"- stage **{m.stage}** · score **{score.total}** (fit {score.fit} + behaviour "
        f"{score.behavior})",
        f"- lifecycle **{m.lifecycle}**" + (" · **paused**" if m.paused else ""),
        f"- track **{m.track}** · step {min(m.step_index + 1, steps)}/{steps}"
        f" · {m.emails_sent} emails sent",
    ]
    if m.ended_reason:
        lines.append(f"- ended: {m.ended_reason}")
    elif next_touch is not None:
        lines.append(f"- next touch {next_touch:%Y-%m-%d %H:%M} UTC")
    if sla is not None:
        lines.append(f"- sales feedback due {sla[0]:%Y-%m-%d %H:%M} UTC (SLA, then {sla[1]})")
    if m.timeline:
        last = m.timeline[-1]
        lines.append(f"- last: {last.text} ({last.at:%Y-%m-%d %H:%M})")
    return "\n".join(lines)


def engagement_wait(step_key: str, due: datetime) -> str:
    return f"wait for an open or click of step '{step_key}' until {due:%Y-%m-%d %H:%M} UTC"


def reentry_wait(at: datetime) -> str:
    return f"a lost deal rests until {at:%Y-%m-%d %H:%M} UTC → nurture it again"


def profile_change(before: LeadProfile, after: LeadProfile) -> str:
    """`role practitioner → executive, company_size 40 → 120`: what a profile update changed."""
    old, new = before.model_dump(), after.model_dump()
    old.update(old.pop("attributes"))
    new.update(new.pop("attributes"))
    changed = [
        f"{key} {old.get(key)} → {new.get(key)}"
        for key in [*new, *(k for k in old if k not in new)]
        if old.get(key) != new.get(key)
    ]
    return ", ".join(changed) or "nothing"
