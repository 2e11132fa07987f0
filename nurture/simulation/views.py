"""A simulation for people: a terminal report and a standalone HTML page (a timeline chart
per persona, in inline SVG: no script, no network)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from rich.console import Console

from nurture.simulation.results import LeadRun, Simulation

TEMPLATES = Path(__file__).parent / "templates"
COLOURS = {
    "email": "#2f6fde",
    "behaviour": "#8a94a6",
    "stage": "#e6a700",
    "lifecycle": "#7b3fc4",
    "handoff": "#1e9e5a",
    "feedback": "#0f7a8a",
    "end": "#c0392b",
}
ROWS = {"email": 12, "behaviour": 34, "stage": 23, "lifecycle": 23, "handoff": 23}
WIDTH = 1000


def one_per_persona(sim: Simulation) -> list[LeadRun]:
    """The first lead of each persona: a population's representatives."""
    seen: dict[str, LeadRun] = {}
    for lead in sim.leads:
        seen.setdefault(lead.persona, lead)
    return list(seen.values())


def html(sim: Simulation, timezone: str) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    days = max((sim.ended_at - sim.started_at).days, 1)
    zone = ZoneInfo(timezone)
    return environment.get_template("simulation.html").render(
        sim=sim,
        shown=one_per_persona(sim),
        colours=COLOURS,
        rows={kind: ROWS.get(kind, 23) for kind in COLOURS},
        width=WIDTH,
        x=lambda day: round(6 + (WIDTH - 12) * min(day, days) / days, 1),
        local=lambda at: _local(at, zone),
    )


def show(sim: Simulation, console: Console, timezone: str) -> None:
    """The report in a terminal: timelines, the population, warnings and problems."""
    zone = ZoneInfo(timezone)
    console.print(
        f"[bold]{sim.product}[/bold] (version {sim.version}): {sim.population.leads} leads for "
        f"{sim.population.months} months from {_local(sim.started_at, zone)} (seed {sim.seed})",
        highlight=False,
    )
    for lead in one_per_persona(sim):
        console.print()
        ended = f" · ended day {lead.timeline[-1].day}: {lead.ended}" if lead.ended else ""
        console.print(
            f"[bold]{lead.persona}[/bold] · {lead.emails} emails · {lead.stage} · "
            f"{lead.lifecycle} · score {lead.score}{ended}",
            highlight=False,
        )
        for item in lead.timeline:
            console.print(
                f"  day {item.day:>3}  {_local(item.at, zone)}  {item.kind:<9} {item.text}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    p = sim.population
    console.print()
    console.print("[bold]Population[/bold]")
    console.print(
        f"  {p.emails_per_lead_per_month} emails per lead per month · at most "
        f"{p.most_emails_in_30_days} to one lead in 30 days · {p.cap_deferrals} weekly-cap "
        f"deferrals · {p.send_window_shifts} emails moved by the send window",
        highlight=False,
    )
    weeks = ", ".join(f"{w.week}: {w.handoffs}" for w in p.handoffs_per_week) or "none"
    console.print(
        f"  {p.handoffs} hand-offs ({weeks}) · still cold at the end: {p.still_cold}",
        highlight=False,
    )
    reached = ", ".join(f"{goal}: {count}" for goal, count in p.goals.items())
    if reached or p.control_group or p.resends:
        console.print(
            f"  goals reached: {reached or 'none declared'} · control group: {p.control_group} "
            f"leads (no message) · {p.resends} emails sent again for want of a response",
            highlight=False,
        )
    for name, figures in p.by_persona.items():
        console.print(
            f"  {name}: {figures['leads']:.0f} leads, {figures['emails']} emails each, "
            f"{figures['handed_off']:.0f} handed off, score {figures['score']}",
            highlight=False,
        )
    for title, lines, colour in (
        ("Warnings", sim.warnings, "yellow"),
        ("Problems", sim.problems, "red"),
    ):
        if lines:
            console.print(f"[bold {colour}]{title}[/bold {colour}]")
            for line in lines:
                console.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
