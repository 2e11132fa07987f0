"""Whom a hand-off goes to when a product has several owners (`handoff.owners`): the next
of the team in turn, or the owner of the lead's territory (a lead field's value)."""

from __future__ import annotations

from nurture.scenario.model import Owners
from nurture.store.models import Lead


def assign_owner(owners: Owners, lead: Lead | None, turn: int) -> str:
    """`turn`: how many of the product's hand-offs came before this one (round robin)."""
    if owners.by is None:
        return owners.team[turn % len(owners.team)]
    value = getattr(lead, owners.by, None) if lead is not None else None
    assert owners.otherwise is not None  # validated with `by`
    territories = {key.strip().lower(): owner for key, owner in owners.to.items()}
    return territories.get(str(value or "").strip().lower(), owners.otherwise)
