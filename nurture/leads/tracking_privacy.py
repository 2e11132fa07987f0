"""What of a tracker's URLs and properties Nurture keeps: only what a scenario names.

Trackers send whatever the page had: `?email=aiko%40example.jp` from a form's redirect, a
`phone` property, a fragment with a token. Events are stored and signalled to journeys,
whose Temporal histories every operator reads (and no erasure can rewrite), so the API
strips them when it accepts an event, before the store or a journey sees them: URLs keep
their scheme, host and path, `utm_*` and the scenario's `tracking.keep_query` parameters,
never a fragment or user info; properties keep what the scenario's rules match on and its
`tracking.keep_properties`. A kept value that holds an email address is dropped all the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nurture.leads.events import NAME_PROPERTIES
from nurture.scenario.model import Scenario

EMAIL_IN_TEXT = re.compile(r"[^@\s/?&=]+@[^@\s/?&=]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class TrackingPolicy:
    """The query parameters and properties one product (or several, merged) keeps."""

    keep_query: frozenset[str] = frozenset()
    keep_properties: frozenset[str] = frozenset(NAME_PROPERTIES)

    @classmethod
    def of(cls, scenario: Scenario) -> TrackingPolicy:
        return cls(frozenset(scenario.tracking.keep_query), frozenset(scenario.kept_properties()))

    @classmethod
    def merged(cls, policies: Iterable[TrackingPolicy]) -> TrackingPolicy:
        """What any of them keeps: for an event not yet known to concern one product."""
        found = list(policies)
        if not found:
            return cls()
        return cls(
            frozenset().union(*(p.keep_query for p in found)),
            frozenset().union(*(p.keep_properties for p in found)),
        )

    def url(self, raw: str) -> str:
        """The URL without its fragment, user info and unnamed query parameters."""
        try:
            parts = urlsplit(raw)
            host = parts.netloc.rsplit("@", 1)[-1]
        except ValueError:  # not a URL at all (a bad IPv6 host): keep only its path
            return raw.split("?", 1)[0].split("#", 1)[0]
        query = [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if (name.startswith("utm_") or name in self.keep_query) and not _holds_email(value)
        ]
        return urlunsplit((parts.scheme, host, parts.path, urlencode(query), ""))

    def properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value
            for key, value in properties.items()
            if key in self.keep_properties and not _holds_email(value)
        }


def policy_for(scenarios: list[Scenario], product: str | None) -> TrackingPolicy:
    """The product's policy; for an event of no (known) product, what any product keeps.

    Called for every tracked event, so each set of scenario versions (a version is a hash
    of the scenario's content) is walked once, not per event."""
    mine = [s for s in scenarios if s.product == product] or scenarios
    key = tuple((s.product, s.version) for s in mine)
    policy = _policies.get(key)
    if policy is None:
        policy = TrackingPolicy.merged(TrackingPolicy.of(s) for s in mine)
        if len(_policies) > 1_000:  # scenario edits: forget old versions
            _policies.clear()
        _policies[key] = policy
    return policy


_policies: dict[tuple[tuple[str, str], ...], TrackingPolicy] = {}


def _holds_email(value: object) -> bool:
    return isinstance(value, str) and bool(EMAIL_IN_TEXT.search(value.replace("%40", "@")))
