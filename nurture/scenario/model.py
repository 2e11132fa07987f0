"""A product's nurturing scenario: the pydantic model of scenario.yaml.

Nurturing runs per product, so one scenario describes one
product end to end: who sends, whom it wants (fit), how behaviour scores, when a
lead is warm or hot, when sales takes over, the tracks of step emails, the
trigger emails, the branch rules, the send window and the exit rules.

The model is pure data shared by the workflow (which receives it from the
`load_scenario` activity, so its history pins the version) and the activities.
Loading and validating files lives in `nurture.scenario.loader`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from nurture.leads.attributes import AttributeSpec
from nurture.leads.events import EVENT_TYPE_PATTERN, NAME_PROPERTIES, BehaviorEvent
from nurture.leads.profile import FIT_FIELDS, LeadProfile, check_timezone
from nurture.scenario.durations import Duration

Stage = Literal["cold", "warm", "hot"]
STAGES: tuple[Stage, ...] = ("cold", "warm", "hot")
MailType = Literal["newsletter", "step", "trigger", "sales"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRACK_END = "end"
TRACK_LISTEN = "listen"


def _slug(value: str, what: str) -> str:
    if not SLUG.match(value):
        raise ValueError(
            f"{what} {value!r} must be a slug: lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit (e.g. 'case-study')"
        )
    return value


def _check_event_type(value: str) -> str:
    if not EVENT_TYPE_PATTERN.match(value):
        raise ValueError(f"event type {value!r} must be snake_case, e.g. 'pricing_page'")
    return value


EventType = Annotated[str, AfterValidator(_check_event_type)]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently disable a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Sender(_Strict):
    """Who the mail is from; the postal address and contact are required by law in the footer."""

    from_name: str = Field(min_length=1)
    from_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    reply_to: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    postal_address: str = Field(min_length=5)
    contact: str = Field(min_length=3, description="phone, email or URL for enquiries")


class Between(_Strict):
    at_least: int | None = None
    below: int | None = None


Scalar = bool | int | float | date | str


class AttributeRange(_Strict):
    """`{at_least: 10, below: 50}` for a number attribute, dates for a date one."""

    at_least: float | date | None = None
    below: float | date | None = None

    def holds(self, value: object) -> bool:
        bound = self.at_least if self.at_least is not None else self.below
        if isinstance(bound, date):
            if not isinstance(value, str):
                return False
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return False
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.at_least is not None and value < self.at_least:  # type: ignore[operator]
            return False
        return not (self.below is not None and value >= self.below)  # type: ignore[operator]


AttributeMatch = AttributeRange | list[Scalar] | Scalar


def same_value(a: object, b: object) -> bool:
    """Whether a stored value and a written one mean the same: case-insensitive text, 3 and
    3.0, a YAML date and its ISO text."""
    return normal_value(a) == normal_value(b)


def normal_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip().lower()


class LeadCondition(BaseModel):
    """Who the lead is, for `only_if` and `entry`: each field it names matches (one of the
    listed values, whatever the case; `company_size: {at_least, below}`), and `any:`,
    `all:` and `not:` combine conditions. Any other key names a custom attribute the
    scenario declares: a value or a list of values, or `{at_least, below}` for a number or a
    date (`plan: [pro, enterprise]`, `budget_approved: true`). Evaluated in the journey from
    the lead's profile, so the same lead always takes the same path. `in_segment:` names a
    segment of scenarios/segments.yaml: the journey asks the store whether the lead is in
    it when the condition is judged (a step's `only_if`, `entry`), and keeps the answer in
    its history."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    __pydantic_extra__: dict[str, AttributeMatch] = Field(init=False)

    industry: list[str] | None = None
    company_size: Between | None = None
    role: list[str] | None = None
    region: list[str] | None = None
    department: list[str] | None = None
    source: list[str] | None = None
    in_segment: str | None = None
    any: list[LeadCondition] | None = None
    all: list[LeadCondition] | None = None
    not_: LeadCondition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _says_something(self) -> LeadCondition:
        if not self.model_fields_set and not self.model_extra:
            raise ValueError(
                "name a field (industry, company_size, role, region, department, source, "
                "in_segment, or an attribute the scenario declares) or combine conditions with "
                "any:, all: or not:"
            )
        return self

    @property
    def attributes(self) -> dict[str, AttributeMatch]:
        """The custom attributes this condition names, with what each must match."""
        return dict(self.model_extra or {})

    def segments(self) -> set[str]:
        """The segments this condition names, anywhere inside it."""
        found = {self.in_segment} if self.in_segment is not None else set()
        for inner in [*(self.any or ()), *(self.all or ()), *([self.not_] if self.not_ else [])]:
            found |= inner.segments()
        return found

    def holds(self, profile: LeadProfile, member_of: frozenset[str] = frozenset()) -> bool:
        """Whether the lead of `profile` (in the segments `member_of`) is one this names."""
        if self.in_segment is not None and self.in_segment not in member_of:
            return False
        for field in ("industry", "role", "region", "department", "source"):
            wanted = getattr(self, field)
            if wanted is not None and not _attribute_holds(wanted, getattr(profile, field)):
                return False
        size = self.company_size
        if size is not None:
            n = profile.company_size
            if n is None or (size.at_least is not None and n < size.at_least):
                return False
            if size.below is not None and n >= size.below:
                return False
        for name, match in self.attributes.items():
            if not _attribute_holds(match, profile.attributes.get(name)):
                return False
        if self.any is not None and not any(c.holds(profile, member_of) for c in self.any):
            return False
        if self.all is not None and not all(c.holds(profile, member_of) for c in self.all):
            return False
        return not (self.not_ is not None and self.not_.holds(profile, member_of))


def _attribute_holds(match: AttributeMatch, value: object) -> bool:
    """Whether a field's value is the one (or one of those) written, or in the range."""
    if value is None:
        return False
    if isinstance(match, AttributeRange):
        return match.holds(value)
    wanted = match if isinstance(match, list) else [match]
    return any(same_value(value, w) for w in wanted)


class Reentry(_Strict):
    """A lead sales closed is nurtured again after a rest instead of the journey ending: a
    lost deal (`on_lost: {after: 90d, track: recycled}`: no dropped leads after a proposal)
    or a won one (`on_customer: {after: 30d, track: customers}`: onboarding, cross-sell)."""

    after: Duration
    track: str


class EntryRule(_Strict):
    """The first track of a lead the condition describes (a trade-show contact, ...)."""

    when: LeadCondition
    track: str


class FitRule(_Strict):
    """Points for a lead whose profile matches the product's target: a built-in field
    (industry, company_size, role, region, department) or a declared attribute."""

    name: str = Field(min_length=1)
    field: str = Field(min_length=1)
    in_: list[bool | int | float | str] | None = Field(default=None, alias="in", min_length=1)
    between: tuple[float, float] | None = None
    points: int

    @model_validator(mode="after")
    def _one_matcher(self) -> FitRule:
        if (self.in_ is None) == (self.between is None):
            raise ValueError("give exactly one of 'in' (a list of values) or 'between' [min, max]")
        if self.between is not None and self.field in FIT_FIELDS and self.field != "company_size":
            raise ValueError(
                "'between' only applies to company_size and number attributes; use 'in' for "
                "other fields"
            )
        if self.in_ is not None and self.field == "company_size":
            raise ValueError("company_size is a number of employees: use 'between: [min, max]'")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("'between' must be [min, max] with min <= max")
        return self

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        if self.between is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            return self.between[0] <= value <= self.between[1]
        return any(same_value(value, wanted) for wanted in self.in_ or ())


class EventMatch(_Strict):
    """Which events a rule reacts to: a type, optionally narrowed by URL and properties."""

    event: EventType
    url_contains: str | None = None
    properties: dict[str, str | int | bool] = Field(default_factory=dict)

    def matches(self, event: BehaviorEvent) -> bool:
        if event.type != self.event:
            return False
        if self.url_contains and self.url_contains not in (event.url or ""):
            return False
        return all(event.properties.get(k) == v for k, v in self.properties.items())


class _MaybeEvent(_Strict):
    """A rule that may name an event, narrowed like an EventMatch (by URL and properties);
    its other kinds (a stage, a pattern, a lifecycle move) are its subclass's."""

    event: EventType | None = None
    url_contains: str | None = None
    properties: dict[str, str | int | bool] = Field(default_factory=dict)

    def matches_event(self, event: BehaviorEvent) -> bool:
        """Whether `event` is the rule's event (never true for its other kinds)."""
        return _named_event_matches(self, event)


def _named_event_matches(rule: _MaybeEvent | Goal, event: BehaviorEvent) -> bool:
    if rule.event is None:
        return False
    match = EventMatch(event=rule.event, url_contains=rule.url_contains, properties=rule.properties)
    return match.matches(event)


class EventPoints(_Strict):
    """Points each event of a type is worth, capped per day so one busy afternoon is not 'hot'."""

    points: int
    daily_cap: int | None = Field(default=None, ge=0)


class Pattern(EventMatch):
    """Repeated behaviour worth more than its parts (a product page seen ≥3 times in two weeks
    says more than three single visits)."""

    name: str = Field(min_length=1)
    at_least: int = Field(ge=2)
    within: Duration
    points: int


class EveryEmailOpened(_Strict):
    """A lead who opens every email is interested: the last `last` sends were all opened."""

    name: str = Field(min_length=1)
    last: int = Field(ge=1)
    points: int


class Scoring(_Strict):
    half_life: Duration | None = Field(
        default=None, description="behaviour points halve over this time; none = no decay"
    )
    events: dict[EventType, EventPoints]
    patterns: list[Pattern] = Field(default_factory=list)
    every_email_opened: EveryEmailOpened | None = None
    max_behavior: int | None = Field(default=None, ge=0)

    @field_validator("half_life")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("half_life must be positive, e.g. '30d'")
        return value


class Stages(_Strict):
    warm: int
    hot: int

    @model_validator(mode="after")
    def _ordered(self) -> Stages:
        if self.warm >= self.hot:
            raise ValueError(f"warm ({self.warm}) must be below hot ({self.hot})")
        return self


class Recycle(_Strict):
    """Where a lead goes when sales rejects it, and how much of its behaviour score it keeps."""

    track: str
    keep_behavior: float = Field(default=0.0, ge=0.0, le=1.0)


def _email_address(value: str | None) -> str | None:
    """A plain address (`sales@example.com`): hand-off mail goes there, so a typo must fail
    validation, not a send months later."""
    if value is not None and not (value.isascii() and EMAIL_ADDRESS.match(value)):
        raise ValueError(
            f"{value!r} is not an email address; give one address such as 'sales@example.com' "
            "(ASCII only: not every mail server accepts international addresses)"
        )
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class Sla(_Strict):
    """How soon sales owes feedback on a hand-off, in business days (the send window's
    weekdays minus its holidays, in the scenario's timezone; Mon–Fri without a window).

    After `business_days` without feedback the owner is reminded; after as many again the
    hand-off is escalated to `escalate_to`, if given.
    """

    business_days: int = Field(ge=1, le=60)
    escalate_to: EmailAddress | None = None


OwnerField = Literal["region", "industry", "department", "role"]


class Owners(_Strict):
    """Several owners: round robin over `team`, or by a lead field (`by: region`, `to:`
    value → owner, `otherwise:` for the rest). Each hand-off records whom it went to."""

    team: list[EmailAddress] = Field(default_factory=list)
    by: OwnerField | None = None
    to: dict[str, EmailAddress] = Field(default_factory=dict)
    otherwise: EmailAddress | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Owners:
        if self.by is None and len(self.team) < 2:
            raise ValueError(
                "give `team: [a@..., b@...]` (two or more, taken in turn) or `by: FIELD` with "
                "`to: {value: owner}` and `otherwise: owner`"
            )
        if self.by is not None and (self.team or not self.to or self.otherwise is None):
            raise ValueError(
                f"`by: {self.by}` needs `to: {{value: owner, ...}}` and `otherwise: owner` "
                "(for a lead whose value is not listed), and no `team`"
            )
        return self

    def everyone(self) -> list[str]:
        return [*self.team, *self.to.values(), *([self.otherwise] if self.otherwise else [])]


class SlackNotify(_Strict):
    """The Slack channel (an id like C0123ABCD, or #name the app was invited to) that gets
    each hand-off, its SLA reminders threaded under it."""

    channel: str = Field(pattern=r"^(#[a-z0-9_.-]{1,80}|[CGD][A-Z0-9]{6,})$")


class HandoffNotify(_Strict):
    slack: SlackNotify | None = None


class Handoff(_Strict):
    """When a lead is ready for sales (MQL): score, fit and at least one buying signal."""

    score_at_least: int | None = Field(default=None, description="defaults to the hot threshold")
    fit_at_least: int | None = None
    requires_any: list[EventMatch] = Field(default_factory=list)
    recycle: Recycle
    target_precision: float = Field(
        default=0.30,
        gt=0.0,
        le=1.0,
        description="share of decided hand-offs that should become customers; below ~30% sales "
        "stops following marketing's leads up (read by `nurture report handoffs`)",
    )
    daily_capacity: int | None = Field(
        default=None,
        ge=1,
        description="hand-offs per day sales can follow up (the product's local day); leads "
        "over it wait in a queue by score, and the report's recommendation stays within it",
    )
    owner: EmailAddress | None = Field(
        default=None,
        description="the sales owner or team inbox: gets an email with each hand-off "
        "(who, score, interesting moments, journey link) and the SLA reminders",
    )
    sla: Sla | None = None
    owners: Owners | None = Field(
        default=None, description="several owners instead of one `owner` (see Owners)"
    )
    notify: HandoffNotify = Field(
        default_factory=HandoffNotify,
        description="where else sales hears of each hand-off: `slack: {channel}`",
    )

    @model_validator(mode="after")
    def _sla_needs_owner(self) -> Handoff:
        if self.owner is not None and self.owners is not None:
            raise ValueError("give 'owner' (one) or 'owners' (several), not both")
        if self.sla is not None and self.owner is None and self.owners is None:
            raise ValueError(
                "'sla' reminds the hand-off's owner: set 'owner' (e.g. sales@example.com) too"
            )
        return self


class _Email(_Strict):
    """An email with optional A/B variants: several subjects, several templates (content),
    or both in pairs. A lead gets one variant, the same on every retry and replay."""

    template: str | list[str] | None = Field(
        default=None, description="one template, or A/B content variants"
    )
    subject: str | list[str] | None = Field(
        default=None, description="one subject, or A/B variants"
    )

    @field_validator("template")
    @classmethod
    def _template_slugs(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return None
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("give at least one template")
        for name in names:
            _slug(name, "template")
        return value

    @field_validator("subject")
    @classmethod
    def _variants(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one subject")
        return value

    @model_validator(mode="after")
    def _paired(self) -> _Email:
        subjects, templates = len(self.subjects), len(self.templates)
        if subjects > 1 and templates > 1 and subjects != templates:
            raise ValueError(
                f"{subjects} subjects and {templates} templates: give one of them, or as many "
                "templates as subjects (variant A, B, ... pairs)"
            )
        return self

    @property
    def subjects(self) -> list[str]:
        return [self.subject] if isinstance(self.subject, str) else list(self.subject or [])

    @property
    def templates(self) -> list[str]:
        return [self.template] if isinstance(self.template, str) else list(self.template or [])

    @property
    def has_email(self) -> bool:
        return self.template is not None and self.subject is not None

    def _email_required(self, why: str) -> None:
        if not self.has_email:
            missing = " and ".join(
                key for key in ("template", "subject") if getattr(self, key) is None
            )
            raise ValueError(f"{why} needs `{missing}`: the email's template and subject")

    def variants(self) -> list[tuple[str, str]]:
        """(subject, template) of variant A, B, ... (none without an email)."""
        subjects, templates = self.subjects, self.templates
        if not subjects or not templates:
            return []
        count = max(len(subjects), len(templates))
        return [
            (subjects[i if len(subjects) > 1 else 0], templates[i if len(templates) > 1 else 0])
            for i in range(count)
        ]


Channel = Literal["email", "line", "webhook"]


class LineMessage(_Strict):
    """A step's LINE message: `templates/<template>.line.json`, one LINE message object or a
    list of up to five (text, or Flex with `contents`), each string rendered by the same
    sandboxed Jinja2 as email (nurture/channels/line/messages.py)."""

    template: str
    alt_text: str = Field(
        min_length=1,
        max_length=1500,
        description="what a notification or an old client shows for a Flex message",
    )

    @field_validator("template")
    @classmethod
    def _slug_name(cls, value: str) -> str:
        return _slug(value, "template")


class WebhookCall(_Strict):
    """A `channel: webhook` step: POST `templates/<template>.webhook.json` (JSON whose strings
    are rendered like an email's) to `url`, signed (nurture/channels/webhook.py)."""

    url: str = Field(pattern=r"^https?://[^\s/]+", description="the receiver: https")
    template: str

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        host = urlsplit(value).hostname or ""
        if value.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError(
                "use https:// (the body carries the lead's data); plain http is for localhost"
            )
        return value

    @field_validator("template")
    @classmethod
    def _slug_name(cls, value: str) -> str:
        return _slug(value, "template")


class Touch(_Email):
    """A step or a trigger: a message to the lead on its channel. `channel: line` sends `line:` to a
    lead linked to the product's LINE account; an unlinked (or blocked) lead gets the email
    instead (`fallback: email`, the template and subject) or nothing (`fallback: none`).
    `channel: webhook` posts `webhook:` to the team's own system."""

    key: str
    only_if: LeadCondition | None = Field(
        default=None, description="only for leads this describes; others pass over it"
    )
    channel: Channel = "email"
    line: LineMessage | None = None
    fallback: Literal["email", "none"] = "email"
    webhook: WebhookCall | None = None

    @field_validator("key")
    @classmethod
    def _slugs(cls, value: str) -> str:
        return _slug(value, "key")

    @model_validator(mode="after")
    def _channel_message(self) -> Touch:
        what = type(self).__name__.lower()
        if self.channel == "email":
            self._email_required(f"a {what} sent by email")
        if self.channel == "line" and self.fallback == "email":
            self._email_required(f"a LINE {what} with `fallback: email` (the default)")
        if self.channel == "line" and self.line is None:
            raise ValueError(
                f"a `channel: line` {what} needs `line: {{template: NAME, alt_text: ...}}` "
                "(templates/NAME.line.json)"
            )
        if self.channel != "line" and self.line is not None:
            raise ValueError(f"`line:` is only for a `channel: line` {what}; add `channel: line`")
        if self.channel == "webhook" and self.webhook is None:
            raise ValueError(
                f"a `channel: webhook` {what} needs `webhook: {{url: https://..., template: "
                "NAME}` (templates/NAME.webhook.json)"
            )
        if self.channel != "webhook" and self.webhook is not None:
            raise ValueError(f"`webhook:` is only for a `channel: webhook` {what}")
        return self


class NoResponse(_Strict):
    """What follows a step's email that no person opened or clicked `within` (machine
    opens never count): the same email again with another subject (`resend:`), or
    another track (`track:`)."""

    within: Duration
    resend: str | None = Field(default=None, description="the subject of the second try")
    track: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> NoResponse:
        if (self.resend is None) == (self.track is None):
            raise ValueError(
                "give exactly one of 'resend' (a subject for the second try) or 'track' "
                "(where a lead who did not respond goes)"
            )
        if self.within <= timedelta(0):
            raise ValueError("'within' must be longer than nothing, e.g. 3d")
        return self


class Step(Touch):
    """One message of a track."""

    wait: Duration
    mail_type: Literal["step", "newsletter"] = "step"
    unless_engaged: NoResponse | None = Field(
        default=None, description="a follow-up when no person opens or clicks the email"
    )

    @field_validator("wait")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("wait cannot be negative")
        return value


class Track(_Strict):
    """A sequence of step emails with a cadence (cold: monthly, warm: weekly, ...)."""

    description: str = ""
    steps: list[Step] = Field(min_length=1)
    then: str = Field(
        default=TRACK_LISTEN,
        description="after the last step: 'listen' (keep scoring), 'end', or a track to enter",
    )


class TriggerWhen(_MaybeEvent):
    """What fires a trigger: an event (narrowed by URL and properties like EventMatch),
    the lead entering a stage (`stage: hot`), a scoring pattern newly met (`pattern:`,
    the name of one of `scoring.patterns`: "product pages 3 times in 14 days"), or a
    lifecycle move that leaves the lead with marketing (`lifecycle: recycled`: sales handed
    it back, or a lost deal's cool-off ended)."""

    stage: Stage | None = None
    pattern: str | None = None
    lifecycle: Literal["recycled"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerWhen:
        kinds = [
            k for k in ("event", "stage", "pattern", "lifecycle") if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of 'event' (e.g. document_download), 'stage' (e.g. hot), "
                "'pattern' (a name from scoring.patterns) or 'lifecycle' (recycled)"
            )
        if self.event is None and (self.url_contains or self.properties):
            raise ValueError("'url_contains' and 'properties' narrow an 'event' trigger only")
        return self

    def describe(self) -> str:
        if self.stage is not None:
            return f"stage {self.stage}"
        if self.pattern is not None:
            return f"pattern '{self.pattern}'"
        if self.lifecycle is not None:
            return f"lifecycle {self.lifecycle}"
        return str(self.event)


class Goal(_Strict):
    """A conversion the product wants (`demo_booked`): an event it names (narrowed like
    an EventMatch) or a lifecycle move sales records. Reaching it is recorded as the
    lead's conversion and ends the journey (`then: end`) or lets it go on (`continue`)."""

    name: str  # first, as `nurture diff` shows a goal
    event: EventType | None = None
    url_contains: str | None = None
    properties: dict[str, str | int | bool] = Field(default_factory=dict)
    lifecycle: Literal["sal", "sql", "opportunity", "customer"] | None = None
    then: Literal["end", "continue"] = "end"

    @field_validator("name")
    @classmethod
    def _slug_name(cls, value: str) -> str:
        return _slug(value, "goal name")

    @model_validator(mode="after")
    def _one_kind(self) -> Goal:
        if (self.event is None) == (self.lifecycle is None):
            raise ValueError(
                "give exactly one of 'event' (e.g. demo_booked) or 'lifecycle' (sal, sql, "
                "opportunity or customer)"
            )
        if self.event is None and (self.url_contains or self.properties):
            raise ValueError("'url_contains' and 'properties' narrow an 'event' goal only")
        return self

    def matches_event(self, event: BehaviorEvent) -> bool:
        return _named_event_matches(self, event)


class Trigger(Touch):
    """Behaviour → an immediate message (download → follow-up), at most once per cool-down:
    an email, or on LINE or a webhook like a step."""

    when: TriggerWhen
    cooldown: Duration = timedelta(days=30)
    stages: list[Stage] | None = Field(default=None, description="only in these stages")


class Condition(_MaybeEvent):
    """An event (with the EventMatch narrowing), reaching a stage, or newly meeting a
    scoring pattern (`pattern:` a name from scoring.patterns)."""

    stage: Stage | None = None
    pattern: str | None = None
    lead: LeadCondition | None = Field(
        default=None, description="who the lead is, judged again when its profile changes"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        kinds = [k for k in ("event", "stage", "pattern", "lead") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of 'event', 'stage', 'pattern' or 'lead'")
        return self

    def describe(self) -> str:
        if self.lead is not None:
            return "who the lead is"
        if self.stage is not None:
            return f"stage {self.stage}"
        if self.pattern is not None:
            return f"pattern '{self.pattern}'"
        return f"event {self.event}"


class Branch(_Strict):
    """Switch track when something happens: webinar attended → warm track, stage hot → ..."""

    when: Condition
    from_: list[str] | None = Field(default=None, alias="from")
    to: str
    only_if: LeadCondition | None = None


class SendTimeOptimisation(_Strict):
    """Send each lead's email in the hour its own human opens and clicks cluster in (mail
    read at the desk in the morning is mail answered), once it has `min_events` of
    them; before that, the best hour of leads with its role; before that, `default_hour`."""

    min_events: int = Field(default=3, ge=1)
    default_hour: int | None = Field(default=None, ge=0, le=23, description="else the opening")


class SendWindow(_Strict):
    """When email may go out, in the lead's timezone (default the scenario's)."""

    timezone: str = "UTC"
    hours: tuple[int, int] = (9, 18)
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    holidays: list[date] = Field(default_factory=list)
    country_holidays: str | None = Field(
        default=None,
        description="ISO 3166 code (JP, US, DE, ...): its public holidays are skipped too, "
        "from the `holidays` package, resolved when the scenario loads",
    )
    quiet_hours: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[start, end) hours inside the window when nothing goes out, e.g. [[12, 13]]",
    )
    optimise_send_time: SendTimeOptimisation | None = None

    def is_quiet(self, hour: int) -> bool:
        """Whether `hour` falls in a quiet range ([22, 7] wraps midnight)."""
        return any(
            (start <= hour < end) if start < end else (hour >= start or hour < end)
            for start, end in self.quiet_hours
        )

    @model_validator(mode="after")
    def _some_hour_open(self) -> SendWindow:
        if all(self.is_quiet(hour) for hour in range(*self.hours)):
            raise ValueError(
                f"quiet_hours {self.quiet_hours} cover all of hours {list(self.hours)}: no "
                "email could ever go out; leave at least one hour of the window open"
            )
        return self

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for start, end in value:
            if not (0 <= start <= 23 and 0 <= end <= 24 and start != end):
                raise ValueError(
                    "quiet hours are [start, end) with hours 0-24, e.g. [12, 13] for lunch "
                    "or [22, 7] across midnight"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_timezone(value)
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: tuple[int, int]) -> tuple[int, int]:
        start, end = value
        if not (0 <= start < end <= 24):
            raise ValueError("hours must be [start, end) with 0 <= start < end <= 24, e.g. [9, 18]")
        return value


class PageRule(_Strict):
    """Which page views mean what for this product: '/pricing' → pricing_page."""

    url_contains: str = Field(min_length=1)
    event: EventType


QUERY_NAME = re.compile(r"^[^\s&=#?]{1,64}$")


def _names(values: list[str], what: str) -> list[str]:
    for value in values:
        if not QUERY_NAME.match(value):
            raise ValueError(
                f"{what} {value!r} must be a plain name (no spaces, '&', '=', '#' or '?'), "
                "e.g. 'plan'"
            )
    return values


class Tracking(_Strict):
    """What of a tracker's data this product keeps. Trackers put addresses and tokens in
    URL query strings and properties (`?email=...`, `phone`); events are stored and signalled
    to journeys, whose histories every operator reads, so only named data is kept: URLs lose
    their fragment and every query parameter but `utm_*` and `keep_query`; properties keep
    those the scenario's rules match on and `keep_properties`."""

    keep_query: list[str] = Field(
        default_factory=list, description="query parameters kept besides utm_*"
    )
    keep_properties: list[str] = Field(
        default_factory=lambda: list(NAME_PROPERTIES),
        description="properties kept besides those rules match on; by default the names of "
        "documents and webinars, which the hand-off shows sales",
    )

    @field_validator("keep_query")
    @classmethod
    def _query_names(cls, value: list[str]) -> list[str]:
        return _names(value, "query parameter")

    @field_validator("keep_properties")
    @classmethod
    def _property_names(cls, value: list[str]) -> list[str]:
        return _names(value, "property")


class Exit(_Strict):
    after: Duration = timedelta(days=365)
    when: list[Condition] = Field(default_factory=list)


class Brand(_Strict):
    """Who an email is from: what the send activity needs of the scenario the journey pinned."""

    product: str
    name: str
    locale: Literal["ja", "en"]
    sender: Sender


class AbTesting(_Strict):
    """How this product's A/B tests are judged (`nurture report ab`): by which metric, on how
    many sends per arm at least, with what confidence, and what difference is too small to
    matter (a test whose confidence interval lies within ±`min_effect` shows no difference)."""

    metric: Literal["click", "open"] = "click"
    min_sample: int = Field(default=100, ge=10, le=1_000_000, description="sends per arm")
    confidence: float = Field(default=0.95, ge=0.8, le=0.999)
    min_effect: float = Field(
        default=0.02, gt=0.0, le=0.5, description="the smallest difference of rates that matters"
    )
    then: Literal["report", "promote"] = Field(
        default="report",
        description="promote: once a step's test has a winner, later sends of that step use "
        "it (decided by an activity, recorded in each journey's history)",
    )


class Scenario(_Strict):
    product: str
    name: str = Field(min_length=1)
    locale: Literal["ja", "en"] = "en"
    sender: Sender
    fit: list[FitRule] = Field(default_factory=list)
    scoring: Scoring
    stages: Stages
    handoff: Handoff
    attributes: dict[str, AttributeSpec] = Field(
        default_factory=dict,
        description="the custom lead attributes this product uses: name → type (string, "
        "number, boolean, enum with values, date)",
    )
    entry_track: str
    entry: list[EntryRule] = Field(
        default_factory=list,
        description="the first track by who the lead is: the first rule that holds, else "
        "entry_track",
    )
    tracks: dict[str, Track] = Field(min_length=1)
    triggers: list[Trigger] = Field(default_factory=list)
    branches: list[Branch] = Field(default_factory=list)
    send_window: SendWindow | None = None
    pages: list[PageRule] = Field(
        default_factory=list, description="page views that become this product's events"
    )
    exit: Exit = Field(default_factory=Exit)
    tracking: Tracking = Field(default_factory=Tracking)
    ab: AbTesting = Field(default_factory=AbTesting)
    on_lost: Reentry | None = Field(
        default=None, description="nurture a lost deal again after a cool-off, on a track"
    )
    on_customer: Reentry | None = Field(
        default=None,
        description="keep nurturing a won deal after a rest, on a track (cross-sell, "
        "onboarding): the lead stays a customer and is never handed off again",
    )
    goals: list[Goal] = Field(
        default_factory=list, description="conversions: reaching one is recorded (see Goal)"
    )
    holdout: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="the control group: this share of leads ('10%' or 0.1) gets no "
        "marketing message while scoring, hand-off and exits run as usual",
    )
    migrations: dict[str, str] = Field(
        default_factory=dict,
        description="a track an earlier version had → the track its journeys continue on "
        "when this version is rolled out to them (else the entry track)",
    )
    version: str = Field(default="", description="set by the loader: a hash of files")
    role_send_hours: dict[str, int] = Field(
        default_factory=dict,
        description="set when a journey loads the scenario, from the store: the local hour "
        "the human opens and clicks of leads with each role cluster in",
    )

    @field_validator("product")
    @classmethod
    def _product_slug(cls, value: str) -> str:
        return _slug(value, "product")

    @field_validator("holdout", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        """`holdout: 10%` reads as 0.1."""
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                return float(value.strip()[:-1]) / 100
            except ValueError:
                raise ValueError(f"holdout {value!r}: write a share like 10% or 0.1") from None
        return value

    def entry_track_for(self, profile: LeadProfile, member_of: frozenset[str] = frozenset()) -> str:
        """Where a lead of `profile` (in the segments `member_of`) starts: the first
        `entry` rule that holds."""
        return next(
            (r.track for r in self.entry if r.when.holds(profile, member_of)), self.entry_track
        )

    def entry_segments(self) -> set[str]:
        """The segments the entry rules name: asked of the store before the journey starts."""
        return {name for rule in self.entry for name in rule.when.segments()}

    @property
    def brand(self) -> Brand:
        return Brand(product=self.product, name=self.name, locale=self.locale, sender=self.sender)

    @property
    def handoff_threshold(self) -> int:
        return (
            self.handoff.score_at_least
            if self.handoff.score_at_least is not None
            else self.stages.hot
        )

    def event_matches(
        self,
    ) -> list[tuple[tuple[str | int, ...], EventMatch | Condition | TriggerWhen]]:
        """Every rule that looks at an event's URL or properties, with its path."""
        found: list[tuple[tuple[str | int, ...], EventMatch | Condition | TriggerWhen]] = [
            *((("scoring", "patterns", i), p) for i, p in enumerate(self.scoring.patterns)),
            *((("handoff", "requires_any", i), m) for i, m in enumerate(self.handoff.requires_any)),
            *((("triggers", i, "when"), t.when) for i, t in enumerate(self.triggers)),
            *((("branches", i, "when"), b.when) for i, b in enumerate(self.branches)),
            *((("exit", "when", i), c) for i, c in enumerate(self.exit.when)),
        ]
        return found

    def kept_properties(self) -> set[str]:
        """The event properties this product keeps: what its rules match on, and
        `tracking.keep_properties`."""
        matched = {key for _, rule in self.event_matches() for key in rule.properties}
        return matched | set(self.tracking.keep_properties)

    def line_steps(self) -> list[tuple[tuple[str | int, ...], Touch]]:
        """Every `channel: line` step, with its path."""
        return self.steps_on("line")

    def steps_on(self, channel: Channel) -> list[tuple[tuple[str | int, ...], Touch]]:
        """Every step and trigger sent on `channel`, with its path."""
        steps: list[tuple[tuple[str | int, ...], Touch]] = [
            (("tracks", name, "steps", i), step)
            for name, track in self.tracks.items()
            for i, step in enumerate(track.steps)
        ]
        triggers = [(("triggers", i), trigger) for i, trigger in enumerate(self.triggers)]
        return [(path, m) for path, m in [*steps, *triggers] if m.channel == channel]

    def template_names(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every template the scenario references, with the path of the reference."""
        refs: list[tuple[tuple[str | int, ...], str]] = []
        for track_name, track in self.tracks.items():
            for i, step in enumerate(track.steps):
                refs += _template_refs(("tracks", track_name, "steps", i), step)
        for i, trigger in enumerate(self.triggers):
            refs += _template_refs(("triggers", i), trigger)
        return refs


def _template_refs(
    where: tuple[str | int, ...], email: _Email
) -> list[tuple[tuple[str | int, ...], str]]:
    if email.template is None:
        return []
    if isinstance(email.template, str):
        return [((*where, "template"), email.template)]
    return [((*where, "template", j), name) for j, name in enumerate(email.template)]


def reference_problems(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field checks pydantic cannot express per field: every name must point somewhere."""
    tracks = set(scenario.tracks)
    known = ", ".join(sorted(tracks))
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def track_ref(path: tuple[str | int, ...], name: str, allow: tuple[str, ...] = ()) -> None:
        if name not in tracks and name not in allow:
            extra = "".join(f", '{a}'" for a in allow)
            problems.append((path, f"unknown track {name!r}; expected one of: {known}{extra}"))

    track_ref(("entry_track",), scenario.entry_track)
    for i, rule in enumerate(scenario.entry):
        track_ref(("entry", i, "track"), rule.track)
    for key, reentry in (("on_lost", scenario.on_lost), ("on_customer", scenario.on_customer)):
        if reentry is not None:
            track_ref((key, "track"), reentry.track)
    for i, goal in enumerate(scenario.goals):
        if goal.lifecycle == "customer" and goal.then == "end" and scenario.on_customer:
            problems.append(
                (
                    ("goals", i, "then"),
                    f"goal {goal.name!r} would end the journey that on_customer nurtures on "
                    "when the deal is won: give the goal `then: continue`",
                )
            )
    track_ref(("handoff", "recycle", "track"), scenario.handoff.recycle.track)
    for name, track in scenario.tracks.items():
        _slug_problem(problems, ("tracks", name), name, "track name")
        track_ref(("tracks", name, "then"), track.then, (TRACK_LISTEN, TRACK_END))
        seen: set[str] = set()
        for i, step in enumerate(track.steps):
            if step.unless_engaged is not None and step.unless_engaged.track is not None:
                track_ref(("tracks", name, "steps", i, "unless_engaged", "track"),
                          step.unless_engaged.track)  # fmt: skip
            if step.key in seen:
                problems.append(
                    (("tracks", name, "steps", i, "key"), f"duplicate step key {step.key!r}")
                )
            seen.add(step.key)
    for old, new in scenario.migrations.items():
        if old in tracks:
            problems.append(
                (
                    ("migrations", old),
                    f"track {old!r} is still in this version: its journeys stay on it; "
                    "list only tracks an earlier version had",
                )
            )
        track_ref(("migrations", old), new)
    for i, branch in enumerate(scenario.branches):
        track_ref(("branches", i, "to"), branch.to)
        for j, source in enumerate(branch.from_ or ()):
            track_ref(("branches", i, "from", j), source)
    problems += _url_rule_problems(scenario)
    goal_names: set[str] = set()
    for i, goal in enumerate(scenario.goals):
        if goal.name in goal_names:
            problems.append((("goals", i, "name"), f"duplicate goal name {goal.name!r}"))
        goal_names.add(goal.name)
    trigger_keys: set[str] = set()
    for i, trigger in enumerate(scenario.triggers):
        if trigger.key in trigger_keys:
            problems.append((("triggers", i, "key"), f"duplicate trigger key {trigger.key!r}"))
        trigger_keys.add(trigger.key)
    patterns = [p.name for p in scenario.scoring.patterns]
    known = ", ".join(repr(name) for name in patterns) or "none: add scoring.patterns"
    named: list[tuple[tuple[str | int, ...], str | None]] = [
        *((("triggers", i, "when"), t.when.pattern) for i, t in enumerate(scenario.triggers)),
        *((("branches", i, "when"), b.when.pattern) for i, b in enumerate(scenario.branches)),
        *((("exit", "when", i), c.pattern) for i, c in enumerate(scenario.exit.when)),
    ]
    for path, pattern in named:
        if pattern is not None and pattern not in patterns:
            problems.append(((*path, "pattern"), f"unknown pattern {pattern!r}; known: {known}"))
    return problems


def _url_rule_problems(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """A `url_contains` that looks into a query string or a fragment must name parameters
    that are kept: stripped URLs would otherwise never match it."""
    rules: list[tuple[tuple[str | int, ...], str | None]] = [
        (("pages", i, "url_contains"), page.url_contains) for i, page in enumerate(scenario.pages)
    ]
    rules += [
        ((*path, "url_contains"), rule.url_contains) for path, rule in scenario.event_matches()
    ]
    kept = set(scenario.tracking.keep_query)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for path, text in rules:
        if not text:
            continue
        if "#" in text:
            problems.append((path, "URL fragments ('#...') are never kept: match on the path"))
        query = text.split("?", 1)[1] if "?" in text else ""
        for name in (pair.split("=", 1)[0] for pair in query.split("&") if pair):
            if not name.startswith("utm_") and name not in kept:
                problems.append(
                    (
                        path,
                        f"query parameter {name!r} is stripped from URLs: add it to "
                        "tracking.keep_query, or match on the path",
                    )
                )
    return problems


def _slug_problem(
    problems: list[tuple[tuple[str | int, ...], str]],
    path: tuple[str | int, ...],
    value: str,
    what: str,
) -> None:
    try:
        _slug(value, what)
    except ValueError as err:
        problems.append((path, str(err)))


__all__ = [
    "FIT_FIELDS",
    "STAGES",
    "TRACK_END",
    "TRACK_LISTEN",
    "WEEKDAYS",
    "Branch",
    "Condition",
    "EventMatch",
    "Handoff",
    "MailType",
    "Pattern",
    "Scenario",
    "SendWindow",
    "Sla",
    "Stage",
    "Step",
    "Track",
    "Tracking",
    "Trigger",
    "reference_problems",
]
