"""JSON templates (a LINE message, a webhook step's body): JSON whose strings are Jinja2.

Only the strings are rendered, after the JSON is parsed: a lead's name holding a quote or a
brace can never break the JSON, and no escaping is needed in the template. The environment
is the email's (sandboxed, undefined variables are errors).
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment


class JsonTemplateError(ValueError):
    """The template is not JSON; says where."""


def parse_json_template(file: str, source: str) -> Any:
    try:
        return json.loads(source)
    except json.JSONDecodeError as err:
        raise JsonTemplateError(
            f"{file} is not JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from None


def render_strings(env: Environment, value: Any, context: dict[str, Any]) -> Any:
    """`value` with every string rendered as a template (raises jinja2.TemplateError)."""
    if isinstance(value, str):
        return env.from_string(value).render(context) if "{" in value else value
    if isinstance(value, list):
        return [render_strings(env, item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_strings(env, item, context) for key, item in value.items()}
    return value
