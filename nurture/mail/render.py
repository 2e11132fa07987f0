"""Rendering a scenario's templates into an email: sandboxed, autoescaped, strict.

Marketing writes the templates, leads write their own names: the sandbox keeps a
template from reaching Python internals, autoescaping keeps a name like
`<script>` inert, and StrictUndefined turns a misspelt variable into an error
at `nurture validate` time instead of a blank in a sent email.

Templates style their HTML in a `<style>` block; several mail clients (Gmail in some
apps and accounts, older Outlook, many webmails) drop it, so the rendered HTML also
carries each rule inline on the elements it matches (css-inline). The block stays, for
the clients that honour it and its media queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    BaseLoader,
    DictLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from nurture.leads.attributes import AttributeSpec
from nurture.mail.text import html_to_text
from nurture.scenario.model import Brand

# Nothing is fetched while rendering: remote stylesheets are left as links, not loaded.
_INLINER = css_inline.CSSInliner(
    keep_style_tags=True, keep_link_tags=True, load_remote_stylesheets=False
)


def inline_css(html: str) -> str:
    """`html` with the rules of its `<style>` blocks also written on the elements as
    `style=` attributes; HTML without a `<style>` block is returned as it is."""
    if "<style" not in html:
        return html
    try:
        return _INLINER.inline(html)
    except css_inline.InlineError as err:
        raise TemplateError(f"the email's CSS cannot be inlined: {err}") from None


@dataclass(frozen=True)
class EmailContent:
    subject: str
    html: str
    text: str


class TemplateRenderer:
    """Templates of one product: `<name>.html`, optional `<name>.txt`, from a folder (validation,
    preview) or from the sources of a pinned scenario version (sending).

    Keep renderers around: Jinja compiles each template once per environment.
    """

    def __init__(self, loader: BaseLoader) -> None:
        self.env = SandboxedEnvironment(
            loader=loader,
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._subjects: dict[str, Template] = {}

    @classmethod
    def for_folder(cls, scenario_dir: Path) -> TemplateRenderer:
        return cls(FileSystemLoader(scenario_dir / "templates"))

    @classmethod
    def from_sources(cls, sources: dict[str, str]) -> TemplateRenderer:
        """`sources` maps file names ("welcome.html", "layout.html") to their text."""
        return cls(DictLoader(sources))

    def render(self, template: str, subject: str, context: dict[str, Any]) -> EmailContent:
        html = inline_css(self.env.get_template(f"{template}.html").render(context))
        try:
            text = self.env.get_template(f"{template}.txt").render(context)
        except TemplateNotFound:
            text = html_to_text(html)
        if subject not in self._subjects:
            self._subjects[subject] = self.env.from_string(subject)
        rendered_subject = self._subjects[subject].render(context)
        return EmailContent(subject=" ".join(rendered_subject.split()), html=html, text=text)


class LeadAttributes(dict[str, Any]):
    """`lead.attributes` in a template: the lead's custom attributes, None for one it has
    no value for (`{% if lead.attributes.plan == "pro" %}` works for every lead)."""

    def __missing__(self, name: str) -> None:
        return None


class DeclaredAttributes(LeadAttributes):
    """What validation renders with: a name the scenario does not declare is an error (a
    misspelt attribute would otherwise print nothing for every lead)."""

    def __missing__(self, name: str) -> None:
        raise KeyError(name)


def template_attributes(values: Any) -> LeadAttributes:
    return values if isinstance(values, LeadAttributes) else LeadAttributes(values or {})


def email_context(
    brand: Brand,
    lead: dict[str, Any],
    *,
    unsubscribe_url: str,
    preferences_url: str,
    journey: dict[str, Any],
    line_link_url: str = "",
    event: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables every template can use; the same shape at send and at validate time.
    `line_link_url` opens LINE with the lead's link code ready to send ('' when the product
    has no LINE account: `{% if line_link_url %}`). `event` is what fired a trigger (its
    `type`, `url` and kept `properties`: `{{ event.properties.document }}`); a step's is
    empty, so a template guards a property with `is defined`. `lead.attributes` holds the
    lead's custom attributes (dates as YYYY-MM-DD text)."""
    first = lead.get("first_name") or ""
    last = lead.get("last_name") or ""
    # Japanese puts the family name first.
    display = f"{last} {first}" if brand.locale == "ja" else f"{first} {last}"
    return {
        "lead": {
            "first_name": first,
            "last_name": last,
            "display_name": display.strip(),
            "company": lead.get("company") or "",
            "title": lead.get("title") or "",
            "role": lead.get("role") or "other",
            "industry": lead.get("industry") or "",
            "company_size": lead.get("company_size"),
            "attributes": template_attributes(lead.get("attributes")),
        },
        "product": {"name": brand.name, "key": brand.product},
        "sender": brand.sender.model_dump(),
        "journey": journey,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "line_link_url": line_link_url,
        "event": event or NO_EVENT,
        "locale": brand.locale,
    }


SAMPLE_LEADS: list[dict[str, Any]] = [
    {
        "first_name": "Aiko",
        "last_name": "Sato",
        "company": "Example Manufacturing",
        "title": "CFO",
        "role": "executive",
        "industry": "manufacturing",
        "company_size": 800,
    },
    {
        "first_name": "Ken",
        "last_name": "Ito",
        "company": "Sample Works",
        "title": "Accounting staff",
        "role": "practitioner",
        "industry": "saas",
        "company_size": 60,
    },
    {"first_name": "", "last_name": "", "company": "", "title": "", "role": None},
    {
        "first_name": "<b>{{ 7*7 }}</b>",
        "last_name": "{% raw %}",
        "company": "<script>alert(1)</script>",
        "title": "manager",
        "role": "manager",
    },
]
SAMPLE_ATTRIBUTE: dict[str, Any] = {
    "string": "sample",
    "number": 12,
    "boolean": True,
    "date": "2027-03-31",
}


def sample_leads(attributes: Mapping[str, AttributeSpec]) -> list[dict[str, Any]]:
    """SAMPLE_LEADS with the scenario's declared attributes: set on every other lead, unset
    on the rest, so validation renders templates both ways."""
    leads = []
    for i, lead in enumerate(SAMPLE_LEADS):
        values = {
            name: (spec.values or [""])[0] if spec.type == "enum" else SAMPLE_ATTRIBUTE[spec.type]
            for name, spec in attributes.items()
        }
        shown = DeclaredAttributes(values if i % 2 == 0 else dict.fromkeys(values))
        leads.append({**lead, "attributes": shown})
    return leads


# The keys the worker passes (workflows/lead_journey.py), with plausible values.
# What a step's template sees as `event` (no event fired it).
NO_EVENT: dict[str, Any] = {"type": "", "url": "", "properties": {}}


SAMPLE_JOURNEY = {
    "stage": "warm",
    "score": 42,
    "track": "cold",
    "step": "cold#1/welcome",
    "lifecycle": "nurturing",
}
