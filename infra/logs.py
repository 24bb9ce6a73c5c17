"""The one JSON log format of Relais: every service (the workers, `relais serve` and uvicorn's
access and error logs) writes one JSON object per line on stderr.

``configure_json_logging()`` routes the root logger there; ``uvicorn_log_config()`` is the
``log_config`` handed to uvicorn so that its own loggers go through the same formatter.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every ``extra`` field (an
    access line of uvicorn also gets its client, method, path and status as fields)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            out.update(client=client, method=method, path=path, http_version=http_version, status=status)
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_json_logging(level: int | str = logging.INFO) -> None:
    """Route the root logger to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kafka-python logs every failed connection attempt; the Backoff of each loop says it once.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's `log_config`: its error and access loggers as JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


__all__ = ["JsonLogFormatter", "configure_json_logging", "uvicorn_log_config"]
