"""Which sales feedback makes sense where (MQL → SAL → SQL → opportunity → customer)."""

from __future__ import annotations

import pytest

from nurture.journey.lifecycle import FEEDBACK_MOVES, InvalidTransition, feedback_target


@pytest.mark.parametrize(
    ("current", "outcome", "target"),
    [
        ("handed_off", "accepted", "sal"),
        ("handed_off", "rejected", "recycled"),
        ("sal", "rejected", "recycled"),
        ("sql", "rejected", "recycled"),  # e.g. a sales-generated lead: not now, nurture it
        ("handed_off", "contacted", "sal"),
        ("sal", "contacted", "sql"),
        ("sql", "opportunity", "opportunity"),
        ("opportunity", "won", "customer"),
        ("opportunity", "lost", "lost"),
        ("nurturing", "disqualified", "disqualified"),
    ],
)
def test_allowed_moves(current: str, outcome: str, target: str) -> None:
    assert feedback_target(current, outcome) == target


@pytest.mark.parametrize(
    ("current", "outcome"),
    [
        ("nurturing", "accepted"),
        ("handed_off", "won"),
        ("customer", "rejected"),
        ("unsubscribed", "accepted"),
        ("recycled", "opportunity"),
    ],
)
def test_nonsense_is_refused_with_what_would_be_allowed(current: str, outcome: str) -> None:
    with pytest.raises(InvalidTransition) as err:
        feedback_target(current, outcome)
    allowed = ", ".join(sorted(FEEDBACK_MOVES[outcome]))
    assert f"cannot record {outcome!r} for a lead that is {current!r}" in str(err.value)
    assert allowed in str(err.value)


def test_unknown_outcome_lists_the_known_ones() -> None:
    with pytest.raises(InvalidTransition, match="expected one of: accepted, rejected"):
        feedback_target("sal", "maybe")
