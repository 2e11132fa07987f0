"""What each process sends Temporal from the settings: plain gRPC locally; TLS, mTLS or a
Temporal Cloud API key elsewhere (the TLS paths run for real in tests/doctor/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from nurture.config import Settings
from nurture.temporal.connection import TemporalSettingsProblem, connect_options
from tests.helpers.tls import make_pki


def test_locally_it_is_plain_grpc() -> None:
    options = connect_options(Settings())
    assert options["tls"] is False and options["api_key"] is None
    assert options["namespace"] == "default"


def test_an_api_key_implies_tls_with_the_systems_roots() -> None:
    options = connect_options(
        Settings(temporal_api_key="cloud-key", temporal_namespace="prod.a1b2c")
    )
    assert options["tls"] is True and options["api_key"] == "cloud-key"
    assert options["namespace"] == "prod.a1b2c"


def test_mtls_reads_the_pem_files(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    settings = Settings(
        temporal_tls_ca=pki.ca,
        temporal_tls_cert=pki.client_cert,
        temporal_tls_key=pki.client_key,
        temporal_tls_server_name="temporal.internal",
    )
    tls = connect_options(settings)["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == pki.ca.read_bytes()
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()
    assert tls.domain == "temporal.internal"


def test_half_an_mtls_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="needs both NURTURE_TEMPORAL_TLS_CERT and"):
        Settings(temporal_tls_cert=Path("client.pem"))


def test_an_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(TemporalSettingsProblem, match=r"NURTURE_TEMPORAL_TLS_CA names .*gone\.pem"):
        connect_options(Settings(temporal_tls_ca=tmp_path / "gone.pem"))
