"""What the dashboard's pages show, built from the reports `nurture report` prints.

Each function takes reports (nurture.analytics, nurture.handoff) and returns plain data
for a template and for the charts (which the page's script draws from a JSON block), so
the figures a page shows are the reports' own, and these functions are unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from nurture.analytics.ab_report import AbReport, AbTest, build_ab_report
from nurture.analytics.engagement_report import EngagementReport, build_engagement_report
from nurture.analytics.funnel_report import FunnelReport, build_funnel_report
from nurture.analytics.send_time_report import WEEKDAYS, SendTimeReport, build_send_time_report
from nurture.handoff.report import ProductReport, UnknownProduct, build_report
from nurture.scenario.loader import ScenarioError, valid_scenarios
from nurture.scenario.model import STAGES
from nurture.store.engine import Store
from nurture.store.models import Journey, Lead, Send, utcnow
from nurture.suggestions.scoring_suggestion import (
    ScoringSuggestion,
    UnknownScenario,
    cached_suggestion,
)

PERIOD = timedelta(days=90)
HEAT_LEVELS = 6
RECENT_LEADS = 25


@dataclass
class ProductSummary:
    product: str
    name: str
    journeys: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    handed_off: int = 0
    won: int = 0

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.sent if self.sent else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.sent if self.sent else None


@dataclass
class ProductPage:
    product: str
    name: str
    locale: str | None
    since: datetime
    until: datetime
    funnel: FunnelReport
    engagement: EngagementReport
    ab_tests: list[AbTest]
    heat: list[list[int]]  # 7 × 24 levels 0..HEAT_LEVELS-1
    reads: list[list[int]]
    roles: list[dict[str, Any]]
    handoff: ProductReport | None
    scoring: ScoringSuggestion | None
    leads: list[dict[str, Any]]
    charts: dict[str, Any] = field(default_factory=dict)


def product_names(store: Store, scenarios_dir: Path) -> dict[str, tuple[str, str | None]]:
    """Every product with a scenario or sends: its display name and locale."""
    known: dict[str, tuple[str, str | None]] = {
        s.product: (s.name, s.locale) for s in valid_scenarios(scenarios_dir)
    }
    with store.session() as session:
        for product in session.scalars(select(Send.product).distinct()):
            known.setdefault(product, (product, None))
    return dict(sorted(known.items()))


def overview(
    store: Store, scenarios_dir: Path, now: datetime | None = None
) -> list[ProductSummary]:
    """One line per product over the last 90 days: journeys, emails, reads, hand-offs, wins."""
    until = now or utcnow()
    since = until - PERIOD
    summaries = {
        product: ProductSummary(product=product, name=name)
        for product, (name, _) in product_names(store, scenarios_dir).items()
    }
    engagement = build_engagement_report(store, since=since, until=until)
    for row in engagement.rows:
        line = summaries.setdefault(row.product, ProductSummary(row.product, row.product))
        line.sent += row.sent
        line.opened += row.opened
        line.clicked += row.clicked
    with store.session() as session:
        started = session.execute(
            select(Journey.product, func.count())
            .where(Journey.started_at >= since)
            .group_by(Journey.product)
        ).all()
    for product, count in started:
        summaries.setdefault(product, ProductSummary(product, product)).journeys = count
    handoffs = build_report(store, scenarios_dir, since=since, until=until)
    for report in handoffs.products:
        line = summaries.setdefault(report.product, ProductSummary(report.product, report.product))
        line.handed_off, line.won = report.handoffs, report.won
    return list(summaries.values())


def product_page(
    store: Store, scenarios_dir: Path, product: str, now: datetime | None = None
) -> ProductPage | None:
    """Everything the product page shows, over the last 90 days; None: no such product."""
    names = product_names(store, scenarios_dir)
    if product not in names:
        return None
    until = now or utcnow()
    since = until - PERIOD
    funnel = build_funnel_report(store, scenarios_dir, product=product, since=since, until=until)
    engagement = build_engagement_report(store, product=product, since=since, until=until)
    ab = build_ab_report(store, scenarios_dir, product=product, since=since, until=until)
    send_time = build_send_time_report(
        store, scenarios_dir, product=product, since=since, until=until
    )
    reads, roles = _reads(send_time)
    try:
        handoff = build_report(store, scenarios_dir, product=product, since=since, until=until)
        handoff_report = handoff.products[0] if handoff.products else None
    except UnknownProduct:
        handoff_report = None
    name, locale = names[product]
    page = ProductPage(
        product=product,
        name=name,
        locale=locale,
        since=since,
        until=until,
        funnel=funnel,
        engagement=engagement,
        ab_tests=ab.tests,
        heat=heat_levels(reads),
        reads=reads,
        roles=roles,
        handoff=handoff_report,
        scoring=scoring_suggestion(store, scenarios_dir, product),
        leads=recent_leads(store, product),
    )
    page.charts = charts(funnel, engagement, ab)
    return page


def scoring_suggestion(store: Store, scenarios_dir: Path, product: str) -> ScoringSuggestion | None:
    """The scoring suggestion from every hand-off of the product; None without a scenario
    that loads."""
    try:
        return cached_suggestion(store, scenarios_dir, product)
    except (UnknownScenario, ScenarioError):
        return None


def _reads(report: SendTimeReport) -> tuple[list[list[int]], list[dict[str, Any]]]:
    """The product's reads summed over roles (7 × 24), and each role's line."""
    grid = [[0] * 24 for _ in WEEKDAYS]
    roles = []
    for product in report.products:
        for role in product.roles:
            for day, hours in enumerate(role.grid):
                for hour, count in enumerate(hours):
                    grid[day][hour] += count
            roles.append(
                {
                    "role": role.role,
                    "reads": role.reads,
                    "best_hours": role.best_hours,
                    "optimised_hour": role.optimised_hour,
                }
            )
    return grid, roles


def heat_levels(grid: list[list[int]]) -> list[list[int]]:
    """Each cell's shade, 0 (no reads) to HEAT_LEVELS-1 (the busiest hour)."""
    busiest = max((count for row in grid for count in row), default=0)
    if busiest == 0:
        return [[0] * len(row) for row in grid]
    top = HEAT_LEVELS - 1
    return [[0 if c == 0 else max(1, round(top * c / busiest)) for c in row] for row in grid]


def charts(funnel: FunnelReport, engagement: EngagementReport, ab: AbReport) -> dict[str, Any]:
    """The data the page's charts draw: funnels, stage flow, engagement per step."""
    funnels = []
    for track in funnel.tracks:
        labels = ["entered", *(f"step: {s.step}" for s in track.steps)]
        values = [track.entered, *(s.journeys for s in track.steps)]
        for name in ("engaged", "warm", "hot", "handed_off", "accepted", "won"):
            labels.append(name.replace("_", " "))
            values.append(getattr(track, name))
        funnels.append({"track": track.track, "labels": labels, "values": values})
    # A list, not a mapping: the stages keep their order (cold, warm, hot) through tojson.
    weeks = [week for flow in funnel.stage_flow for week in flow.weeks]
    stage_flow = {
        "weeks": [week.week.isoformat() for week in weeks],
        "series": [
            {"stage": stage, "values": [week.in_stage.get(stage, 0) for week in weeks]}
            for stage in STAGES
        ],
    }
    rows = [r for r in engagement.rows if r.sent]
    steps = {
        "labels": [
            f"{r.track}/{r.step}" + (f" {r.variant}" if r.variant != "A" else "") for r in rows
        ],
        "open_rate": [round((r.open_rate or 0) * 100, 1) for r in rows],
        "click_rate": [round((r.click_rate or 0) * 100, 1) for r in rows],
    }
    return {
        "funnels": funnels,
        "stageFlow": stage_flow,
        "engagement": steps,
        "abTests": len(ab.tests),
    }


def recent_leads(store: Store, product: str) -> list[dict[str, Any]]:
    """The product's latest journeys' leads, for the page's lead list (erased ones aside)."""
    with store.session() as session:
        found = session.execute(
            select(Lead.id, Lead.company, Lead.role, Lead.source, Journey.started_at)
            .join(Journey, Journey.lead_id == Lead.id)
            .where(Journey.product == product, Lead.erased_at.is_(None))
            .order_by(Journey.started_at.desc())
            .limit(RECENT_LEADS)
        ).all()
    return [
        {"id": i, "company": c, "role": r, "source": s, "started_at": at}
        for i, c, r, s, at in found
    ]
