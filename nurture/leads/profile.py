"""The parts of a lead's profile a journey may see.

Journeys run with the lead's opaque id and its firmographic profile only: the
history of a workflow is visible to every operator, so names and email addresses
stay in the store and are read by the activities that need them.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nurture.leads.attributes import AttributeValue

Role = Literal["executive", "manager", "practitioner", "other"]
FIT_FIELDS = ("industry", "company_size", "role", "region", "department")


def check_timezone(value: str | None) -> str | None:
    """An IANA zone name ('Asia/Tokyo'), or a clear error: a bad one would stall sends."""
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r}: use an IANA name like 'Asia/Tokyo' or 'Europe/Berlin'"
        ) from None
    return value


class LeadProfile(BaseModel):
    """Firmographic and role facts used for fit scoring and content choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    industry: str | None = None
    company_size: int | None = Field(default=None, ge=1, le=10_000_000, description="employees")
    role: Role | None = None
    region: str | None = None
    department: str | None = None
    timezone: str | None = None
    locale: str | None = None
    source: str | None = Field(default=None, description="where the lead came from (webinar, ...)")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="the custom attributes its scenarios declare"
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return check_timezone(value)

    def value_of(self, field: str) -> object:
        """A built-in field's value, else the custom attribute's (None when unset)."""
        if field in type(self).model_fields and field != "attributes":
            return getattr(self, field)
        return self.attributes.get(field)
