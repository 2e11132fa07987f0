"""The rollout's dry run: ask every matching journey what the new version would do to it.

Each journey answers with the same code its `scenario_update` runs (the query
`scenario_update_preview`), so the dry run predicts the rollout's moves exactly. Nothing
changes: a query writes no history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from nurture.journey.contract import VersionMoveResult
from nurture.rollout.contract import PREVIEW_QUERY
from nurture.scenario.model import Scenario

CONCURRENT_QUERIES = 8


@dataclass
class DryRun:
    moves: list[VersionMoveResult] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # journey id → why


@dataclass
class MoveGroup:
    """Journeys that move alike: from the same place to the same place, for the same reason."""

    from_version: str
    from_place: str
    to_place: str
    why: str
    count: int = 0
    next_before: list[datetime] = field(default_factory=list)
    next_after: list[datetime] = field(default_factory=list)


async def dry_run(
    client: Client,
    query: str,
    new: Scenario,
    on_progress: Callable[[int], None] | None = None,
) -> DryRun:
    """Every journey the query matches, asked what `new` would do to it."""
    result = DryRun()
    gate = asyncio.Semaphore(CONCURRENT_QUERIES)
    done = 0

    async def ask(journey_id: str) -> None:
        nonlocal done
        async with gate:
            handle = client.get_workflow_handle(journey_id)
            try:
                move = await handle.query(PREVIEW_QUERY, new, result_type=VersionMoveResult)
                result.moves.append(move)
            except WorkflowQueryFailedError as err:
                result.refused[journey_id] = str(err)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
        done += 1
        if on_progress is not None:
            on_progress(done)

    tasks = [asyncio.create_task(ask(e.id)) async for e in client.list_workflows(query)]
    await asyncio.gather(*tasks)
    result.moves.sort(key=lambda m: m.journey_id)
    return result


def place(track: str, step: str | None) -> str:
    return f"{track}/{step or '(end of track)'}"


def group_moves(moves: list[VersionMoveResult]) -> list[MoveGroup]:
    """The moves grouped by version, place before, place after and reason; biggest first."""
    groups: dict[tuple[str, str, str, str], MoveGroup] = {}
    for move in moves:
        key = (
            move.from_version,
            place(move.from_track, move.from_step),
            place(move.to_track, move.to_step),
            move.why,
        )
        group = groups.setdefault(key, MoveGroup(*key))
        group.count += 1
        if move.next_touch_before is not None:
            group.next_before.append(move.next_touch_before)
        if move.next_touch_after is not None:
            group.next_after.append(move.next_touch_after)
    return sorted(groups.values(), key=lambda g: (-g.count, g.from_place, g.to_place))


def describe_group(group: MoveGroup) -> str:
    """'412 on cold/guide (v1) → cold/guide: step 'guide' continues; next email Dec 9 → Dec 5'"""
    before, after = _span(group.next_before), _span(group.next_after)
    timing = f"; next email {before} → {after}" if before != after else f"; next email {after}"
    return (
        f"{group.count} on {group.from_place} ({group.from_version}) → {group.to_place}: "
        f"{group.why}{timing}"
    )


def _span(moments: list[datetime]) -> str:
    if not moments:
        return "none"
    first, last = min(moments), max(moments)
    if first.date() == last.date():
        return f"{first:%b %d %H:%M} UTC" if len(moments) == 1 else f"{first:%b %d}"
    return f"{first:%b %d}–{last:%b %d}"
