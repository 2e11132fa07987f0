"""The pydantic model of a segment definition: pure data, validated like a scenario.

Who the lead is (`lead:`) is the scenario's own `LeadCondition`, so `only_if`, `entry` and
a segment speak one language; the rest says where the lead is in its journey and what it
did, which only the store knows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nurture.journey.lifecycle import Lifecycle
from nurture.scenario.durations import Duration
from nurture.scenario.model import SLUG, EventType, LeadCondition, Stage, _Strict

Channel = Literal["email", "line"]
MAX_DEPTH = 8  # segments naming segments naming segments…


def _listed(value: Any) -> Any:
    """`stage: warm` reads as `stage: [warm]`."""
    return [value] if isinstance(value, str) else value


Stages = Annotated[list[Stage], BeforeValidator(_listed), Field(min_length=1)]
Lifecycles = Annotated[list[Lifecycle], BeforeValidator(_listed), Field(min_length=1)]
Channels = Annotated[list[Channel], BeforeValidator(_listed), Field(min_length=1)]


class ScoreRange(_Strict):
    """`score: {at_least: 40, below: 80}`: the journey's score as last recorded."""

    at_least: int | None = None
    below: int | None = None

    @model_validator(mode="after")
    def _bounded(self) -> ScoreRange:
        if self.at_least is None and self.below is None:
            raise ValueError("name at_least, below or both, e.g. {at_least: 40}")
        if self.at_least is not None and self.below is not None and self.below <= self.at_least:
            raise ValueError(f"below ({self.below}) must be above at_least ({self.at_least})")
        return self


class Within(_Strict):
    """`opened: {within: 30d}`: a person opened (or clicked) any of our emails lately."""

    within: Duration


class Visited(_Strict):
    """`visited: {url: "*/pricing*", within: 14d}`: a page view whose URL matches the
    pattern (`*` stands for any text; the whole URL must match)."""

    url: str = Field(min_length=1, max_length=500)
    within: Duration | None = None


class Did(_Strict):
    """`did: {event: seminar_attended, at_least: 2, within: 90d}`: how many times the lead
    did something (any event type), in a window or ever. For "never", write
    `not: {did: {event: …}}`."""

    event: EventType
    at_least: int = Field(default=1, ge=1)
    below: int | None = Field(default=None, ge=1)
    within: Duration | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Did:
        if self.below is not None and self.below <= self.at_least:
            raise ValueError(f"below ({self.below}) must be above at_least ({self.at_least})")
        return self


class SegmentCondition(_Strict):
    """Every key it names must hold (and); `any:`, `all:` and `not:` combine conditions."""

    stage: Stages | None = None
    lifecycle: Lifecycles | None = None
    score: ScoreRange | None = None
    lead: LeadCondition | None = None
    consent: Channels | None = None
    opened: Within | None = None
    clicked: Within | None = None
    visited: Visited | None = None
    did: Did | None = None
    in_segment: str | None = None
    any: list[SegmentCondition] | None = Field(default=None, min_length=1)
    all: list[SegmentCondition] | None = Field(default=None, min_length=1)
    not_: SegmentCondition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _says_something(self) -> SegmentCondition:
        if not self.model_fields_set - {"description", "name"}:
            raise ValueError(
                "name a condition: stage, lifecycle, score, lead, consent, opened, clicked, "
                "visited, did, in_segment, or combine conditions with any:, all: or not: (a "
                "segment of every lead of a product names only its product)"
            )
        return self

    def journey_keys(self) -> list[str]:
        """The keys here (not nested) that read the lead's journey of the product."""
        return [k for k in ("stage", "lifecycle", "score") if getattr(self, k) is not None]

    def children(self) -> list[tuple[tuple[str | int, ...], SegmentCondition]]:
        """The conditions nested directly in this one, with their paths."""
        found: list[tuple[tuple[str | int, ...], SegmentCondition]] = []
        for key, nested in (("any", self.any), ("all", self.all)):
            found += [((key, i), c) for i, c in enumerate(nested or ())]
        if self.not_ is not None:
            found.append((("not",), self.not_))
        return found


class Segment(SegmentCondition):
    """A named segment. `product` scopes it to leads with a journey of that product; it is
    needed for `stage`, `lifecycle` and `score`, which are the journey's."""

    name: str = ""
    description: str = Field(default="", max_length=500)
    product: str | None = None

    @field_validator("name")
    @classmethod
    def _slug_name(cls, value: str) -> str:
        if value and not SLUG.match(value):
            raise ValueError(
                f"segment name {value!r} must be a slug: lowercase letters, digits, '-' or "
                "'_' (e.g. 'warm-finance')"
            )
        return value

    def definition(self) -> dict[str, Any]:
        """The definition as written (what the store and the API keep), without its name."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"name"})


class SegmentFile(_Strict):
    """`scenarios/segments.yaml`: `segments:` maps each name to its definition."""

    segments: dict[str, Segment] = Field(default_factory=dict)


SegmentCondition.model_rebuild()
Segment.model_rebuild()
