"""`nurture diff` says when a step changes channel, in words a marketer reads."""

from __future__ import annotations

from datetime import timedelta

from nurture.scenario.diff import describe_changes
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Goal, LineMessage, Reentry
from tests.helpers.paths import SCENARIOS


def test_a_step_moved_to_line_is_described() -> None:
    old = load_scenario(SCENARIOS, "acme")
    cold = old.tracks["cold"]
    guide = cold.steps[1].model_copy(
        update={
            "channel": "line",
            "line": LineMessage(template="guide", alt_text="A guide"),
            "fallback": "none",
        }
    )
    steps = [*cold.steps[:1], guide, *cold.steps[2:]]
    tracks = {**old.tracks, "cold": cold.model_copy(update={"steps": steps})}
    new = old.model_copy(update={"tracks": tracks})
    assert describe_changes(old, new) == [
        "cold/guide: channel email → line",
        "cold/guide: line alt_text none → 'A guide'",
        "cold/guide: line template none → 'guide'",
    ]


def test_goals_and_the_control_group_are_described() -> None:
    old = load_scenario(SCENARIOS, "acme")
    new = old.model_copy(update={"holdout": 0.1, "goals": [Goal(name="demo", event="demo_booked")]})
    assert describe_changes(old, new) == [
        "goals: [] → [{name: 'demo', event: 'demo_booked'}]",
        "holdout: 0.0 → 0.1",
    ]


def test_a_lost_deals_return_is_described() -> None:
    old = load_scenario(SCENARIOS, "acme")
    new = old.model_copy(update={"on_lost": Reentry(after=timedelta(days=90), track="cold")})
    assert describe_changes(old, new) == ["on_lost: none → {after: 90d, track: 'cold'}"]


def test_lifecycle_triggers_customers_and_attributes_are_described() -> None:
    from nurture.leads.attributes import AttributeSpec
    from nurture.scenario.model import Reentry, Trigger, TriggerWhen

    old = load_scenario(SCENARIOS, "acme")
    back = Trigger(key="still-here", when=TriggerWhen(lifecycle="recycled"), template="note",
                   subject="Still here")  # fmt: skip
    new = old.model_copy(update={
        "triggers": [*old.triggers, back],
        "on_customer": Reentry(after=timedelta(days=30), track="warm"),
        "attributes": {"plan": AttributeSpec(type="enum", values=["starter", "pro"])},
    })  # fmt: skip
    changes = describe_changes(old, new)
    assert "trigger 'still-here' added (fires on lifecycle recycled)" in changes
    assert "on_customer: none → {after: 30d, track: 'warm'}" in changes
    assert "attributes: plan none → {type: 'enum', values: ['starter', 'pro']}" in changes
