"""InfluxDB line protocol and InfluxQL quoting: the one place where names and values are escaped.

Everything that reaches ``/write`` or ``/query`` passes through these functions, so a hostile site name such
as ``a,b=c d"\\`` can neither break a line nor inject a query.
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


def format_float(value: float) -> str:
    """A float field value; NaN and infinities have no line-protocol form.

    Raises:
        LineProtocolError: the value is not finite.
    """
    if not math.isfinite(value):
        raise LineProtocolError(f"value {value!r} is not a finite number")
    return repr(float(value))


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, float], timestamp_ns: int) -> str:
    """One line of line protocol with float fields and a nanosecond timestamp."""
    if not fields:
        raise LineProtocolError(f"point {measurement!r} has no fields")
    field_text = ",".join(f"{escape_tag(k)}={format_float(v)}" for k, v in fields.items())
    return f"{escape_measurement(measurement)}{tag_set(tags)} {field_text} {int(timestamp_ns)}"


def quote_identifier(name: str) -> str:
    """An InfluxQL identifier in double quotes (measurement, tag key, field key, database)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes (tag values in WHERE clauses)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
