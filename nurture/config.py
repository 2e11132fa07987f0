"""One config object, read from NURTURE_* environment variables (and a local .env file)."""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nurture.scenario.model import SLUG, MailType

EmailProviderName = Literal["outbox", "sendgrid", "smtp"]
# Published in this repository: anyone can sign unsubscribe links with it.
DEFAULT_SECRET_KEY = "dev-only-secret-change-me"
MIN_SECRET_LENGTH = 32
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
PAYLOAD_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PAYLOAD_KEY_BYTES = 32


LineProviderName = Literal["outbox", "line"]


class LineChannel(BaseModel):
    """One product's LINE Official Account (LINE Developers console, Messaging API tab)."""

    access_token: SecretStr = Field(description="the channel access token (long-lived or v2.1)")
    secret: SecretStr = Field(description="the channel secret: verifies LINE's webhooks")
    basic_id: str | None = Field(
        default=None,
        pattern=r"^@[a-z0-9_.-]{2,30}$",
        description="the account's basic ID (@xxxx): emails' `line_link_url` opens a chat "
        "with it, the lead's link code ready to send",
    )


class InsecureSecret(ValueError):
    """The secret that signs unsubscribe links is public or guessable while the links point
    at a public address: anyone could unsubscribe any lead."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NURTURE_", env_file=".env", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"
    # A real cluster or Temporal Cloud (docs/production.md#connecting-to-temporal).
    temporal_tls: bool = Field(
        default=False,
        description="TLS to the Temporal frontend; implied by a CA, a client certificate, a "
        "server name or an API key",
    )
    temporal_tls_ca: Path | None = Field(
        default=None, description="PEM file of the CA that signed the frontend's certificate "
        "(default: the system's roots)",
    )  # fmt: skip
    temporal_tls_cert: Path | None = Field(
        default=None, description="PEM client certificate, for mTLS (with temporal_tls_key)"
    )
    temporal_tls_key: Path | None = Field(
        default=None, description="PEM private key of the client certificate"
    )
    temporal_tls_server_name: str | None = Field(
        default=None,
        description="the name the frontend's certificate carries, when it differs from the "
        "address's host",
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="Temporal Cloud API key (sent as a bearer token over TLS)"
    )
    payload_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON: key id → base64 of 32 random bytes, e.g. {"2026-12": "…"}; '
        "payloads encrypted with any of them can be read",
    )
    payload_key_id: str | None = Field(
        default=None,
        description="the payload key that encrypts new payloads (AES-256-GCM); unset: "
        "payloads are stored as they are",
    )
    metrics_address: str | None = Field(
        default=None,
        description="host:port where the worker serves /metrics, /healthz and /readyz, e.g. "
        "0.0.0.0:9464; unset: none (the API serves /metrics on its own port)",
    )
    otel_tracing: bool = Field(
        default=False,
        description="OpenTelemetry traces across API, journeys and activities, exported by "
        "OTLP to OTEL_EXPORTER_OTLP_ENDPOINT",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json`: one JSON object per log line, for collectors"
    )
    task_queue: str = "nurture"
    database_url: str = "sqlite:///.nurture/nurture.db"
    scenarios_dir: Path = Path("scenarios")
    outbox_dir: Path = Path(".nurture/outbox")
    public_base_url: str = "http://localhost:8000"
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        description="signs unsubscribe tokens; at least 32 random characters unless "
        "public_base_url is localhost (the API and the worker refuse to start otherwise)",
    )
    handoff_webhook_url: str | None = None
    handoff_webhook_secret: str | None = None
    worker_max_cached_workflows: int = 10_000
    worker_max_concurrent_workflow_tasks: int = Field(
        default=8,
        ge=1,
        description="workflow tasks a worker process runs at once (one core's worth): a "
        "burst of new journeys waits in Temporal's queue, not inside the worker, where tasks "
        "would near their 10 s timeout (docs/benchmarks.md#bursts)",
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None, description="SendGrid Event Webhook verification key (base64 DER)"
    )
    sendgrid_webhook_max_age: int = Field(default=600, description="seconds a signature is valid")
    send_claim_lease_seconds: int = Field(
        default=300,
        ge=1,
        description="how long a send's claim protects an attempt that may still be delivering "
        "(longer than the send activity's 60 s start-to-close); an older claim is an attempt "
        "that never finished, and its send becomes `uncertain`, never sent again",
    )
    frequency_cap_per_week: int = Field(
        default=3, ge=0, description="nurture emails per lead per rolling 7 days; 0: no cap"
    )
    # Email delivery (docs/email-providers.md); nurture/mail/provider_factory.py checks that
    # the chosen provider has what it needs when the worker starts.
    email_provider: EmailProviderName = "outbox"
    tracking: Literal["auto", "nurture", "provider", "off"] = Field(
        default="auto",
        description="who counts opens and clicks: `nurture` (its own pixel and click links), "
        "`provider` (SendGrid's tracking), `off`; `auto`: the provider's with SendGrid, "
        "Nurture's otherwise, so nothing is counted twice",
    )
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = Field(
        default="https://api.sendgrid.com", description="base URL of the v3 API (tests, EU)"
    )
    sendgrid_sandbox: bool = Field(
        default=False, description="SendGrid validates each send and delivers nothing"
    )
    sendgrid_unsubscribe_groups: dict[str, int] = Field(
        default_factory=dict,
        description='JSON: "product/mail_type" → SendGrid unsubscribe (ASM) group id, '
        'e.g. {"cloudbook/newsletter": 123}',
    )
    test_recipients: str = Field(
        default="",
        description="who may receive `nurture send-test` emails: comma-separated addresses "
        "and @domains, e.g. 'me@acme.example, @acme.example'; empty: nobody",
    )
    # LINE (docs/channels.md): `outbox` writes each push as JSON under outbox_dir/line (the
    # demo, local runs); `line` pushes through the Messaging API with the product's channel.
    line_provider: LineProviderName = "outbox"
    line_api_base: str = Field(
        default="https://api.line.me", description="base URL of the Messaging API (tests)"
    )
    line_channels: dict[str, LineChannel] = Field(
        default_factory=dict,
        description='JSON: product → its LINE channel, e.g. {"cloudbook": {"access_token": '
        '"…", "secret": "…"}}; the webhook of a product without one is refused',
    )
    # Slack for sales (docs/handoff.md#slack): a Slack app's bot token posts the hand-offs
    # of scenarios with `handoff.notify.slack`; its signing secret verifies the buttons.
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_base: str = Field(
        default="https://slack.com/api/", description="base URL of Slack's Web API (tests)"
    )
    step_webhook_secret: SecretStr | None = Field(
        default=None,
        description="signs `channel: webhook` steps' POSTs (X-Nurture-Signature); needed by "
        "any scenario with such a step",
    )
    smtp_host: str | None = None
    smtp_port: int | None = Field(
        default=None, description="default: 465 with smtp_ssl, 587 with smtp_starttls, else 25"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = Field(default=False, description="implicit TLS (SMTPS), usually port 465")

    @field_validator("sendgrid_unsubscribe_groups")
    @classmethod
    def _group_keys(cls, groups: dict[str, int]) -> dict[str, int]:
        mail_types = get_args(MailType)
        for key in groups:
            product, _, mail_type = key.partition("/")
            if not SLUG.match(product) or mail_type not in mail_types:
                raise ValueError(
                    f"unsubscribe group key {key!r} must be 'product/mail_type' with a mail "
                    f"type among {', '.join(mail_types)}, e.g. 'cloudbook/newsletter'"
                )
        return groups

    @field_validator("metrics_address")
    @classmethod
    def _listen_address(cls, address: str | None) -> str | None:
        if address is not None:
            listen_host_port(address)  # a bad one fails at start, not after the worker runs
        return address

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key_id, key in keys.items():
            if not PAYLOAD_KEY_ID.match(key_id):
                raise ValueError(
                    f"payload key id {key_id!r} must be 1-64 letters, digits, '.', '_' or '-'"
                )
            try:
                raw = base64.b64decode(key.get_secret_value(), validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != PAYLOAD_KEY_BYTES:
                raise ValueError(
                    f"payload key {key_id!r} must be base64 of {PAYLOAD_KEY_BYTES} random "
                    "bytes, e.g. the output of python -c 'import base64, os; "
                    "print(base64.b64encode(os.urandom(32)).decode())'"
                )
        return keys

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.payload_key_id is not None and self.payload_key_id not in self.payload_keys:
            known = ", ".join(sorted(self.payload_keys)) or "none"
            raise ValueError(
                f"NURTURE_PAYLOAD_KEY_ID {self.payload_key_id!r} is not among "
                f"NURTURE_PAYLOAD_KEYS (ids: {known}); add the key or fix the id"
            )
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                "mTLS needs both NURTURE_TEMPORAL_TLS_CERT and NURTURE_TEMPORAL_TLS_KEY"
            )
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """TLS is on when asked for, or when anything only TLS carries is configured."""
        return (
            self.temporal_tls
            or self.temporal_tls_ca is not None
            or self.temporal_tls_cert is not None
            or self.temporal_tls_server_name is not None
            or self.temporal_api_key is not None
        )

    @property
    def own_tracking(self) -> bool:
        """Whether emails carry Nurture's own open pixel and click links."""
        if self.tracking == "auto":
            return self.email_provider != "sendgrid"
        return self.tracking == "nurture"

    def refuse_public_default_secret(self) -> None:
        """Raise `InsecureSecret` when the links this process signs reach the public (the
        public URL is not localhost) with the shipped or a short secret: forged links
        would unsubscribe anyone. Called where the API and the worker start."""
        host = urlsplit(self.public_base_url).hostname or ""
        if host in LOCAL_HOSTS:
            return
        if self.secret_key == DEFAULT_SECRET_KEY:
            problem = "is the public default"
        elif len(self.secret_key) < MIN_SECRET_LENGTH:
            problem = f"is shorter than {MIN_SECRET_LENGTH} characters"
        else:
            return
        raise InsecureSecret(
            f"NURTURE_SECRET_KEY {problem}, and unsubscribe links point at "
            f"{self.public_base_url}: anyone could forge them. Set NURTURE_SECRET_KEY to a "
            "long random value, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()


def listen_host_port(address: str) -> tuple[str, int]:
    """(host, port) of a listening address: `0.0.0.0:9464`, `[::]:9464` (IPv6 in brackets,
    returned without them) or `:9464` (every IPv4 interface)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{address!r} is not host:port with a port 1-65535, e.g. 0.0.0.0:9464 or [::]:9464"
        )
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"{address!r}: put an IPv6 host in brackets, e.g. [::]:9464")
    return host.strip("[]") or "0.0.0.0", int(port)
