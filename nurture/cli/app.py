"""The `nurture` command: the groups of commands, wired into one Typer app.

Each group lives in its own module beside this one (scenarios, journeys, leads, store,
reports, apikeys, run); `common.py` has what they share.
"""

from __future__ import annotations

from typing import Annotated

import typer

from nurture.cli import (
    apikeys,
    broadcasts,
    doctor,
    journeys,
    leads,
    reports,
    rollouts,
    run,
    scenarios,
    segments,
    simulate,
    store,
    suggest,
)
from nurture.cli.common import NurtureTyper

app = NurtureTyper(help="Nurture: durable lead journeys on Temporal.", no_args_is_help=True)
app.add_typer(store.db, name="db")
app.add_typer(leads.lead, name="lead")
app.add_typer(apikeys.apikey, name="apikey")
app.add_typer(store.deliveries, name="deliveries")
app.add_typer(reports.report, name="report")
app.add_typer(journeys.journeys, name="journeys")
app.add_typer(segments.segment, name="segment")
app.add_typer(broadcasts.broadcast, name="broadcast")
app.add_typer(suggest.suggest, name="suggest")
app.command()(run.api)
app.command()(run.worker)
app.command()(run.dev)
app.command()(run.demo)
app.command()(doctor.doctor)
app.command()(scenarios.validate)
app.command()(scenarios.preview)
app.command()(simulate.simulate)
app.command("send-test")(scenarios.send_test)
app.command()(journeys.start)
app.command()(journeys.state)
app.command()(rollouts.versions)
app.command()(rollouts.diff)
app.command()(rollouts.rollout)


@app.callback()
def _global_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="on an error, show the full traceback")
    ] = False,
) -> None:
    NurtureTyper.debug = debug
