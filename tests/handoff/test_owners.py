"""Several owners: whom each hand-off goes to, and what a scenario may say."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nurture.handoff.owners import assign_owner
from nurture.scenario.model import Owners
from nurture.store.models import Lead

TEAM = Owners(team=["a@acme.example", "b@acme.example", "c@acme.example"])
AREAS = Owners(
    by="region", to={"Kanto": "tokyo@acme.example", "kansai": "osaka@acme.example"},
    otherwise="sales@acme.example",
)  # fmt: skip


def test_a_team_takes_hand_offs_in_turn() -> None:
    assert [assign_owner(TEAM, None, turn) for turn in range(4)] == [
        "a@acme.example",
        "b@acme.example",
        "c@acme.example",
        "a@acme.example",
    ]


def test_a_territory_goes_to_its_owner_and_the_rest_otherwise() -> None:
    def lead(region: str | None) -> Lead:
        return Lead(id="ld_1", email="x@example.jp", region=region)

    assert assign_owner(AREAS, lead(" kanto "), 0) == "tokyo@acme.example"
    assert assign_owner(AREAS, lead("KANSAI"), 7) == "osaka@acme.example"
    assert assign_owner(AREAS, lead("kyushu"), 0) == "sales@acme.example"
    assert assign_owner(AREAS, lead(None), 0) == "sales@acme.example"
    assert assign_owner(AREAS, None, 0) == "sales@acme.example"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"team": ["a@acme.example"]}, "give `team: [a@..., b@...]` (two or more"),
        ({"by": "region", "to": {"kanto": "a@acme.example"}}, "needs `to:"),
        ({"by": "region", "otherwise": "a@acme.example"}, "needs `to:"),
        ({"team": ["a@x.example", "b@x.example"], "by": "role", "to": {"x": "a@x.example"},
          "otherwise": "a@x.example"}, "and no `team`"),
    ],
)  # fmt: skip
def test_owners_say_what_is_missing(given: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError, match=said.replace("[", r"\[").replace("(", r"\(")):
        Owners.model_validate(given)
