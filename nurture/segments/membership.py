"""Who is in a segment now: its count, its lead ids page by page, its export.

Every answer is one SQL statement over the store (nurture/segments/sql.py), at one moment:
the windows (`within: 30d`) count back from it, so a page and the next agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, func, select

from nurture.leads.attributes import AttributeCatalog
from nurture.scenario.attribute_checks import declared_attributes
from nurture.scenario.loader import scenario_dirs, valid_scenarios
from nurture.segments.definitions import Known, load_segment_file, stored_segments
from nurture.segments.model import Segment
from nurture.segments.sql import Compiler
from nurture.store.engine import Store
from nurture.store.models import Lead, utcnow

EXPORT_FIELDS = (
    "id",
    "external_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "industry",
    "company_size",
    "role",
    "region",
    "department",
    "source",
    "timezone",
)
EXPORT_PAGE = 5_000


class UnknownSegment(LookupError):
    """A name no definition has; says which ones exist."""


@dataclass
class SegmentBook:
    """Every segment, from the file and the store, with what they may name."""

    segments: dict[str, Segment]
    known: Known
    from_file: frozenset[str]

    def get(self, name: str) -> Segment:
        found = self.segments.get(name)
        if found is None:
            names = ", ".join(sorted(self.segments)) or "none yet"
            raise UnknownSegment(
                f"no segment {name!r} (known: {names}); define it in scenarios/segments.yaml "
                "or PUT /v1/segments/{name}"
            )
        return found

    def where(self, name: str, now: datetime) -> ColumnElement[bool]:
        """The condition on `leads` that picks the segment's leads at `now`."""
        return Compiler(self.segments, self.known.attributes, now).segment(self.get(name))


def known_to(root: Path) -> Known:
    """What definitions may name: the products with a scenario, and declared attributes."""
    products = frozenset(p.name for p in scenario_dirs(root)) if root.is_dir() else frozenset()
    catalog: AttributeCatalog = declared_attributes(valid_scenarios(root))
    return Known(products=products, attributes=catalog)


def segment_book(root: Path, store: Store) -> SegmentBook:
    """The file's segments (raises SegmentError when it has problems) and the saved ones."""
    known = known_to(root)
    in_file = load_segment_file(root, known)
    saved = {n: s for n, s in stored_segments(store).items() if n not in in_file}
    return SegmentBook({**saved, **in_file}, known, frozenset(in_file))


def count(store: Store, book: SegmentBook, name: str, now: datetime | None = None) -> int:
    where = book.where(name, now or utcnow())
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Lead).where(where)) or 0


def lead_ids(
    store: Store,
    book: SegmentBook,
    name: str,
    *,
    now: datetime | None = None,
    after: str | None = None,
    limit: int = 1000,
) -> list[str]:
    """One page of the segment's lead ids, in id order, after `after`."""
    query = select(Lead.id).where(book.where(name, now or utcnow()))
    if after is not None:
        query = query.where(Lead.id > after)
    with store.session() as session:
        return list(session.scalars(query.order_by(Lead.id).limit(limit)))


def export_rows(
    store: Store, book: SegmentBook, name: str, now: datetime | None = None
) -> Iterator[dict[str, object]]:
    """The segment's leads with their fields and attributes, page by page (keyset)."""
    where = book.where(name, now or utcnow())
    columns = [getattr(Lead, f) for f in EXPORT_FIELDS]
    after = ""
    while True:
        with store.session() as session:
            rows = session.execute(
                select(*columns, Lead.attributes)
                .where(where, Lead.id > after)
                .order_by(Lead.id)
                .limit(EXPORT_PAGE)
            ).all()
        for row in rows:
            values = dict(zip(EXPORT_FIELDS, row[:-1], strict=True))
            for key, value in sorted((row[-1] or {}).items()):
                values[f"attributes.{key}"] = value
            yield values
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1][0]
