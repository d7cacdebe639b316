"""How every Stadtpuls command logs: plain lines for people, or JSON lines for log collectors.

``STADTPULS_LOG_FORMAT=json`` writes one JSON object per line (``time`` in UTC, ISO 8601; ``level``; ``logger``;
``message``; ``exc_info`` with the traceback, when there is one; and whatever ``extra`` a call passes), which Loki,
Elasticsearch, journald's forwarders and the Docker log drivers take as they are. The objects are made by
python-json-logger, a small, long-maintained formatter for the standard library's logging, so every library's
log records come out the same way without a logging framework of our own.
"""

from __future__ import annotations

import logging

TEXT_FORMAT = "%(asctime)s %(levelname)s {tag}%(name)s: %(message)s"
QUIET_LOGGERS = ("httpx", "gmqtt", "alembic")  # chatty at INFO: their warnings and errors still show


def log_formatter(log_format: str, *, tag: str = "") -> logging.Formatter:
    """The formatter of ``log_format`` (``text`` or ``json``); ``tag`` names the process (an ingest worker)."""
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter  # loads only for JSON logs (~40 ms at every start)

        static = {"process_name": tag} if tag else None
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            static_fields=static,
        )
    return logging.Formatter(TEXT_FORMAT.format(tag=f"{tag} " if tag else ""))


def configure_logging(level: int, *, log_format: str = "text", tag: str = "") -> None:
    """Send log records of ``level`` and above to standard error in ``log_format``.

    Like :func:`logging.basicConfig`, nothing changes when the root logger has handlers already (a test runner's).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(log_format, tag=tag))
    logging.basicConfig(level=level, handlers=[handler])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
