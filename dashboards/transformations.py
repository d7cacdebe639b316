r"""Grafana's panel transformations that the boards use, done here as Grafana's frontend does them.

No Grafana runs where the boards are tested or their pictures drawn, so this module repeats, on plain
columns, what Grafana does to a panel's query result before it draws it: enough to check that a board's
transformations turn the real query result into what the panel means to show (the hour × weekday matrices),
and to draw the picture from the same result. Only the transformations and options the boards use are known;
any other is an error, never silently skipped. What each one does, as in Grafana 12:

* ``formatTime``: the time column becomes text in a moment.js format, in the viewer's time zone;
* ``sortBy``: rows in ascending order of one column (text compares as text);
* ``extractFields`` with the ``kvp`` format: ``a=b c=d`` text becomes columns ``a`` and ``c``, added after the
  existing ones (``replace: false``);
* ``groupBy``: one row per distinct combination of the ``groupby`` columns, in order of first appearance, and
  for each ``aggregate`` column one column ``<name> (<calculation>)``;
* ``groupingToMatrix``: the values of one column become columns, those of another rows, the first column named
  ``<row>\<column>``, empty cells ``""``;
* ``organize`` with ``excludeByName``: those columns dropped; ``merge`` of a single frame: nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

Frame = dict[str, list[Any]]  # column name → values, in column order; every column as long as the frame


class TransformError(ValueError):
    """A transformation or option this module does not do, or a frame it cannot apply to."""


def table_frame(series: Sequence[Mapping[str, Any]]) -> Frame:
    """The frame Grafana's InfluxDB data source makes of a table-format InfluxQL result (epoch ms).

    Columns: ``Time``, the group-by tags, then the selected fields; the rows of every series one after another.
    """
    tags = [key for s in series for key in (s.get("tags") or {}) if key]
    tag_names = list(dict.fromkeys(tags))
    fields = list(dict.fromkeys(name for s in series for name in s["columns"][1:]))
    frame: Frame = {"Time": [], **{t: [] for t in tag_names}, **{f: [] for f in fields}}
    for s in series:
        columns = s["columns"]
        for row in s.get("values") or []:
            values = dict(zip(columns, row, strict=True))
            frame["Time"].append(values["time"])
            for tag in tag_names:
                frame[tag].append((s.get("tags") or {}).get(tag, ""))
            for name in fields:
                frame[name].append(values.get(name))
    return frame


def apply(transformations: Sequence[Mapping[str, Any]], frames: list[Frame], *, zone: tzinfo) -> list[Frame]:
    """``frames`` after a panel's ``transformations``, in order; ``zone`` is the viewer's time zone.

    Raises:
        TransformError: a transformation or option not done here, or one that does not fit the frames.
    """
    for step in transformations:
        if step.get("disabled"):
            continue
        name = step["id"]
        options = step.get("options") or {}
        if name == "merge":
            if len(frames) != 1:
                raise TransformError("merge of several frames is not done here")
            continue
        if name == "groupingToMatrix":
            frames = [grouping_to_matrix(frames[0], options)] if len(frames) == 1 else frames
            continue
        one = _STEPS.get(name)
        if one is None:
            raise TransformError(f"transformation {name!r} is not done here")
        frames = [one(frame, options, zone) for frame in frames]
    return frames


# --- formatTime ---------------------------------------------------------------------------------------------

_MOMENT = re.compile(r"\[[^\]]*\]|dddd|ddd|YYYY|MM|DD|HH|mm|E|[A-Za-z]+|[^A-Za-z\[]+")
_TOKENS: dict[str, Callable[[datetime], str]] = {
    "YYYY": lambda t: f"{t.year:04d}",
    "MM": lambda t: f"{t.month:02d}",
    "DD": lambda t: f"{t.day:02d}",
    "HH": lambda t: f"{t.hour:02d}",
    "mm": lambda t: f"{t.minute:02d}",
    "E": lambda t: str(t.isoweekday()),  # ISO weekday, 1 = Monday
    "ddd": lambda t: t.strftime("%a"),  # English short weekday name (moment's default locale)
    "dddd": lambda t: t.strftime("%A"),
}


def moment_format(moment: datetime, pattern: str) -> str:
    """``moment`` as moment.js formats it with ``pattern`` (the tokens the boards use; ``[...]`` is literal).

    Raises:
        TransformError: a letter token not done here.
    """
    out = []
    for token in _MOMENT.findall(pattern):
        if token.startswith("["):
            out.append(token[1:-1])
        elif token in _TOKENS:
            out.append(_TOKENS[token](moment))
        elif token[0].isalpha():
            raise TransformError(f"moment.js token {token!r} is not done here")
        else:
            out.append(token)
    return "".join(out)


def format_time(frame: Frame, options: Mapping[str, Any], zone: tzinfo) -> Frame:
    """Grafana's ``formatTime``: the time column as text (epoch ms in, viewer's zone when ``useTimezone``)."""
    name = options["timeField"]
    if name not in frame:
        return frame
    if not options.get("useTimezone", True):
        raise TransformError("formatTime without the time zone (the browser's) is not done here")
    pattern = options["outputFormat"]
    texts = [moment_format(datetime.fromtimestamp(ms / 1000, zone), pattern) for ms in frame[name]]
    return {key: (texts if key == name else values) for key, values in frame.items()}


# --- sortBy, organize ------------------------------------------------------------------------------------------

def sort_by(frame: Frame, options: Mapping[str, Any], _zone: tzinfo) -> Frame:
    """Grafana's ``sortBy`` on its first sort field, ascending unless ``desc``."""
    sort = options["sort"][0]
    field = sort["field"]
    if field not in frame:
        return frame
    order = sorted(range(len(frame[field])), key=lambda i: frame[field][i], reverse=bool(sort.get("desc")))
    return {key: [values[i] for i in order] for key, values in frame.items()}


def organize(frame: Frame, options: Mapping[str, Any], _zone: tzinfo) -> Frame:
    """Grafana's ``organize``, hiding the columns of ``excludeByName`` (renaming and order are not done here)."""
    if set(options) - {"excludeByName"}:
        raise TransformError(f"organize options {sorted(set(options) - {'excludeByName'})} are not done here")
    hidden = {name for name, excluded in options.get("excludeByName", {}).items() if excluded}
    return {key: values for key, values in frame.items() if key not in hidden}


# --- extractFields (key=value pairs) ------------------------------------------------------------------------------

_PAIR = re.compile(r"([^\s=:,;&{}]+)\s*[=:]\s*([^\s,;&{}]*)")


def parse_pairs(text: str) -> dict[str, str]:
    """``day=1-Mon hour=08`` → ``{"day": "1-Mon", "hour": "08"}``: Grafana's key+value parser for unquoted
    pairs separated by white space, ``,``, ``;`` or ``&``.

    Raises:
        TransformError: quotes or escapes, which Grafana's parser treats specially and this one does not.
    """
    if any(c in text for c in "\"'\\"):
        raise TransformError(f"quoted or escaped key=value text is not done here: {text!r}")
    return dict(_PAIR.findall(text))


def extract_fields(frame: Frame, options: Mapping[str, Any], _zone: tzinfo) -> Frame:
    """Grafana's ``extractFields`` with the ``kvp`` format, new columns after the existing ones."""
    if options.get("format") != "kvp" or options.get("replace") or options.get("keepTime"):
        raise TransformError(f"extractFields with {dict(options)} is not done here")
    source = options["source"]
    if source not in frame:
        return frame
    parsed = [parse_pairs(v) if isinstance(v, str) else {} for v in frame[source]]
    names = list(dict.fromkeys(key for pairs in parsed for key in pairs))
    return {**frame, **{name: [pairs.get(name) for pairs in parsed] for name in names}}


# --- groupBy ---------------------------------------------------------------------------------------------------

_CALCULATIONS: dict[str, Callable[[list[float]], float | None]] = {
    "mean": lambda v: sum(v) / len(v) if v else None,
    "sum": lambda v: sum(v),
    "max": lambda v: max(v) if v else None,
    "min": lambda v: min(v) if v else None,
    "count": lambda v: float(len(v)),
    "lastNotNull": lambda v: v[-1] if v else None,
}


def group_by(frame: Frame, options: Mapping[str, Any], _zone: tzinfo) -> Frame:
    """Grafana's ``groupBy``: groups in order of first appearance; nulls are left out of the calculations."""
    fields = options["fields"]
    keys = [name for name in frame if fields.get(name, {}).get("operation") == "groupby"]
    if not keys:
        return frame
    groups: dict[tuple[Any, ...], list[int]] = {}
    for row in range(len(frame[keys[0]])):
        groups.setdefault(tuple(frame[k][row] for k in keys), []).append(row)
    out: Frame = {k: [group[i] for group in groups] for i, k in enumerate(keys)}
    for name in frame:
        spec = fields.get(name, {})
        if spec.get("operation") != "aggregate":
            continue
        for calculation in spec.get("aggregations", []):
            if calculation not in _CALCULATIONS:
                raise TransformError(f"groupBy calculation {calculation!r} is not done here")
            reduce = _CALCULATIONS[calculation]
            out[f"{name} ({calculation})"] = [
                reduce([frame[name][r] for r in rows if frame[name][r] is not None]) for rows in groups.values()]
    return out


# --- groupingToMatrix -------------------------------------------------------------------------------------------

def grouping_to_matrix(frame: Frame, options: Mapping[str, Any]) -> Frame:
    """Grafana's ``groupingToMatrix``: rows and columns in order of first appearance, empty cells ``""``."""
    column, row, value = options["columnField"], options["rowField"], options["valueField"]
    if not {column, row, value} <= set(frame):
        return frame
    cells = {(c, r): v for c, r, v in zip(frame[column], frame[row], frame[value], strict=True)}
    columns = list(dict.fromkeys(frame[column]))
    rows = list(dict.fromkeys(frame[row]))
    out: Frame = {f"{row}\\{column}": rows}
    for name in columns:
        out[str(name)] = [cells.get((name, r), "") for r in rows]
    return out


_STEPS: dict[str, Callable[[Frame, Mapping[str, Any], tzinfo], Frame]] = {
    "formatTime": format_time,
    "sortBy": sort_by,
    "extractFields": extract_fields,
    "groupBy": group_by,
    "organize": organize,
}
