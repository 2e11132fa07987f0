"""Assignment by hash: A/B variants and the control group, the same on every replay."""

from __future__ import annotations

from nurture.schedule.variants import assign_variant, in_holdout

LEADS = [f"ld_{i:016x}" for i in range(1000)]


def test_about_a_tenth_of_a_thousand_leads_are_in_a_ten_percent_control_group() -> None:
    held = [lead for lead in LEADS if in_holdout(lead, "acme", 0.1)]
    assert 70 <= len(held) <= 130
    assert held == [lead for lead in LEADS if in_holdout(lead, "acme", 0.1)]  # deterministic
    assert not any(in_holdout(lead, "acme", 0.0) for lead in LEADS)
    other = {lead for lead in LEADS if in_holdout(lead, "beta", 0.1)}
    assert other != set(held)  # each product draws its own group


def test_a_lead_keeps_its_variant() -> None:
    assert assign_variant("ld_1", "acme", "cold/guide", 2) == assign_variant(
        "ld_1", "acme", "cold/guide", 2
    )
    assert {assign_variant(lead, "acme", "cold/guide", 2) for lead in LEADS} == {0, 1}
