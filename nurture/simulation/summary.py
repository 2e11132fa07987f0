"""A simulated population in figures, and what in the scenario deserves a second look.

Pure: computed from the leads' runs, the sends and the scenario. `problems` are what
`nurture validate --simulate` refuses: a scenario that hands nobody off, or one that mails
someone day after day.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from nurture.scenario.durations import format_duration
from nurture.scenario.model import TRACK_LISTEN, Scenario
from nurture.schedule.variants import in_holdout
from nurture.simulation.results import LeadRun, Population, WeekOfHandoffs

WINDOW = timedelta(days=30)
FOUR_WEEKS = timedelta(days=28)
TRIGGER_MONTHLY_LIMIT = 4  # a weekly trigger is the most a lead should see
DAILY_RUN = 3  # emails on this many days in a row is "mailing someone daily"


def population(
    leads: list[LeadRun],
    sent: list[tuple[str, str, datetime]],  # (lead id, send key, time) of nurture emails
    scenario: Scenario,
    *,
    months: int,
    cap_deferrals: int,
    shifts: int,
    goals: dict[str, int] | None = None,
) -> Population:
    emails = len(sent)
    per_lead: dict[str, list[datetime]] = {}
    for lead_id, _, at in sent:
        per_lead.setdefault(lead_id, []).append(at)
    weeks = Counter(
        _week(lead.timeline[0].at.date() + timedelta(days=lead.handed_off_day))
        for lead in leads
        if lead.handed_off_day is not None and lead.timeline
    )
    capacity = scenario.handoff.daily_capacity
    weekly_capacity = capacity * 5 if capacity else None
    return Population(
        leads=len(leads),
        months=months,
        emails=emails,
        emails_per_lead_per_month=round(emails / max(len(leads), 1) / max(months, 1), 2),
        most_emails_in_30_days=max(
            (_most_within(times, WINDOW) for times in per_lead.values()), default=0
        ),
        cap_deferrals=cap_deferrals,
        send_window_shifts=shifts,
        handoffs=sum(1 for lead in leads if lead.handed_off_day is not None),
        handoffs_per_week=[
            WeekOfHandoffs(week=week, handoffs=count, capacity=weekly_capacity)
            for week, count in sorted(weeks.items())
        ],
        still_cold=sum(1 for lead in leads if lead.stage == "cold" and lead.ended is None),
        by_persona=_by_persona(leads),
        goals={goal.name: (goals or {}).get(goal.name, 0) for goal in scenario.goals},
        control_group=sum(
            1 for lead in leads if in_holdout(lead.lead_id, scenario.product, scenario.holdout)
        ),
        resends=sum(1 for _, key, _ in sent if key.endswith("~resend")),
    )


def _by_persona(leads: list[LeadRun]) -> dict[str, dict[str, float]]:
    grouped: dict[str, list[LeadRun]] = {}
    for lead in leads:
        grouped.setdefault(lead.persona, []).append(lead)
    return {
        name: {
            "leads": len(runs),
            "emails": round(sum(r.emails for r in runs) / len(runs), 1),
            "handed_off": sum(1 for r in runs if r.handed_off_day is not None),
            "score": round(sum(r.score for r in runs) / len(runs), 1),
        }
        for name, runs in sorted(grouped.items())
    }


def warnings(
    scenario: Scenario, sent: list[tuple[str, str, datetime]], population: Population
) -> list[str]:
    """Steps no lead reached, triggers that fire too often, tracks with no way out, and
    weeks with more hand-offs than sales can take."""
    found = []
    reached = {_place(key) for _, key, _ in sent}
    for track, definition in scenario.tracks.items():
        for step in definition.steps:
            if f"{track}/{step.key}" not in reached:
                found.append(f"no simulated lead reached step {track}/{step.key}")
    found += _trigger_warnings(scenario, sent)
    found += _dead_ends(scenario)
    for week in population.handoffs_per_week:
        if week.capacity is not None and week.handoffs > week.capacity:
            found.append(
                f"week {week.week}: {week.handoffs} hand-offs, more than sales take in a week "
                f"({week.capacity} at handoff.daily_capacity {week.capacity // 5})"
            )
    return found


def _trigger_warnings(scenario: Scenario, sent: list[tuple[str, str, datetime]]) -> list[str]:
    found = []
    for trigger in scenario.triggers:
        cooldown = trigger.cooldown
        most_possible = (FOUR_WEEKS - timedelta(seconds=1)) // cooldown + 1 if cooldown else None
        if most_possible is None or most_possible > TRIGGER_MONTHLY_LIMIT:
            found.append(
                f"trigger '{trigger.key}' can fire {most_possible or 'any number of'} times in "
                f"four weeks for one lead (cool-down {format_duration(cooldown)}); more than "
                f"{TRIGGER_MONTHLY_LIMIT} reads like spam"
            )
        per_lead: dict[str, list[datetime]] = {}
        for lead_id, key, at in sent:
            if key.startswith(f"trigger:{trigger.key}#"):
                per_lead.setdefault(lead_id, []).append(at)
        most = max((_most_within(t, WINDOW) for t in per_lead.values()), default=0)
        if most > TRIGGER_MONTHLY_LIMIT:
            found.append(f"trigger '{trigger.key}' fired {most} times in 30 days for one lead")
    return found


def _dead_ends(scenario: Scenario) -> list[str]:
    """Tracks that, once done, only listen, with no branch and no exit rule to leave."""
    found = []
    for name, track in scenario.tracks.items():
        leaves = any(b.from_ is None or name in b.from_ for b in scenario.branches)
        if track.then == TRACK_LISTEN and not leaves and not scenario.exit.when:
            found.append(
                f"track '{name}' has no exit: after its last step a lead only listens until "
                f"the journey's age limit ({scenario.exit.after.days} days)"
            )
    return found


def problems(leads: list[LeadRun], sent: list[tuple[str, str, datetime]]) -> list[str]:
    """What `nurture validate --simulate` refuses."""
    found = []
    if leads and not any(lead.handed_off_day is not None for lead in leads):
        personas = ", ".join(sorted({lead.persona for lead in leads}))
        found.append(f"nobody was handed off to sales (personas: {personas})")
    per_lead: dict[str, set[date]] = {}
    for lead_id, _, at in sent:
        per_lead.setdefault(lead_id, set()).add(at.date())
    runs = {lead.lead_id: lead.persona for lead in leads}
    for lead_id, days in per_lead.items():
        if _longest_run(days) >= DAILY_RUN:
            found.append(
                f"the {runs.get(lead_id, lead_id)} persona got email {_longest_run(days)} days "
                "in a row: the scenario mails someone daily"
            )
    return found


def _place(send_key: str) -> str:
    track, _, step = send_key.partition("/")
    return f"{track.split('#')[0]}/{step}"


def _most_within(times: list[datetime], window: timedelta) -> int:
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def _longest_run(days: set[date]) -> int:
    longest = 0
    for day in days:
        if day - timedelta(days=1) in days:
            continue
        length = 1
        while day + timedelta(days=length) in days:
            length += 1
        longest = max(longest, length)
    return longest


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
