"""Log lines for people (text) or for collectors (one JSON object per line), the same
everywhere: API, worker, CLI. Journey and workflow ids, which hold no personal data, come
along from the Temporal SDK's activity and workflow loggers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("temporal_activity", "temporal_workflow"):
            context = getattr(record, key, None)
            if isinstance(context, dict):
                line |= _temporal_ids(context)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _temporal_ids(context: dict[str, Any]) -> dict[str, Any]:
    wanted = ("workflow_id", "run_id", "workflow_type", "activity_type", "attempt")
    found = {key: context[key] for key in wanted if key in context}
    if "workflow_id" in found:
        found["journey_id"] = found["workflow_id"]
    return found


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | str | None:
    """uvicorn's logging: its own default for text, ours (access lines too) for JSON. An
    access line names the path, which holds ids only: leads' ids, never their addresses."""
    if log_format != "json":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["out"], "level": "INFO"},
        "loggers": {
            name: {"handlers": ["out"], "level": "INFO", "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
