"""The LeadJourney contract: its id, inputs, signals, updates and the `state` query.

Others build against these (the API, the starter, the reports), so they live
outside `workflows/` and change only compatibly.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nurture.broadcasts.contract import PendingBroadcast
from nurture.journey.lifecycle import FeedbackOutcome, Lifecycle
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import MailType, Scenario, Stage
from nurture.scoring.score import Discount, ScoreBreakdown

WORKFLOW_TYPE = "LeadJourney"
TASK_QUEUE = "nurture"
LEAD_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
TIMELINE_LENGTH = 50
# Who found the lead: marketing nurtures it; a lead sales created itself (a sales-generated
# lead, SGL) starts in `sql`, owned by sales, and gets no nurture email.
Origin = Literal["marketing", "sales"]


PRODUCT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def journey_id(product: str, lead_id: str) -> str:
    """`journey:{product}:{lead_id}`; the lead id is opaque, never an email address."""
    if not PRODUCT_PATTERN.match(product):
        raise ValueError(
            f"product {product!r} must be a scenario's slug: lowercase letters, digits, "
            "'-' or '_' (e.g. 'cloudbook')"
        )
    if not LEAD_ID_PATTERN.match(lead_id) or "@" in lead_id:
        raise ValueError(
            f"lead id {lead_id!r} must be an opaque id (letters, digits, '_', '-', '.'), "
            "never an email address: workflow ids are visible to every operator"
        )
    return f"journey:{product}:{lead_id}"


class TimelineEntry(BaseModel):
    """One line of the journey's story: what happened and why."""

    at: datetime
    kind: Literal[
        "start",
        "event",
        "email",
        "line",
        "webhook",
        "stage",
        "lifecycle",
        "track",
        "trigger",
        "handoff",
        "feedback",
        "pause",
        "unsubscribe",
        "exit",
        "note",
        "version",
        "holdout",
        "goal",
        "profile",
        "broadcast",
    ]
    text: str


class PendingSalesMail(BaseModel):
    """An email to our sales team still on its way when the journey continued as new."""

    kind: Literal["handoff", "remind", "escalate"]
    handoff_no: int
    to: str
    business_days: int


class StageMove(BaseModel):
    """One move of a journey's stage, as the journey decided it (its clock, its score)."""

    journey_id: str
    seq: int
    lead_id: str
    product: str
    from_stage: str | None
    to_stage: str
    score: int
    track: str
    journey_time: datetime


class EngagementWatch(BaseModel):
    """A sent step email whose `unless_engaged` follow-up is due at `due` unless a person
    opens or clicks it first."""

    send_id: str
    key: str  # the step's send key; a resend is `<key>~resend`
    track: str
    step_key: str
    mail_type: MailType
    template: str
    due: datetime
    resend: str | None = None
    switch_to: str | None = None


class JourneyMemory(BaseModel):
    """Everything a journey knows; carried whole across continue-as-new."""

    started_at: datetime
    scenario: Scenario
    lifecycle: Lifecycle = "nurturing"
    stage: Stage = "cold"
    track: str
    track_entries: int = 1
    step_index: int = 0
    step_anchor: datetime
    steps_sent: dict[str, list[str]] = Field(default_factory=dict)
    deferred_until: datetime | None = None
    email_stopped: Lifecycle | None = Field(
        default=None, description="unsubscribed or bounced while sales owned the lead"
    )
    events: list[BehaviorEvent] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)
    sent_ids: list[str] = Field(default_factory=list)
    emails_sent: int = 0
    variants: dict[str, int] = Field(default_factory=dict)
    open_hours: dict[int, int] = Field(
        default_factory=dict, description="human opens and clicks by local hour (send time)"
    )
    trigger_fired_at: dict[str, datetime] = Field(default_factory=dict)
    trigger_counts: dict[str, int] = Field(default_factory=dict)
    handoffs: int = 0
    handoff_queued: bool = Field(default=False, description="waiting for sales capacity")
    queued_from: Lifecycle | None = None
    handoff_position: int | None = None
    queue_in_business_hours: bool = Field(
        default=False,
        description="this hand-off waits in business hours (False: asks at 00:01 daily, the "
        "behaviour of journeys queued before that version)",
    )
    versions: dict[str, bool] = Field(
        default_factory=dict,
        description="each workflow.patched() decision this journey made, by patch id: a run "
        "that continues as new keeps the behaviour it had instead of asking again",
    )
    handed_off_at: datetime | None = Field(
        default=None, description="when the current hand-off reached sales: the SLA's clock"
    )
    sla_notices: int = Field(
        default=0, description="SLA emails sent for the current hand-off: 1 reminder, 2 escalated"
    )
    profile: LeadProfile | None = Field(
        default=None, description="the lead's profile as updated since the start (`profile`)"
    )
    reentry_at: datetime | None = Field(
        default=None,
        description="a closed deal's return to nurturing (scenario `on_lost`, `on_customer`)",
    )
    customer_nurtured: bool = Field(
        default=False, description="a customer nurtured on the `on_customer` track"
    )
    restarted: bool = Field(
        default=False,
        description="a run restarting a closed journey: steps it had are passed over",
    )
    broadcasts: list[PendingBroadcast] = Field(
        default_factory=list, description="broadcasts handed to the journey, not yet sent"
    )
    broadcasts_had: list[str] = Field(
        default_factory=list, description="ids of the broadcasts handed to it (the latest)"
    )
    nurtured_again_at: datetime | None = Field(
        default=None,
        description="when a customer's nurturing began (`on_customer`): its maximum age "
        "counts from then",
    )
    watch: EngagementWatch | None = Field(
        default=None, description="the last step email awaiting a person's open or click"
    )
    goals_reached: list[str] = Field(
        default_factory=list, description="the scenario's goals this lead has reached"
    )
    lifecycle_moves: list[str] = Field(
        default_factory=list,
        description="lifecycle moves whose triggers (`when: {lifecycle: ...}`) are to fire",
    )
    handoff_owner: str | None = Field(
        default=None, description="with several owners: whom the last hand-off went to"
    )
    transitions: int = 0
    step_unavailable_since: datetime | None = Field(
        default=None,
        description="the email provider has been unavailable for the current "
        "step since then (the step is deferred, retried with backoff, given up after a bound)",
    )
    step_unavailable_count: int = 0
    deferred_why: str | None = None
    pending_posts: list[int] = Field(
        default_factory=list, description="hand-offs whose CRM post was still on its way"
    )
    pending_sales_mail: list[PendingSalesMail] = Field(default_factory=list)
    stage_moves: int = Field(
        default=0, description="stage moves recorded in the store (1: the starting stage)"
    )
    pending_stage_moves: list[StageMove] = Field(
        default_factory=list, description="stage moves on their way to the store"
    )
    suppressed_mail_types: list[MailType] = Field(default_factory=list)
    paused: bool = False
    version_moves: int = Field(default=0, description="scenario versions taken by rollouts")
    rescore_pending: bool = Field(
        default=False,
        description="a new scenario version was taken: rescore under its rules at once",
    )
    discount: Discount | None = None
    ended_reason: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    runs: int = 1


class Restart(BaseModel):
    """This run starts a journey whose earlier run closed (it ended, or Temporal has
    forgotten it): the new run carries that run's history from the store."""

    closed_run_id: str | None = Field(
        default=None, description="the closed run, when Temporal still has it"
    )


class JourneyInput(BaseModel):
    """Start a journey for one lead and one product (or continue one, with `memory`)."""

    product: str
    lead_id: str
    profile: LeadProfile = Field(default_factory=LeadProfile)
    origin: Origin = "marketing"
    memory: JourneyMemory | None = None
    pending_events: list[BehaviorEvent] = Field(default_factory=list)
    max_history_length: int = Field(default=10_000, ge=100)
    restart: Restart | None = None

    @field_validator("lead_id")
    @classmethod
    def _opaque(cls, value: str) -> str:
        journey_id("p", value)
        return value


class SalesFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: FeedbackOutcome
    reason: str = Field(default="", max_length=2000)
    by: str = Field(default="sales", max_length=200)
    handoff_no: int | None = Field(
        default=None, description="the hand-off this answers (a Slack button): refused if stale"
    )


class Unsubscribe(BaseModel):
    """Stop email: all of this product's mail, or only some mail types (e.g. the newsletter)."""

    model_config = ConfigDict(extra="forbid")

    mail_types: list[MailType] | None = Field(
        default=None, description="None: every email of this journey"
    )
    reason: str = "unsubscribed"
    at: datetime | None = Field(
        default=None,
        description="When the lead asked (UTC). A suppression the journey records late is "
        "not recorded when the lead gave consent again after this moment.",
    )


class StopJourney(BaseModel):
    """End a journey now (signal `stop`, e.g. `nurture journeys stop`): no more email."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="stopped by an operator", max_length=500)


class ScenarioUpdate(BaseModel):
    """Move a running journey to another version of its scenario (update `scenario_update`)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    by: str = Field(default="rollout", max_length=200)


class VersionMoveResult(BaseModel):
    """What a move to another scenario version does (or, from the preview query, would do)
    to one journey: its place, its next email and its score, before and after."""

    journey_id: str
    from_version: str
    to_version: str
    from_track: str
    from_step: str | None
    to_track: str
    to_step: str | None
    why: str
    next_touch_before: datetime | None
    next_touch_after: datetime | None
    score_before: int
    score_after: int
    stage_before: Stage
    stage_after: Stage


class JourneyState(BaseModel):
    """What `state` answers: where the lead is, why, and what happens next."""

    product: str
    lead_id: str
    stage: Stage
    lifecycle: Lifecycle
    score: ScoreBreakdown
    track: str
    step_index: int
    step_key: str | None
    next_touch_at: datetime | None
    send_hour: int | None = Field(
        default=None, description="the local hour send-time optimisation chose, if it is on"
    )
    handoff_queue_position: int | None = Field(
        default=None, description="place in the queue for sales capacity (1: next in line)"
    )
    scenario_version: str
    paused: bool
    emails_sent: int
    variants: dict[str, int]
    suppressed_mail_types: list[MailType]
    ended_reason: str | None
    timeline: list[TimelineEntry]


class JourneyResult(BaseModel):
    """What a finished journey returns."""

    lifecycle: Lifecycle
    stage: Stage
    score: int
    emails_sent: int
    reason: str


__all__ = [
    "TASK_QUEUE",
    "WORKFLOW_TYPE",
    "BehaviorEvent",
    "JourneyInput",
    "JourneyMemory",
    "JourneyResult",
    "JourneyState",
    "Origin",
    "SalesFeedback",
    "TimelineEntry",
    "Unsubscribe",
    "journey_id",
]
