"""`nurture doctor`: is this deployment ready to run journeys, and if not, what to fix."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from nurture.cli.common import exit_after_temporal
from nurture.config import get_settings


def doctor(
    fix: Annotated[
        bool,
        typer.Option("--fix", help="register missing search attributes (needs operator rights)"),
    ] = False,
) -> None:
    """Check the Temporal connection (TLS, mTLS, API key), the namespace, the journeys'
    search attributes, the workers polling, the store's schema, the providers' and channels'
    settings and payload encryption; exit 1 when something must be fixed."""
    from nurture.doctor.diagnosis import diagnose, report

    findings = asyncio.run(diagnose(get_settings(), fix=fix))
    typer.echo(report(findings))
    exit_after_temporal(1 if any(finding.failed for finding in findings) else 0)
