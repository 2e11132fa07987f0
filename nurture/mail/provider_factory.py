"""The email provider the configuration names (NURTURE_EMAIL_PROVIDER), built once per worker.

A provider missing its settings is refused here, when the worker starts, naming the variable
to set: a worker that starts and then fails every send would fail journeys one by one.
"""

from __future__ import annotations

from nurture.config import Settings
from nurture.mail.outbox import OutboxProvider
from nurture.mail.providers import EmailProvider
from nurture.mail.sendgrid import SendGridProvider
from nurture.mail.smtp import SmtpProvider


class ProviderNotConfigured(ValueError):
    """The chosen provider lacks a setting; the message names the environment variable."""


def build_provider(settings: Settings) -> EmailProvider:
    if settings.email_provider == "sendgrid":
        return _sendgrid(settings)
    if settings.email_provider == "smtp":
        return _smtp(settings)
    return OutboxProvider(settings.outbox_dir)


def _sendgrid(settings: Settings) -> SendGridProvider:
    key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else ""
    if not key.strip():
        raise ProviderNotConfigured(
            "NURTURE_EMAIL_PROVIDER=sendgrid needs an API key with Mail Send permission: "
            "set NURTURE_SENDGRID_API_KEY"
        )
    return SendGridProvider(
        key.strip(),
        host=settings.sendgrid_host,
        sandbox=settings.sendgrid_sandbox,
        unsubscribe_groups=settings.sendgrid_unsubscribe_groups,
        tracks=not settings.own_tracking,
    )


def _smtp(settings: Settings) -> SmtpProvider:
    if not settings.smtp_host:
        raise ProviderNotConfigured(
            "NURTURE_EMAIL_PROVIDER=smtp needs the server: set NURTURE_SMTP_HOST "
            "(and NURTURE_SMTP_PORT unless it is 25, 587 with STARTTLS or 465 with SSL)"
        )
    if settings.smtp_starttls and settings.smtp_ssl:
        raise ProviderNotConfigured(
            "NURTURE_SMTP_STARTTLS and NURTURE_SMTP_SSL are both set: choose one "
            "(SSL is implicit TLS, usually port 465; STARTTLS upgrades, usually port 587)"
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    if settings.smtp_username and not password:
        raise ProviderNotConfigured(
            "NURTURE_SMTP_USERNAME is set without a password: set NURTURE_SMTP_PASSWORD"
        )
    if password and not settings.smtp_username:
        raise ProviderNotConfigured(
            "NURTURE_SMTP_PASSWORD is set without a user: set NURTURE_SMTP_USERNAME"
        )
    if not (settings.smtp_username or "").isascii() or not (password or "").isascii():
        raise ProviderNotConfigured(
            "NURTURE_SMTP_USERNAME and NURTURE_SMTP_PASSWORD must be ASCII (smtplib sends "
            "credentials as ASCII only): choose an ASCII password on the server"
        )
    return SmtpProvider(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_ssl,
    )
