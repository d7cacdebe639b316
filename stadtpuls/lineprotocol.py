r"""InfluxDB line protocol and InfluxQL quoting: the one place where names and values are escaped.

Everything that reaches ``/write`` or ``/query`` passes through these functions, so a hostile site name such
as ``a,b=c d"\`` can neither break a line nor inject a query. :func:`line` builds any one point;
:class:`LineBuilder` builds the many points of the ingest hot path with the same escaping, escaping each
distinct name once and reusing it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class LineProtocolError(ValueError):
    """A value cannot be written as line protocol (NaN, infinity, empty name)."""


def check_name(value: str) -> str:
    """Refuse what line protocol cannot carry: control characters, and a trailing backslash (it would
    escape the separator after it). Returns the value unchanged.

    Raises:
        LineProtocolError: the value contains such a character.
    """
    if _CONTROL.search(value):
        raise LineProtocolError(f"{value!r} contains a control character")
    if value.endswith("\\"):
        raise LineProtocolError(f"{value!r} ends with a backslash")
    return value


def escape_measurement(name: str) -> str:
    """Escape a measurement name."""
    if not name:
        raise LineProtocolError("measurement name is empty")
    return check_name(name).translate(_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    if not text:
        raise LineProtocolError("tag keys and values must not be empty")
    return check_name(text).translate(_TAG)


def tag_set(tags: Mapping[str, str]) -> str:
    """``,k=v,k2=v2`` sorted by key (InfluxDB's preferred order); empty values are left out."""
    return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def format_float(value: float, key: str | None = None) -> str:
    """A float field value; NaN and infinities have no line-protocol form. ``key`` names the field in the error.

    Raises:
        LineProtocolError: the value is not finite.
    """
    if not math.isfinite(value):
        where = f"field {key!r}: " if key is not None else ""
        raise LineProtocolError(f"{where}value {value!r} is not a finite number")
    return repr(float(value))


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, float], timestamp_ns: int) -> str:
    """One line of line protocol with float fields and a nanosecond timestamp."""
    if not fields:
        raise LineProtocolError(f"point {measurement!r} has no fields")
    field_text = ",".join(f"{escape_tag(k)}={format_float(v)}" for k, v in fields.items())
    return f"{escape_measurement(measurement)}{tag_set(tags)} {field_text} {int(timestamp_ns)}"


class LineBuilder:
    """Fast lines for points whose measurement names and tag values repeat (the ingest hot path).

    The device tags are escaped once per device by the caller with :func:`tag_set`; each distinct
    measurement name, and measurement with the extra tag ``tag_key`` (e.g. a channel), is escaped once here
    and remembered (at most ``max_names`` of them, then the memory starts afresh).

    Args:
        tag_key: the tag that may differ from point to point of one device (empty values are left out).
        max_names: how many escaped series prefixes to remember.
    """

    __slots__ = ("_fields", "_max", "_prefixes", "_tag_key")

    def __init__(self, tag_key: str, *, max_names: int = 4096) -> None:
        self._tag_key = escape_tag(tag_key)
        self._prefixes: dict[tuple[str, str], str] = {}
        self._fields: dict[str, str] = {}
        self._max = max_names

    def prefix(self, measurement: str, tag_value: str = "") -> str:
        """``measurement[,tag_key=tag_value]`` escaped.

        Raises:
            LineProtocolError: the name or the tag value cannot be carried by line protocol.
        """
        key = (measurement, tag_value)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = escape_measurement(measurement)
            if tag_value:
                prefix += f",{self._tag_key}={escape_tag(tag_value)}"
            if len(self._prefixes) >= self._max:
                self._prefixes.clear()
            self._prefixes[key] = prefix
        return prefix

    def _field_key(self, key: str) -> str:
        escaped = self._fields.get(key)
        if escaped is None:
            escaped = escape_tag(key)
            if len(self._fields) >= self._max:
                self._fields.clear()
            self._fields[key] = escaped
        return escaped

    def value_line(self, measurement: str, tags: str, value: float, timestamp_ns: int, tag_value: str = "") -> str:
        """One point with the single float field ``value``; ``tags`` is a :func:`tag_set` (tags sort after
        ``tag_key`` or InfluxDB sorts them itself).

        Raises:
            LineProtocolError: a name cannot be carried, or the value is not finite.
        """
        prefix = self._prefixes.get((measurement, tag_value)) or self.prefix(measurement, tag_value)
        if not math.isfinite(value):
            raise LineProtocolError(f"value {value!r} is not a finite number")
        return f"{prefix}{tags} value={float(value)!r} {timestamp_ns}"

    def fields_line(
        self, measurement: str, tags: str, fields: tuple[tuple[str, float | None], ...], timestamp_ns: int
    ) -> str:
        """One point with several float fields (``None`` values are left out; at least one must remain).

        Raises:
            LineProtocolError: a name cannot be carried, a value is not finite, or no field remains.
        """
        keys = self._fields
        parts = []
        for key, value in fields:
            if value is not None:
                if not math.isfinite(value):
                    raise LineProtocolError(f"field {key!r}: value {value!r} is not a finite number")
                parts.append(f"{keys.get(key) or self._field_key(key)}={float(value)!r}")
        if not parts:
            raise LineProtocolError(f"point {measurement!r} has no fields")
        prefix = self._prefixes.get((measurement, "")) or self.prefix(measurement)
        return f"{prefix}{tags} {','.join(parts)} {timestamp_ns}"


def string_field(value: str) -> str:
    """A line-protocol string field value: quoted, with backslashes and quotes escaped, line breaks as spaces."""
    cleaned = value.replace("\r", " ").replace("\n", " ")
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_identifier(name: str) -> str:
    """An InfluxQL identifier in double quotes (measurement, tag key, field key, database)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes (tag values in WHERE clauses)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
