"""Generated hand-offs whose true weights are known, for the scoring suggestion.

Each lead of the acme test scenario gets a random profile and random behaviour before its
hand-off; its chance of being won is a logistic function of the scenario's own rule units
(nurture/scoring/score.py `rule_units`) with TRUE_WEIGHTS: three rules predictive, one
negative, the rest noise. So a suggestion that works recovers their order and signs and
drops the noise. A fixed seed makes every data set the same on every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import Scenario
from nurture.scoring.score import rule_units, score_lead
from nurture.suggestions.dataset import Row
from nurture.suggestions.scoring_suggestion import score_with
from tests.helpers.handoffs import Writer

# Log-odds of a win per unit of each rule (units: see rule_units).
TRUE_WEIGHTS = {
    "event:webinar_attended": 1.8,
    "fit:target industry": 1.1,
    "event:pricing_page": 0.8,
    "event:careers_page": -1.6,
}
NOISE = ("fit:mid-size company", "event:document_download", "event:page_view", "event:email_open")
BASE = -3.2
START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Lead:
    """One generated hand-off, before it is written to a store."""

    profile: LeadProfile
    events: list[tuple[str, datetime]]
    handed_off_at: datetime
    won: bool
    decided: bool

    def behaviour(self) -> list[BehaviorEvent]:
        return [
            BehaviorEvent(event_id=f"g{i}", type=t, occurred_at=at)
            for i, (t, at) in enumerate(self.events)
        ]

    def units(self, scenario: Scenario) -> dict[str, float]:
        return rule_units(self.profile, self.behaviour(), self.handed_off_at, scenario)


def generate(scenario: Scenario, count: int, *, seed: int, days: int = 180) -> list[Lead]:
    """`count` hand-offs spread over `days` from START; about one in ten still open."""
    rng = random.Random(seed)
    leads = []
    for _ in range(count):
        at = START + timedelta(days=rng.uniform(0, days), hours=9)
        profile = LeadProfile(
            industry=rng.choice(["saas", "manufacturing", "retail", "media"]),
            company_size=rng.choice([10, 20, 100, 500]),
        )
        events = _behaviour(rng, at)
        lead = Lead(profile, events, at, won=False, decided=rng.random() > 0.1)
        units = lead.units(scenario)
        logit = BASE + sum(w * units[key] for key, w in TRUE_WEIGHTS.items())
        won = rng.random() < 1 / (1 + math.exp(-logit))
        leads.append(Lead(profile, events, at, won=won, decided=lead.decided))
    return leads


def _behaviour(rng: random.Random, at: datetime) -> list[tuple[str, datetime]]:
    events: list[tuple[str, datetime]] = []

    def on_days(event: str, times: int, within: int) -> None:
        for day in rng.sample(range(1, within), times):
            events.append((event, at - day * DAY))

    if rng.random() < 0.35:
        on_days("webinar_attended", 1, 20)
    on_days("pricing_page", rng.choice([0, 0, 1, 2, 3]), 30)
    if rng.random() < 0.2:
        on_days("careers_page", 1, 30)
    on_days("document_download", rng.choice([0, 1, 2]), 30)
    on_days("page_view", rng.randint(0, 6), 30)
    on_days("email_open", rng.randint(0, 3), 30)
    return events


def write(writer: Writer, scenario: Scenario, leads: list[Lead]) -> None:
    """The hand-offs as the journeys would have recorded them, events included."""
    for lead in leads:
        profile = lead.profile
        journey = writer.journey(
            "acme", industry=profile.industry, company_size=profile.company_size
        )
        for event, at in lead.events:
            writer.event(journey[0], event, at, product=product_of(event))
        score = score_lead(profile, lead.behaviour(), lead.handed_off_at, scenario).total
        kind = ("won" if lead.won else "lost") if lead.decided else "open_sal"
        writer.hand_off(journey, score, lead.handed_off_at, kind)


def product_of(event: str) -> str | None:
    """Site events carry the product, email events none: both belong to the lead's journey."""
    return None if event.startswith("email_") else "acme"


def precision_at(
    scenario: Scenario, leads: list[Lead], points: dict[str, int], at_least: int
) -> tuple[float, int]:
    """Won / decided among `leads` whose score under `points` reaches `at_least`."""
    passed = [
        lead
        for lead in leads
        if lead.decided and score_with(points, lead.units(scenario), scenario) >= at_least
    ]
    won = sum(lead.won for lead in passed)
    return (won / len(passed) if passed else 0.0), len(passed)


def rows_of(scenario: Scenario, leads: list[Lead]) -> list[Row]:
    """The rows the store would give for `leads`, without a store (a faster way to a
    suggestion where the store is not what a test is about)."""
    return [
        Row(
            ("won" if lead.won else "lost") if lead.decided else "open",
            lead.handed_off_at,
            score_lead(lead.profile, lead.behaviour(), lead.handed_off_at, scenario).total,
            lead.units(scenario),
        )
        for lead in leads
    ]
