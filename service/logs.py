"""JSON logs with a correlation id on every line: the request id in the web app, the job id in workers.

Log lines carry ids, states and counts only: never a token, secret, name, e-mail or join URL.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config

#: The id of the request or job being handled by this thread or task ("-" outside of one).
correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")

_FIELDS = "%(levelname)s %(name)s %(message)s %(process)d"
_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": _FIELDS,
    "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
    "timestamp": "time",
}


class CorrelationFilter(logging.Filter):
    """Stamps each record with the current `correlation_id` as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = correlation_id.get()
        return True


def _dict_config(level: str, loggers: dict | None = None) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": CorrelationFilter}},
        "formatters": {"json": {**_FORMATTER, "fmt": _FIELDS + " %(request_id)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["correlation"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": loggers or {},
    }


_configured = False


def configure(level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object per line (once per process)."""
    global _configured
    if not _configured:
        logging.config.dictConfig(_dict_config(level))
        _configured = True


def gunicorn_logconfig(level: str = "INFO") -> dict:
    """gunicorn's `logconfig_dict`: its own error log in the same JSON shape."""
    loggers = {
        "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
        # No access log: the app logs each request itself, by route, without the query string (an
        # OAuth callback's query carries the authorization code and state, which must never be logged).
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    }
    return _dict_config(level, loggers)


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is only needed where it serves
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger without its access log: with a log config set, gunicorn builds the access
    line's fields for every request even when nothing is written (the app logs each request itself)."""

    def access(self, resp, req, environ, request_time) -> None:  # noqa: D102
        return None
