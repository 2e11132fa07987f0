"""The store: an engine, sessions, and the few operations the journeys and tools need.

SQLite is the embedded default; set NURTURE_DATABASE_URL to a PostgreSQL URL
(postgresql+psycopg2://...) for production.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, create_engine, event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nurture import schema
from nurture.db import Lead
from nurture.lead import LeadProfile, Role

EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LeadIn(BaseModel):
    """A lead as a backend, a form or a trade-show list gives it to us."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(pattern=EMAIL_SHAPE, max_length=320)
    external_id: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=300)
    industry: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=1)
    role: Role | None = None
    region: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=16)
    source: str | None = Field(default=None, max_length=40)

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.lower()


def profile_of(lead: Lead) -> LeadProfile:
    """The non-personal part of a lead that a journey may carry in its history."""
    return LeadProfile(
        industry=lead.industry,
        company_size=lead.company_size,
        role=lead.role,  # type: ignore[arg-type]
        region=lead.region,
        department=lead.department,
        timezone=lead.timezone,
        locale=lead.locale,
    )


def new_lead_id() -> str:
    return "ld_" + secrets.token_hex(8)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Bring the schema to this code's revision (what `nurture db upgrade` does)."""
        schema.upgrade(self.engine)

    def ensure_current(self) -> None:
        """Refuse to run on an outdated schema, naming the command that fixes it."""
        schema.ensure_current(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def upsert_lead(self, data: LeadIn) -> tuple[Lead, bool]:
        """Insert or update by external id, else by email; returns (lead, created)."""
        for _ in range(3):
            try:
                return self._upsert_once(data)
            except IntegrityError:
                continue  # a concurrent insert won; the next round updates it
        raise RuntimeError(f"could not upsert lead {data.external_id or '(by email)'}")

    def _upsert_once(self, data: LeadIn) -> tuple[Lead, bool]:
        values: dict[str, Any] = data.model_dump(exclude_unset=True)
        with self.session() as session:
            match = [Lead.email == data.email]
            if data.external_id:
                match.append(Lead.external_id == data.external_id)
            lead = session.scalars(select(Lead).where(or_(*match)).limit(1)).first()
            created = lead is None
            if lead is None:
                lead = Lead(id=new_lead_id(), **values)
                session.add(lead)
            else:
                for key, value in values.items():
                    setattr(lead, key, value)
            session.flush()
            return lead, created

    def get_lead(self, lead_id: str) -> Lead | None:
        with self.session() as session:
            return session.get(Lead, lead_id)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the API, worker and tools share the file; foreign keys are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
