"""How every process reaches Temporal: the connection (TLS, mTLS, API key), the data
converter with its optional payload encryption, and the time-skipping test server.
"""

from nurture.temporal.connection import TemporalSettingsProblem, connect, data_converter
from nurture.temporal.test_server import time_skipping_server

__all__ = ["TemporalSettingsProblem", "connect", "data_converter", "time_skipping_server"]
