"""`rule_units`: a score is Σ points × units, so a suggestion's points score a lead exactly as
the journey would. Checked against `score_lead` on the richest scenario we ship (patterns
with properties, "every email opened", a behaviour cap, a negative fit rule)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.scoring.score import Discount, rule_refs, rule_units, score_lead
from tests.helpers.paths import REPO, SCENARIOS

CLOUDBOOK: Scenario = load_scenario_dir(REPO / "scenarios" / "cloudbook", check_templates=False)
ACME: Scenario = load_scenario_dir(SCENARIOS / "acme", check_templates=False)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SENDS = ["s1", "s2", "s3", "s4"]


def event(type_: str, days_ago: float, n: int, send: str, catalogue: bool) -> BehaviorEvent:
    properties: dict[str, object] = {}
    if type_ == "email_open":
        properties["send_id"] = send
    if type_ == "document_download" and catalogue:
        properties["document"] = "catalogue"
    return BehaviorEvent(
        event_id=f"e{n}",
        type=type_,
        occurred_at=NOW - timedelta(days=days_ago),
        properties=properties,
    )


def events_of(scenario: Scenario) -> st.SearchStrategy[list[BehaviorEvent]]:
    return st.lists(
        st.builds(
            event,
            st.sampled_from([*scenario.scoring.events, "unscored_thing"]),
            st.floats(min_value=-2, max_value=200, allow_nan=False),
            st.integers(0, 10_000),
            st.sampled_from(SENDS),
            st.booleans(),
        ),
        max_size=60,
        unique_by=lambda e: e.event_id,
    )


profiles = st.builds(
    LeadProfile,
    industry=st.sampled_from([None, "saas", "manufacturing", "製造業", "税理士事務所", "retail"]),
    company_size=st.sampled_from([None, 10, 50, 120, 3000]),
    department=st.sampled_from([None, "経理", "sales"]),
    role=st.sampled_from([None, "executive", "practitioner"]),
    attributes=st.sampled_from([{}, {"current_tool": "excel"}, {"current_tool": "none"}]),
)


def current_points(scenario: Scenario) -> dict[str, int]:
    return {ref.key: ref.points for ref in rule_refs(scenario)}


def score_with(points: dict[str, int], units: dict[str, float], scenario: Scenario) -> int:
    """Σ points × units as scoring adds them: fit exact, behaviour rounded half up per
    rule and capped at `max_behavior`."""
    fit = sum(points[key] * units[key] for key in units if key.startswith("fit:"))
    behaviour = sum(
        math.floor(points[key] * units[key] + 0.5) for key in units if not key.startswith("fit:")
    )
    cap = scenario.scoring.max_behavior
    return round(fit) + (behaviour if cap is None else min(behaviour, cap))


recycles = st.one_of(
    st.none(),
    st.builds(
        Discount,
        before=st.floats(min_value=0, max_value=60).map(lambda d: NOW - timedelta(days=d)),
        keep=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    profiles,
    events_of(CLOUDBOOK),
    st.lists(st.sampled_from(SENDS), max_size=4, unique=True),
    recycles,
)
def test_points_times_units_is_the_journeys_score(
    profile: LeadProfile, events: list[BehaviorEvent], sent: list[str], discount: Discount | None
) -> None:
    units = rule_units(profile, events, NOW, CLOUDBOOK, sent_ids=sent, discount=discount)
    expected = score_lead(profile, events, NOW, CLOUDBOOK, sent_ids=sent, discount=discount)
    assert score_with(current_points(CLOUDBOOK), units, CLOUDBOOK) == expected.total


@settings(max_examples=100, deadline=None)
@given(profiles, events_of(ACME))
def test_doubling_every_rule_and_cap_doubles_the_score(
    profile: LeadProfile, events: list[BehaviorEvent]
) -> None:
    """Units do not depend on the points: a rule's cap counts events, so new points with the
    cap moved along give the score those points would give."""
    scoring = ACME.scoring
    doubled = ACME.model_copy(
        update={
            "fit": [r.model_copy(update={"points": r.points * 2}) for r in ACME.fit],
            "scoring": scoring.model_copy(
                update={
                    "events": {
                        name: rule.model_copy(
                            update={
                                "points": rule.points * 2,
                                "daily_cap": None if rule.daily_cap is None else rule.daily_cap * 2,
                            }
                        )
                        for name, rule in scoring.events.items()
                    },
                    "patterns": [
                        p.model_copy(update={"points": p.points * 2}) for p in scoring.patterns
                    ],
                }
            ),
        }
    )
    units = rule_units(profile, events, NOW, ACME)
    assert rule_units(profile, events, NOW, doubled) == units
    expected = score_lead(profile, events, NOW, doubled).total
    assert score_with(current_points(doubled), units, doubled) == expected


def test_units_of_a_worked_example() -> None:
    events = [
        event("pricing_page", 0, 1, "s1", False),
        event("pricing_page", 0.1, 2, "s1", False),  # the same day: over the daily cap
        event("pricing_page", 60, 3, "s1", False),  # a half-life ago: half a unit
        event("webinar_attended", 1, 4, "s1", False),
    ]
    units = rule_units(LeadProfile(industry="saas", company_size=10), events, NOW, ACME)
    assert units["fit:target industry"] == 1.0 and units["fit:mid-size company"] == 0.0
    assert abs(units["event:pricing_page"] - (1 + 0.5)) < 0.02
    assert abs(units["event:webinar_attended"] - 0.5 ** (1 / 60)) < 1e-9
    assert units["pattern:product page 3+ times in 14 days"] == 0.0


def test_rules_of_the_same_name_and_of_no_points_have_units_of_their_own() -> None:
    doubled = ACME.model_copy(
        update={
            "fit": [*ACME.fit, ACME.fit[0].model_copy(update={"points": 3})],
            "scoring": ACME.scoring.model_copy(
                update={
                    "events": ACME.scoring.events
                    | {"trial_started": ACME.scoring.events["webinar_attended"].model_copy(
                        update={"points": 0})},
                }
            ),
        }
    )  # fmt: skip
    keys = [ref.key for ref in rule_refs(doubled)]
    assert "fit:target industry" in keys and "fit:target industry#2" in keys
    events = [event("trial_started", 1, 1, "s1", False), event("trial_started", 2, 2, "s1", False)]
    units = rule_units(LeadProfile(industry="saas"), events, NOW, doubled)
    assert units["fit:target industry"] == units["fit:target industry#2"] == 1.0
    assert units["event:trial_started"] > 1.9  # counted, though it gives no points now
    expected = score_lead(LeadProfile(industry="saas"), events, NOW, doubled).total
    assert score_with(current_points(doubled), units, doubled) == expected
