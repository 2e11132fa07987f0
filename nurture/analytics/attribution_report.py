"""What led to sales: which steps and trigger emails came before hand-offs and wins.

A hand-off (the journey's move to `handed_off`) or a win (its move to `customer`) in the
period is credited to the emails its journey sent in the `window` days before it, in two
ways shown side by side, because neither alone tells the truth:
- *any touch*: every step that had an email in the window gets the credit (a step that
  often comes before sales shows, even if something else came last);
- *last touch*: only the step of the last email before it (what tipped the lead, if one
  email did).
Times are journey times (the workflow's clock, which the sends and the lifecycle moves
both record), so a journey's story is read in its own order. Per lead source too: how
many leads from each source reached sales and became customers. SQL aggregates only: the
last touch is a correlated subquery, not a loop over hand-offs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, select

from nurture.analytics.dialect import Dialect
from nurture.journey.rules import step_of
from nurture.store.engine import Store
from nurture.store.models import Lead, Send, Transition, utcnow

OUTCOMES = {"handed_off": "handoffs", "customer": "wins"}
DEFINITIONS: dict[str, str] = {
    "handoffs": "moves to handed_off in the period (a lead handed off twice counts twice)",
    "wins": "moves to customer in the period",
    "any_touch": "hand-offs (wins) whose journey sent this step in the window before them; "
    "one hand-off credits every step it had",
    "last_touch": "hand-offs (wins) whose journey's last email in the window was this step",
    "window": "the days before a hand-off or win in which an email counts as a touch",
    "by_source": "leads by where they came from (the lead's `source`): hand-offs and wins",
}


class StepCredit(BaseModel):
    product: str
    track: str
    step: str
    handoffs_any_touch: int = 0
    handoffs_last_touch: int = 0
    wins_any_touch: int = 0
    wins_last_touch: int = 0


class SourceOutcome(BaseModel):
    product: str
    source: str
    handoffs: int = 0
    wins: int = 0


class AttributionReport(BaseModel):
    since: datetime | None
    until: datetime
    product: str | None
    window_days: int
    steps: list[StepCredit]
    by_source: list[SourceOutcome]
    definitions: dict[str, str] = DEFINITIONS


def build_attribution_report(
    store: Store,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window_days: int = 30,
) -> AttributionReport:
    until = until or utcnow()
    with store.session() as session:
        days = Dialect.of(session).days
        any_touch = session.execute(_any_touch(product, since, until, window_days, days)).all()
        last_touch = session.execute(_last_touch(product, since, until, window_days, days)).all()
        sources = session.execute(_by_source(product, since, until)).all()
    credits: dict[tuple[str, str, str], StepCredit] = {}

    def credit(row_product: str, send_key: str, field: str, count: int) -> None:
        track, step = step_of(send_key)
        found = credits.setdefault(
            (row_product, track, step), StepCredit(product=row_product, track=track, step=step)
        )
        setattr(found, field, getattr(found, field) + count)

    # A step's repeats (a trigger sent twice, a track entered again) credit an outcome once.
    touched: set[tuple[str, str, str, str, int]] = set()
    for row_product, send_key, to, outcome_id in any_touch:
        track, step = step_of(send_key)
        touched.add((row_product, track, step, to, outcome_id))
    for row_product, track, step, to, _ in touched:
        credit(row_product, f"{track}/{step}", f"{OUTCOMES[to]}_any_touch", 1)
    for row_product, send_key, to, count in last_touch:
        if send_key is not None:  # None: no email in the window
            credit(row_product, send_key, f"{OUTCOMES[to]}_last_touch", count)
    by_source: dict[tuple[str, str], SourceOutcome] = {}
    for row_product, source, to, count in sources:
        key = (row_product, source or "unknown")
        outcome = by_source.setdefault(key, SourceOutcome(product=key[0], source=key[1]))
        setattr(outcome, OUTCOMES[to], getattr(outcome, OUTCOMES[to]) + count)
    return AttributionReport(
        since=since,
        until=until,
        product=product,
        window_days=window_days,
        steps=[credits[key] for key in sorted(credits)],
        by_source=[by_source[key] for key in sorted(by_source)],
    )


def _outcomes(product: str | None, since: datetime | None, until: datetime) -> Any:
    """The hand-offs and wins of the period (moves to handed_off or customer)."""
    query = select(Transition).where(
        Transition.to_lifecycle.in_(tuple(OUTCOMES)), Transition.journey_time < until
    )
    if product is not None:
        query = query.where(Transition.product == product)
    if since is not None:
        query = query.where(Transition.journey_time >= since)
    return query.subquery()


def _touches(outcome: Any, window_days: int, days: Callable[[Any], Any]) -> Any:
    """A send of the outcome's journey in the window before it (sales mail aside)."""
    return and_(
        Send.journey_id == outcome.c.journey_id,
        Send.mail_type != "sales",
        Send.status.in_(("sent", "delivered", "opened", "clicked", "bounced")),
        Send.journey_time <= outcome.c.journey_time,
        days(Send.journey_time) > days(outcome.c.journey_time) - window_days,
    )


def _any_touch(
    product: str | None,
    since: datetime | None,
    until: datetime,
    window_days: int,
    days: Callable[[Any], Any],
) -> Any:
    """Each outcome with each send key it had in the window, once (the hand-offs of a
    period, times the few emails before each: not the sends' millions)."""
    outcome = _outcomes(product, since, until)
    return (
        select(outcome.c.product, Send.send_key, outcome.c.to_lifecycle, outcome.c.id)
        .join(Send, _touches(outcome, window_days, days))
        .distinct()
    )


def _last_touch(
    product: str | None,
    since: datetime | None,
    until: datetime,
    window_days: int,
    days: Callable[[Any], Any],
) -> Any:
    """Per product, last send key and outcome: how many outcomes that send key came last
    before (None: no email in the window)."""
    outcome = _outcomes(product, since, until)
    last_key = (
        select(Send.send_key)
        .where(_touches(outcome, window_days, days))
        .order_by(Send.journey_time.desc(), Send.created_at.desc())
        .limit(1)
        .correlate(outcome)
        .scalar_subquery()
    )
    keyed = select(outcome.c.product, last_key.label("send_key"), outcome.c.to_lifecycle).subquery()
    return select(keyed.c.product, keyed.c.send_key, keyed.c.to_lifecycle, func.count()).group_by(
        keyed.c.product, keyed.c.send_key, keyed.c.to_lifecycle
    )


def _by_source(product: str | None, since: datetime | None, until: datetime) -> Any:
    outcome = _outcomes(product, since, until)
    return (
        select(outcome.c.product, Lead.source, outcome.c.to_lifecycle, func.count())
        .join(Lead, Lead.id == outcome.c.lead_id)
        .group_by(outcome.c.product, Lead.source, outcome.c.to_lifecycle)
    )
