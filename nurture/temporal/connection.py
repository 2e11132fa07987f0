"""Connecting to Temporal the one way every process does: the same data converter, the same
TLS, mTLS or API key settings, whether the frontend is the local dev server, a cluster of
one's own or Temporal Cloud (docs/production.md#connecting-to-temporal)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from nurture.config import Settings
from nurture.temporal.codec import EncryptionCodec


class TemporalSettingsProblem(ValueError):
    """A connection setting points at something unusable (a missing or unreadable file)."""


def payload_codec(settings: Settings) -> EncryptionCodec:
    """The codec of these settings' payload keys (sealing with the active one, if any)."""
    keys = {key_id: key.get_secret_value() for key_id, key in settings.payload_keys.items()}
    return EncryptionCodec.from_settings(keys, settings.payload_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic-aware payloads, encrypted when a payload key is active, and opened whenever
    a payload key is known (encryption turned off still reads what it sealed)."""
    if not settings.payload_keys:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(settings))


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The frontend's TLS: False (plain, the dev server), True (system roots), or a config
    carrying the CA, the client certificate and the name to verify."""
    if not settings.temporal_uses_tls:
        return False
    ca, cert, key = (
        settings.temporal_tls_ca,
        settings.temporal_tls_cert,
        settings.temporal_tls_key,
    )
    if ca is None and cert is None and settings.temporal_tls_server_name is None:
        return True
    return TLSConfig(
        server_root_ca_cert=_read(ca, "NURTURE_TEMPORAL_TLS_CA"),
        client_cert=_read(cert, "NURTURE_TEMPORAL_TLS_CERT"),
        client_private_key=_read(key, "NURTURE_TEMPORAL_TLS_KEY"),
        domain=settings.temporal_tls_server_name,
    )


def _read(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise TemporalSettingsProblem(
            f"{setting} names {path}, which cannot be read ({err.strerror}): give the path "
            "of a PEM file this process may read"
        ) from None


def connect_options(settings: Settings) -> dict[str, Any]:
    """Everything `Client.connect` needs besides the address, from the settings."""
    api_key = settings.temporal_api_key
    return {
        "namespace": settings.temporal_namespace,
        "data_converter": data_converter(settings),
        "tls": tls_config(settings),
        "api_key": api_key.get_secret_value() if api_key else None,
    }


async def connect(
    settings: Settings,
    *,
    interceptors: list[Interceptor] | None = None,
    runtime: Runtime | None = None,
) -> Client:
    return await Client.connect(
        settings.temporal_address,
        interceptors=interceptors or [],
        runtime=runtime,
        **connect_options(settings),
    )
