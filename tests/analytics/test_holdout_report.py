"""What nurturing adds, beside its control group, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from nurture.analytics.holdout_report import build_holdout_report
from nurture.schedule.variants import in_holdout
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Conversion, Handoff, Journey
from tests.helpers.paths import CONSENT, SCENARIOS

AT = datetime(2026, 12, 1, tzinfo=UTC)


def scenarios_with_holdout(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios" / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    yaml = folder / "scenario.yaml"
    yaml.write_text(
        yaml.read_text().replace("entry_track: cold", "holdout: 20%\nentry_track: cold")
    )
    return folder.parent


def test_nurtured_leads_beside_the_control_group(any_store: Store, tmp_path: Path) -> None:
    leads = [
        any_store.upsert_lead(LeadIn(email=f"l{i}@example.jp", consent=CONSENT))[0].id
        for i in range(300)
    ]
    control = {lead for lead in leads if in_holdout(lead, "acme", 0.2)}
    # Leads are numbered within their own group: lead ids are random, so numbering across
    # both groups would leave each group's rates to chance.
    counted = {True: 0, False: 0}
    with any_store.session() as session:
        for lead in leads:
            in_control = lead in control
            i = counted[in_control]
            counted[in_control] += 1
            journey = f"journey:acme:{lead}"
            session.add(Journey(workflow_id=journey, lead_id=lead, product="acme"))
            # nurtured leads convert one in three; the control group one in twenty
            if (in_control and i % 20 == 0) or (not in_control and i % 3 == 0):
                session.add(Conversion(journey_id=journey, lead_id=lead, product="acme",
                                       goal="demo-booked", journey_time=AT))  # fmt: skip
            # both groups are handed off one in ten: nurturing shows no lift there
            if i % 10 == 0:
                handoff = Handoff(
                    journey_id=journey, handoff_no=1, lead_id=lead, product="acme", score=60,
                    payload={}, journey_time=AT,
                )  # fmt: skip
                session.add(handoff)
    [row] = build_holdout_report(any_store, scenarios_with_holdout(tmp_path)).rows
    assert (row.product, row.share) == ("acme", 0.2)
    assert row.control.leads == len(control) and row.nurtured.leads == 300 - len(control)
    assert 40 <= len(control) <= 80  # about a fifth
    conversion, handing = row.lifts
    assert conversion.verdict == "lift" and conversion.p_value is not None
    assert conversion.p_value < 0.05 and (conversion.difference or 0) > 0.2
    assert handing.metric == "hand-off" and handing.verdict == "no lift shown"


def test_no_control_group_no_row(any_store: Store) -> None:
    assert build_holdout_report(any_store, SCENARIOS).rows == []
