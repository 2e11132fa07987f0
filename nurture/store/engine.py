"""The store: an engine, sessions, and the few operations the journeys and tools need.

SQLite is the embedded default; set NURTURE_DATABASE_URL to a PostgreSQL URL
(postgresql://... as hosts and compose files give it, or postgresql+psycopg2://...) for
production.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import Engine, create_engine, event, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nurture.api.timestamps import Timestamp
from nurture.leads.attributes import MAX_ATTRIBUTES, AttributeValue, merged
from nurture.leads.attributes import NAME as ATTRIBUTE_NAME
from nurture.leads.fields import normalised_email, one_line_problem
from nurture.leads.profile import LeadProfile, Role, check_timezone
from nurture.store import migrate
from nurture.store.models import Consent, Lead, utcnow

# Where leads come from (ads, events, forms, cards...), plus leads sales created itself (SGL).
Source = Literal[
    "ads", "sns", "webinar", "newsletter", "survey", "document_request", "seminar",
    "trade_show", "business_card", "website", "referral", "sales", "other",
]  # fmt: skip
ConsentBasis = Literal["opt_in_form", "business_card", "existing_customer", "inquiry"]
# The schema lists the IANA names a client may send (what `check_timezone` accepts), so a
# client can offer them and knows '' or 'Tokyo' will be refused.
TimezoneName = Annotated[
    str, Field(max_length=64, json_schema_extra={"enum": sorted(available_timezones())})
]


# Three characters that are not white space: the wording is stripped before it is
# counted, so the schema counts what stripping cannot remove.
WORDING_SHAPE = r"^(?:[\s\x1c-\x1f\x85\ufeff]*[^\s\x1c-\x1f\x85\ufeff]){3}"


# The one-line rule (nurture/leads/fields.py) as the published schema says it: no C0 or C1
# control character, no line or paragraph separator.
ONE_LINE_SHAPE = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"


def _one_line_in_schema(schema: dict[str, Any]) -> None:
    """Every free-text property of the model carries ONE_LINE_SHAPE in the OpenAPI schema."""
    for prop in schema.get("properties", {}).values():
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "string" and not {"enum", "format", "pattern"} & set(option):
                option["pattern"] = ONE_LINE_SHAPE


class ConsentIn(BaseModel):
    """How the lead agreed to email: the form's wording, or where cards were exchanged."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_one_line_in_schema
    )

    basis: ConsentBasis
    wording: str = Field(
        max_length=4000,
        description="what the lead agreed to (at least 3 characters besides white space)",
        json_schema_extra={"pattern": WORDING_SHAPE},
    )
    source: str | None = Field(default=None, max_length=300, description="form URL or event")
    product: str | None = Field(default=None, max_length=64, description="None: all products")
    obtained_at: Timestamp | None = None

    @field_validator("wording")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not re.match(WORDING_SHAPE, value):
            raise ValueError(
                "give the wording the lead agreed to (at least 3 characters), "
                "e.g. 'Yes, send me product news by email.'"
            )
        return value

    @field_validator("source", "product")
    @classmethod
    def _one_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The wording may run over several lines; where it was obtained may not."""
        return one_line(value, info)


class LeadConflict(ValueError):
    """The email and the external id name two different leads."""


class LeadNotFound(LookupError):
    """No lead has this id in the store."""


# The schema spells the names (snake_case); which ones exist is the scenarios' to say
# (AttributeCatalog.check, where the catalog is at hand).
AttributeUpdate = Annotated[
    dict[Annotated[str, StringConstraints(pattern=ATTRIBUTE_NAME.pattern)], AttributeValue | None],
    Field(json_schema_extra={"additionalProperties": False}),
]


class LeadFields(BaseModel):
    """What a lead's profile says: the fields `PATCH /v1/leads/{id}` may change."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_one_line_in_schema
    )

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=300)
    industry: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=1, le=10_000_000, description="employees")
    role: Role | None = None
    region: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    timezone: TimezoneName | None = None
    locale: str | None = Field(default=None, max_length=16)
    source: Source | None = None
    owner: str | None = Field(default=None, max_length=200)
    attributes: AttributeUpdate | None = Field(
        default=None,
        max_length=MAX_ATTRIBUTES,
        description="custom attributes the scenarios declare (snake_case names; one no "
        "scenario declares, or a value not of its type, is a 422); a name set to null is "
        "cleared, one left out is kept",
    )

    @field_validator("company_size", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        """A JSON number, as the schema says: pydantic would read `true` or "120" as one."""
        if isinstance(value, bool | str):
            raise ValueError(f"company_size is a number of employees, e.g. 120 (got {value!r})")
        return value

    @field_validator("*")
    @classmethod
    def _one_line(cls, value: Any, info: ValidationInfo) -> Any:
        """Every text field of a lead is one line: names, company and title reach email
        headers and templates, where a line break made the message impossible to build."""
        return one_line(value, info) if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return check_timezone(value)


class LeadIn(LeadFields):
    """A lead as a backend, a form or a trade-show list gives it to us."""

    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    external_id: str | None = Field(default=None, max_length=200)
    consent: ConsentIn | None = None

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        """Stored (and matched, and hashed for suppressions) in its normal form."""
        try:
            return normalised_email(value)
        except ValueError as err:
            raise PydanticCustomError("email", "{reason}", {"reason": str(err)}) from None

    @field_validator("external_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        """An empty external id is no id: it must not make every such lead one lead."""
        return value or None


def one_line(value: str | None, info: ValidationInfo) -> str | None:
    """The field's value, or a validation error that names the field and the character."""
    problem = one_line_problem(value, info.field_name or "value") if value else None
    if problem:
        raise PydanticCustomError("one_line", "{problem}", {"problem": problem})
    return value


def profile_of(lead: Lead) -> LeadProfile:
    """The non-personal part of a lead that a journey may carry in its history."""
    return LeadProfile(
        industry=lead.industry,
        company_size=lead.company_size,
        role=lead.role,
        region=lead.region,
        department=lead.department,
        timezone=_valid_timezone_or_none(lead.timezone),
        locale=lead.locale,
        source=lead.source,
        attributes=dict(lead.attributes or {}),
    )


def _valid_timezone_or_none(value: str | None) -> str | None:
    """Rows written before validation existed: fall back to the scenario's timezone."""
    try:
        return check_timezone(value)
    except ValueError:
        return None


def new_lead_id() -> str:
    return "ld_" + secrets.token_hex(8)


def normalise_database_url(url: str) -> str:
    """The URL SQLAlchemy needs for the driver we ship (psycopg2).

    Hosts, compose files and `DATABASE_URL` conventions write `postgresql://` or
    `postgres://`; SQLAlchemy 2.1 maps the first to psycopg 3 (not installed) and does not
    know the second. Both mean PostgreSQL through psycopg2 here; an explicit driver
    (`postgresql+psycopg2://`) and other engines are left alone.
    """
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url.removeprefix(scheme)
    return url


class Store:
    def __init__(self, url: str) -> None:
        url = normalise_database_url(url)
        self.url = url
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Bring the schema to this code's revision (what `nurture db upgrade` does)."""
        migrate.upgrade(self.engine)

    def ensure_current(self) -> None:
        """Refuse to run on an outdated schema, naming the command that fixes it."""
        migrate.ensure_current(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def upsert_lead(self, data: LeadIn) -> tuple[Lead, bool]:
        """Insert or update by external id, else by email; returns (lead, created)."""
        values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"consent"})

        def find_and_update(session: Session) -> Lead | None:
            match = [Lead.email == data.email]
            if data.external_id:
                match.append(Lead.external_id == data.external_id)
            # Locked: two updates at once must not each merge attributes into a stale copy.
            found = list(session.scalars(select(Lead).where(or_(*match)).with_for_update()))
            if len(found) > 1:
                raise LeadConflict(
                    f"email {data.email!r} and external id {data.external_id!r} belong to two "
                    "different leads; send the lead's own email with its external id"
                )
            if not found:
                return None
            for key, value in values.items():
                if key == "attributes":
                    value = merged(found[0].attributes, value or {})
                setattr(found[0], key, value)
            return with_consent(session, found[0])

        def insert(session: Session) -> Lead:
            if "attributes" in values:
                values["attributes"] = merged(None, values["attributes"] or {}) or None
            lead = Lead(id=new_lead_id(), **values)
            session.add(lead)
            return with_consent(session, lead)

        def with_consent(session: Session, lead: Lead) -> Lead:
            session.flush()
            if data.consent is not None:
                record_consent(session, lead.id, data.consent)
            return lead

        try:
            # Two unique keys (email, external id): a second race may follow the first.
            return find_or_insert(self, find_and_update, insert, tries=3)
        except IntegrityError:
            raise LeadConflict(
                f"could not store lead {data.email!r}: it keeps colliding with another lead's "
                "email or external id"
            ) from None

    def update_lead(self, lead_id: str, values: dict[str, Any]) -> Lead | None:
        """Change a stored lead's fields by id (attributes merged: see `merged`); None when
        there is no such lead or it was erased. `values` is validated (LeadPatch)."""
        with self.session() as session:
            lead = session.get(Lead, lead_id, with_for_update=True)
            if lead is None or lead.erased_at is not None:
                return None
            for key, value in values.items():
                if key == "attributes":
                    value = merged(lead.attributes, value or {}) or None
                setattr(lead, key, value)
            session.flush()
            return lead

    def get_lead(self, lead_id: str) -> Lead | None:
        with self.session() as session:
            return session.get(Lead, lead_id)


Row = TypeVar("Row")


def find_or_insert(
    store: Store,
    find: Callable[[Session], Row | None],
    insert: Callable[[Session], Row],
    *,
    tries: int = 2,
) -> tuple[Row, bool]:
    """`find` the row, else `insert` it, in one transaction; returns (row, inserted).

    For rows kept once per natural key (a hand-off per journey and number, a transition
    per journey and seq, a lead per email): two processes can both find nothing and both
    insert, and the loser's commit fails on the unique key. The loser then runs again in a
    fresh transaction, where `find` sees the winner's row. `find` may update what it finds
    (an upsert). An IntegrityError on the last try is raised: it was no race, or the race
    keeps being lost.
    """
    for attempt in range(1, tries + 1):
        try:
            with store.session() as session:
                found = find(session)
                if found is not None:
                    return found, False
                row = insert(session)
                session.flush()
                return row, True
        except IntegrityError:
            if attempt == tries:
                raise
    raise ValueError(f"tries must be at least 1, not {tries}")


def lock_lead(session: Session, lead_id: str) -> Lead:
    """The lead's row, locked until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite
    holds its write lock from BEGIN). Every write that must not interleave with another for
    the same lead takes it: the send gate (the weekly cap's last slot, one claim per send)
    and erasure (no email goes out with data being erased)."""
    lead = session.scalars(select(Lead).where(Lead.id == lead_id).with_for_update()).first()
    if lead is None:
        raise LeadNotFound(f"no lead {lead_id!r} in the store")
    return lead


def upsert_insert(session: Session, table: type[Any]) -> Any:
    """`INSERT` with `ON CONFLICT` support for the session's engine (PostgreSQL or SQLite):
    the idempotent writes (events, deliveries, suppressions) are one statement each."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def record_consent(session: Session, lead_id: str, consent: ConsentIn) -> Consent:
    """Append a consent record unless the same agreement is already on file."""
    product = consent.product or ""
    existing = session.scalars(
        select(Consent).where(
            Consent.lead_id == lead_id,
            Consent.channel == "email",
            Consent.basis == consent.basis,
            Consent.product == product,
            Consent.wording == consent.wording,
            Consent.withdrawn_at.is_(None),
        )
    ).first()
    if existing is not None:
        return existing
    record = Consent(
        lead_id=lead_id,
        basis=consent.basis,
        product=product,
        wording=consent.wording,
        source=consent.source,
        obtained_at=consent.obtained_at or utcnow(),
    )
    session.add(record)
    return record


def has_any_consent(store: Store, lead_id: str) -> bool:
    with store.session() as session:
        return (
            session.scalars(
                select(Consent.id).where(
                    Consent.lead_id == lead_id,
                    Consent.channel == "email",  # a LINE follow is no basis for email
                    Consent.withdrawn_at.is_(None),
                )
            ).first()
            is not None
        )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # No pre-ping (a round trip per unit of work): a connection broken by a database restart
    # fails one request with 503, which the pool then replaces, and the caller retries.
    # No JIT: PostgreSQL compiles a query whose estimated cost is high (every report over a
    # large store), which takes about half a second per query and saves less than that on
    # queries of a few seconds (docs/benchmarks.md, analytics reports).
    return create_engine(
        url,
        pool_recycle=1800,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": "-c jit=off"},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the API, worker and tools share the file; foreign keys are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event starts transactions


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN: read-then-write units of work (the frequency cap)
    then serialise like PostgreSQL's row locks, instead of failing at commit."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
