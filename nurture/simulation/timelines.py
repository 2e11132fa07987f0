"""Each simulated lead's dated timeline, read from the run's store and its journey: the
behaviour it showed, each email (step, subject, variant, the send-window shift), each stage
and lifecycle change with its reason, the hand-off, sales' answers and the end."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from nurture.journey.contract import JourneyState
from nurture.scenario.model import Scenario, Step
from nurture.simulation.results import ItemKind, LeadRun, TimelineItem
from nurture.simulation.run import Run, SimulatedLead, as_utc
from nurture.store.models import Send, StageChange, Transition

SHIFT_SHOWN = timedelta(minutes=5)


def step_of(scenario: Scenario, send_key: str) -> Step | None:
    """The step a send key names ('cold#1/guide'), in the version the run used."""
    track, _, step = send_key.partition("/")
    steps = scenario.tracks.get(track.split("#")[0])
    return next((s for s in steps.steps if s.key == step), None) if steps else None


def email_text(scenario: Scenario, send: Send, previous: Send | None, capped: bool = False) -> str:
    """'cold/guide "Your guide" (variant B), +2d 15h by the send window'"""
    track_entry, _, key = send.send_key.partition("/")
    label = f"{track_entry.split('#')[0]}/{key}" if key else send.send_key.split("#")[0]
    step = step_of(scenario, send.send_key)
    variants = len(step.variants()) if step else 1
    letter = f" (variant {chr(ord('A') + send.variant)})" if variants > 1 else ""
    text = f'{label} "{send.subject}"{letter}'
    if step is not None and previous is not None:
        due = as_utc(previous.journey_time) + step.wait
        shift = as_utc(send.journey_time) - due
        if shift >= SHIFT_SHOWN:
            why = "the weekly cap" if capped else "the send window"
            text += f", {_span(shift)} after its wait ({why})"
    return text


def shift_of(scenario: Scenario, send: Send, previous: Send | None) -> timedelta:
    step = step_of(scenario, send.send_key)
    if step is None or previous is None:
        return timedelta(0)
    return max(
        as_utc(send.journey_time) - (as_utc(previous.journey_time) + step.wait), timedelta(0)
    )


def previous_in_track(sends: list[Send], send: Send) -> Send | None:
    """The email before `send` in the same entry of the same track (its wait's anchor)."""
    entry = send.send_key.partition("/")[0]
    earlier = [s for s in sends if s.send_key.partition("/")[0] == entry and s is not send]
    before = [s for s in earlier if as_utc(s.journey_time) < as_utc(send.journey_time)]
    return before[-1] if before else None


async def lead_runs(run: Run) -> list[LeadRun]:
    return [await lead_run(run, lead) for lead in run.leads]


async def lead_run(run: Run, lead: SimulatedLead) -> LeadRun:
    start = run.started_at
    items: list[tuple[datetime, ItemKind, str]] = []
    items += lead.done
    sends = [s for s in run.observed.sends if s.lead_id == lead.lead_id]
    capped_ids = {send_id for send_id, _ in run.observed.deferrals}
    for send in sends:
        if send.mail_type == "sales":
            continue
        previous = previous_in_track(sends, send)
        capped = send.id in capped_ids
        text = email_text(run.scenario, send, previous, capped)
        items.append((as_utc(send.journey_time), "email", text))
    with run.store.session() as session:
        moves = session.scalars(
            select(StageChange).where(StageChange.lead_id == lead.lead_id).order_by(StageChange.seq)
        ).all()
        transitions = session.scalars(
            select(Transition).where(Transition.lead_id == lead.lead_id).order_by(Transition.seq)
        ).all()
        for move in moves:
            if move.from_stage is not None:
                text = f"{move.from_stage} → {move.to_stage} (score {move.score}, on {move.track})"
                items.append((as_utc(move.journey_time), "stage", text))
        for t in transitions:
            if t.from_lifecycle is None:
                continue
            kind: ItemKind = "handoff" if t.to_lifecycle == "handed_off" else "lifecycle"
            text = f"{t.from_lifecycle} → {t.to_lifecycle}: {t.reason}"
            items.append((as_utc(t.journey_time), kind, text))
    state, ended, ended_at = await _final(lead)
    if ended is not None:
        items.append((ended_at or run.ended_at, "end", ended))
    items.sort(key=lambda item: item[0])
    timeline = [
        TimelineItem(at=at, day=(at - start).days, kind=kind, text=text) for at, kind, text in items
    ]
    handed = lead.handed_off_at
    return LeadRun(
        persona=lead.persona.name,
        lead_id=lead.lead_id,
        timeline=timeline,
        emails=sum(1 for s in sends if s.mail_type != "sales"),
        handed_off_day=(handed - start).days if handed else None,
        stage=state.stage,
        lifecycle=state.lifecycle,
        score=state.score.total,
        ended=ended,
    )


async def _final(lead: SimulatedLead) -> tuple[JourneyState, str | None, datetime | None]:
    """The journey's last state; why and when it ended, if it did (its exit entry)."""
    state = await lead.handle.query("state", result_type=JourneyState)
    if state.ended_reason is None:
        return state, None, None
    exits = [entry.at for entry in state.timeline if entry.kind == "exit"]
    return state, state.ended_reason, exits[-1] if exits else None


def _span(delta: timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    return f"+{days}d {hours}h" if days else f"+{hours}h {delta.seconds % 3600 // 60}m"
