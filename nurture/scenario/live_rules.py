"""The tracker rules of every version still running: a journey on an older version of its
scenario must never silently stop scoring a page because the files moved on.

The API maps page views to product events by each scenario's `pages:` rules and keeps what
its rules match on (`tracking:`). While a rollout has not reached every journey (or never
will: `--where`), older versions run beside the newest; their rules are added to the
newest's, after it, so where both map a URL the newest decides.
"""

from __future__ import annotations

from nurture.scenario.model import Scenario, Tracking


def with_live_rules(current: Scenario, live: list[Scenario]) -> Scenario:
    """`current` with the page rules and kept query parameters and properties of the other
    `live` versions of its product added."""
    older = [s for s in live if s.product == current.product and s.version != current.version]
    if not older:
        return current
    pages = list(current.pages)
    for scenario in older:
        pages += [rule for rule in scenario.pages if rule not in pages]
    tracking = Tracking(
        keep_query=_union(current.tracking.keep_query, *(s.tracking.keep_query for s in older)),
        keep_properties=sorted(
            current.kept_properties().union(*(s.kept_properties() for s in older))
        ),
    )
    return current.model_copy(update={"pages": pages, "tracking": tracking})


def _union(first: list[str], *more: list[str]) -> list[str]:
    found = list(first)
    for names in more:
        found += [name for name in names if name not in found]
    return found
