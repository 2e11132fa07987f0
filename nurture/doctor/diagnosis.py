"""Every check in order, and how the findings read on a terminal."""

from __future__ import annotations

from nurture.config import Settings
from nurture.doctor.findings import Finding
from nurture.doctor.local_checks import local_findings, payload_encryption
from nurture.doctor.temporal_checks import temporal_findings

MARKS = {"ok": "✓", "warn": "!", "fail": "✗"}


async def diagnose(settings: Settings, *, fix: bool = False) -> list[Finding]:
    """The local checks first (they need nothing running), then Temporal's."""
    return [
        *local_findings(settings),
        await payload_encryption(settings),
        *await temporal_findings(settings, fix=fix),
    ]


def report(findings: list[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    lines = []
    for finding in findings:
        lines.append(f"{MARKS[finding.outcome]} {finding.check:<{width}}  {finding.detail}")
        if finding.fix:
            lines.append(f"  {'':<{width}}  fix: {finding.fix}")
    failed = sum(f.failed for f in findings)
    lines.append(
        f"{failed} problem(s) to fix before journeys can run" if failed else "ready to run"
    )
    return "\n".join(lines)
