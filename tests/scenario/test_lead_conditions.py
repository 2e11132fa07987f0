"""Conditions on who the lead is (`only_if`, `entry`): what holds, and what is refused."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from nurture.leads.profile import LeadProfile
from nurture.scenario.model import LeadCondition

CFO = LeadProfile(role="executive", industry="SaaS", company_size=800, source="trade_show")
DEV = LeadProfile(role="practitioner", industry="retail", company_size=40, source="website")


def cond(**given: object) -> LeadCondition:
    return LeadCondition.model_validate(given)


def test_fields_match_one_of_their_values_whatever_the_case() -> None:
    assert cond(industry=["saas", "manufacturing"]).holds(CFO)
    assert not cond(industry=["saas"]).holds(DEV)
    assert cond(source=["Trade_Show"], role=["executive"]).holds(CFO)  # all named fields
    assert not cond(source=["trade_show"], role=["practitioner"]).holds(CFO)
    assert not cond(region=["kanto"]).holds(CFO)  # an unknown value never matches


def test_company_size_ranges_and_combinations() -> None:
    assert cond(company_size={"at_least": 100, "below": 1000}).holds(CFO)
    assert not cond(company_size={"at_least": 100}).holds(DEV)
    assert not cond(company_size={"at_least": 1}).holds(LeadProfile())  # size unknown
    either = cond(any=[{"role": ["executive"]}, {"company_size": {"at_least": 500}}])
    assert either.holds(CFO) and not either.holds(DEV)
    assert cond(**{"not": {"source": ["website"]}}).holds(CFO)
    assert not cond(**{"not": {"source": ["website"]}}).holds(DEV)
    assert cond(all=[{"industry": ["saas"]}, {"role": ["executive"]}]).holds(CFO)


def test_an_empty_or_unknown_condition_is_refused() -> None:
    with pytest.raises(ValidationError, match="name a field"):
        cond()
    # any other key names a custom attribute: the scenario's checks refuse an undeclared one
    # (tests/scenario/test_model.py); a malformed value is refused here
    with pytest.raises(ValidationError, match="plan"):
        cond(plan={"more_than": 3})


def test_custom_attributes_match_a_value_a_list_or_a_range() -> None:
    buyer = LeadProfile(attributes={"plan": "pro", "seats": 120, "renews_on": "2027-02-01",
                                    "budget_approved": True})  # fmt: skip
    assert cond(plan=["Starter", "PRO"]).holds(buyer)
    assert cond(budget_approved=True, seats={"at_least": 100, "below": 500}).holds(buyer)
    assert not cond(seats={"at_least": 200}).holds(buyer)
    assert cond(renews_on={"below": date(2027, 3, 1)}).holds(buyer)
    assert not cond(renews_on={"at_least": date(2027, 3, 1)}).holds(buyer)
    assert cond(seats=120.0).holds(buyer)  # 120 and 120.0 are one value
    assert not cond(plan=["pro"]).holds(LeadProfile())  # unset never matches
    assert cond(**{"not": {"plan": ["pro"]}}).holds(LeadProfile())
