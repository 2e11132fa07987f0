"""BroadcastJourney: a broadcast for a lead with no running journey, through the same gate.

Short-lived: it loads the product's scenario (sender, send window), waits for the
broadcast's time inside the window, and sends it with the journeys' own email activity,
so consent, suppression, the frequency cap and at-most-once apply as for any journey's
email. Held back by the cap or an outage, it tries again until the broadcast expires.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities, SendEmailInput, SendEmailResult
    from activities.line import LineActivities, SendLineInput, SendLineResult
    from activities.scenario import LoadScenarioInput, ScenarioActivities
    from nurture.broadcasts import delivery as broadcasts
    from nurture.broadcasts.contract import (
        JOURNEY_WORKFLOW_TYPE,
        BroadcastJourneyInput,
        BroadcastJourneyResult,
        send_key,
    )
    from nurture.journey.contract import TimelineEntry
    from nurture.journey.rules import line_send_key
    from nurture.scenario.model import Scenario
    from nurture.schedule.variants import assign_variant, in_holdout

SEND_BOUND = timedelta(minutes=3)
OUTAGE_RETRY = timedelta(hours=1)


def _template_journey(key: str) -> dict[str, object]:
    """`{{ journey.* }}` for a lead with no journey: a cold lead, nurtured."""
    return {"stage": "cold", "score": 0, "track": "broadcast", "step": key,
            "lifecycle": "nurturing"}  # fmt: skip


@workflow.defn(name=JOURNEY_WORKFLOW_TYPE)
class BroadcastJourney:
    def __init__(self) -> None:
        self._timeline: list[TimelineEntry] = []

    @workflow.run
    async def run(self, input: BroadcastJourneyInput) -> BroadcastJourneyResult:
        delivery, name = input.delivery, input.delivery.broadcast_id
        scenario = await calls.local(
            ScenarioActivities.load_scenario,
            LoadScenarioInput(product=input.product),
            summary=f"load scenario '{input.product}'",
        )
        if scenario.holdout > 0 and in_holdout(input.lead_id, input.product, scenario.holdout):
            return self._done("skipped", "the lead is in the control group (holdout)")
        held = broadcasts.pending(delivery, scenario.send_window, input.timezone, workflow.now())
        if held.expires_at <= workflow.now():
            return self._done("expired", "handed over after the broadcast's expiry")
        key = send_key(name)
        variant = assign_variant(input.lead_id, input.product, key, len(delivery.variants))
        while True:
            self._note(f"broadcast '{name}' to go at {held.due:%Y-%m-%d %H:%M} UTC")
            wait = held.due - workflow.now()
            if wait > timedelta(0):
                await workflow.sleep(wait, summary=f"wait to send broadcast '{name}'")
            try:
                result = await self._send(input, scenario, key, variant)
            except ActivityError as err:
                if not calls.outlasted(err):
                    return self._done("failed", str(err.cause or err))
                retry_at, detail = workflow.now() + OUTAGE_RETRY, "email provider unavailable"
            else:
                if result is None:
                    return self._done("skipped", "the lead is not on LINE (fallback: none)")
                if result.status != "deferred" or result.retry_at is None:
                    return self._done(result.status, result.detail or "")
                retry_at, detail = result.retry_at, result.detail or "held back"
            again = broadcasts.deferred(held, retry_at)
            if again is None:
                return self._done("expired", f"held back past its expiry ({detail})")
            self._note(f"broadcast '{name}' held back: {detail}")
            held = again

    async def _send(
        self, input: BroadcastJourneyInput, scenario: Scenario, key: str, variant: int
    ) -> SendEmailResult | SendLineResult | None:
        """On LINE for a lead on LINE; else the email (or nothing: `fallback: none`)."""
        delivery = input.delivery
        name, chosen = delivery.broadcast_id, delivery.variants[variant]
        common = {
            "brand": scenario.brand,
            "scenario_version": scenario.version,
            "journey_id": workflow.info().workflow_id,
            "lead_id": input.lead_id,
            "product": input.product,
            "mail_type": delivery.mail_type,
            "journey_time": workflow.now(),
            "journey": _template_journey(key),
            "broadcast_id": name,
        }
        if delivery.channel == "line" and delivery.line is not None:
            pushed = await calls.bounded(
                LineActivities.send_line,
                SendLineInput(
                    **common,
                    send_key=line_send_key(key),
                    template=delivery.line.template,
                    alt_text=delivery.line.alt_text,
                ),
                bound=SEND_BOUND,
                summary=f"LINE broadcast '{name}'",
            )
            if pushed.status != "unlinked":
                return pushed
            if delivery.fallback == "none":
                return None
        return await calls.bounded(
            EmailActivities.send_email,
            SendEmailInput(
                **common,
                send_key=key,
                template=chosen.template,
                subject=chosen.subject,
                variant=variant,
            ),
            bound=SEND_BOUND,
            summary=f"send broadcast '{name}'",
        )

    def _note(self, text: str) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), kind="broadcast", text=text))
        workflow.set_current_details("\n\n".join(e.text for e in self._timeline[-5:]))

    def _done(self, status: str, detail: str) -> BroadcastJourneyResult:
        self._note(f"{status}" + (f": {detail}" if detail else ""))
        return BroadcastJourneyResult(status=status, detail=detail)

    @workflow.query(name="timeline")
    def timeline(self) -> list[TimelineEntry]:
        return self._timeline
