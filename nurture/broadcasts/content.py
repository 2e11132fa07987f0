"""What a broadcast says, frozen at creation: its subject and template variants, and the
sources of the product's templates it renders with (its own and the layout it extends).

Frozen so what was previewed is what is sent, whatever the files say later, like a
journey's pinned scenario version. Checked like a scenario's templates: rendered for the
sample leads, with the unsubscribe link and the postal address the law requires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from nurture.broadcasts.contract import Variant
from nurture.channels.line.messages import line_file
from nurture.mail.render import TemplateRenderer
from nurture.scenario.loader import line_message_problem, load_scenario, render_problems
from nurture.scenario.model import LineMessage, Scenario

TEMPLATE_SUFFIXES = (".html", ".txt", ".json")  # .line.json: a LINE message


class BroadcastError(ValueError):
    """A broadcast that cannot be created, scheduled or changed; says what to fix."""


class BroadcastContent(BaseModel):
    variants: list[Variant]
    sources: dict[str, str]
    line: LineMessage | None = None
    fallback: Literal["email", "none"] = "email"

    def renderer(self) -> TemplateRenderer:
        return TemplateRenderer.from_sources(self.sources)


def send_moment(moment: datetime, local_time: bool) -> datetime:
    """When a broadcast goes, as stored: a local-time one keeps the wall-clock time written
    (its zone, if any, is not the leads'), an instant needs its zone."""
    if local_time:
        return moment.replace(tzinfo=None).replace(tzinfo=UTC)
    if moment.tzinfo is None:
        raise BroadcastError(
            f"the send time {moment.isoformat()} needs its zone (+09:00, Z), or local time"
        )
    return moment.astimezone(UTC)


def freeze_content(
    root: Path,
    product: str,
    variants: list[Variant],
    line: LineMessage | None = None,
    fallback: Literal["email", "none"] = "email",
) -> BroadcastContent:
    """The product's templates as they are now, checked for each variant (and the LINE
    message, for a LINE broadcast)."""
    scenario = load_scenario(root, product)
    folder = root / product / "templates"
    sources = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(folder.iterdir())
        if path.suffix in TEMPLATE_SUFFIXES
    }
    content = BroadcastContent(variants=variants, sources=sources, line=line, fallback=fallback)
    renderer = content.renderer()
    if line is not None:
        _check_line(content, scenario, folder)
    for variant in variants:
        html = folder / f"{variant.template}.html"
        if html.name not in sources:
            known = sorted(n.removesuffix(".html") for n in sources if n.endswith(".html"))
            raise BroadcastError(
                f"no template {variant.template!r} in {folder} (add {html.name}; known: "
                f"{', '.join(known)})"
            )
        problems = render_problems(
            renderer, html, scenario, variant.template, [variant.subject], [None], html, None,
            "broadcast",
        )  # fmt: skip
        if problems:
            raise BroadcastError(str(problems[0]))
    return content


def _check_line(content: BroadcastContent, scenario: Scenario, folder: Path) -> None:
    """The LINE message renders for the sample leads, as LINE would take it."""
    assert content.line is not None
    name = line_file(content.line.template)
    source = content.sources.get(name)
    if source is None:
        raise BroadcastError(f"no LINE message {name} in {folder}; add it (docs/channels.md)")
    problem = line_message_problem(content.renderer(), scenario, content.line, source)
    if problem is not None:
        raise BroadcastError(f"{folder / name}: {problem}")
