"""Decoded payload data → canonical measurements, as the device catalog says.

Rules come from the catalog entry (``quantities:``): a decoded key, flattened to a dotted path, is matched
against each rule's regular expression; the first match names the quantity, the unit conversion and the
channel. Booleans become 1.0/0.0; text values carry no measurement and are skipped. A value outside the
quantity's plausible range is refused and reported, never stored. A decoded number whose key no rule matches is
counted per model and key (``stadtpuls_ingest_unmatched_keys_total``) and logged once, so that a field renamed
by a firmware update is noticed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from devices.catalog import DeviceModel, QuantityRule
from ingest import metrics
from stadtpuls.schema import QUANTITIES, Measurement

_MEMO_LIMIT = 4096  # resolved keys kept per model
_UNMATCHED_LIMIT = 100  # unmatched keys counted by name per model; the rest together
_OTHER_KEYS = "(other)"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Resolved:
    rule: QuantityRule
    channel: str


@dataclass(slots=True)
class Normalised:
    """The outcome of normalising one decoded payload."""

    measurements: list[Measurement] = field(default_factory=list)
    implausible: list[str] = field(default_factory=list)  # one text per refused value


def flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``("a.b", value)`` for every leaf of nested dicts (lists are indexed: ``a.0``)."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, path + ".")
        elif isinstance(value, list):
            yield from flatten({str(i): v for i, v in enumerate(value)}, path + ".")
        else:
            yield path, value


class Normaliser:
    """Applies one device model's quantity rules, remembering which rule each decoded key resolves to."""

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self._memo: dict[str, _Resolved | None] = {}
        self._unmatched: dict[str, Any] = {}  # key → its Prometheus counter child

    def _count_unmatched(self, key: str) -> None:
        """A decoded key no rule matches: count it per model and key, log each new key once."""
        child = self._unmatched.get(key)
        if child is None:
            if len(self._unmatched) >= _UNMATCHED_LIMIT:
                child = self._unmatched.get(_OTHER_KEYS)
                if child is None:
                    child = self._unmatched[_OTHER_KEYS] = metrics.UNMATCHED_KEYS.labels(self.model.model, _OTHER_KEYS)
            else:
                log.warning(
                    "model %s: decoded key %r matches no catalog rule; its values are not stored (a renamed "
                    "field after a firmware update? add a rule to the catalog)", self.model.model, key[:200]
                )
                child = self._unmatched[key] = metrics.UNMATCHED_KEYS.labels(self.model.model, key[:200])
        child.inc()

    def _resolve(self, key: str) -> _Resolved | None:
        if key in self._memo:
            return self._memo[key]
        resolved = None
        for rule in self.model.rules:
            match = rule.pattern.fullmatch(key)
            if match:
                channel = rule.channel or (match.groupdict().get("channel") or "")
                resolved = _Resolved(rule, channel)
                break
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[key] = resolved
        return resolved

    def normalise(self, data: dict[str, Any]) -> Normalised:
        """Map decoded ``data`` to canonical measurements."""
        out = Normalised()
        for key, raw in flatten(data):
            resolved = self._resolve(key)
            if resolved is None or isinstance(raw, str) or raw is None:
                if resolved is None and isinstance(raw, int | float):  # a number no rule takes: it vanishes
                    self._count_unmatched(key)
                continue
            value = _number(raw)
            if value is None:
                out.implausible.append(f"{key}={raw!r} is not a number")
                continue
            rule = resolved.rule
            value = value * rule.scale + rule.offset
            quantity = QUANTITIES[rule.quantity]
            if not quantity.low <= value <= quantity.high:
                out.implausible.append(
                    f"{rule.quantity}={value:g} {quantity.unit} outside plausible range "
                    f"{quantity.low:g}..{quantity.high:g} (from {key})"
                )
                continue
            out.measurements.append(Measurement(rule.quantity, value, resolved.channel))
        return out


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        value = float(raw)
        return value if math.isfinite(value) else None
    return None
