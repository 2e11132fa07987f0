"""JSON log lines: one object per line, with the journey id from Temporal's loggers."""

from __future__ import annotations

import json
import logging
import sys

from nurture.observability.logs import JsonFormatter, uvicorn_log_config


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("nurture.test", logging.WARNING, __file__, 1, message, (), None)
    made.__dict__.update(extra)
    return made


def test_a_line_is_json_with_the_journey_id() -> None:
    activity = {"workflow_id": "journey:acme:ld_1", "activity_type": "send_email", "attempt": 2,
                "task_queue": "nurture"}  # fmt: skip
    line = json.loads(JsonFormatter().format(record("sent %s", temporal_activity=activity)))
    assert line["level"] == "warning" and line["logger"] == "nurture.test"
    assert line["message"] == "sent %s"
    assert line["journey_id"] == "journey:acme:ld_1" and line["activity_type"] == "send_email"
    assert line["attempt"] == 2 and "task_queue" not in line
    assert line["time"].endswith("+00:00")


def test_errors_keep_their_trace_in_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    text = JsonFormatter().format(failed)
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["error"]


def test_uvicorn_logs_the_same_way() -> None:
    config = uvicorn_log_config("json")
    assert isinstance(config, dict)
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["out"]
    assert config["formatters"]["json"]["()"] is JsonFormatter
