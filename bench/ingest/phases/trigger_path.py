"""Where a trigger's time goes after the relay's signal, read from the journeys' histories.

Each journey's k-th trigger event of the phase pairs with its k-th trigger email (send key
`trigger:…#k`); between them the history shows the wait for a workflow task, the task, any
activity scheduled before the send, the wait in the activity queue and the send itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client


@dataclass
class TriggerPath:
    """Where a trigger's time goes after the relay's signal, from a sample of histories."""

    to_task: list[float] = field(default_factory=list)  # signal → workflow task started
    task: list[float] = field(default_factory=list)  # that task started → completed
    to_schedule: list[float] = field(default_factory=list)  # signal → send_email scheduled
    before: Counter[str] = field(default_factory=Counter)  # activities scheduled in between
    queued: list[float] = field(default_factory=list)  # send_email scheduled → started
    activity: list[float] = field(default_factory=list)  # send_email started → completed
    signals: int = 0


async def trigger_path(client: Client, workflow_ids: Sequence[str], prefix: str) -> TriggerPath:
    """Split signal → email sent at the history's events: the task queue, the worker's
    workflow task, whatever runs before the send, the activity queue, the send itself."""
    path = TriggerPath()
    for wid in workflow_ids:
        _add_path(
            list((await client.get_workflow_handle(wid).fetch_history()).events), prefix, path
        )
    return path


def _trigger_ids(event: HistoryEvent, prefix: str) -> list[str]:
    """The ids of this phase's events in a `behaviors` signal (none for other events)."""
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return []
    attrs = event.workflow_execution_signaled_event_attributes
    if attrs.signal_name != "behaviors" or not attrs.input.payloads:
        return []
    items = json.loads(attrs.input.payloads[0].data)
    return [item["event_id"] for item in items if item["event_id"].startswith(f"{prefix}-")]


def _add_path(events: Sequence[HistoryEvent], prefix: str, path: TriggerPath) -> None:
    """The journey's k-th event of the phase pairs with its email `trigger:…#k`, not with the
    next send_email scheduled: once the emails lag more than a lead's events are apart (3 s
    here), that is the previous event's email, and the split would come out too short."""
    kind = EventType
    at = {e.event_id: e.event_time.ToDatetime().timestamp() for e in events}
    sends: dict[int, HistoryEvent] = {}  # k → its send_email scheduled
    others: list[tuple[int, str]] = []  # (event id, name) of other activities scheduled
    started: dict[int, HistoryEvent] = {}  # scheduled event id → activity started
    completed: dict[int, HistoryEvent] = {}  # scheduled event id → activity completed
    for e in events:
        if e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = e.activity_task_scheduled_event_attributes
            key = _send_key(attrs.input.payloads)
            if attrs.activity_type.name == "send_email" and key.startswith("trigger:"):
                sends[int(key.rsplit("#", 1)[1])] = e
            else:
                others.append((e.event_id, attrs.activity_type.name))
        elif e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[e.activity_task_started_event_attributes.scheduled_event_id] = e
        elif e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed[e.activity_task_completed_event_attributes.scheduled_event_id] = e
    k = 0
    for i, e in enumerate(events):
        ours = _trigger_ids(e, prefix)
        if not ours:
            continue
        path.signals += 1
        _add_task(events[i + 1 :], at, at[e.event_id], path)
        for _ in ours:
            k += 1
            send = sends.get(k)
            if send is None:
                continue
            path.to_schedule.append(at[send.event_id] - at[e.event_id])
            path.before.update(name for n, name in others if e.event_id < n < send.event_id)
            if send.event_id in started:
                begun = started[send.event_id]
                path.queued.append(at[begun.event_id] - at[send.event_id])
                if send.event_id in completed:
                    path.activity.append(at[completed[send.event_id].event_id] - at[begun.event_id])


def _send_key(payloads: Sequence[Any]) -> str:
    """send_email's send key from its input (SendEmailInput as JSON); '' for others."""
    data = json.loads(payloads[0].data) if payloads else None
    return str(data.get("send_key", "")) if isinstance(data, dict) else ""


def _add_task(
    later: Sequence[HistoryEvent], at: dict[int, float], signalled: float, path: TriggerPath
) -> None:
    """The first workflow task after a signal: when it started, how long it ran."""
    kind = EventType
    task = next((x for x in later if x.event_type == kind.EVENT_TYPE_WORKFLOW_TASK_STARTED), None)
    if task is None:
        return
    path.to_task.append(at[task.event_id] - signalled)
    done = next(
        (
            x
            for x in later
            if x.event_type == kind.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and x.workflow_task_completed_event_attributes.started_event_id == task.event_id
        ),
        None,
    )
    if done is not None:
        path.task.append(at[done.event_id] - at[task.event_id])
