"""Who a simulation nurtures: personas, built in or from a YAML file.

A persona is a kind of lead: its attributes (role, industry, size, source), what it does on
given days (`day 3: page /pricing`), what it does in a typical week (probabilities, drawn
with the simulation's seed), how it treats the emails it gets (opens, clicks, a bounce,
an unsubscribe), and what sales answer once it is handed off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nurture.journey.lifecycle import FeedbackOutcome
from nurture.leads.events import EVENT_TYPE_PATTERN

SCRIPT_LINE = re.compile(r"^day\s+(\d+)\s*:\s*(\S+)(?:\s+(\S+))?\s*$")
# What a script line may say besides an event type.
PAGE = "page"
UNSUBSCRIBE = "unsubscribe"
BOUNCE = "bounce"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Action(_Strict):
    """One thing a persona does on a day: an event (a page view by URL, mapped to product
    events by the scenario's `pages:` rules, as the API maps them), an unsubscribe, or its
    address bouncing."""

    day: int = Field(ge=0)
    event: str
    url: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in (PAGE, UNSUBSCRIBE, BOUNCE) and not EVENT_TYPE_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is neither 'page', 'unsubscribe', 'bounce' nor an event type "
                "(snake_case, e.g. document_download)"
            )
        return value


class EmailHabits(_Strict):
    """How the persona treats each email: the chance it opens it, and clicks in it."""

    open: float = Field(default=0.0, ge=0, le=1)
    click: float = Field(default=0.0, ge=0, le=1, description="of the emails it opens")


class Feedback(_Strict):
    """What sales answer, so many days after the hand-off."""

    days_after_handoff: int = Field(ge=0)
    outcome: FeedbackOutcome


class Persona(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="lead fields (role, industry, company_size, source, title, region, ...) "
        "and custom attributes the scenario declares",
    )
    script: list[Action] = Field(default_factory=list)
    weekly: dict[str, float] = Field(
        default_factory=dict, description="event type (or 'page URL') → chance per week"
    )
    emails: EmailHabits = Field(default_factory=EmailHabits)
    feedback: list[Feedback] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0, description="share of a --leads population")

    @field_validator("script", mode="before")
    @classmethod
    def _lines(cls, value: object) -> object:
        """`day 3: page /pricing` or `day 10: document_download` as well as mappings."""
        if not isinstance(value, list):
            return value
        return [_parse_line(item) if isinstance(item, str) else item for item in value]

    @field_validator("weekly")
    @classmethod
    def _chances(cls, value: dict[str, float]) -> dict[str, float]:
        for what, chance in value.items():
            if not 0 <= chance <= 1:
                raise ValueError(f"weekly {what!r}: a chance is between 0 and 1, not {chance}")
            kind = what.split()[0]
            if kind != PAGE and not EVENT_TYPE_PATTERN.match(kind):
                raise ValueError(f"weekly {what!r}: an event type or 'page URL'")
        return value


def _parse_line(line: str) -> dict[str, Any]:
    match = SCRIPT_LINE.match(line.strip())
    if match is None:
        raise ValueError(
            f"script line {line!r}: write 'day N: EVENT' or 'day N: page URL', "
            "e.g. 'day 3: page /pricing'"
        )
    day, event, url = match.groups()
    return {"day": int(day), "event": event, "url": url}


class PersonaFile(_Strict):
    personas: list[Persona] = Field(min_length=1)


class PersonaError(ValueError):
    """A persona file that cannot be used: the file and every problem."""


def load_personas(path: Path) -> list[Persona]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise PersonaError(f"{path}: {err}") from None
    try:
        return PersonaFile.model_validate(data).personas
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise PersonaError(f"{path}: {problems}") from None


def _persona(name: str, description: str, **fields: Any) -> Persona:
    return Persona.model_validate({"name": name, "description": description, **fields})


PRACTITIONER = {"role": "practitioner", "industry": "saas", "company_size": 120}
BUILT_IN: tuple[Persona, ...] = (
    _persona("silent", "never opens, never visits", attributes={"role": "other"}),
    _persona("opener", "opens every email", attributes=PRACTITIONER, emails={"open": 1.0}),
    _persona(
        "clicker",
        "opens and clicks every email",
        attributes=PRACTITIONER,
        emails={"open": 1.0, "click": 1.0},
    ),
    _persona(
        "evaluator",
        "reads half the emails, visits product pages and now and then pricing; once handed "
        "off, sales find it too early and recycle it",
        attributes={**PRACTITIONER, "source": "website"},
        emails={"open": 0.5, "click": 0.2},
        weekly={"product_page": 0.6, "pricing_page": 0.15},
        feedback=[{"days_after_handoff": 3, "outcome": "rejected"}],
    ),
    _persona(
        "downloader",
        "downloads documents",
        attributes={**PRACTITIONER, "source": "document_request"},
        emails={"open": 0.6},
        script=["day 2: document_download", "day 45: document_download"],
    ),
    _persona(
        "seminar attendee",
        "attends a webinar in the first month",
        attributes={"role": "manager", "industry": "manufacturing", "company_size": 800},
        emails={"open": 0.7, "click": 0.3},
        script=["day 21: webinar_attended"],
    ),
    _persona(
        "buyer",
        "downloads, compares products, checks pricing twice, attends a webinar; sales "
        "accept and win it",
        attributes={"role": "executive", "industry": "manufacturing", "company_size": 300},
        emails={"open": 0.9, "click": 0.5},
        script=[
            "day 3: document_download",
            "day 5: product_page",
            "day 6: product_page",
            "day 8: product_page",
            "day 9: product_page",
            "day 10: pricing_page",
            "day 12: webinar_attended",
            "day 13: pricing_page",
        ],
        feedback=[
            {"days_after_handoff": 2, "outcome": "accepted"},
            {"days_after_handoff": 40, "outcome": "won"},
        ],
    ),
    _persona(
        "unsubscriber",
        "opens the first emails, then unsubscribes",
        attributes=PRACTITIONER,
        emails={"open": 1.0},
        script=["day 35: unsubscribe"],
    ),
    _persona(
        "bouncer", "an address that hard-bounces", attributes=PRACTITIONER, script=["day 0: bounce"]
    ),
)


def built_in(names: list[str] | None = None) -> list[Persona]:
    """The built-in personas, or those named."""
    if not names:
        return list(BUILT_IN)
    known = {p.name: p for p in BUILT_IN}
    missing = [n for n in names if n not in known]
    if missing:
        raise PersonaError(f"no built-in persona {missing}; known: {', '.join(known)}")
    return [known[n] for n in names]
