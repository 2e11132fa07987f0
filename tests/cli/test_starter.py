"""starter.py: one lead or a whole trade-show CSV, idempotently, with errors per row."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from temporalio.client import Client

from nurture.config import Settings
from nurture.leads.csv_import import read_leads, split_name
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead
from tests.helpers.processes import run_starter

CSV = """name,email,company,industry,size,title
佐藤 愛子,aiko@example.jp,サンプル製作所,Manufacturing,"1,200",取締役 CFO
Tom Baker,tom@example.com,Baker Tools,SaaS,51-200,Maintenance engineer
No Email,not-an-email,Broken Inc,saas,10,CEO
"""


def test_csv_rows_become_leads_with_roles_and_sizes(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV)
    rows = list(read_leads(path))
    aiko, tom, broken = rows
    assert aiko.lead is not None and tom.lead is not None
    assert (aiko.lead.last_name, aiko.lead.first_name) == ("佐藤", "愛子")
    assert (aiko.lead.company_size, aiko.lead.role, aiko.lead.industry) == (
        1200,
        "executive",
        "manufacturing",
    )
    assert (tom.lead.company_size, tom.lead.role) == (51, "practitioner")
    assert broken.lead is None and broken.line == 4 and "email" in (broken.error or "")


BROKEN_ROWS = """name,email,company
佐藤 愛子,aiko@example.jp,サンプル製作所
"Tom
Baker",tom@example.com,Baker Tools
Ken Ito,ken@example.jp,"Ito\r\nBcc: all@example.com"
Mia Chen,mia@@example.com,Chen Ltd
Ryo Abe,ryo@example.jp,Abe Works
"""
LINE_BREAK_IN_NAME = "name contains a line break (CR/LF); names must be one line of text"
LINE_BREAK_IN_COMPANY = (
    "company contains a line break (CR/LF); company names must be one line of text"
)


def test_a_csv_row_with_a_line_break_or_a_bad_email_is_reported_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    """Each bad row names the line it starts on, the field and what is wrong."""
    path = tmp_path / "leads.csv"
    path.write_bytes(BROKEN_ROWS.encode())
    rows = list(read_leads(path))
    assert [(row.line, row.lead is not None) for row in rows] == [
        (2, True),
        (3, False),
        (5, False),
        (7, False),
        (8, True),
    ]
    assert rows[1].error == f"{LINE_BREAK_IN_NAME} (got 'Tom\\nBaker')"
    assert rows[2].error == f"{LINE_BREAK_IN_COMPANY} (got 'Ito\\r\\nBcc: all@example.com')"
    assert rows[3].error == (
        "email 'mia@@example.com' is not a valid address: The part after the @-sign contains "
        "invalid characters: '@'."
    )


def test_split_name_handles_both_orders() -> None:
    assert split_name("Mary Ann Smith", "en") == ("Mary Ann", "Smith")
    assert split_name("田中 太郎", None) == ("太郎", "田中")


async def test_starter_imports_a_csv_twice_without_duplicates(
    client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    path = tmp_path / "leads.csv"
    path.write_text(CSV)

    consent = ["--consent-basis", "business_card", "--consent-wording", "名刺交換 (展示会 2026)"]
    code, output = await run_starter(settings, "--product", "acme", "--csv", str(path), *consent)
    assert code == 1, output  # one bad row
    assert output.count("started journey:acme:") == 2
    assert "row 4: skipped: email" in output
    assert "no consent basis" not in output

    code, output = await run_starter(settings, "--product", "acme", "--csv", str(path))
    assert output.count("exists journey:acme:") == 2 and "already exists" in output
    assert output.count("no consent basis") == 0  # the first import recorded it
    with store.session() as session:
        leads = list(session.scalars(select(Lead)))
    assert len(leads) == 2
    for lead in leads:
        handle = client.get_workflow_handle(f"journey:acme:{lead.id}")
        assert (await handle.describe()).status is not None
        assert lead.email not in handle.id


async def test_starter_refuses_an_unknown_product_clearly(
    client: Client, settings: Settings, store: Store
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    code, output = await run_starter(settings, "--product", "nope", "--email", "a@example.com")
    assert code == 1
    assert "no scenario for product 'nope' (known products: acme)" in output


async def test_a_conflicting_row_is_reported_and_the_others_go_on(
    client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    store.upsert_lead(LeadIn(email="a@example.com", external_id="crm-1"))
    store.upsert_lead(LeadIn(email="b@example.com"))
    path = tmp_path / "leads.csv"
    path.write_text("email,external_id,name\nb@example.com,crm-1,B\nc@example.com,,C\n")
    code, output = await run_starter(settings, "--product", "acme", "--csv", str(path))
    assert code == 1
    assert "row 2: skipped: email 'b@example.com' and external id 'crm-1' belong to two" in output
    assert "started journey:acme:" in output and "row 3: no consent basis on record" in output


async def test_the_starter_stores_no_lead_with_a_line_break(
    client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    path = tmp_path / "leads.csv"
    path.write_bytes(BROKEN_ROWS.encode())
    code, output = await run_starter(settings, "--product", "acme", "--csv", str(path))
    assert code == 1, output
    assert output.count("started journey:acme:") == 2
    assert f"row 3: skipped: {LINE_BREAK_IN_NAME}" in output
    assert f"row 5: skipped: {LINE_BREAK_IN_COMPANY}" in output
    assert "row 7: skipped: email 'mia@@example.com' is not a valid address" in output

    one = ["--product", "acme", "--email", "sato@example.jp", "--company", "Sato\nTrading"]
    code, output = await run_starter(settings, *one)
    assert code == 1 and f"lead: skipped: {LINE_BREAK_IN_COMPANY}" in output, output
    with store.session() as session:
        emails = sorted(session.scalars(select(Lead.email)))
    assert emails == ["aiko@example.jp", "ryo@example.jp"]


async def test_sales_registers_a_sales_generated_lead_from_the_command_line(
    client: Client, settings: Settings, store: Store
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    code, output = await run_starter(
        settings, "--product", "acme", "--email", "sgl@example.com", "--origin", "sales"
    )
    assert code == 0 and "started journey:acme:" in output, output
    with store.session() as session:
        lead = session.scalars(select(Lead)).one()
    history = await client.get_workflow_handle(f"journey:acme:{lead.id}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert json.loads(started.input.payloads[0].data)["origin"] == "sales"

    code, output = await run_starter(
        settings, "--product", "acme", "--email", "x@example.com", "--origin", "crm"
    )
    assert code == 2 and "--origin must be marketing or sales, not 'crm'" in output
