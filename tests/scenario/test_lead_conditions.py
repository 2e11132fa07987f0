"""Conditions on who the lead is (`only_if`, `entry`): what holds, and what is refused."""

from __future__ import annotations

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
    with pytest.raises(ValidationError, match="title"):
        cond(title=["CFO"])
