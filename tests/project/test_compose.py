"""docker-compose.yml cannot run here (no Docker engine); check what can be checked by reading."""

from __future__ import annotations

import re

import yaml

from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.mail.provider_factory import build_provider
from nurture.mail.smtp import SmtpProvider
from tests.helpers.paths import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_stack_has_the_designed_services() -> None:
    assert {
        "postgres",
        "temporal",
        "temporal-init",
        "temporal-ui",
        "mailpit",
        "api",
        "worker",
    } <= set(COMPOSE["services"])


def test_images_are_pinned() -> None:
    for name, service in COMPOSE["services"].items():
        if "image" in service:
            assert re.search(r":v?\d", service["image"]), f"{name} image is not pinned to a version"


def test_init_registers_exactly_the_journey_search_attributes() -> None:
    command = " ".join(COMPOSE["services"]["temporal-init"]["command"])
    registered = set(re.findall(r"(\w+)=(Keyword|Int|Datetime)", command))
    flags = search_attributes.dev_server_flags()
    expected = {tuple(flag.split("=")) for flag in flags[1::2]}
    assert registered == expected


def test_worker_and_api_environment_names_real_settings() -> None:
    fields = {f"NURTURE_{name.upper()}" for name in Settings.model_fields}
    for service in ("worker", "api"):
        env = COMPOSE["services"][service]["environment"]
        assert set(env) <= fields, set(env) - fields
        assert env["NURTURE_DATABASE_URL"].startswith("postgresql+psycopg2://")


def test_worker_sends_email_by_smtp_to_mailpit() -> None:
    worker = COMPOSE["services"]["worker"]
    env = worker["environment"]
    assert env["NURTURE_EMAIL_PROVIDER"] == "smtp"
    assert env["NURTURE_SMTP_HOST"] == "mailpit" and "mailpit" in worker["depends_on"]
    smtp_ports = [p.split(":")[1] for p in COMPOSE["services"]["mailpit"]["ports"]]
    assert env["NURTURE_SMTP_PORT"] in smtp_ports and env["NURTURE_SMTP_PORT"] == "1025"
    email = {k.removeprefix("NURTURE_").lower(): v for k, v in env.items() if "SMTP" in k}
    provider = build_provider(Settings(email_provider=env["NURTURE_EMAIL_PROVIDER"], **email))
    assert isinstance(provider, SmtpProvider)
    assert (provider.host, provider.port, provider.starttls) == ("mailpit", 1025, False)
