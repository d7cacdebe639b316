"""The root of every error Stadtpuls raises on purpose, and the exit code the CLI gives each kind.

Each package wraps what its libraries raise into a subclass of :class:`StadtpulsError` at its boundary, so the
CLI shows a clear message naming what is wrong instead of a traceback. The exit codes follow ``sysexits.h``.
"""

from __future__ import annotations

EX_ERROR = 1  # anything else that went wrong on purpose
EX_DATAERR = 65  # input data (a file, a record) is wrong
EX_UNAVAILABLE = 69  # a service Stadtpuls needs (broker, InfluxDB, database) cannot be reached
EX_CONFIG = 78  # a setting or configuration file is wrong


class StadtpulsError(Exception):
    """Base of the errors Stadtpuls raises on purpose; the message is meant for the user."""

    exit_code = EX_ERROR


class ConfigError(StadtpulsError):
    """A setting, the catalog or another configuration file is invalid. The text names which and why."""

    exit_code = EX_CONFIG


class DataError(StadtpulsError):
    """Input data (a record, a CSV file, a payload) is invalid. The text names where."""

    exit_code = EX_DATAERR


class UnavailableError(StadtpulsError):
    """A service Stadtpuls needs is unreachable or refuses us. The text names which and where."""

    exit_code = EX_UNAVAILABLE
