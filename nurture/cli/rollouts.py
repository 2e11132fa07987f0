"""`nurture versions`, `nurture diff` and `nurture rollout`: a scenario edit, from the
files to the journeys already running."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from nurture.cli.common import console, err_console, exit_after_temporal, open_store
from nurture.config import get_settings

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHandle

    from nurture.rollout.contract import RolloutProgress
    from nurture.scenario.model import Scenario
    from nurture.store.engine import Store

ACTIONS = ("status", "pause", "resume", "cancel")


class VersionNotFound(Exception):
    pass


def _on_disk(product: str) -> Scenario | None:
    from nurture.scenario.loader import ScenarioError, load_scenario

    try:
        return load_scenario(get_settings().scenarios_dir, product)
    except ScenarioError:
        return None


def _find_version(store: Store, product: str, wanted: str) -> Scenario:
    """A version by its hash or a unique prefix of it: the files on disk, else the store."""
    from nurture.scenario.pins import pinned_scenario, pinned_versions

    disk = _on_disk(product)
    if disk is not None and disk.version.startswith(wanted):
        return disk
    known = [v for v, _ in pinned_versions(store, product)]
    matches = [v for v in known if v.startswith(wanted)]
    if len(matches) != 1:
        listed = ", ".join(known) or "none yet"
        how = "matches several" if matches else "is not a version"
        raise VersionNotFound(
            f"{wanted!r} {how} of {product!r} (known: {listed}); `nurture versions {product}`"
        )
    found = pinned_scenario(store, product, matches[0])
    assert found is not None
    return found


def versions(product: Annotated[str, typer.Argument(help="the product")]) -> None:
    """Every version of a product's scenario: first used, and how many journeys run it now."""
    from nurture.journey.search_attributes import SCENARIO_VERSION
    from nurture.rollout.queries import journeys_query
    from nurture.scenario.pins import pinned_versions
    from nurture.temporal import connect

    store = open_store()
    known = pinned_versions(store, product)
    disk = _on_disk(product)
    if disk is not None and disk.version not in {v for v, _ in known}:
        known.append((disk.version, None))  # type: ignore[arg-type]
    if not known:
        err_console.print(f"[red]no version of {product!r} is known: no scenario, no journey[/red]")
        raise typer.Exit(1)

    async def counts() -> list[int]:
        client = await connect(get_settings())
        return [
            (await client.count_workflows(
                journeys_query(product) + f' AND {SCENARIO_VERSION.name} = "{version}"'
            )).count
            for version, _ in known
        ]  # fmt: skip

    running = asyncio.run(counts())
    for (version, first_used), count in zip(known, running, strict=True):
        when = f"first used {first_used:%Y-%m-%d %H:%M} UTC" if first_used else "not used yet"
        files = " · the files now" if disk is not None and disk.version == version else ""
        console.print(f"{version}  {when} · {count} running{files}", highlight=False)
    exit_after_temporal(0)


def diff(
    product: Annotated[str, typer.Argument(help="the product")],
    old: Annotated[
        str | None, typer.Argument(help="default: the newest version before NEW")
    ] = None,
    new: Annotated[str | None, typer.Argument(help="default: the files now")] = None,
) -> None:
    """What changed between two versions, in words: tracks, steps, waits, subjects,
    templates, scoring, thresholds, hand-off, triggers, branches, windows."""
    from nurture.scenario.diff import describe_changes
    from nurture.scenario.pins import pinned_versions

    store = open_store()
    try:
        after = _find_version(store, product, new) if new else _on_disk(product)
        if after is None:
            raise VersionNotFound(f"the files of {product!r} do not load: `nurture validate`")
        if old is None:
            earlier = [v for v, _ in pinned_versions(store, product) if v != after.version]
            if not earlier:
                raise VersionNotFound(f"{product!r} has no other version yet to compare with")
            old = earlier[-1]
        before = _find_version(store, product, old)
    except VersionNotFound as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    folder = get_settings().scenarios_dir / product
    lines = describe_changes(
        before,
        after,
        _templates_of(store, before, folder),
        _templates_of(store, after, folder),
    )
    console.print(f"{product}: {before.version} → {after.version}", highlight=False)
    for line in lines or ["no change"]:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _templates_of(store: Store, scenario: Scenario, folder: object) -> dict[str, str]:
    from pathlib import Path

    from nurture.scenario.pins import pinned_sources

    pinned = pinned_sources(store, scenario.product, scenario.version)
    disk = _on_disk(scenario.product)
    if pinned or disk is None or disk.version != scenario.version:
        return pinned
    templates = Path(str(folder)) / "templates"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(templates.glob("*"))}


def rollout(
    product: Annotated[
        str, typer.Argument(help="the product; or status|pause|resume|cancel, then the product")
    ],
    of: Annotated[str | None, typer.Argument(help="the product, after an action")] = None,
    to: Annotated[str | None, typer.Option(help="the version (default: the files now)")] = None,
    where: Annotated[
        str | None, typer.Option(help='narrow the journeys, e.g. LeadStage="cold"')
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would move; change nothing")
    ] = False,
    rate: Annotated[float, typer.Option(help="journeys per second at most")] = 20.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask to confirm")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    detach: Annotated[bool, typer.Option(help="start it and return (status shows it)")] = False,
) -> None:
    """Move running journeys to a new version of their scenario, durably, at a bounded rate.

    `--dry-run` asks each journey what the version would do to it and changes nothing;
    `nurture rollout status|pause|resume|cancel PRODUCT` follows or holds a rollout.
    """
    if product in ACTIONS:
        if of is None:
            err_console.print(f"[red]nurture rollout {product} PRODUCT: name the product[/red]")
            raise typer.Exit(2)
        code = asyncio.run(_act(product, of, as_json))
        exit_after_temporal(code)
    if of is not None:
        err_console.print(f"[red]unexpected {of!r}: nurture rollout PRODUCT [OPTIONS][/red]")
        raise typer.Exit(2)
    from nurture.rollout.queries import BadQuery, journeys_query

    store = open_store()
    try:
        target = _find_version(store, product, to) if to else _on_disk(product)
        if target is None:
            raise VersionNotFound(f"the files of {product!r} do not load: `nurture validate`")
        query = journeys_query(product, where, not_on=target.version)
    except (VersionNotFound, BadQuery) as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if dry_run:
        code = asyncio.run(_dry_run(query, target, as_json))
    else:
        _pin(store, target)
        code = asyncio.run(_start(product, target.version, where, rate, yes, detach, query))
    exit_after_temporal(code)


def _pin(store: Store, scenario: Scenario) -> None:
    """Keep the target version in the store, so every worker can load it."""
    from nurture.scenario.pins import pin_definition, pin_templates

    disk = _on_disk(scenario.product)
    if disk is not None and disk.version == scenario.version:
        folder = get_settings().scenarios_dir / scenario.product
        pin_templates(store, folder, scenario.product, scenario.version)
        pin_definition(store, scenario)


async def _dry_run(query: str, target: Scenario, as_json: bool) -> int:
    import json
    from collections import Counter

    from nurture.rollout.dry_run import describe_group, dry_run, group_moves
    from nurture.temporal import connect

    client = await connect(get_settings())
    total = (await client.count_workflows(query)).count

    def progress(done: int) -> None:
        if not as_json and (done % 500 == 0 or done == total):
            err_console.print(f"asked {done} of {total} journeys", highlight=False)

    found = await dry_run(client, query, target, progress)
    if as_json:
        moves = [m.model_dump(mode="json") for m in found.moves]
        print(json.dumps({"to": target.version, "moves": moves, "refused": found.refused}))
        return 0
    console.print(
        f"dry run: {len(found.moves)} journeys would move to {target.version}, "
        f"{len(found.refused)} would refuse; nothing changed",
        highlight=False,
    )
    for group in group_moves(found.moves):
        console.print(f"  {describe_group(group)}", markup=False, highlight=False, soft_wrap=True)
    for reason, count in Counter(found.refused.values()).most_common():
        console.print(f"  {count} refuse: {reason}", markup=False, highlight=False, soft_wrap=True)
    return 0


async def _start(
    product: str, version: str, where: str | None, rate: float, yes: bool, detach: bool, query: str
) -> int:
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from nurture.rollout.contract import WORKFLOW_TYPE, RolloutInput, rollout_id
    from nurture.temporal import connect

    settings = get_settings()
    client = await connect(settings)
    count = (await client.count_workflows(query)).count
    if count == 0:
        console.print(f"no running journey of {product!r} to move to {version}", highlight=False)
        return 0
    if not yes and not typer.confirm(f"move {count} running journeys to {version}?"):
        return 1
    try:
        handle = await client.start_workflow(
            WORKFLOW_TYPE,
            RolloutInput(product=product, version=version, where=where, rate=rate),
            id=rollout_id(product, version),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        err_console.print(
            f"a rollout of {product} to {version} is running: nurture rollout status {product}",
            highlight=False,
        )
        return 1
    console.print(
        f"rollout {handle.id} started ({count} journeys, at most {rate:g}/s); "
        f"Temporal UI: {settings.temporal_ui_url}/namespaces/{client.namespace}/workflows/"
        f"{handle.id}",
        highlight=False,
        soft_wrap=True,
    )
    if detach:
        return 0
    return await _follow(handle)


async def _follow(handle: WorkflowHandle[object, object]) -> int:
    """Print progress until the rollout ends; Ctrl-C leaves it running."""
    from nurture.rollout.contract import RolloutProgress

    result = asyncio.ensure_future(handle.result())
    try:
        while not result.done():
            await asyncio.wait([result], timeout=2)
            if not result.done():
                _print(await handle.query("progress", result_type=RolloutProgress))
        _print(RolloutProgress.model_validate(result.result()))
    except KeyboardInterrupt:
        console.print("left it running: nurture rollout status PRODUCT follows it")
    return 0


def _print(p: RolloutProgress) -> None:
    console.print(
        f"{p.state}: {p.moved} moved · {p.already} already on it · {p.refused} refused · "
        f"{p.gone} ended meanwhile · {p.done} of {p.matched} (pass {p.passes})",
        highlight=False,
    )
    for refusal in p.refusals[:5] if p.state in ("finished", "cancelled") else []:
        console.print(f"  refused {refusal.journey_id}: {refusal.reason}", highlight=False)


async def _latest(client: Client, product: str) -> WorkflowHandle[object, object] | None:
    from nurture.journey.search_attributes import PRODUCT
    from nurture.rollout.contract import WORKFLOW_TYPE

    query = f'WorkflowType = "{WORKFLOW_TYPE}" AND {PRODUCT.name} = "{product}"'
    async for execution in client.list_workflows(query, limit=1):
        return client.get_workflow_handle(execution.id, run_id=execution.run_id)
    return None


async def _act(action: str, product: str, as_json: bool) -> int:
    from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

    from nurture.rollout.contract import RolloutProgress
    from nurture.temporal import connect

    client = await connect(get_settings())
    handle = await _latest(client, product)
    if handle is None:
        err_console.print(f"no rollout of {product!r} yet", highlight=False)
        return 1
    described = await handle.describe()
    running = described.status == WorkflowExecutionStatus.RUNNING
    if action != "status" and not running:
        status = described.status.name.lower() if described.status else "closed"
        err_console.print(f"{handle.id} is not running ({status})")
        return 1
    if action in ("pause", "resume"):
        await handle.signal(action)
    elif action == "cancel":
        await handle.cancel()
        console.print(f"{handle.id}: cancel requested; it stops after the batch in flight")
        return 0
    if running:
        progress = await handle.query("progress", result_type=RolloutProgress)
    else:
        try:
            progress = RolloutProgress.model_validate(await handle.result())
        except WorkflowFailureError:  # cancelled: its last progress is still answered
            progress = await handle.query("progress", result_type=RolloutProgress)
    if as_json:
        print(progress.model_dump_json(indent=2))
    else:
        console.print(handle.id, highlight=False)
        _print(progress)
    return 0
