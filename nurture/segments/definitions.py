"""Where segment definitions come from, and the checks pydantic cannot make.

Two sources: `scenarios/segments.yaml`, reviewed like code, whose problems name the file
and line; and the store's `segments` table, written through the API. A name belongs to one
source: the file's definitions cannot be replaced through the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from nurture.leads.attributes import AttributeCatalog
from nurture.scenario.attribute_checks import condition_problems
from nurture.scenario.loader import (
    Problem,
    dotted,
    line_for,
    parse_yaml,
    validation_problem,
)
from nurture.segments.model import MAX_DEPTH, Segment, SegmentCondition, SegmentFile
from nurture.store.engine import Store
from nurture.store.models import SavedSegment, utcnow

SEGMENTS_FILE = "segments.yaml"
Path_ = tuple[str | int, ...]


class SegmentError(Exception):
    """Definitions that cannot be answered; `problems` lists every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Known:
    """What a definition may name: the products with a scenario, and declared attributes."""

    products: frozenset[str]
    attributes: AttributeCatalog


def segments_file(root: Path) -> Path:
    return root / SEGMENTS_FILE


def load_segment_file(root: Path, known: Known) -> dict[str, Segment]:
    """The segments of `scenarios/segments.yaml` (none when there is no file), checked."""
    file = segments_file(root)
    if not file.exists():
        return {}
    data, lines, problems = parse_yaml(file, file.read_text(encoding="utf-8"))
    if problems:
        raise SegmentError(problems)
    try:
        parsed = SegmentFile.model_validate(data)
    except ValidationError as err:
        raise SegmentError(
            [validation_problem(file, lines, e, SegmentFile) for e in err.errors()]
        ) from None
    segments = {name: s.model_copy(update={"name": name}) for name, s in parsed.segments.items()}
    found = [
        Problem(file, line_for(lines, ("segments", *path)), dotted(("segments", *path)), message)
        for path, message in segment_problems(segments, known)
    ]
    if found:
        raise SegmentError(found)
    return segments


def parse_segment(
    name: str, definition: Mapping[str, object], known: Known, others: Mapping[str, Segment]
) -> Segment:
    """One definition sent through the API, checked against the others; ValueError says
    what is wrong, each problem with its path."""
    try:
        segment = Segment.model_validate({**definition, "name": name})
    except ValidationError as err:
        raise ValueError("; ".join(_said(name, e) for e in err.errors())) from None
    problems = segment_problems({**others, name: segment}, known, only=name)
    if problems:
        raise ValueError("; ".join(f"{dotted(path)}: {message}" for path, message in problems))
    return segment


def _said(name: str, error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or name
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def segment_problems(
    segments: Mapping[str, Segment], known: Known, *, only: str | None = None
) -> list[tuple[Path_, str]]:
    """Names, products, attributes and references that cannot work, with their paths."""
    problems: list[tuple[Path_, str]] = []
    declared = {name: d.spec for name, d in known.attributes.declared.items()}
    for name, segment in segments.items():
        if only is not None and name != only:
            continue
        if not segment.name:
            continue
        if segment.product is not None and segment.product not in known.products:
            problems.append(
                ((name, "product"), f"no scenario for product {segment.product!r} (known: "
                 f"{', '.join(sorted(known.products)) or 'none'})")
            )  # fmt: skip
        for path, condition in _conditions((name,), segment):
            if condition.journey_keys() and segment.product is None:
                key = condition.journey_keys()[0]
                problems.append(
                    ((*path, key), f"{key} is the lead's journey's: name the segment's product")
                )
            if condition.lead is not None:
                problems += condition_problems((*path, "lead"), condition.lead, declared)
            named = [("in_segment", condition.in_segment)] if condition.in_segment else []
            named += (
                [("lead", n) for n in sorted(condition.lead.segments())] if condition.lead else []
            )
            for key, ref in named:
                if ref not in segments:
                    problems.append(
                        ((*path, key), f"no segment {ref!r} (known: "
                         f"{', '.join(sorted(n for n in segments if n != name)) or 'none'})")
                    )  # fmt: skip
        cycle = _cycle(name, segments)
        if cycle:
            problems.append(((name,), f"segments name each other in a circle: {cycle}"))
    return problems


def _conditions(
    path: Path_, condition: SegmentCondition
) -> Iterator[tuple[Path_, SegmentCondition]]:
    yield path, condition
    for sub, child in condition.children():
        yield from _conditions((*path, *sub), child)


def references(condition: SegmentCondition) -> list[str]:
    """The segments a condition names, anywhere inside it."""
    found = []
    for _, c in _conditions((), condition):
        found += [c.in_segment] if c.in_segment is not None else []
        found += sorted(c.lead.segments()) if c.lead is not None else []
    return found


def _cycle(start: str, segments: Mapping[str, Segment]) -> str | None:
    """'a → b → a' when following `in_segment:` from `start` comes back, or is too deep."""

    def walk(name: str, trail: list[str]) -> str | None:
        if name in trail:
            return " → ".join([*trail[trail.index(name) :], name])
        if len(trail) > MAX_DEPTH:
            return " → ".join(trail) + f" … (more than {MAX_DEPTH} deep)"
        segment = segments.get(name)
        for ref in references(segment) if segment is not None else []:
            found = walk(ref, [*trail, name])
            if found:
                return found
        return None

    return walk(start, []) if start in segments else None


def stored_segments(store: Store) -> dict[str, Segment]:
    """The segments saved through the API, as they were checked when saved."""
    with store.session() as session:
        rows = session.scalars(select(SavedSegment).order_by(SavedSegment.name)).all()
    return {
        row.name: Segment.model_validate({**json.loads(row.definition), "name": row.name})
        for row in rows
    }


def save_segment(store: Store, segment: Segment) -> bool:
    """Create or replace a saved segment; True when it is new."""
    text = json.dumps(segment.definition(), sort_keys=True)
    with store.session() as session:
        row = session.get(SavedSegment, segment.name, with_for_update=True)
        if row is None:
            session.add(SavedSegment(name=segment.name, definition=text))
            return True
        row.definition = text
        row.updated_at = utcnow()
        return False


def delete_segment(store: Store, name: str) -> bool:
    with store.session() as session:
        row = session.get(SavedSegment, name)
        if row is None:
            return False
        session.delete(row)
        return True
