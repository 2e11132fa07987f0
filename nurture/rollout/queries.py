"""Which journeys a bulk command means, in Temporal's visibility language.

Operators narrow with `--where` over the journey's search attributes (`LeadStage="hot" AND
NurtureTrack="warm"`); the product and "still running" are always added, so a query can
never reach another product's journeys or a closed one.
"""

from __future__ import annotations

from nurture.journey.contract import WORKFLOW_TYPE
from nurture.journey.search_attributes import PRODUCT, SCENARIO_VERSION


class BadQuery(ValueError):
    """A `--where` that cannot be ANDed safely; says what to write instead."""


def journeys_query(product: str, where: str | None = None, *, not_on: str | None = None) -> str:
    """Running journeys of `product`, narrowed by `where`, not already on version `not_on`."""
    parts = [
        f'WorkflowType = "{WORKFLOW_TYPE}"',
        'ExecutionStatus = "Running"',
        f'{PRODUCT.name} = "{_quoted(product)}"',
    ]
    if not_on:
        parts.append(f'{SCENARIO_VERSION.name} != "{_quoted(not_on)}"')
    if where and where.strip():
        parts.append(f"({_checked(where)})")
    return " AND ".join(parts)


def _quoted(value: str) -> str:
    if '"' in value or "\\" in value:
        raise BadQuery(f"{value!r} cannot contain quotes or backslashes")
    return value


def _checked(where: str) -> str:
    """Balanced parentheses and quotes, no ORDER BY: an AND that means what it says."""
    depth, quote = 0, ""
    for char in where:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                break
    if depth != 0 or quote:
        raise BadQuery(
            f"--where {where!r} has unbalanced parentheses or quotes; e.g. "
            'LeadStage="hot" AND NurtureTrack="warm"'
        )
    if "order by" in where.lower():
        raise BadQuery("--where cannot ORDER BY: it narrows the journeys, nothing else")
    return where
