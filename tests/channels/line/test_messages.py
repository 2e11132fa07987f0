"""A LINE message template: only its strings are rendered, and what LINE would refuse is
an error that says what and where."""

from __future__ import annotations

import json

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from nurture.channels.line.messages import LineMessageError, render_line_messages

ENV = SandboxedEnvironment(undefined=StrictUndefined)
LEAD = {"lead": {"first_name": 'Ai"ko {{ 7*7 }}'}}


def render(source: object, alt: str = "Seminar") -> list[dict[str, object]]:
    text = source if isinstance(source, str) else json.dumps(source)
    return render_line_messages(ENV, "invite", text, alt, LEAD).messages


def test_a_leads_quote_or_braces_never_break_the_json_nor_render() -> None:
    [message] = render({"type": "text", "text": "Hello {{ lead.first_name }}!"})
    assert message == {"type": "text", "text": 'Hello Ai"ko {{ 7*7 }}!'}


def test_a_flex_message_gets_the_steps_alt_text_rendered() -> None:
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": []}}
    [message] = render({"type": "flex", "contents": bubble}, alt="For {{ lead.first_name }}")
    assert message["altText"] == 'For Ai"ko {{ 7*7 }}'
    assert message["contents"] == bubble


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("{", "invite.line.json is not JSON (Expecting property name"),
        ([], "holds 0 messages; LINE takes 1 to 5 per push"),
        ([{"type": "text", "text": "a"}] * 6, "holds 6 messages"),
        ({"text": "no type"}, 'message 1 is not a LINE message object: give it a "type"'),
        (
            {"type": "text", "text": "x" * 5001},
            "the text has 5001 characters; LINE takes at most 5000",
        ),
        ({"type": "text"}, "message 1 is not a message LINE accepts"),
        ({"type": "sticker-ish"}, "message 1 is not a message LINE accepts"),
        ({"type": "text", "text": "{{ lead.nope }}"}, "UndefinedError"),
    ],
)
def test_what_line_would_refuse_is_an_error_naming_the_file(source: object, said: str) -> None:
    with pytest.raises(LineMessageError, match=r"invite\.line\.json") as refused:
        render(source)
    assert said in str(refused.value)


def test_a_long_alt_text_is_refused() -> None:
    flex = {"type": "flex", "altText": "a" * 1501, "contents": {"type": "bubble"}}
    with pytest.raises(LineMessageError, match="altText has 1501 characters"):
        render(flex)
