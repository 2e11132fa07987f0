"""A segment as one SQL condition over `leads`: EXISTS subqueries for what a lead did and
where its journey is, plain comparisons for who it is. The same query on SQLite and
PostgreSQL; the indexes it relies on are listed in docs/segments.md.

Matching follows the journeys' own: text compares without case or surrounding spaces
(`same_value` in nurture/scenario/model.py), a missing value never matches, ranges are
`at_least <= value < below`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement as Column

from nurture.leads.attributes import AttributeCatalog
from nurture.scenario.model import AttributeMatch, AttributeRange, LeadCondition, normal_value
from nurture.segments.model import Segment, SegmentCondition
from nurture.store.models import (
    Consent,
    Engagement,
    Event,
    Journey,
    JourneyStatus,
    Lead,
)

PAGE_VIEW = "page_view"
TEXT_FIELDS = ("industry", "role", "region", "department", "source")


class Compiler:
    """Turns segments into conditions on `Lead`, at one moment (`now`, for the windows)."""

    def __init__(
        self, segments: Mapping[str, Segment], catalog: AttributeCatalog, now: datetime
    ) -> None:
        self.segments = segments
        self.catalog = catalog
        self.now = now

    def segment(self, segment: Segment) -> ColumnElement[bool]:
        """Every lead of the segment (erased leads are in none)."""
        parts: list[ColumnElement[bool]] = [Lead.erased_at.is_(None)]
        if segment.product is not None and not segment.journey_keys():
            # (stage, lifecycle and score ask the product's journey already)
            parts.append(
                exists().where(Journey.lead_id == Lead.id, Journey.product == segment.product)
            )
        if segment.model_fields_set - {"name", "description", "product"}:
            parts.append(self.condition(segment, segment.product))
        return and_(*parts)

    def condition(self, c: SegmentCondition, product: str | None) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if c.journey_keys():
            assert product is not None  # checked with the definition (definitions.py)
            parts.append(self._journey(c, product))
        if c.lead is not None:
            parts.append(self.lead(c.lead))
        if c.consent is not None:
            parts.append(self._consent(c.consent, product))
        if c.opened is not None:
            parts.append(self._engaged(("opened", "clicked"), c.opened.within))
        if c.clicked is not None:
            parts.append(self._engaged(("clicked",), c.clicked.within))
        if c.visited is not None:
            parts.append(self._visited(c.visited.url, c.visited.within))
        if c.did is not None:
            parts.append(self._did(c.did.event, c.did.at_least, c.did.below, c.did.within))
        if c.in_segment is not None:
            parts.append(self.segment(self.segments[c.in_segment]))
        if c.any is not None:
            parts.append(or_(*(self.condition(x, product) for x in c.any)))
        if c.all is not None:
            parts.append(and_(*(self.condition(x, product) for x in c.all)))
        if c.not_ is not None:
            parts.append(not_(self.condition(c.not_, product)))
        return and_(*parts) if parts else true()

    def lead(self, c: LeadCondition) -> ColumnElement[bool]:
        """Who the lead is, as `LeadCondition.holds` judges a profile."""
        parts: list[ColumnElement[bool]] = []
        for field in TEXT_FIELDS:
            wanted = getattr(c, field)
            if wanted is not None:
                parts.append(_text_in(getattr(Lead, field), wanted))
        if c.company_size is not None:
            size = c.company_size
            parts.append(_range(Lead.company_size, size.at_least, size.below))
        for name, match in c.attributes.items():
            parts.append(self._attribute(name, match))
        if c.in_segment is not None:
            parts.append(self.segment(self.segments[c.in_segment]))
        if c.any is not None:
            parts.append(or_(*(self.lead(x) for x in c.any)))
        if c.all is not None:
            parts.append(and_(*(self.lead(x) for x in c.all)))
        if c.not_ is not None:
            parts.append(not_(self.lead(c.not_)))
        return and_(*parts) if parts else true()

    def _attribute(self, name: str, match: AttributeMatch) -> ColumnElement[bool]:
        found = self.catalog.declared.get(name)
        kind = found.spec.type if found is not None else "string"
        value = Lead.attributes[name]
        if isinstance(match, AttributeRange):
            if kind == "date":
                low, high = (_iso(b) for b in (match.at_least, match.below))
                return _range(value.as_string(), low, high)
            return _range(value.as_float(), match.at_least, match.below)
        wanted = match if isinstance(match, list) else [match]
        if kind == "number":
            numbers = [
                float(w)
                for w in wanted
                if isinstance(w, int | float) and w is not True and w is not False
            ]
            return _known(value.as_float(), lambda v: v.in_(numbers)) if numbers else false()
        if kind == "boolean":
            flags = [w for w in wanted if isinstance(w, bool)]
            if len(set(flags)) == 2:
                return value.as_boolean().isnot(None)
            return _known(value.as_boolean(), lambda v: v == flags[0]) if flags else false()
        return _text_in(value.as_string(), wanted)

    def _journey(self, c: SegmentCondition, product: str) -> ColumnElement[bool]:
        """The lead's journey of the product is at that stage, lifecycle, score."""
        where: list[ColumnElement[bool]] = [
            JourneyStatus.lead_id == Lead.id,
            JourneyStatus.product == product,
        ]
        if c.stage is not None:
            where.append(JourneyStatus.stage.in_(c.stage))
        if c.lifecycle is not None:
            where.append(JourneyStatus.lifecycle.in_(c.lifecycle))
        if c.score is not None:
            where.append(_range(JourneyStatus.score, c.score.at_least, c.score.below))
        return exists().where(*where)

    def _consent(self, channels: Sequence[str], product: str | None) -> ColumnElement[bool]:
        """Consent on file and not withdrawn, for every product or this segment's."""
        where: list[ColumnElement[bool]] = [
            Consent.lead_id == Lead.id,
            Consent.channel.in_(channels),
            Consent.withdrawn_at.is_(None),
        ]
        if product is not None:
            where.append(Consent.product.in_(["", product]))
        return exists().where(*where)

    def _engaged(self, kinds: tuple[str, ...], within: object) -> ColumnElement[bool]:
        """A person (not a mail scanner) opened or clicked any of our emails lately."""
        return exists().where(
            Engagement.lead_id == Lead.id,
            Engagement.occurred_at >= self.now - within,  # type: ignore[operator]
            Engagement.kind.in_(kinds),
            Engagement.human.is_(True),
        )

    def _visited(self, pattern: str, within: object | None) -> ColumnElement[bool]:
        where: list[ColumnElement[bool]] = [
            Event.lead_id == Lead.id,
            Event.type == PAGE_VIEW,
            Event.url.like(_like(pattern), escape="\\"),
        ]
        if within is not None:
            where.append(Event.occurred_at >= self.now - within)  # type: ignore[operator]
        return exists().where(*where)

    def _did(
        self, event: str, at_least: int, below: int | None, within: object | None
    ) -> ColumnElement[bool]:
        where: list[ColumnElement[bool]] = [Event.type == event]
        if within is not None:
            where.append(Event.occurred_at >= self.now - within)  # type: ignore[operator]
        if at_least == 1 and below is None:
            return exists().where(Event.lead_id == Lead.id, *where)
        # Counted once for all leads (a hash join), not once per lead.
        counts = [func.count() >= at_least] + ([func.count() < below] if below else [])
        counted = (
            select(Event.lead_id)
            .where(Event.lead_id.isnot(None), *where)  # an anonymous visitor's: no one's
            .group_by(Event.lead_id)
            .having(*counts)
        )
        return Lead.id.in_(counted)


def _text_in(column: Column[str], wanted: object) -> ColumnElement[bool]:
    values = wanted if isinstance(wanted, list) else [wanted]
    normal = sorted({normal_value(v) for v in values})
    return _known(column, lambda c: func.lower(func.trim(c)).in_(normal))


def _known(value: Any, test: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """`test(value)`, false (never NULL) for a missing value: SQL's NOT of a comparison
    with NULL is NULL, which would drop a lead with no industry from `not: {industry: …}`
    as well as from `industry: …`; `LeadCondition.holds` keeps it in the `not:`."""
    return and_(value.isnot(None), test(value))


def _range(column: Any, at_least: object | None, below: object | None) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [column.isnot(None)]
    if at_least is not None:
        parts.append(column >= at_least)
    if below is not None:
        parts.append(column < below)
    return and_(*parts)


def _iso(value: object | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else None if value is None else str(value)


def _like(pattern: str) -> str:
    """A `*` pattern as LIKE: `*` is any text, `%` and `_` are themselves."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")
