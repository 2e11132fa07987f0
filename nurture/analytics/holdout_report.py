"""What nurturing adds: the leads it nurtured beside its control group (`holdout`).

A product's control group gets no marketing message while scoring, hand-off and goals run
as usual (nurture/schedule/variants.py `in_holdout`), so the two groups differ only in the
messages. Per product the report counts each group's leads, the leads that reached one of
its goals (conversions) and those handed to sales, and for each rate the difference
(nurtured − control) with a two-sided two-proportion z-test (statsmodels), so a lift
is only called one when it is unlikely to be chance.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from statsmodels.stats.proportion import proportions_ztest

from nurture.scenario.loader import ScenarioError, load_scenario, scenario_dirs
from nurture.schedule.variants import in_holdout
from nurture.store.engine import Store
from nurture.store.models import Conversion, Handoff, Journey

SIGNIFICANT = 0.05


class Group(BaseModel):
    leads: int
    converted: int
    handed_off: int


class Lift(BaseModel):
    """Nurtured rate − control rate, and the chance of a difference that large by luck."""

    metric: str
    nurtured_rate: float | None
    control_rate: float | None
    difference: float | None
    p_value: float | None
    verdict: str  # "lift", "no lift shown", "too few leads"


class HoldoutRow(BaseModel):
    product: str
    share: float
    nurtured: Group
    control: Group
    lifts: list[Lift]


class HoldoutReport(BaseModel):
    rows: list[HoldoutRow]


def build_holdout_report(
    store: Store, scenarios_dir: Path, product: str | None = None
) -> HoldoutReport:
    """Every product with a control group (`holdout` > 0), or the one asked for."""
    rows = []
    for folder in scenario_dirs(scenarios_dir):
        if product is not None and folder.name != product:
            continue
        try:
            scenario = load_scenario(scenarios_dir, folder.name)
        except ScenarioError:
            continue
        if scenario.holdout > 0:
            rows.append(_row(store, scenario.product, scenario.holdout))
    return HoldoutReport(rows=rows)


def _row(store: Store, product: str, share: float) -> HoldoutRow:
    with store.session() as session:
        leads = list(session.scalars(select(Journey.lead_id).where(Journey.product == product)))
        converted = set(
            session.scalars(
                select(Conversion.lead_id).where(Conversion.product == product).distinct()
            )
        )
        handed = set(
            session.scalars(select(Handoff.lead_id).where(Handoff.product == product).distinct())
        )
    control = [lead for lead in leads if in_holdout(lead, product, share)]
    held = set(control)
    nurtured = [lead for lead in leads if lead not in held]
    groups = {
        name: Group(
            leads=len(members),
            converted=sum(lead in converted for lead in members),
            handed_off=sum(lead in handed for lead in members),
        )
        for name, members in (("nurtured", nurtured), ("control", control))
    }
    lifts = [
        _lift("conversion", groups["nurtured"].converted, groups["nurtured"].leads,
              groups["control"].converted, groups["control"].leads),
        _lift("hand-off", groups["nurtured"].handed_off, groups["nurtured"].leads,
              groups["control"].handed_off, groups["control"].leads),
    ]  # fmt: skip
    return HoldoutRow(
        product=product,
        share=share,
        nurtured=groups["nurtured"],
        control=groups["control"],
        lifts=lifts,
    )


def _lift(metric: str, hits: int, total: int, control_hits: int, control_total: int) -> Lift:
    if not total or not control_total:
        return Lift(
            metric=metric,
            nurtured_rate=hits / total if total else None,
            control_rate=control_hits / control_total if control_total else None,
            difference=None,
            p_value=None,
            verdict="too few leads",
        )
    rate, control_rate = hits / total, control_hits / control_total
    p_value: float | None = None
    if 0 < hits + control_hits < total + control_total:  # a test needs both outcomes seen
        _, p = proportions_ztest([hits, control_hits], [total, control_total])
        p_value = None if math.isnan(p) else float(p)
    lifted = p_value is not None and p_value < SIGNIFICANT and rate > control_rate
    return Lift(
        metric=metric,
        nurtured_rate=rate,
        control_rate=control_rate,
        difference=rate - control_rate,
        p_value=p_value,
        verdict="lift" if lifted else "no lift shown",
    )
