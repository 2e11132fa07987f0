"""The store's tables (SQLAlchemy 2.0 typed models).

Journeys keep their own state in Temporal; the store keeps what people need
outside a journey: who the lead is, what was sent, hand-offs and transitions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines: SQLite keeps no offset, so store UTC and say so."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them on PostgreSQL and SQLite alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(40))
    owner: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, doc="custom attributes, as the scenarios declare them (nurture/leads/attributes.py)"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """How and when a lead agreed to receive email (Japan's Act on Specified Electronic Mail
    requires opt-in or a recognised exception such as an exchanged business card)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    basis: Mapped[str] = mapped_column(String(30))
    product: Mapped[str] = mapped_column(String(64), default="", doc="'' = every product")
    channel: Mapped[str] = mapped_column(
        String(16), default="email", server_default="email", doc="email, or line (a follow)"
    )
    wording: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(300))
    obtained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """Who must not get which email. Keyed by a hash of the address so it outlives erasure."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("email_hash", "scope", "product", "mail_type", name="uq_suppressions_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    lead_id: Mapped[str | None] = mapped_column(String(40), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    product: Mapped[str] = mapped_column(String(64), default="")
    mail_type: Mapped[str] = mapped_column(String(20), default="")
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """Every behaviour event once, for per-lead timelines and analytics."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_lead_time", "lead_id", "occurred_at"),
        # lead_id included: segments find who did something lately from the index alone
        Index("ix_events_type_time", "type", "occurred_at", postgresql_include=["lead_id"]),
        Index("ix_events_product_type", "product", "type"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    lead_id: Mapped[str | None] = mapped_column(String(40))
    anonymous_id: Mapped[str | None] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScenarioTemplate(Base):
    """Every template of every scenario version a journey ran: emails render from the version
    the journey pinned, whatever the files on disk say today."""

    __tablename__ = "scenario_templates"
    __table_args__ = (
        UniqueConstraint("product", "version", "name", name="uq_scenario_templates_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Journey(Base):
    """Which journeys a lead has: where an accepted event must be delivered."""

    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("lead_id", "product", name="uq_journeys_lead_product"),)

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="set once Temporal has the workflow; before that NOT_FOUND means 'not yet'"
    )


class EventDelivery(Base):
    """An accepted event on its way to one journey (table `deliveries`): one row per
    (journey, event) until the relay has signalled it (a transactional outbox; not the
    outbox email provider, which writes .eml files).

    Written in the same transaction as the event, so a 2xx means the event will reach the
    journey even if Temporal is down at that moment; the relay empties it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("workflow_id", "event_id", name="uq_deliveries_workflow_event"),
        Index("ix_deliveries_pending", "delivered_at", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    workflow_id: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    refusals: Mapped[int] = mapped_column(
        Integer, default=0, doc="times the journey refused it while Temporal was up"
    )
    parked_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="set when this journey kept refusing it; `nurture deliveries retry`"
    )
    traceparent: Mapped[str | None] = mapped_column(
        String(55), doc="W3C trace context of the request that accepted it, when tracing is on"
    )


class ApiKey(Base):
    """API keys, stored as SHA-256 hashes; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200), doc="space-separated: ingest admin")
    kind: Mapped[str] = mapped_column(
        String(20), default="secret", server_default="secret", doc="secret | publishable"
    )
    origins: Mapped[str | None] = mapped_column(
        Text, doc="publishable keys: the web origins allowed to use it, space-separated"
    )
    products: Mapped[str | None] = mapped_column(
        Text, doc="publishable keys: the products its events may name, space-separated"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Send(Base):
    """One email per (journey, send key): the unique key is what makes a retried send safe."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("journey_id", "send_key", name="uq_sends_journey_key"),
        Index("ix_sends_lead_time", "lead_id", "journey_time"),
        Index("ix_sends_send_key", "send_key"),  # a broadcast's sends (one key for all)
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    journey_id: Mapped[str] = mapped_column(String(200), index=True)
    send_key: Mapped[str] = mapped_column(String(200))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    mail_type: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    variant: Mapped[int] = mapped_column(Integer, default=0)
    # queued → sending → sent → delivered | bounced | opened | clicked; or suppressed, deferred,
    # failed (refused), uncertain (the provider may have it: never retried, docs/store.md)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    detail: Mapped[str | None] = mapped_column(Text, doc="why suppressed, deferred or failed")
    deferred_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_tried_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="the first claim to deliver: how old a LINE retry key is"
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    journey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What ever happened to the send, rolled up from its engagement facts as they arrive
    # (nurture.analytics.facts): 1 once any fact says so. The reports sum these instead of
    # reducing every fact; `ever_read` is a person's open or click, `ever_opened` any open.
    ever_delivered: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_bounced: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_hard_bounced: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_opened: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_read: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_clicked: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_unsubscribed: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    ever_spam_reported: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (UniqueConstraint("journey_id", "handoff_no", name="uq_handoffs_journey_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    journey_id: Mapped[str] = mapped_column(String(200), index=True)
    handoff_no: Mapped[int] = mapped_column(Integer)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    webhook_status: Mapped[str] = mapped_column(String(20), default="none")
    journey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Identity(Base):
    """An anonymous visitor known to be a lead (Segment `identify`): later events from that
    visitor belong to the lead at once."""

    __tablename__ = "identities"

    anonymous_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LineLink(Base):
    """A lead's LINE user for one product's LINE Official Account: made by LINE's account
    link (nurture/channels/line/links.py), ended by an unfollow or a block. While `linked`,
    the product's LINE steps reach the lead; the follow is the channel's consent."""

    __tablename__ = "line_links"
    __table_args__ = (
        UniqueConstraint("product", "line_user_id", name="uq_line_links_user"),
        UniqueConstraint("product", "lead_id", name="uq_line_links_lead"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(64))
    line_user_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(16), doc="linked, unfollowed, blocked, or stopped (the preference page)"
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Conversion(Base):
    """A journey that reached one of its scenario's goals, once per goal."""

    __tablename__ = "conversions"
    __table_args__ = (UniqueConstraint("journey_id", "goal", name="uq_conversions_journey_goal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    journey_id: Mapped[str] = mapped_column(String(200))
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    goal: Mapped[str] = mapped_column(String(64))
    journey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedLinkToken(Base):
    """An account-link token already spent: each links one LINE user, once."""

    __tablename__ = "used_link_tokens"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoffSlot(Base):
    """A hand-off waiting for, or holding, a place in its product's daily sales capacity.

    One row per (journey, hand-off number): queued while `granted_day` is empty, then the
    day whose capacity it used, so "granted today" is a count of rows.
    """

    __tablename__ = "handoff_slots"
    __table_args__ = (Index("ix_handoff_slots_product_day", "product", "granted_day"),)

    journey_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    handoff_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    asked_on: Mapped[date] = mapped_column(Date, doc="the day it last asked (each waiting day)")
    granted_day: Mapped[date | None] = mapped_column(Date)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transition(Base):
    """Every lifecycle move, with actor and reason, for audits and the precision report."""

    __tablename__ = "transitions"
    __table_args__ = (UniqueConstraint("journey_id", "seq", name="uq_transitions_journey_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    journey_id: Mapped[str] = mapped_column(String(200), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    product: Mapped[str] = mapped_column(String(64))
    from_lifecycle: Mapped[str | None] = mapped_column(String(20))
    to_lifecycle: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    journey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScenarioDefinition(Base):
    """The definition of every scenario version a journey loaded (validated, as JSON): a
    rollout moves journeys between versions, and `nurture diff` compares them, long after
    the files on disk have changed."""

    __tablename__ = "scenario_definitions"
    __table_args__ = (UniqueConstraint("product", "version", name="uq_scenario_definitions_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StageChange(Base):
    """Every move of a journey's stage (cold, warm, hot), with the track it happened on.

    The journey numbers its moves: `seq` 1 is the stage it started in (`from_stage` None),
    so a lead's stage at any time is its last row before then. Read by the funnel and the
    stage-flow reports.
    """

    __tablename__ = "stage_changes"
    __table_args__ = (
        UniqueConstraint("journey_id", "seq", name="uq_stage_changes_journey_seq"),
        Index("ix_stage_changes_product_time", "product", "journey_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    journey_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    product: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(10))
    to_stage: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(Integer)
    track: Mapped[str] = mapped_column(String(64))
    journey_time: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Engagement(Base):
    """What happened to one send, as facts with their time: append-only, each fact once.

    Fed by the providers' webhooks (and Nurture's own tracking), read by the analytics
    reports. An open or a click says whether a person made it (`human`) and, for a machine,
    why we think so, so no report counts Apple Mail's prefetch or a link scanner as a read.
    """

    __tablename__ = "engagements"
    __table_args__ = (
        Index("ix_engagements_send_kind", "send_id", "kind"),
        Index("ix_engagements_product_time", "product", "occurred_at"),
        Index("ix_engagements_lead_time", "lead_id", "occurred_at"),  # segments' `opened:`
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    fact_id: Mapped[str] = mapped_column(String(200), unique=True, doc="the source's event id")
    send_id: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(64))
    # delivered | bounced | deferred | opened | clicked | unsubscribed | spam_reported
    kind: Mapped[str] = mapped_column(String(20))
    human: Mapped[bool | None] = mapped_column(doc="opens and clicks: a person (False: a machine)")
    machine_reason: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(Text, doc="the clicked link, as the scenario keeps it")
    bounce: Mapped[str | None] = mapped_column(String(10), doc="hard | soft")
    scope: Mapped[str | None] = mapped_column(
        String(20), doc="unsubscribed: product or a mail type"
    )
    source: Mapped[str] = mapped_column(String(20), doc="sendgrid | nurture (own pixel, links)")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyStatus(Base):
    """Where each journey is now (stage, lifecycle, score), kept current as the journey
    records its stage moves and lifecycle transitions, so a segment asks one indexed row
    per journey instead of finding the last of its moves."""

    __tablename__ = "journey_status"
    __table_args__ = (
        Index("ix_journey_status_lead_product", "lead_id", "product"),
        Index("ix_journey_status_product_stage", "product", "stage"),
    )

    journey_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(10))
    stage_seq: Mapped[int] = mapped_column(Integer, default=0, doc="the stage move it shows")
    lifecycle: Mapped[str | None] = mapped_column(String(20))
    lifecycle_seq: Mapped[int] = mapped_column(Integer, default=0, doc="the transition shown")
    score: Mapped[int] = mapped_column(Integer)
    score_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="journey time of the score")


class SavedSegment(Base):
    """A segment saved through the API (those in scenarios/segments.yaml live in the file)."""

    __tablename__ = "segments"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[str] = mapped_column(Text, doc="JSON, as nurture.segments.model reads it")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Broadcast(Base):
    """A one-off message to a segment, sent through each lead's journey. Its content and
    its segment's definition are frozen when it is created and scheduled."""

    __tablename__ = "broadcasts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(64))
    segment_definition: Mapped[str | None] = mapped_column(Text, doc="JSON, frozen at schedule")
    channel: Mapped[str] = mapped_column(String(16), default="email")
    mail_type: Mapped[str] = mapped_column(String(20), default="newsletter")
    content: Mapped[str] = mapped_column(Text, doc="JSON: variants and template sources")
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    local_time: Mapped[bool] = mapped_column(
        default=False, doc="send_at's hour in each lead's zone"
    )
    state: Mapped[str] = mapped_column(String(20), default="draft")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    """One lead of a broadcast's frozen list, numbered: the workflow pages by `seq`, and
    records how it handed the broadcast to the lead's journey."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "lead_id", name="uq_broadcast_recipients_lead"),
    )

    broadcast_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(40))
    handed_to: Mapped[str | None] = mapped_column(String(200), doc="the journey's workflow id")
    outcome: Mapped[str | None] = mapped_column(String(20), doc="journey | broadcast | refused")
    detail: Mapped[str | None] = mapped_column(Text)
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
