"""Tracker rules while older versions still run."""

from __future__ import annotations

from nurture.scenario.live_rules import with_live_rules
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import PageRule, Tracking
from tests.helpers.paths import SCENARIOS

ACME = load_scenario(SCENARIOS, "acme")


def test_an_older_versions_page_rules_and_kept_names_are_added_after_the_newest() -> None:
    old = ACME.model_copy(
        update={
            "version": "old",
            "pages": [
                PageRule(url_contains="acme.example/plans", event="pricing_page"),
                *ACME.pages,
            ],
            "tracking": Tracking(keep_query=["plan"], keep_properties=["seminar"]),
        }
    )
    merged = with_live_rules(ACME, [ACME, old])
    assert merged.pages[: len(ACME.pages)] == ACME.pages  # the newest decides first
    assert merged.pages[len(ACME.pages) :] == [old.pages[0]]
    assert merged.tracking.keep_query == ["plan"]
    assert {"seminar", *ACME.kept_properties()} <= set(merged.tracking.keep_properties)
    assert merged.version == ACME.version


def test_without_older_versions_or_for_another_product_nothing_changes() -> None:
    other = ACME.model_copy(update={"product": "other", "version": "x"})
    assert with_live_rules(ACME, [ACME]) is ACME
    assert with_live_rules(ACME, [other]) is ACME
