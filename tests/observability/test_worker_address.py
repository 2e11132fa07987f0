"""Where the worker serves /metrics, /healthz and /readyz: checked when the settings load,
so a typo fails the start instead of the worker's first minute."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nurture.config import Settings, listen_host_port


def test_listening_addresses_in_each_spelling() -> None:
    assert listen_host_port("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert listen_host_port("[::]:9464") == ("::", 9464)  # uvicorn wants no brackets
    assert listen_host_port(":9464") == ("0.0.0.0", 9464)
    assert listen_host_port("localhost:80") == ("localhost", 80)


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("9464", "not host:port"),
        ("0.0.0.0:metrics", "not host:port"),
        ("0.0.0.0:70000", "a port 1-65535"),
        (":::9464", "IPv6 host in brackets"),
        ("[::1:9464", "IPv6 host in brackets"),
    ],
)
def test_a_bad_address_is_refused_with_the_fix(address: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as refused:
        Settings(metrics_address=address)
    assert "e.g." in str(refused.value)
