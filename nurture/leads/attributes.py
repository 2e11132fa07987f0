"""A lead's custom attributes: typed fields a team declares in its scenarios.

A scenario declares each field it uses (`attributes: {plan: {type: enum, values: [...]}}`);
leads carry the values (`leads.attributes`, a JSON object) set by the API, identify traits
and CSV imports, which check every value against the declarations of all scenarios (the
`AttributeCatalog`) and refuse an unknown name with the list of known ones. Journeys see the
values in the lead's profile, so fit rules, conditions and templates can use them.

Values are JSON scalars: a string, a number, a boolean, or a date as `YYYY-MM-DD`. They
reach journey histories like the rest of the profile, so a name that reads as personal data
(a phone number, an address) is refused: personal data stays in the lead's own columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nurture.leads.fields import one_line_problem

AttributeType = Literal["string", "number", "boolean", "enum", "date"]
AttributeValue = str | int | float | bool
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 200
MAX_ATTRIBUTES = 50
# Lead fields with columns of their own: an attribute of the same name would be ambiguous.
LEAD_FIELDS = frozenset(
    {
        "email", "external_id", "first_name", "last_name", "name", "company", "title",
        "industry", "company_size", "size", "role", "region", "department", "timezone",
        "locale", "source", "owner", "consent", "products", "origin", "attributes",
    }
)  # fmt: skip
# Words that make a name read as personal data, wherever they stand in it (`phone_number`,
# `home_address`, `birthdate`): such values must not reach journey histories.
PERSONAL = (
    "phone", "mobile", "tel", "fax", "address", "street", "postal", "zip", "birth", "dob",
    "age", "gender", "name", "email", "mail", "ip", "password", "card", "passport",
    "license", "ssn", "my_number", "line_user",
)  # fmt: skip
# Stems that start personal words of their own (`birthdate`, `phonenumber`, `emailaddress`).
PERSONAL_STEMS = ("birth", "phone", "email", "passport", "telephone")
# Names a template or a condition reads as something else (`lead.attributes.items` is the
# dict's method; `any`, `all`, `not` combine conditions, `in_segment` names a segment).
RESERVED = frozenset({"any", "all", "not", "not_", "in_segment", "items", "keys", "values", "get",
                      "pop", "update", "copy", "clear", "setdefault", "popitem",
                      "fromkeys"})  # fmt: skip
TRUE_TEXT = {"true", "yes", "y", "1", "on"}
FALSE_TEXT = {"false", "no", "n", "0", "off"}


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an attribute's name, or None."""
    if not NAME.match(name):
        return (
            f"attribute name {name!r} must be snake_case: a lowercase letter, then letters, "
            "digits or '_' (at most 40), e.g. 'plan_interest'"
        )
    if name in LEAD_FIELDS:
        return f"{name!r} is a lead field of its own: use it directly, not as an attribute"
    if name in RESERVED:
        return f"{name!r} is reserved (conditions and templates read it as something else)"
    words = name.split("_")
    personal = [w for w in PERSONAL if w in words or ("_" in w and w in name)]
    personal += [w for w in PERSONAL_STEMS if any(word.startswith(w) for word in words)]
    if personal:
        return (
            f"{name!r} reads as personal data ({personal[0]}), which must not reach journey "
            "histories: keep it in your CRM, or declare a non-personal field (a segment, a "
            "plan)"
        )
    return None


class AttributeSpec(BaseModel):
    """One declared attribute: its type, and for an enum the values it may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: AttributeType
    values: list[str] | None = Field(
        default=None, min_length=1, description="an enum's allowed values"
    )
    description: str = ""

    @model_validator(mode="after")
    def _values_for_enums(self) -> AttributeSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum attribute lists its values: values: [starter, pro]")
        if self.type != "enum" and self.values is not None:
            raise ValueError(f"only enum attributes list values; this one is a {self.type}")
        return self

    def check(self, value: object) -> AttributeValue:
        """The value as stored, or ValueError saying what this attribute takes."""
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError(f"takes true or false (got {value!r})")
        if self.type == "number":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and math.isfinite(value):  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
            raise ValueError(f"takes a number, e.g. 12 or 3.5 (got {value!r})")
        if not isinstance(value, str):
            raise ValueError(f"takes {self._what()} (got {value!r})")
        text = value.strip()
        if self.type == "date":
            return self._date(text)
        if self.type == "enum":
            return self._enum(text)
        problem = one_line_problem(text, "the value")
        if problem:
            raise ValueError(problem)
        if len(text) > MAX_TEXT:
            raise ValueError(f"takes at most {MAX_TEXT} characters (got {len(text)})")
        return text

    def from_text(self, text: str) -> AttributeValue:
        """A CSV cell as this attribute's value ('yes' for a boolean, '12' for a number)."""
        cleaned = text.strip()
        if self.type == "boolean" and cleaned.lower() in TRUE_TEXT | FALSE_TEXT:
            return cleaned.lower() in TRUE_TEXT
        if self.type == "number":
            try:
                return self.check(float(cleaned) if "." in cleaned else int(cleaned))
            except ValueError:
                raise ValueError(f"takes a number, e.g. 12 or 3.5 (got {text!r})") from None
        return self.check(cleaned)

    def _date(self, text: str) -> str:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            example = "e.g. 2027-03-31"
            raise ValueError(f"takes a date as YYYY-MM-DD, {example} (got {text!r})") from None

    def _enum(self, text: str) -> str:
        for allowed in self.values or ():
            if allowed.lower() == text.lower():
                return allowed  # stored as declared, whatever the case it came in
        raise ValueError(f"takes one of {', '.join(self.values or ())} (got {text!r})")

    def _what(self) -> str:
        return {"date": "a date as YYYY-MM-DD", "enum": "one of its values"}.get(
            self.type, "a line of text"
        )


@dataclass(frozen=True)
class Declared:
    spec: AttributeSpec
    product: str


@dataclass(frozen=True)
class AttributeCatalog:
    """Every attribute declared by the scenarios, for checking values as they arrive.

    Two scenarios may declare the same name only with the same type (and values): a lead is
    one record whatever product it is nurtured for. `conflicts` says where they disagree;
    `nurture validate` reports them, and the first declaration (by product) is the one used.
    """

    declared: dict[str, Declared] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, scenarios: Iterable[tuple[str, Mapping[str, AttributeSpec]]]) -> AttributeCatalog:
        """From (product, its declared attributes) pairs."""
        declared: dict[str, Declared] = {}
        conflicts = []
        for product, specs in sorted(scenarios, key=lambda pair: pair[0]):
            for name, spec in specs.items():
                first = declared.setdefault(name, Declared(spec, product))
                if first.spec != spec:
                    conflicts.append(
                        f"attribute {name!r} is a {_describe(spec)} in {product} but a "
                        f"{_describe(first.spec)} in {first.product}: a lead has one value, "
                        "so declare it the same way in both"
                    )
        return cls(declared, conflicts)

    def known(self) -> str:
        return ", ".join(sorted(self.declared)) or "none (declare them under attributes:)"

    def spec(self, name: str) -> AttributeSpec:
        """The declaration of `name`, or ValueError listing the known ones."""
        found = self.declared.get(name)
        if found is None:
            raise ValueError(
                f"unknown attribute {name!r}; known attributes: {self.known()}. "
                "A scenario declares each attribute under attributes:"
            )
        return found.spec

    def check(self, values: Mapping[str, object]) -> dict[str, AttributeValue | None]:
        """The values as stored (None clears an attribute), or ValueError naming the first
        bad one: `attributes.plan: takes one of starter, pro (got 'gold')`. Clearing a name
        no scenario declares (any more) is allowed: it removes what an older one set."""
        if len(values) > MAX_ATTRIBUTES:
            raise ValueError(f"attributes: at most {MAX_ATTRIBUTES} at once (got {len(values)})")
        checked: dict[str, AttributeValue | None] = {}
        for name, value in values.items():
            if value is None:
                checked[name] = None
                continue
            try:
                spec = self.spec(name)
                checked[name] = spec.check(value)
            except ValueError as err:
                raise ValueError(f"attributes.{name}: {err}") from None
        return checked


def merged(
    stored: Mapping[str, AttributeValue] | None, update: Mapping[str, AttributeValue | None]
) -> dict[str, AttributeValue]:
    """The lead's attributes after an update: named ones set, None ones cleared, the rest
    kept (an update never loses what it does not mention)."""
    result = dict(stored or {})
    for name, value in update.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def _describe(spec: AttributeSpec) -> str:
    return f"enum of {', '.join(spec.values or ())}" if spec.type == "enum" else spec.type
