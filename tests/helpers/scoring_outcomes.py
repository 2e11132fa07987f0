"""Generated leads whose true weights are known, for the scoring suggestion.

Each lead of the acme test scenario gets a random profile and a month of random behaviour;
its chance of being won is a logistic function of the scenario's own rule units
(nurture/scoring/score.py `rule_units`) with TRUE_WEIGHTS: three rules predictive, one
negative, the rest noise. As in life, only the leads the current rules hand off (score at
least the threshold, a buying signal) reach sales and get an outcome; the others stay with
marketing, unlabelled. A fixed seed makes every data set the same on every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nurture.handoff.outcomes import Outcome
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import Scenario
from nurture.suggestions.dataset import Dataset, Evidence, Row, Unlabelled
from tests.helpers.handoffs import Writer

# Log-odds of a win per unit of each rule (units: see rule_units).
TRUE_WEIGHTS = {
    "event:webinar_attended": 1.8,
    "fit:target industry": 1.1,
    "event:pricing_page": 0.8,
    "event:careers_page": -1.6,
}
NOISE = ("fit:mid-size company", "event:document_download", "event:page_view", "event:email_open")
BASE = -4.5
START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Lead:
    """One generated lead, at the moment its journey would hand it off (or not)."""

    profile: LeadProfile
    events: tuple[BehaviorEvent, ...]
    at: datetime
    won: bool
    decided: bool

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.profile, self.events)

    def handed_off(self, scenario: Scenario, threshold: int | None = None) -> bool:
        """Whether a journey on `scenario` (or with this threshold) hands it off at `at`."""
        bar = scenario.handoff_threshold if threshold is None else threshold
        evidence = self.evidence
        return evidence.score(scenario, self.at) >= bar and evidence.eligible(scenario, self.at)


def generate(scenario: Scenario, count: int, *, seed: int, days: int = 180) -> list[Lead]:
    """`count` leads spread over `days` from START; about one in ten handed off still open."""
    rng = random.Random(seed)
    leads = []
    for n in range(count):
        at = START + timedelta(days=rng.uniform(30, days), hours=18)
        profile = LeadProfile(
            industry=rng.choice(["saas", "manufacturing", "retail", "media"]),
            company_size=rng.choice([10, 20, 100, 500]),
        )
        events = _behaviour(rng, at, f"s{seed}l{n}")
        units = Evidence(profile, events).units(scenario, at)
        logit = BASE + sum(w * units[key] for key, w in TRUE_WEIGHTS.items())
        won = rng.random() < 1 / (1 + math.exp(-logit))
        leads.append(Lead(profile, events, at, won=won, decided=rng.random() > 0.1))
    return leads


def _behaviour(rng: random.Random, at: datetime, prefix: str) -> tuple[BehaviorEvent, ...]:
    events: list[tuple[str, datetime]] = []

    def on_days(event: str, times: int, within: int, per_day: int = 1) -> None:
        for day in rng.sample(range(1, within), times):
            for hour in range(per_day):
                events.append((event, at - day * DAY - timedelta(hours=hour)))

    if rng.random() < 0.4:
        on_days("webinar_attended", 1, 20)
    on_days("pricing_page", rng.choice([0, 1, 2, 3, 4]), 30)
    if rng.random() < 0.2:
        on_days("careers_page", 1, 30)
    on_days("document_download", rng.choice([0, 1, 2, 3]), 30)
    on_days("page_view", rng.randint(0, 6), 30, per_day=rng.randint(1, 5))  # caps bind
    on_days("email_open", rng.randint(0, 3), 30)
    return tuple(
        BehaviorEvent(event_id=f"{prefix}e{i}", type=t, occurred_at=when)
        for i, (t, when) in enumerate(sorted(events, key=lambda e: e[1]))
    )


def outcome_of(lead: Lead) -> str:
    return ("won" if lead.won else "lost") if lead.decided else "open_sal"


def write(writer: Writer, scenario: Scenario, leads: list[Lead]) -> None:
    """Every lead with its journey and events; the handed-off ones with their hand-off and
    what sales made of it, as the journeys would have recorded them."""
    for lead in leads:
        profile = lead.profile
        journey = writer.journey(
            "acme", industry=profile.industry, company_size=profile.company_size
        )
        for event in lead.events:
            writer.event(journey[0], event.type, event.occurred_at, product=product_of(event))
        if lead.handed_off(scenario):
            score = lead.evidence.score(scenario, lead.at)
            writer.hand_off(journey, score, lead.at, outcome_of(lead))


def product_of(event: BehaviorEvent) -> str | None:
    """Site events carry the product, email events none: both belong to the lead's journey."""
    return None if event.type.startswith("email_") else "acme"


def dataset_of(scenario: Scenario, leads: list[Lead]) -> Dataset:
    """The data set the store would give for `leads`, without a store (where the store is
    not what a test is about)."""
    rows = []
    unlabelled = []
    for n, lead in enumerate(leads):
        evidence = lead.evidence
        if lead.handed_off(scenario):
            outcome: Outcome = ("won" if lead.won else "lost") if lead.decided else "open"
            score = evidence.score(scenario, lead.at)
            rows.append(
                Row(outcome, lead.at, score, n, evidence.units(scenario, lead.at), evidence)
            )
        else:
            moments = tuple(sorted({e.occurred_at for e in lead.events}))
            if moments:
                unlabelled.append(Unlabelled(evidence, moments))
    return Dataset(rows, unlabelled, erased=0)


def precision_among(scenario: Scenario, leads: list[Lead], threshold: int) -> tuple[float, int]:
    """Won / decided among the `leads` a journey on `scenario` with `threshold` hands off."""
    passed = [lead for lead in leads if lead.decided and lead.handed_off(scenario, threshold)]
    won = sum(lead.won for lead in passed)
    return (won / len(passed) if passed else 0.0), len(passed)
