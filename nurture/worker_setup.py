"""Building the journey worker: the workflow, its activities and their dependencies."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Literal, get_args

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.ab import AbActivities
from activities.broadcasts import BroadcastActivities
from activities.conversions import ConversionActivities
from activities.email import EmailActivities
from activities.handoff import HandoffActivities
from activities.line import LineActivities
from activities.restart import RestartActivities
from activities.rollout import RolloutActivities
from activities.sales_mail import SalesMailActivities
from activities.scenario import ScenarioActivities
from activities.segments import SegmentActivities
from activities.stages import StageActivities
from activities.step_webhook import StepWebhookActivities
from activities.suppression import SuppressionActivities
from activities.transitions import TransitionActivities
from nurture.channels.line.push import LinePusher, build_line_pusher
from nurture.config import Settings
from nurture.mail.provider_factory import build_provider
from nurture.mail.providers import EmailProvider
from nurture.store.engine import Store
from workflows.broadcast import Broadcast
from workflows.broadcast_journey import BroadcastJourney
from workflows.lead_journey import LeadJourney
from workflows.rollout import ScenarioRollout

WorkerRole = Literal["all", "workflows", "activities"]
ROLES: tuple[WorkerRole, ...] = get_args(WorkerRole)


def build_worker(
    client: Client,
    settings: Settings,
    store: Store,
    role: WorkerRole = "all",
    provider: EmailProvider | None = None,
    activity_threads: int = 16,
    sandboxed: bool = True,
    line_pusher: LinePusher | None = None,
    graceful_shutdown: timedelta = timedelta(0),
) -> Worker:
    """Activities are sync (SQLAlchemy, file, SMTP and HTTP I/O) and run on a thread pool.

    One process may run everything (`all`), or journeys and emails may run in separate
    processes on the same task queue, each with its own interpreter and so its own core:
    `workflows` runs the journeys and their local activities (the store bookkeeping),
    `activities` sends the emails (to leads and to sales), posts the hand-offs and records
    stage moves. The email provider is the configured one (NURTURE_EMAIL_PROVIDER) unless given;
    `ProviderNotConfigured` names the setting it lacks; `InsecureSecret` refuses to sign
    public unsubscribe links with the shipped or a short secret.
    """
    settings.refuse_public_default_secret()
    local_threads = settings.worker_max_concurrent_workflow_tasks
    provider = provider or build_provider(settings)
    email = EmailActivities(store, settings, provider)
    sales_mail = SalesMailActivities(store, settings, provider)
    line = LineActivities(store, settings, line_pusher or build_line_pusher(settings))
    step_webhooks = StepWebhookActivities(store, settings)
    handoff = HandoffActivities(store, settings)
    transitions = TransitionActivities(store)
    conversions = ConversionActivities(store)
    restarts = RestartActivities(store)
    suppressions = SuppressionActivities(store)
    scenarios = ScenarioActivities(settings.scenarios_dir, store)
    ab = AbActivities(settings.scenarios_dir, store)
    stages = StageActivities(store)
    rollout = RolloutActivities(client)
    broadcasts = BroadcastActivities(client, store, settings)
    segments = SegmentActivities(settings, store)
    local: list[Callable[..., Any]] = [
        scenarios.load_scenario,
        scenarios.load_scenario_version,
        handoff.hand_off,
        handoff.request_handoff_slot,
        handoff.leave_handoff_queue,
        transitions.record_transition,
        conversions.record_conversion,
        restarts.carry_over,
        suppressions.record_suppression,
        ab.ab_winner,
        segments.segment_membership,
    ]
    remote: list[Callable[..., Any]] = [
        email.send_email,
        line.send_line,
        step_webhooks.post_step_webhook,
        handoff.post_handoff,
        sales_mail.notify_sales,
        stages.record_stage_move,
        rollout.count_journeys,
        rollout.list_journeys,
        rollout.update_journeys,
        broadcasts.plan_broadcast,
        broadcasts.set_broadcast_state,
        broadcasts.hand_over,
    ]
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[] if role == "activities" else WORKFLOWS,
        activities=remote if role == "activities" else [*local, *remote],
        no_remote_activities=role == "workflows",
        # No more activities taken than threads to run them: the rest wait in Temporal's
        # queue (schedule-to-start), not in this process with their start-to-close running.
        # Local activities (the store bookkeeping a workflow task waits on) get threads of
        # their own, so a burst of sends never holds a workflow task open.
        activity_executor=ThreadPoolExecutor(max_workers=activity_threads + local_threads),
        max_concurrent_activities=activity_threads,
        max_concurrent_local_activities=local_threads,
        workflow_runner=sandbox() if sandboxed else UnsandboxedWorkflowRunner(),
        graceful_shutdown_timeout=graceful_shutdown,
        **(polling_options(settings) if role != "activities" else {}),
    )


WORKFLOWS = [LeadJourney, ScenarioRollout, Broadcast, BroadcastJourney]
STICKY_TIMEOUT = timedelta(seconds=30)
# What running activities get to finish when the worker is stopped; an orchestrator's grace
# period (Kubernetes' terminationGracePeriodSeconds) must be longer.
SHUTDOWN_GRACE = timedelta(seconds=50)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM (an orchestrator stopping the process) or Ctrl-C: the worker
    then stops polling and lets its running activities finish before it exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stopping in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stopping, stop.set)
    return stop


# The journey's building blocks beside its workflow module: activity calls, patch ids and the
# mixins (its records, the hand-off, version moves). They hold constants and code only, no
# module state, and tests/project/test_code_quality.py keeps I/O and clocks out of them, as
# the sandbox would. Re-imported for every journey, they cost more than half of a journey's
# start on the worker (bench/journeys.py); passed through, they are imported once.
PASSED_THROUGH = (
    "workflows.calls",
    "workflows.patches",
    "workflows.journey_base",
    "workflows.handoff",
    "workflows.versions",
)


def sandbox() -> SandboxedWorkflowRunner:
    """The sandbox, re-importing each workflow's own module per run, nothing else of ours."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def polling_options(settings: Settings) -> dict[str, Any]:
    """Cache, concurrency and pollers: a sticky cache that holds the active leads' journeys
    (an event for one does not replay its history first); at most
    `worker_max_concurrent_workflow_tasks` tasks at once, so a burst waits in Temporal's
    queue instead of inside one GIL; more pollers for new journeys. The benchmarks give
    their bare-Temporal floor the same."""
    return {
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_concurrent_workflow_task_polls": 4,
        # A bounded worker leaves tasks queued for seconds in a burst; a sticky task queued
        # longer than this moves to the shared queue as a timeout, replaying the journey's
        # whole history elsewhere. The price: a crashed worker's journeys wait this long.
        "sticky_queue_schedule_to_start_timeout": STICKY_TIMEOUT,
        "nonsticky_to_sticky_poll_ratio": 0.5,
    }
