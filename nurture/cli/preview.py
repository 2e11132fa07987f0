"""`nurture preview`: one email of a scenario, rendered for one lead as the worker sends it.

Before a launch, marketing wants to see exactly what a lead gets: for the sample leads that
`nurture validate` renders, or for a real lead from the store to check its personalisation.
The email is built by `nurture.mail.compose`, the worker's own path (same renderer, context,
MIME). Two things differ, on purpose: the templates come from the scenario folder (the
worker reads the version its journey pinned in the store), and the lead id in the
unsubscribe link and the send id are placeholders of the real shape. The link is signed
like a real one, for a lead id that cannot exist, so a forwarded preview unsubscribes nobody.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from rich.console import Console
from rich.text import Text
from sqlalchemy import or_, select
from sqlalchemy.engine import make_url

from nurture.channels.line.messages import (
    LineMessageError,
    RenderedLine,
    line_file,
    render_line_messages,
)
from nurture.config import Settings
from nurture.mail.compose import (
    ComposedEmail,
    LinkTracking,
    Recipient,
    compose_email,
    unsubscribe_url,
)
from nurture.mail.render import SAMPLE_JOURNEY, SAMPLE_LEADS, TemplateRenderer, email_context
from nurture.scenario.loader import SCENARIO_FILE, ScenarioError, load_scenario_dir, scenario_dirs
from nurture.scenario.model import SLUG, LineMessage, Scenario
from nurture.schedule.variants import assign_variant
from nurture.store.engine import Store
from nurture.store.migrate import SchemaOutdated
from nurture.store.models import Lead, utcnow

# The shapes of real ids ("ld_" + 16 hex, "snd_" + 24 hex) with letters hex never has.
PREVIEW_LEAD_ID = "ld_preview000000000"
PREVIEW_SEND_ID = "snd_preview00000000000000000"
SAMPLE_NAMES = ("executive", "practitioner", "empty", "html")
SAMPLES = dict(zip(SAMPLE_NAMES, SAMPLE_LEADS, strict=True))


class PreviewError(Exception):
    """What is wrong and what is allowed, in one line."""


@dataclass(frozen=True)
class ScenarioEmail:
    """One email a scenario can send: a step of a track, or a trigger's email."""

    label: str  # "cold/welcome" or "trigger:download-followup"
    what: str  # "step 1/7 of track 'cold'"
    variants: list[tuple[str, str]]  # (subject, template) of variant A, B, ...
    mail_type: str
    track: str  # the track the journey is on when it sends this
    send_key: str  # as the worker keys its first send: "cold#1/welcome", "trigger:key#1"
    line: LineMessage | None = None  # a `channel: line` step's message


@dataclass(frozen=True)
class PreviewLead:
    label: str
    recipient: Recipient
    lead_id: str | None = None  # a lead from the store: it has a variant of its own


@dataclass(frozen=True)
class Preview:
    scenario: Scenario
    email: ScenarioEmail
    lead: PreviewLead
    variant: int
    variants: list[ComposedEmail]  # one per subject variant, in order A, B, ...
    unsubscribe_url: str

    @property
    def chosen(self) -> ComposedEmail:
        return self.variants[self.variant]

    def missing_by_law(self) -> list[str]:
        """What the law requires in every marketing email and this one lacks; `nurture
        validate` and journey starts refuse such a scenario."""
        content = self.chosen.content
        return [
            what
            for what, needle in (
                ("the unsubscribe link", self.unsubscribe_url),
                ("the sender's postal address", self.scenario.sender.postal_address),
            )
            if needle not in content.html or needle not in content.text
        ]


def load_product(root: Path, product: str) -> tuple[Scenario, Path]:
    """The product's scenario, checked but for its templates: a problem in another email
    must not hide this one (`nurture validate` checks them all)."""
    if not root.is_dir():
        raise PreviewError(
            f"scenarios folder {root} does not exist; give --scenarios DIR or set "
            "NURTURE_SCENARIOS_DIR"
        )
    # --scenarios may name the product's own folder, as `nurture validate` allows
    folder = root if root.name == product and (root / SCENARIO_FILE).exists() else root / product
    if not SLUG.match(product) or not (folder / SCENARIO_FILE).exists():
        known = ", ".join(p.name for p in scenario_dirs(root)) or "none"
        raise PreviewError(f"no scenario for product {product!r} in {root} (products: {known})")
    try:
        return load_scenario_dir(folder, check_templates=False), folder
    except ScenarioError as err:
        raise PreviewError(
            f"scenario {product} has {len(err.problems)} problem(s), the first: "
            f"{err.problems[0]} (all of them: nurture validate {folder})"
        ) from None


def scenario_emails(scenario: Scenario) -> list[ScenarioEmail]:
    """Every step of every track, then every trigger, in scenario order."""
    found = [
        ScenarioEmail(
            label=f"{track_name}/{step.key}",
            what=f"step {i + 1}/{len(track.steps)} of track '{track_name}'",
            variants=step.variants(),
            mail_type=step.mail_type,
            track=track_name,
            send_key=f"{track_name}#1/{step.key}",
            line=step.line,
        )
        for track_name, track in scenario.tracks.items()
        for i, step in enumerate(track.steps)
    ]
    found += [
        ScenarioEmail(
            label=f"trigger:{trigger.key}",
            what=f"trigger '{trigger.key}' (on {trigger.when.describe()})",
            variants=trigger.variants(),
            mail_type="trigger",
            track=scenario.entry_track,
            send_key=f"trigger:{trigger.key}#1",
            line=trigger.line,
        )
        for trigger in scenario.triggers
    ]
    return found


def find_email(scenario: Scenario, wanted: str) -> ScenarioEmail:
    """`track/step`, `trigger:key`, or a bare key that names one step or trigger."""
    emails = scenario_emails(scenario)
    exact = [e for e in emails if e.label == wanted]
    qualified = "/" in wanted or wanted.startswith("trigger:")
    matches = exact or (
        []
        if qualified
        else [e for e in emails if e.label.split("/")[-1].removeprefix("trigger:") == wanted]
    )
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(e.label for e in matches)
        raise PreviewError(
            f"step {wanted!r} is ambiguous in {scenario.product}: {names}; give one of them"
        )
    steps = ", ".join(e.label for e in emails if e.mail_type != "trigger")
    triggers = ", ".join(e.label for e in emails if e.mail_type == "trigger") or "none"
    raise PreviewError(
        f"no step {wanted!r} in {scenario.product}; steps: {steps}; triggers: {triggers}"
    )


def parse_variant(
    value: str | None, email: ScenarioEmail, lead: PreviewLead | None = None, product: str = ""
) -> int:
    """A letter (A, B, ...) or the number the store records (0 = A); None: the variant a
    lead from the store gets (the journey's own assignment), else A."""
    if value is None:
        if lead is None or lead.lead_id is None:
            return 0
        return assign_variant(lead.lead_id, product, email.label, len(email.variants))
    letters = [chr(ord("A") + i) for i in range(len(email.variants))]
    text = value.strip().upper()
    index = letters.index(text) if text in letters else int(text) if text.isdigit() else -1
    if not 0 <= index < len(letters):
        raise PreviewError(
            f"no variant {value!r}: {email.label} has {len(letters)} variant(s): "
            f"{', '.join(letters)} (or 0-{len(letters) - 1})"
        )
    return index


def find_lead(choice: str, open_store: Callable[[], Store]) -> PreviewLead:
    """A sample lead by name or index, else a lead of the store by id or email."""
    key = choice.strip()
    if key.lower() in SAMPLES or key.isdigit():
        index = SAMPLE_NAMES.index(key.lower()) if key.lower() in SAMPLES else int(key)
        if index >= len(SAMPLE_NAMES):
            raise PreviewError(f"no sample lead {key}: {_lead_choices()}")
        name = SAMPLE_NAMES[index]
        recipient = Recipient(f"{name}@example.com", SAMPLES[name])
        return PreviewLead(f"sample {index} ({name})", recipient)
    store = open_store()
    with store.session() as session:
        lead = session.scalars(
            select(Lead).where(or_(Lead.id == key, Lead.email == key.lower()))
        ).first()
    where = store.engine.url.render_as_string(hide_password=True)
    if lead is None:
        raise PreviewError(f"no lead {key!r} in the store at {where}: {_lead_choices()}")
    if lead.erased_at is not None:
        raise PreviewError(f"lead {lead.id} was erased: nothing of it is left to preview")
    return PreviewLead(f"{lead.id} from the store", Recipient.of(lead), lead.id)


def open_store(database_url: str) -> Store:
    """The configured store, only to read a lead: a missing SQLite file is reported, not
    created, and an outdated schema names the command that fixes it."""
    url = make_url(database_url)
    where = url.render_as_string(hide_password=True)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        raise PreviewError(f"no store at {where} to find the lead in: {_lead_choices()}")
    store = Store(database_url)
    try:
        store.ensure_current()
    except SchemaOutdated as err:
        raise PreviewError(" ".join(str(err).split())) from None
    return store


def _lead_choices() -> str:
    samples = ", ".join(f"{i} {name}" for i, name in enumerate(SAMPLE_NAMES))
    return f"--lead takes a sample lead ({samples}) or a lead id or email from the store"


def render_preview(
    scenario: Scenario,
    folder: Path,
    email: ScenarioEmail,
    lead: PreviewLead,
    variant: int,
    settings: Settings,
) -> Preview:
    """Every subject variant of the email for the lead, composed as the worker composes it."""
    renderer = TemplateRenderer.for_folder(folder)
    link = unsubscribe_url(
        settings.public_base_url, settings.secret_key, PREVIEW_LEAD_ID, scenario.product
    )
    journey: dict[str, Any] = {**SAMPLE_JOURNEY, "track": email.track, "step": email.send_key}
    sent_at = utcnow()
    # As the worker sends it: through Nurture's click links when Nurture tracks.
    tracking = (
        LinkTracking(settings.public_base_url, settings.secret_key)
        if settings.own_tracking
        else None
    )
    variants = []
    for subject, template in email.variants:
        try:
            composed = compose_email(
                renderer,
                scenario.brand,
                lead.recipient,
                template=template,
                subject=subject,
                journey=journey,
                unsubscribe_url=link,
                send_id=PREVIEW_SEND_ID,
                sent_at=sent_at,
                tracking=tracking,
            )
        except jinja2.TemplateError as err:
            raise PreviewError(
                _template_problem(err, email, (subject, template), lead, folder)
            ) from None
        variants.append(composed)
    return Preview(scenario, email, lead, variant, variants, link)


def render_line_preview(
    scenario: Scenario, folder: Path, email: ScenarioEmail, lead: PreviewLead, settings: Settings
) -> RenderedLine:
    """A LINE step's messages for the lead, as `send_line` renders them (the JSON LINE gets)."""
    if email.line is None:
        raise PreviewError(
            f"{email.label} is an email step: it has no LINE message (preview it without "
            "--channel, or give it `channel: line` and `line:`)"
        )
    renderer = TemplateRenderer.for_folder(folder)
    link = unsubscribe_url(
        settings.public_base_url, settings.secret_key, PREVIEW_LEAD_ID, scenario.product
    )
    context = email_context(
        scenario.brand,
        lead.recipient.fields,
        unsubscribe_url=link,
        preferences_url=link,
        journey={**SAMPLE_JOURNEY, "track": email.track, "step": email.send_key},
    )
    source = folder / "templates" / line_file(email.line.template)
    if not source.exists():
        raise PreviewError(f"LINE message not found: create {source}")
    try:
        return render_line_messages(
            renderer.env,
            email.line.template,
            source.read_text(encoding="utf-8"),
            email.line.alt_text,
            context,
        )
    except LineMessageError as err:
        raise PreviewError(str(err)) from None


def _template_problem(
    err: jinja2.TemplateError,
    email: ScenarioEmail,
    variant: tuple[str, str],
    lead: PreviewLead,
    folder: Path,
) -> str:
    subject, template = variant
    if isinstance(err, jinja2.TemplateNotFound):
        return (
            f"{email.label} uses template {template!r}, but {err.name} is not in "
            f"{folder / 'templates'}"
        )
    if isinstance(err, jinja2.TemplateSyntaxError):
        where = err.filename or err.name  # None: the subject, compiled from a string
        if where is None:
            return f"{email.label}: subject {subject!r}: template syntax error: {err.message}"
        return f"{where}:{err.lineno}: template syntax error: {err.message}"
    message = " ".join(str(err).split())
    return (
        f"{email.label} (template {template!r}, subject {subject!r}) cannot render "
        f"for lead {lead.label}: {message}"
    )


# ---- the terminal ---------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MIME_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}


def literal(text: str) -> str:
    """Email content shown as it is, but never as terminal control: a lead's name from the
    store could carry escape sequences; they are shown as \\x1b and the like."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def show(preview: Preview, console: Console, *, text_part: bool) -> None:
    """What is previewed, every subject variant, the headers, and (if asked) the text part.

    Labels may be styled; everything from the email is printed literally (no rich markup,
    emoji codes or highlighting: a subject saying "[b]" or ":smile:" stays so)."""
    s, e = preview.scenario, preview.email
    console.print(
        literal(f"{s.product} · {s.name} · version {s.version}"),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        literal(
            f"{e.label} · {e.what} · mail type {e.mail_type} · "
            f"template {', '.join(dict.fromkeys(t for _, t in e.variants))} · "
            f"lead {preview.lead.label}"
        ),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if len(preview.variants) > 1:
        for i, variant in enumerate(preview.variants):
            mark = " (shown)" if i == preview.variant else ""
            label = Text(f"subject {chr(ord('A') + i)}{mark}: ", style="bold")
            console.print(label + Text(literal(variant.content.subject)), soft_wrap=True)
    console.rule(style="dim")
    for name, value in preview.chosen.message.items():
        if name.lower() not in _MIME_HEADERS:
            line = Text(f"{name}: ", style="bold") + Text(literal(str(value)))
            console.print(line, soft_wrap=True)
    if text_part:
        console.rule(style="dim")
        console.out(literal(preview.chosen.content.text), highlight=False)
