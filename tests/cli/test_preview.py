"""`nurture preview`: one email, rendered for a sample or a stored lead as the worker sends it."""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment
from typer.testing import CliRunner, Result

from activities.email import EmailActivities, SendEmailInput
from activities.line import LineActivities, SendLineInput
from nurture.channels.line.links import issue_link_token, read_link_token
from nurture.channels.line.links import link as link_line
from nurture.channels.line.push import LineOutbox
from nurture.cli.app import app
from nurture.cli.preview import PREVIEW_LEAD_ID, PREVIEW_SEND_ID
from nurture.config import Settings, get_settings
from nurture.leads.erasure import erase_lead
from nurture.mail.outbox import OutboxProvider
from nurture.mail.render import SAMPLE_JOURNEY
from nurture.scenario.loader import load_scenario
from nurture.scenario.pins import pin_templates
from nurture.sending.tracking_tokens import read_click, read_open
from nurture.sending.unsubscribe_tokens import verify_unsubscribe
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead
from tests.helpers.paths import CONSENT, REPO, SCENARIOS

SHIPPED = REPO / "scenarios"
BIN = Path(sys.executable).parent
UNSUBSCRIBE = re.compile(r"https?://[^\s<>\"')]+/v1/unsubscribe/[\w.-]+")


@pytest.fixture(autouse=True)
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads its settings from the environment, once: point it at the test's store."""
    monkeypatch.setenv("NURTURE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("NURTURE_SCENARIOS_DIR", str(SCENARIOS))
    monkeypatch.setenv("NURTURE_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def preview(*args: str) -> Result:
    return CliRunner().invoke(app, ["preview", *args])


def read_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body((subtype,))
    assert body is not None
    return str(body.get_content())


def acme_copy(tmp_path: Path, old: str, new: str, file: str = "scenario.yaml") -> Path:
    """A scenarios folder holding acme with one edit."""
    shutil.copytree(SCENARIOS / "acme", tmp_path / "scenarios" / "acme")
    path = tmp_path / "scenarios" / "acme" / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return tmp_path / "scenarios"


def test_prints_headers_and_text_part_for_the_first_sample_lead(settings: Settings) -> None:
    result = preview("acme", "welcome")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "cold/welcome · step 1/7 of track 'cold'" in out
    assert "lead sample 0 (executive)" in out
    assert "From: Acme Analytics <hello@acme.example>" in out
    assert "To: Aiko Sato <executive@example.com>" in out
    assert "Reply-To: team@acme.example" in out
    assert "Subject: Welcome, Aiko" in out
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out
    assert "Here is what it means for your costs and revenue." in out  # the executive's line
    assert "1 Example Street, Springfield 12345, USA" in out
    # a placeholder signed like the real link: valid, for a lead id no lead can have
    [link] = set(UNSUBSCRIBE.findall(out))
    token = link.rsplit("/", 1)[1]
    assert verify_unsubscribe(token, settings.secret_key) == (PREVIEW_LEAD_ID, "acme")
    assert "Content-Type" not in out


def test_lists_every_subject_variant_and_renders_the_one_asked_for() -> None:
    default = preview("acme", "cold/guide", "--lead", "practitioner")
    assert default.exit_code == 0, default.output
    assert "subject A (shown): A guide for you" in default.stdout
    assert "subject B: Your guide" in default.stdout
    assert "Subject: A guide for you" in default.stdout
    assert "Here is how it makes your day-to-day work easier." in default.stdout

    for choice in ("B", "b", "1"):
        chosen = preview("acme", "guide", "--variant", choice)
        assert chosen.exit_code == 0, chosen.output
        assert "subject B (shown): Your guide" in chosen.stdout
        assert "Subject: Your guide" in chosen.stdout

    wrong = preview("acme", "guide", "--variant", "C")
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == ("no variant 'C': cold/guide has 2 variant(s): A, B (or 0-1)")


def test_html_file_has_the_unsubscribe_link_and_postal_address(tmp_path: Path) -> None:
    html, eml = tmp_path / "welcome.html", tmp_path / "welcome.eml"
    result = preview("acme", "cold/welcome", "--html", str(html), "--eml", str(eml))
    assert result.exit_code == 0, result.output
    assert f"wrote the HTML part to {html}" in result.stdout
    assert "Hello Aiko" not in result.stdout  # files asked for: no text part on the terminal

    page = html.read_text()
    assert '<a href="http://localhost:8000/v1/unsubscribe/' in page
    assert "1 Example Street, Springfield 12345, USA" in page

    message = read_eml(eml)
    assert message["Subject"] == "Welcome, Aiko"
    assert message["X-Nurture-Send-Id"] == PREVIEW_SEND_ID
    assert message["List-Unsubscribe"].startswith("<http://localhost:8000/v1/unsubscribe/")
    assert part(message, "html").rstrip("\n") == page.rstrip("\n")  # MIME adds a final newline
    assert "Hello Aiko at Example Manufacturing," in part(message, "plain")


def test_the_html_and_template_syntax_sample_lead_is_escaped(tmp_path: Path) -> None:
    html = tmp_path / "html-lead.html"
    result = preview("acme", "welcome", "--lead", "html", "--html", str(html))
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "Hello &lt;b&gt;{{ 7*7 }}&lt;/b&gt; at &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page and "49" not in page
    assert "Subject: Welcome, <b>{{ 7*7 }}</b>" in result.stdout  # plain text: literal

    by_index = preview("acme", "welcome", "--lead", "3")
    assert "Hello <b>{{ 7*7 }}</b> at <script>alert(1)</script>," in by_index.stdout


def test_steps_and_triggers_by_qualified_or_unique_bare_key(tmp_path: Path) -> None:
    for step in ("download-followup", "trigger:download-followup"):
        result = preview("acme", step)
        assert result.exit_code == 0, result.output
        assert "trigger:download-followup · trigger 'download-followup' (on document_download)" in (
            result.stdout
        )
        assert "mail type trigger" in result.stdout
        assert "Subject: Thanks for downloading" in result.stdout

    scenarios = acme_copy(tmp_path, "{key: case-study,", "{key: welcome,")
    ambiguous = preview("acme", "welcome", "--scenarios", str(scenarios))
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr.strip() == (
        "step 'welcome' is ambiguous in acme: cold/welcome, warm/welcome; give one of them"
    )
    qualified = preview("acme", "warm/welcome", "--scenarios", str(scenarios))
    assert qualified.exit_code == 0, qualified.output
    assert "warm/welcome · step 1/2 of track 'warm'" in qualified.stdout


def test_unknown_step_product_or_lead_exit_1_naming_the_choices() -> None:
    step = preview("acme", "cold/nope")
    assert step.exit_code == 1
    assert step.stderr.count("\n") == 1
    assert step.stderr.startswith("no step 'cold/nope' in acme; steps: cold/welcome, cold/guide")
    assert "warm/demo-invite; triggers: trigger:download-followup" in step.stderr

    product = preview("acne", "welcome")
    assert product.exit_code == 1
    assert (
        product.stderr.strip() == f"no scenario for product 'acne' in {SCENARIOS} (products: acme)"
    )

    sample = preview("acme", "welcome", "--lead", "4")
    assert sample.exit_code == 1
    assert sample.stderr.strip() == (
        "no sample lead 4: --lead takes a sample lead (0 executive, 1 practitioner, 2 empty, "
        "3 html) or a lead id or email from the store"
    )


def test_template_errors_exit_1_in_one_line(tmp_path: Path) -> None:
    scenarios = acme_copy(
        tmp_path, "Hello {{ lead.first_name", "Hello {{ lead.nickname", "templates/note.html"
    )
    result = preview("acme", "welcome", "--scenarios", str(scenarios))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "cold/welcome (template 'note', subject 'Welcome, {{ lead.first_name }}') cannot "
        "render for lead sample 0 (executive):"
    )
    assert "'dict object' has no attribute 'nickname'" in result.stderr

    scenarios = acme_copy(tmp_path / "b", "subject: Checklist", 'subject: "Checklist {{ lead."')
    syntax = preview("acme", "checklist", "--scenarios", str(scenarios))
    assert syntax.exit_code == 1
    assert syntax.stderr.startswith(
        "cold/checklist: subject 'Checklist {{ lead.': template syntax error"
    )

    scenarios = acme_copy(tmp_path / "c", "{% endblock %}", "{% endblok %}", "templates/note.html")
    broken = preview("acme", "welcome", "--scenarios", str(scenarios))
    assert broken.exit_code == 1
    assert re.match(r".*/templates/note\.html:\d+: template syntax error: ", broken.stderr)


def test_an_email_without_the_legal_footer_is_shown_with_a_warning(tmp_path: Path) -> None:
    scenarios = acme_copy(tmp_path, "{{ sender.postal_address }}", "", "templates/layout.html")
    result = preview("acme", "welcome", "--scenarios", str(scenarios))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        "warning: the email lacks the sender's postal address, which the law requires; "
        "nurture validate refuses it and no journey would send it"
    )


def test_a_stored_lead_by_email_or_id_in_japanese(store: Store, tmp_path: Path) -> None:
    lead, _ = store.upsert_lead(
        LeadIn(
            email="aiko@example.jp",
            first_name="愛子",
            last_name="佐藤",
            company="株式会社サンプル製作所",
            role="executive",
            consent=CONSENT,
        )
    )
    html = tmp_path / "welcome.html"
    by_email = preview(
        "cloudbook",
        "welcome",
        "--lead",
        "Aiko@Example.jp",
        "--scenarios",
        str(SHIPPED),
        "--html",
        str(html),
    )
    assert by_email.exit_code == 0, by_email.output
    assert f"lead {lead.id} from the store" in by_email.stdout
    assert (
        "Subject: 【CloudBook 経費精算】ご登録のお礼と、経費精算を見直す3つの視点"
        in by_email.stdout
    )
    assert "From: CloudBook 経費精算 事務局 <info@cloudbook.example.jp>" in by_email.stdout
    page = html.read_text(encoding="utf-8")
    assert "株式会社サンプル製作所<br>佐藤 愛子様" in page  # family name first in Japanese
    assert "経営の視点では" in page  # the executive's paragraph

    by_id = preview(
        "cloudbook",
        "case-studies",
        "--lead",
        lead.id,
        "--variant",
        "B",
        "--scenarios",
        str(SHIPPED),
    )
    assert by_id.exit_code == 0, by_id.output
    assert "Subject: 佐藤 愛子様へ:業種・規模が近い企業の導入事例をお届けします" in by_id.stdout
    assert "subject A: 同規模の企業はどう導入した? CloudBook 経費精算 導入事例3選" in by_id.stdout

    unknown = preview("acme", "welcome", "--lead", "nobody@example.jp")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith(f"no lead 'nobody@example.jp' in the store at {store.url}:")

    erase_lead(store, lead.id)
    erased = preview("acme", "welcome", "--lead", lead.id)
    assert erased.exit_code == 1
    assert erased.stderr.strip() == f"lead {lead.id} was erased: nothing of it is left to preview"


def test_no_store_file_is_reported_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "none" / "nurture.db"
    monkeypatch.setenv("NURTURE_DATABASE_URL", f"sqlite:///{missing}")
    get_settings.cache_clear()
    result = preview("acme", "welcome", "--lead", "someone@example.com")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"no store at sqlite:///{missing} to find the lead in:")
    assert not missing.parent.exists()


def test_content_is_printed_literally_never_as_markup_or_terminal_control(store: Store) -> None:
    lead, _ = store.upsert_lead(
        LeadIn(email="ken@example.com", first_name="[bold red]Ken[/] :smile:", consent=CONSENT)
    )
    with store.session() as session:  # stored before control characters were refused
        session.get_one(Lead, lead.id).last_name = "\x1b[2J\x1b]0;owned\x07Ito"
    result = preview("acme", "welcome", "--lead", "ken@example.com")
    assert result.exit_code == 0, result.output
    assert "Subject: Welcome, [bold red]Ken[/] :smile:" in result.stdout
    assert "Hello [bold red]Ken[/] :smile: at your team," in result.stdout
    assert "\\x1b[2J\\x1b]0;owned\\x07Ito" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_the_eml_is_the_message_the_worker_sends(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    """The same lead, email and variant through the send activity and through preview: the
    messages differ only in the unsubscribe token, the send id and the Date/Message-ID."""
    cloudbook = load_scenario(SHIPPED, "cloudbook")
    pin_templates(store, SHIPPED / "cloudbook", "cloudbook", cloudbook.version)
    lead, _ = store.upsert_lead(
        LeadIn(
            email="aiko@example.jp",
            first_name="愛子",
            last_name="佐藤",
            company="<b>サンプル</b>",
            role="practitioner",
            consent=CONSENT,
        )
    )
    step = cloudbook.tracks["warm"].steps[0]
    worker = EmailActivities(store, settings, OutboxProvider(settings.outbox_dir))
    sent = ActivityEnvironment().run(
        worker.send_email,
        SendEmailInput(
            brand=cloudbook.brand,
            scenario_version=cloudbook.version,
            journey_id=f"journey:cloudbook:{lead.id}",
            lead_id=lead.id,
            product="cloudbook",
            send_key="warm#1/case-studies",
            mail_type="step",
            template=step.template,
            subject=step.subjects[1],
            variant=1,
            journey_time=datetime(2026, 11, 25, tzinfo=UTC),
            journey={**SAMPLE_JOURNEY, "track": "warm", "step": "warm#1/case-studies"},
        ),
    )
    real = read_eml(settings.outbox_dir / "cloudbook" / f"{sent.send_id}.eml")

    eml = tmp_path / "preview.eml"
    result = preview(
        "cloudbook",
        "warm/case-studies",
        "--variant",
        "B",
        "--lead",
        lead.id,
        "--scenarios",
        str(SHIPPED),
        "--eml",
        str(eml),
    )
    assert result.exit_code == 0, result.output
    shown = read_eml(eml)

    [real_link] = set(UNSUBSCRIBE.findall(part(real, "plain")))
    [shown_link] = set(UNSUBSCRIBE.findall(part(shown, "plain")))

    def opened(text: str, send_id: str) -> str:
        """Tracking tokens seal the send id: each must name this message's send, and then
        reads as its link, so the two messages compare."""

        def link(match: re.Match[str]) -> str:
            if match.group(1) == "o":
                assert read_open(match.group(2), settings.secret_key) == send_id
                return "/v1/t/o/(pixel)"
            owner, url = read_click(match.group(2), settings.secret_key)
            assert owner == send_id
            return f"/v1/t/c/({url})"

        return re.sub(r"/v1/t/([oc])/([A-Za-z0-9_-]+)", link, text)

    def same(text: str) -> str:
        text = opened(text, sent.send_id)
        return text.replace(real_link, shown_link).replace(sent.send_id, PREVIEW_SEND_ID)

    assert real.keys() == shown.keys()
    for header in real:
        if header not in ("Date", "Message-ID", "Content-Type"):  # Content-Type: its boundary
            assert same(str(real[header])) == str(shown[header]), header
    assert same(part(real, "plain")) == part(shown, "plain")
    assert same(part(real, "html")) == opened(part(shown, "html"), PREVIEW_SEND_ID)
    assert "/v1/t/c/" in part(shown, "html")  # the preview tracks its links as the worker does
    assert "&lt;b&gt;サンプル&lt;/b&gt;" in part(shown, "html")


def test_the_console_script_prints_japanese_to_a_pipe(settings: Settings) -> None:
    env = os.environ | {
        "NURTURE_SCENARIOS_DIR": str(SHIPPED),
        "NURTURE_DATABASE_URL": settings.database_url,
    }
    result = subprocess.run(
        [str(BIN / "nurture"), "preview", "cloudbook", "trigger:pricing-roi"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Subject: 料金のご検討に:導入効果(ROI)試算シートをお送りします" in result.stdout
    assert "Sato Aiko様" in result.stdout  # the executive sample lead, family name first


def test_a_line_step_previews_as_the_json_the_worker_pushes(
    settings: Settings, store: Store
) -> None:
    lead, _ = store.upsert_lead(
        LeadIn(email="aiko@example.jp", first_name="愛子", last_name="佐藤", consent=CONSENT)
    )
    scenario = load_scenario(SHIPPED, "cloudbook")
    pin_templates(store, SHIPPED / "cloudbook", "cloudbook", scenario.version)
    with store.session() as session:
        now = datetime.now(UTC)
        token = issue_link_token(lead.id, "cloudbook", settings.secret_key, now)
        link_line(session, read_link_token(token, settings.secret_key, now), "Uaiko", "cb", now)
    [(_, step)] = scenario.line_steps()
    assert step.line is not None
    outbox = LineOutbox(settings.outbox_dir)
    pushed = ActivityEnvironment().run(
        LineActivities(store, settings, outbox).send_line,
        SendLineInput(
            brand=scenario.brand,
            scenario_version=scenario.version,
            journey_id="journey:cloudbook:x",
            lead_id=lead.id,
            product="cloudbook",
            send_key="warm#1.line/seminar-invite",
            mail_type="step",
            template=step.line.template,
            alt_text=step.line.alt_text,
            journey_time=datetime.now(UTC),
            journey=SAMPLE_JOURNEY,
        ),
    )
    assert pushed.status == "sent"
    sent = json.loads(outbox.path_for("cloudbook", pushed.send_id).read_text(encoding="utf-8"))

    shown = preview(
        "cloudbook",
        "seminar-invite",
        "--channel",
        "line",
        "--lead",
        lead.id,
        "--scenarios",
        str(SHIPPED),
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == sent["messages"]
    assert sent["messages"][0]["text"].startswith("佐藤 愛子様")


def test_an_email_step_has_no_line_preview() -> None:
    shown = preview("acme", "guide", "--channel", "line")
    assert shown.exit_code == 1
    assert "cold/guide is an email step: it has no LINE message" in shown.output
