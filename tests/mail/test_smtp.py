"""The SMTP provider against a real SMTP server (aiosmtpd), through the real send_email activity:
what arrives, AUTH over STARTTLS and implicit TLS, and which refusals are retried."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from nurture.config import Settings
from nurture.mail.providers import PROVIDER_REJECTED, PROVIDER_UNAVAILABLE
from nurture.mail.smtp import SmtpProvider
from nurture.store.engine import Store
from tests.helpers.email import body, japanese_input, left_uncertain, new_lead, run, send_rows
from tests.helpers.scenarios import pinned
from tests.helpers.smtp import Inbox, LocalController

USER, PASSWORD = "nurture", "s3cret pass:word"


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def smtp_server(inbox: Inbox) -> Iterator[LocalController]:
    """Plain SMTP, no AUTH: Mailpit in docker-compose."""
    controller = LocalController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    yield controller
    controller.stop()


@dataclass
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts the certificate, and only it


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nurture-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return Certificate(server, client)


def activities(settings: Settings, store: Store, provider: SmtpProvider) -> EmailActivities:
    pinned(store)
    return EmailActivities(store, settings, provider)


def test_message_arrives_with_its_headers_and_both_parts(
    settings: Settings, store: Store, inbox: Inbox, smtp_server: LocalController
) -> None:
    emails = activities(settings, store, SmtpProvider("127.0.0.1", smtp_server.port))
    lead_id = new_lead(store)
    result = run(emails, japanese_input(lead_id))

    [got] = inbox.received
    assert (got.mail_from, got.rcpt_tos) == ("hello@acme.example", ["aiko@example.com"])
    message = got.message
    assert message["From"].addresses[0].display_name == "アクメ分析 営業部"
    assert message["To"].addresses[0].display_name == "愛子 佐藤"
    assert message["To"].addresses[0].addr_spec == "aiko@example.com"
    assert message["Subject"] == "佐藤様、ようこそ"
    header_block = got.raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()  # RFC 2047 encoded words, not raw UTF-8
    assert b"=?utf-8?" in header_block
    assert message["Reply-To"] == "team@acme.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://localhost:8000/v1/unsubscribe/")
    assert message["X-Nurture-Send-Id"] == result.send_id
    assert message["X-Nurture-Lead-Id"] == lead_id
    assert (message["X-Nurture-Product"], message["X-Nurture-Mail-Type"]) == ("acme", "step")
    nurture_headers = " ".join(v for k, v in message.items() if k.startswith("X-Nurture"))
    assert "aiko" not in nurture_headers.lower() and "佐藤" not in nurture_headers
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert "1 Example Street, Springfield" in part and "/v1/unsubscribe/" in part

    [row] = send_rows(store)
    assert (row.status, row.provider) == ("sent", "smtp")
    assert row.provider_message_id == message["Message-ID"] == result.provider_message_id
    assert run(emails, japanese_input(lead_id)).status == "sent"
    assert len(inbox.received) == 1  # a repeat finds it sent


def test_auth_over_starttls(
    settings: Settings, store: Store, inbox: Inbox, certificate: Certificate
) -> None:
    controller = LocalController(
        inbox,
        hostname="127.0.0.1",
        port=0,
        tls_context=certificate.server,
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    controller.start()
    try:
        provider = SmtpProvider(
            "127.0.0.1",
            controller.port,
            username=USER,
            password=PASSWORD,
            starttls=True,
            tls_context=certificate.client,
        )
        assert run(activities(settings, store, provider), japanese_input(new_lead(store)))
        [got] = inbox.received
        assert got.tls and got.authenticated
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_over_implicit_tls_and_a_wrong_password(
    settings: Settings, store: Store, inbox: Inbox, certificate: Certificate
) -> None:
    # aiosmtpd counts only STARTTLS as TLS for AUTH: the whole connection is TLS here.
    controller = LocalController(
        inbox,
        hostname="127.0.0.1",
        port=0,
        ssl_context=certificate.server,
        authenticator=check_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        options: dict[str, Any] = {"implicit_tls": True, "tls_context": certificate.client}
        wrong = SmtpProvider("127.0.0.1", controller.port, username=USER, password="no", **options)
        with pytest.raises(ApplicationError) as refused:
            run(activities(settings, store, wrong), japanese_input(new_lead(store)))
        assert refused.value.type == PROVIDER_REJECTED and "535" in refused.value.message
        assert send_rows(store)[0].status == "failed"

        right = SmtpProvider(
            "127.0.0.1", controller.port, username=USER, password=PASSWORD, **options
        )
        other = japanese_input(send_rows(store)[0].lead_id).model_copy(update={"send_key": "k2"})
        assert run(activities(settings, store, right), other).status == "sent"
        [got] = inbox.received
        assert got.tls and got.authenticated
    finally:
        controller.stop()


def test_untrusted_certificate_fails_the_send_naming_the_cause(
    settings: Settings, store: Store, inbox: Inbox, certificate: Certificate
) -> None:
    controller = LocalController(
        inbox, hostname="127.0.0.1", port=0, ssl_context=certificate.server
    )
    controller.start()
    try:
        provider = SmtpProvider("127.0.0.1", controller.port, implicit_tls=True)
        with pytest.raises(ApplicationError) as untrusted:
            run(activities(settings, store, provider), japanese_input(new_lead(store)))
        assert untrusted.value.non_retryable and "not trusted" in untrusted.value.message
        assert inbox.received == []
    finally:
        controller.stop()


def test_permanent_refusal_fails_with_the_servers_message_and_is_not_retried(
    settings: Settings, store: Store, inbox: Inbox, smtp_server: LocalController
) -> None:
    inbox.rcpt_reply = "550 5.1.1 <aiko@example.com>: Recipient address rejected: unknown user"
    emails = activities(settings, store, SmtpProvider("127.0.0.1", smtp_server.port))
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError) as refused:
        run(emails, japanese_input(lead_id))
    assert refused.value.type == PROVIDER_REJECTED and refused.value.non_retryable
    [row] = send_rows(store)
    assert row.status == "failed"
    assert row.detail == (
        "SMTP server refused the message (recipient): 550 5.1.1 <<recipient>>: "
        "Recipient address rejected: unknown user"
    )
    with pytest.raises(ApplicationError):  # a later attempt does not try the server again
        run(emails, japanese_input(lead_id))
    assert inbox.recipients_tried == 1


def test_transient_refusal_is_retried_and_delivers_once(
    settings: Settings, store: Store, inbox: Inbox, smtp_server: LocalController
) -> None:
    inbox.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    emails = activities(settings, store, SmtpProvider("127.0.0.1", smtp_server.port))
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError) as deferred:
        run(emails, japanese_input(lead_id))
    assert deferred.value.type == PROVIDER_UNAVAILABLE and not deferred.value.non_retryable
    assert "451 4.3.0" in deferred.value.message
    assert [(r.status, r.claimed_at) for r in send_rows(store)] == [("queued", None)]

    inbox.data_reply = None
    assert run(emails, japanese_input(lead_id)).status == "sent"
    assert len(inbox.received) == 1


def test_server_not_reached_is_retried(settings: Settings, store: Store) -> None:
    with socket.socket() as placeholder:  # a port nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    emails = activities(settings, store, SmtpProvider("127.0.0.1", port))
    with pytest.raises(ApplicationError) as unreached:
        run(emails, japanese_input(new_lead(store)))
    assert unreached.value.type == PROVIDER_UNAVAILABLE and not unreached.value.non_retryable
    assert send_rows(store)[0].status == "queued"


def test_connection_lost_during_data_is_uncertain_and_not_retried(
    settings: Settings, store: Store, inbox: Inbox, smtp_server: LocalController
) -> None:
    inbox.drop_in_data = True
    emails = activities(settings, store, SmtpProvider("127.0.0.1", smtp_server.port))
    left_uncertain(emails, store, japanese_input(new_lead(store)))
    assert len(inbox.received) == 1  # the server has it once; no second attempt


@pytest.mark.parametrize("smtputf8", [False, True], ids=["plain", "smtputf8"])
def test_an_address_that_is_not_ascii_is_sent_with_smtputf8_or_refused_for_good(
    settings: Settings, store: Store, inbox: Inbox, smtputf8: bool
) -> None:
    """smtplib cannot encode such an address without SMTPUTF8: before, the send failed with
    UnicodeEncodeError, counted as "nothing went out" and was retried forever."""
    server = LocalController(inbox, hostname="127.0.0.1", port=0, enable_SMTPUTF8=smtputf8)
    server.start()
    try:
        emails = activities(settings, store, SmtpProvider("127.0.0.1", server.port))
        lead_id = new_lead(store, email="愛子@example.jp")
        if smtputf8:
            assert run(emails, japanese_input(lead_id)).status == "sent"
            assert inbox.received[0].rcpt_tos == ["愛子@example.jp"]
            return
        with pytest.raises(ApplicationError) as refused:
            run(emails, japanese_input(lead_id))
    finally:
        server.stop()
    assert refused.value.non_retryable and "SMTPUTF8" in refused.value.message
    [row] = send_rows(store)
    assert row.status == "failed" and "SMTPUTF8" in (row.detail or "")
