"""What a simulation found: each lead's dated timeline, the population's figures, warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ItemKind = Literal["behaviour", "email", "stage", "lifecycle", "handoff", "feedback", "end"]


class TimelineItem(BaseModel):
    at: datetime
    day: int = Field(description="days since the journey started")
    kind: ItemKind
    text: str


class LeadRun(BaseModel):
    """One simulated lead: its persona and what happened to it."""

    persona: str
    lead_id: str
    timeline: list[TimelineItem]
    emails: int
    handed_off_day: int | None
    stage: str
    lifecycle: str
    score: int
    ended: str | None = Field(description="why the journey ended; None: still running")


class WeekOfHandoffs(BaseModel):
    week: str
    handoffs: int
    capacity: int | None


class Population(BaseModel):
    leads: int
    months: int
    emails: int
    emails_per_lead_per_month: float
    most_emails_in_30_days: int
    cap_deferrals: int
    send_window_shifts: int
    handoffs: int
    handoffs_per_week: list[WeekOfHandoffs]
    still_cold: int
    by_persona: dict[str, dict[str, float]]
    goals: dict[str, int] = Field(
        default_factory=dict, description="leads that reached each of the scenario's goals"
    )
    control_group: int = Field(default=0, description="leads in the holdout: no message")
    resends: int = Field(default=0, description="emails sent again for want of a response")


class Simulation(BaseModel):
    product: str
    version: str
    started_at: datetime
    ended_at: datetime
    seed: int
    leads: list[LeadRun]
    population: Population
    warnings: list[str]
    problems: list[str] = Field(
        default_factory=list, description="what `nurture validate --simulate` refuses"
    )
