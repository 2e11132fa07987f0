"""Choosing the email provider by configuration, and refusing to start without its settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from pydantic import ValidationError

from nurture.config import EmailProviderName, Settings
from nurture.mail.outbox import OutboxProvider
from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
from nurture.mail.sendgrid import SendGridProvider
from nurture.mail.smtp import SmtpProvider
from tests.helpers.paths import REPO


class SmtpTransport(TypedDict, total=False):
    """How to reach the SMTP relay: the Settings fields that choose its port."""

    smtp_port: int
    smtp_starttls: bool
    smtp_ssl: bool


class MailSettings(SmtpTransport, total=False):
    """The Settings fields these tests give by keyword, as the environment would."""

    email_provider: EmailProviderName
    sendgrid_api_key: str
    smtp_host: str
    smtp_username: str
    smtp_password: str


def test_outbox_is_the_default(tmp_path: Path) -> None:
    provider = build_provider(Settings(outbox_dir=tmp_path))
    assert isinstance(provider, OutboxProvider) and provider.directory == tmp_path


def test_sendgrid_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_EMAIL_PROVIDER", "sendgrid")
    monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", "SG.key")
    monkeypatch.setenv("NURTURE_SENDGRID_SANDBOX", "true")
    monkeypatch.setenv("NURTURE_SENDGRID_UNSUBSCRIBE_GROUPS", '{"cloudbook/newsletter": 123}')
    provider = build_provider(Settings(_env_file=None))
    assert isinstance(provider, SendGridProvider)
    assert provider.sandbox and provider.unsubscribe_groups == {"cloudbook/newsletter": 123}
    assert provider.tracks  # auto: SendGrid's own tracking counts opens and clicks
    monkeypatch.setenv("NURTURE_TRACKING", "nurture")
    ours = build_provider(Settings(_env_file=None))
    assert isinstance(ours, SendGridProvider) and not ours.tracks


def test_unsubscribe_groups_are_keyed_by_product_and_mail_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NURTURE_SENDGRID_UNSUBSCRIBE_GROUPS", '{"cloudbook": 123}')
    with pytest.raises(ValidationError, match="must be 'product/mail_type'"):
        Settings(_env_file=None)


def test_smtp_ports_follow_the_tls_mode() -> None:
    def port(**options: Unpack[SmtpTransport]) -> int:
        provider = build_provider(Settings(email_provider="smtp", smtp_host="relay", **options))
        assert isinstance(provider, SmtpProvider)
        return provider.port

    assert port() == 25
    assert port(smtp_starttls=True) == 587
    assert port(smtp_ssl=True) == 465
    assert port(smtp_port=1025) == 1025


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ({"email_provider": "sendgrid"}, "NURTURE_SENDGRID_API_KEY"),
        ({"email_provider": "sendgrid", "sendgrid_api_key": " "}, "NURTURE_SENDGRID_API_KEY"),
        ({"email_provider": "smtp"}, "NURTURE_SMTP_HOST"),
        (
            {
                "email_provider": "smtp",
                "smtp_host": "relay",
                "smtp_starttls": True,
                "smtp_ssl": True,
            },
            "NURTURE_SMTP_STARTTLS and NURTURE_SMTP_SSL",
        ),
        (
            {"email_provider": "smtp", "smtp_host": "relay", "smtp_username": "u"},
            "NURTURE_SMTP_PASSWORD",
        ),
        (
            {"email_provider": "smtp", "smtp_host": "relay", "smtp_password": "p"},
            "NURTURE_SMTP_USERNAME",
        ),
        (
            {
                "email_provider": "smtp",
                "smtp_host": "relay",
                "smtp_username": "u",
                "smtp_password": "パスワード",
            },
            "must be ASCII",
        ),
    ],
)
def test_a_provider_missing_its_settings_names_what_to_set(given: MailSettings, names: str) -> None:
    with pytest.raises(ProviderNotConfigured, match=names):
        build_provider(Settings(**given))


def test_worker_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env |= {"NURTURE_EMAIL_PROVIDER": "smtp", "NURTURE_DATABASE_URL": f"sqlite:///{tmp_path}/x"}
    done = subprocess.run(
        [sys.executable, str(REPO / "worker.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "nurture worker: NURTURE_EMAIL_PROVIDER=smtp needs" in done.stderr
    assert "set NURTURE_SMTP_HOST" in done.stderr and "Traceback" not in done.stderr
