"""Slack's interactivity endpoint: a click on a hand-off's Accept or Reject button becomes
the journey's sales feedback (nurture/handoff/slack.py).

Slack signs each request (`X-Slack-Signature`, HMAC-SHA256 of `v0:<timestamp>:<body>` under
the app's signing secret, NURTURE_SLACK_SIGNING_SECRET); the headers are required before
the body is read, and the official SDK's verifier checks the signature and refuses a
timestamp older than five minutes. The button's value is a sealed action token, so a click
can only answer the hand-off it was posted with. Slack wants a 200 within three seconds
whatever happened; what happened replaces the buttons in the message (`response_url`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from nurture.api.limits import FEEDBACK_BYTES, max_body
from nurture.config import Settings
from nurture.handoff.slack import OUTCOMES, answered_blocks, read_action
from nurture.journey.contract import JourneyState, SalesFeedback

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
SIGNATURE, TIMESTAMP = "X-Slack-Signature", "X-Slack-Request-Timestamp"
SLACK_HOOKS = "https://hooks.slack.com/"
ANSWER_WITHIN = 2.5  # seconds


@router.post(
    "/webhooks/slack/interactions",
    dependencies=[Depends(max_body(FEEDBACK_BYTES))],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"payload": {"type": "string"}}}
                }
            },
        }
    },
)
async def slack_interactions(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    secret = settings.slack_signing_secret
    if secret is None:
        raise HTTPException(403, "Slack is not configured: set NURTURE_SLACK_SIGNING_SECRET")
    stamp = request.headers.get(TIMESTAMP, "")
    if not request.headers.get(SIGNATURE) or not stamp.isdigit():
        raise HTTPException(403, f"missing {SIGNATURE} or {TIMESTAMP}: only Slack may call this")
    body = await request.body()
    verifier = SignatureVerifier(secret.get_secret_value())
    if not verifier.is_valid_request(body, dict(request.headers)):
        raise HTTPException(403, "the signature does not verify, or the request is too old")
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise HTTPException(400, "expected a form field `payload` holding Slack's JSON")
    said = await _answer(request, settings, payload)
    if said is not None and _ours(payload.get("response_url"), settings):
        await asyncio.to_thread(_show, payload, said)
    return {"said": said or ""}


def _ours(url: object, settings: Settings) -> bool:
    """Slack's own response URLs only (or the configured API's, for a local Slack)."""
    if not isinstance(url, str):
        return False
    api = urlsplit(settings.slack_api_base)
    return url.startswith(SLACK_HOOKS) or url.startswith(f"{api.scheme}://{api.netloc}/")


async def _answer(request: Request, settings: Settings, payload: dict[str, Any]) -> str | None:
    """The click's feedback, and what the message should say about it (None: not ours)."""
    actions = payload.get("actions") or []
    if payload.get("type") != "block_actions" or not actions:
        return None
    action = actions[0]
    outcome = OUTCOMES.get(str(action.get("action_id")))
    if outcome is None:
        return None
    user = payload.get("user") or {}
    by = f"slack:{user.get('username') or user.get('name') or user.get('id', 'someone')}"
    try:
        clicked = read_action(str(action.get("value", "")), settings.secret_key)
    except ValueError as err:
        return f"Not recorded: {err}"
    feedback = SalesFeedback(
        outcome=outcome, by=by, reason="from Slack", handoff_no=clicked.handoff_no
    )
    try:
        client = await request.app.state.temporal.client()
        handle = client.get_workflow_handle(clicked.journey_id)
        update = handle.execute_update("sales_feedback", feedback, result_type=JourneyState)
        await asyncio.wait_for(update, ANSWER_WITHIN)  # Slack waits 3 s for our answer
    except WorkflowUpdateFailedError as err:
        return f"Not recorded ({outcome} by {by}): {err.cause or err}"
    except TimeoutError:
        return f"Not confirmed yet ({outcome} by {by}): check the lead's timeline"
    except (RPCError, OSError, RuntimeError) as err:
        return f"Not recorded ({outcome} by {by}): the journey could not be reached ({err})"
    return f"{outcome.title()} by {by} (hand-off #{clicked.handoff_no})"


def _show(payload: dict[str, Any], said: str) -> None:
    """Replace the buttons with what happened, through the message's response_url."""
    url = payload.get("response_url")
    blocks = (payload.get("message") or {}).get("blocks") or []
    if not isinstance(url, str):
        return
    try:
        WebhookClient(url, timeout=5).send(
            text=said, blocks=answered_blocks(blocks, said), replace_original=True
        )
    except Exception as err:  # the feedback is recorded; only the message stays as it was
        log.info("the Slack message was not updated: %s", type(err).__name__)
