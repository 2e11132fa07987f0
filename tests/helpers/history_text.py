"""A journey history as text to search for personal data, payloads decoded."""

from __future__ import annotations

import base64
import json

from temporalio.client import WorkflowHistory


def decoded_history(history: WorkflowHistory) -> str:
    """The history's JSON with every payload's base64 `data` decoded next to it, so a check
    for personal data reads what the payloads say."""
    raw = history.to_json()
    decoded: list[str] = [raw]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    decoded.append(base64.b64decode(value).decode("utf-8", "replace"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(raw))
    return "\n".join(decoded)
