"""YAML files checked by pydantic models, with errors that name the file, the path inside it and the field.

The catalog, the simulator's towns and its fault specs are all YAML read the same way: parse, validate against a
pydantic model, and on failure raise the caller's error class with one line per problem, e.g.
``town.yaml: sites[3].lat: Input should be less than or equal to 90``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")
LABELS = ("id", "name")  # keys that name a list item in a message, first found
_PREFIXES = ("Value error, ", "Assertion failed, ")


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """The parsed document of ``path``.

    Raises:
        error: the file cannot be read or is not valid YAML (the message names the file).
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc


def validate(
    adapter: TypeAdapter[T], document: Any, *, path: Path, error: type[Exception], labels: Sequence[str] = LABELS
) -> T:
    """``document`` validated by ``adapter``; ``labels`` are the keys that name a list item in messages.

    Raises:
        error: one line per problem, each ``<file>: <path inside it>: <what is wrong>``.
    """
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        raise error(describe(exc, document, path=path, labels=labels)) from exc


def describe(exc: ValidationError, document: Any, *, path: Path, labels: Sequence[str] = LABELS) -> str:
    """One line per validation problem: file name, location inside the document, message."""
    lines = []
    for problem in exc.errors(include_url=False):
        where = location(problem["loc"], document, labels)
        message = "must be a mapping (key: value)" if problem["type"] == "model_type" else str(problem["msg"])
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        lines.append(f"{path}: {where}: {message}" if where else f"{path}: {message}")
    return "\n".join(lines)


def location(loc: Sequence[int | str], document: Any, labels: Sequence[str] = LABELS) -> str:
    """``sites[3].lat`` from pydantic's ``('sites', 3, 'lat')``; a list item gets its name when it has one
    (``[4] (acme-x1).quantities[0].match``).
    """
    text = ""
    node = document
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = _label(node, labels)
            if label:
                text += f" ({label})"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def _label(node: Any, labels: Sequence[str]) -> str:
    if isinstance(node, dict):
        for key in labels:
            value = node.get(key)
            if isinstance(value, str) and value:
                return value
    return ""
