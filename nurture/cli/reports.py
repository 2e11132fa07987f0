"""`nurture report`: what nurturing gives sales."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import BaseModel

from nurture.cli.common import (
    HandoffsSince,
    HandoffsUntil,
    console,
    day_option,
    err_console,
    open_store,
    period,
)
from nurture.config import get_settings

report = typer.Typer(
    help="Reports: what emails achieve, and what nurturing gives sales.", no_args_is_help=True
)


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        err_console.print("[red]--json or --csv, not both[/red]")
        raise typer.Exit(2)


def _show(report: BaseModel, as_json: bool, as_csv: bool, render: Any, to_csv: Any) -> None:
    """The report as JSON (its model), as CSV (the report's own lines), or as tables."""
    if as_json:
        print(report.model_dump_json(indent=2))
    elif as_csv:
        print(to_csv(report), end="")
    else:
        render(report, console)


# The options the reports share.
Product = Annotated[str | None, typer.Option(help="one product (default: all)")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output")]
SentSince = Annotated[
    str | None, typer.Option(help="emails sent on or after this day, YYYY-MM-DD (UTC)")
]
SentUntil = Annotated[
    str | None, typer.Option(help="emails sent before this day, YYYY-MM-DD (default: now)")
]


@report.command("handoffs")
def report_handoffs(
    product: Product = None,
    since: HandoffsSince = None,
    until: HandoffsUntil = None,
    as_json: AsJson = False,
) -> None:
    """Hand-off precision per product: accepted, won, first sales touch, threshold calibration.

    Precision is won / decided hand-offs (below ~30% sales stops following marketing's
    leads up); the calibration recommends the lowest threshold meeting the scenario's
    handoff.target_precision within its handoff.daily_capacity.
    """
    from nurture.handoff.report import UnknownProduct, build_report
    from nurture.handoff.report_view import render

    start, end = period(since, until)
    try:
        report = build_report(
            open_store(), get_settings().scenarios_dir, product=product, since=start, until=end
        )
    except UnknownProduct as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        render(report, console)


@report.command("engagement")
def report_engagement(
    product: Product = None,
    since: SentSince = None,
    until: SentUntil = None,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for a spreadsheet")] = False,
) -> None:
    """Per product, track, step and variant: sent, delivered, bounced, opened by a person,
    clicked, click-to-open, unsubscribed, spam reports (machine opens never count)."""
    from nurture.analytics.engagement_report import build_engagement_report
    from nurture.analytics.engagement_view import render, to_csv

    start, end = period(since, until)
    _one_format(as_json, as_csv)
    report = build_engagement_report(open_store(), product=product, since=start, until=end)
    _show(report, as_json, as_csv, render, to_csv)


@report.command("ab")
def report_ab(
    product: Product = None,
    since: SentSince = None,
    until: SentUntil = None,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV, one line per arm")] = False,
) -> None:
    """Every step with variants: each arm's sends and clicks (or opens), the difference with
    its confidence interval and p-value, and a verdict (winner, no difference, not yet)."""
    from nurture.analytics.ab_report import build_ab_report
    from nurture.analytics.ab_view import render, to_csv

    start, end = day_option("--since", since), day_option("--until", until)
    _one_format(as_json, as_csv)
    report = build_ab_report(
        open_store(), get_settings().scenarios_dir, product=product, since=start, until=end
    )
    _show(report, as_json, as_csv, render, to_csv)


@report.command("holdout")
def report_holdout(product: Product = None, as_json: AsJson = False) -> None:
    """What nurturing adds: each product's nurtured leads beside its control group
    (`holdout`), their conversion and hand-off rates, and whether the lift is real."""
    from nurture.analytics.holdout_report import build_holdout_report

    report = build_holdout_report(open_store(), get_settings().scenarios_dir, product)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    if not report.rows:
        console.print("no product has a control group (`holdout:` in its scenario)")
    for row in report.rows:
        n, c = row.nurtured, row.control
        console.print(
            f"[bold]{row.product}[/bold] · control group {row.share:.0%}: "
            f"{n.leads} nurtured ({n.converted} converted, {n.handed_off} handed off), "
            f"{c.leads} in control ({c.converted} converted, {c.handed_off} handed off)",
            highlight=False,
        )
        for lift in row.lifts:
            diff = f"{lift.difference:+.1%}" if lift.difference is not None else "—"
            p = f"p = {lift.p_value:.3f}" if lift.p_value is not None else "no test"
            console.print(f"  {lift.metric}: {diff} ({p}): {lift.verdict}", highlight=False)


@report.command("funnel")
def report_funnel(
    product: Product = None,
    since: Annotated[
        str | None, typer.Option(help="journeys that entered a track on or after this day")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="journeys that entered before this day (default: now)")
    ] = None,
    as_json: AsJson = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV, one line per track and funnel stage")
    ] = False,
) -> None:
    """The funnel per track (entered, each step, engaged, warm, hot, handed off, accepted,
    won, with the drop-off between steps), and how leads moved between stages week by week."""
    from nurture.analytics.funnel_report import build_funnel_report
    from nurture.analytics.funnel_view import render, to_csv

    start, end = day_option("--since", since), day_option("--until", until)
    _one_format(as_json, as_csv)
    report = build_funnel_report(
        open_store(), get_settings().scenarios_dir, product=product, since=start, until=end
    )
    _show(report, as_json, as_csv, render, to_csv)


@report.command("attribution")
def report_attribution(
    product: Product = None,
    since: Annotated[
        str | None, typer.Option(help="hand-offs and wins on or after this day, YYYY-MM-DD")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="hand-offs and wins before this day (default: now)")
    ] = None,
    window: Annotated[int, typer.Option(min=1, max=365, help="days an email counts before")] = 30,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV, one line per step")] = False,
) -> None:
    """What led to sales: per step and trigger email, the hand-offs and wins that followed
    within the window (any touch and last touch), and per lead source."""
    from nurture.analytics.attribution_report import build_attribution_report
    from nurture.analytics.attribution_view import render, to_csv

    start, end = day_option("--since", since), day_option("--until", until)
    _one_format(as_json, as_csv)
    report = build_attribution_report(
        open_store(), product=product, since=start, until=end, window_days=window
    )
    _show(report, as_json, as_csv, render, to_csv)


@report.command("send-time")
def report_send_time(
    product: Product = None,
    since: Annotated[str | None, typer.Option(help="reads on or after this day")] = None,
    until: Annotated[str | None, typer.Option(help="reads before this day (default: now)")] = None,
    as_json: AsJson = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV, one line per hour with reads")
    ] = False,
) -> None:
    """When leads read: a person's opens and clicks by weekday and hour in each lead's time
    zone, per role, beside the hour send-time optimisation chooses."""
    from nurture.analytics.send_time_report import build_send_time_report
    from nurture.analytics.send_time_view import render, to_csv

    start, end = day_option("--since", since), day_option("--until", until)
    _one_format(as_json, as_csv)
    report = build_send_time_report(
        open_store(), get_settings().scenarios_dir, product=product, since=start, until=end
    )
    _show(report, as_json, as_csv, render, to_csv)
