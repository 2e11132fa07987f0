"""A step's LINE message: `templates/<name>.line.json` is JSON (one LINE message object or a
list of them) whose strings are Jinja2 templates (nurture/channels/templating.py). The
result is checked against the official SDK's models and LINE's documented limits, so a
message LINE would refuse is a template error found by `nurture validate`, not a 400 at
send time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, TemplateError
from linebot.v3.messaging import Message

from nurture.channels.templating import JsonTemplateError, parse_json_template, render_strings

MAX_MESSAGES = 5  # per push
MAX_TEXT = 5000  # characters of a text message
MAX_ALT_TEXT = 1500  # characters of a Flex message's alternative text


class LineMessageError(ValueError):
    """The template does not make a message LINE accepts; says what and how to fix it."""


def line_file(template: str) -> str:
    return f"{template}.line.json"


@dataclass(frozen=True)
class RenderedLine:
    messages: list[dict[str, Any]]  # as LINE's JSON
    alt_text: str  # rendered: what the send row shows as its subject


def render_line_messages(
    env: Environment, name: str, source: str, alt_text: str, context: dict[str, Any]
) -> RenderedLine:
    """The messages to push; `alt_text` fills a Flex message's `altText` when the template
    gives none. Raises LineMessageError."""
    try:
        parsed = parse_json_template(line_file(name), source)
    except JsonTemplateError as err:
        raise LineMessageError(str(err)) from None
    messages = parsed if isinstance(parsed, list) else [parsed]
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise LineMessageError(
            f"{line_file(name)} holds {len(messages)} messages; LINE takes 1 to "
            f"{MAX_MESSAGES} per push"
        )
    try:
        rendered = [render_strings(env, message, context) for message in messages]
        alt = " ".join(env.from_string(alt_text).render(context).split())
    except TemplateError as err:
        raise LineMessageError(f"{line_file(name)}: {type(err).__name__}: {err}") from None
    return RenderedLine([_checked(name, i, m, alt) for i, m in enumerate(rendered)], alt)


def _checked(name: str, i: int, message: Any, alt_text: str) -> dict[str, Any]:
    where = f"{line_file(name)} message {i + 1}"
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise LineMessageError(f'{where} is not a LINE message object: give it a "type"')
    if message["type"] == "flex":
        message.setdefault("altText", alt_text)
        if not isinstance(message["altText"], str):
            raise LineMessageError(f"{where}: altText must be text")
        if len(message["altText"]) > MAX_ALT_TEXT:
            raise LineMessageError(
                f"{where}: altText has {len(message['altText'])} characters; LINE takes "
                f"at most {MAX_ALT_TEXT}"
            )
    if message["type"] == "text" and not isinstance(message.get("text", ""), str):
        raise LineMessageError(f"{where}: text must be text")
    if message["type"] == "text" and len(str(message.get("text", ""))) > MAX_TEXT:
        raise LineMessageError(
            f"{where}: the text has {len(message['text'])} characters; LINE takes at most "
            f"{MAX_TEXT}"
        )
    try:
        model = Message.from_dict(message)
    except (ValueError, KeyError, TypeError) as err:
        first = str(err).splitlines()
        raise LineMessageError(
            f"{where} is not a message LINE accepts: {' '.join(first[:3])}"
        ) from None
    return dict(json.loads(model.to_json()))
