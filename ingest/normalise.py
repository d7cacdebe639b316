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
from dataclasses import dataclass
from typing import Any

from devices.catalog import DeviceModel, QuantityRule
from ingest import metrics
from stadtpuls.schema import QUANTITIES, Measurement

_MEMO_LIMIT = 4096  # resolved keys kept per model
_VALUES_LIMIT = 1024  # outcomes of distinct raw numbers kept per resolved key
_UNMATCHED_LIMIT = 100  # unmatched keys counted by name per model; the rest together
_OTHER_KEYS = "(other)"

log = logging.getLogger(__name__)


class _Resolved:
    """A decoded key's rule, with the outcomes of the raw numbers seen under that key.

    Sensors repeat their readings (a temperature in tenths of a degree takes a few hundred values a year), so
    the outcome of a raw number (its :class:`Measurement`, or the text saying why it is implausible) is kept;
    ``Measurement`` is immutable, so one object can stand for every occurrence.
    """

    __slots__ = ("channel", "outcomes", "rule")

    def __init__(self, rule: QuantityRule, channel: str) -> None:
        self.rule = rule
        self.channel = channel
        self.outcomes: dict[float, Measurement | str] = {}


@dataclass(slots=True, init=False)
class Normalised:
    """The outcome of normalising one decoded payload."""

    measurements: list[Measurement]
    implausible: list[str]  # one text per refused value

    def __init__(self, measurements: list[Measurement] | None = None, implausible: list[str] | None = None) -> None:
        # written out: a dataclass's default factories cost a call each, once per uplink
        self.measurements = [] if measurements is None else measurements
        self.implausible = [] if implausible is None else implausible


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
        self._unmatched: dict[str, Any] = {}  # key → its Prometheus counter child (None: declared not stored)

    @property
    def unmatched(self) -> list[str]:
        """The decoded keys seen so far that no rule takes and the catalog does not declare as not stored."""
        return sorted(key for key, child in self._unmatched.items() if child is not None)

    def _count_unmatched(self, key: str) -> None:
        """A decoded key no rule matches: count it per model and key, log each new key once; a key the catalog
        declares as not stored is neither counted nor logged.
        """
        if key in self._unmatched:
            child = self._unmatched[key]
        elif self.model.stores_nothing_of(key):
            child = None
            if len(self._unmatched) < _UNMATCHED_LIMIT:
                self._unmatched[key] = None
        elif len(self._unmatched) >= _UNMATCHED_LIMIT:
            child = self._unmatched.get(_OTHER_KEYS)
            if child is None:
                child = self._unmatched[_OTHER_KEYS] = metrics.UNMATCHED_KEYS.labels(self.model.model, _OTHER_KEYS)
        else:
            log.warning(
                "model %s: decoded key %r matches no catalog rule; its values are not stored (a renamed field "
                "after a firmware update? add a rule to the catalog, or the key to the entry's not_stored)",
                self.model.model, key[:200],
            )
            child = self._unmatched[key] = metrics.UNMATCHED_KEYS.labels(self.model.model, key[:200])
        if child is not None:
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
        memo = self._memo
        for key, raw in data.items():
            kind = type(raw)
            if kind is not float and kind is not int:  # nested, text, booleans, None: the general path
                if kind is dict or kind is list:
                    for path, leaf in flatten({key: raw}):
                        self._one(out, path, leaf)
                else:
                    self._one(out, key, raw)
                continue
            resolved = memo[key] if key in memo else self._resolve(key)
            if resolved is None:
                self._count_unmatched(key)
                continue
            outcome = resolved.outcomes.get(raw)
            if outcome is None:
                outcome = _outcome(resolved, key, raw)
            if type(outcome) is str:
                out.implausible.append(outcome)
            else:
                out.measurements.append(outcome)  # type: ignore[arg-type]
        return out

    def _one(self, out: Normalised, key: str, raw: Any) -> None:
        """Normalise one flattened key and its value into ``out``."""
        resolved = self._resolve(key)
        if resolved is None or isinstance(raw, str) or raw is None:
            if resolved is None and isinstance(raw, int | float):  # a number no rule takes: it vanishes
                self._count_unmatched(key)
            return
        value = _number(raw)
        if value is None:
            out.implausible.append(f"{key}={raw!r} is not a number")
            return
        outcome = _outcome(resolved, key, value)
        if isinstance(outcome, str):
            out.implausible.append(outcome)
        else:
            out.measurements.append(outcome)


def _outcome(resolved: _Resolved, key: str, raw: float) -> Measurement | str:
    """The measurement of one plain number under a resolved key, or why it is implausible; remembered."""
    value = float(raw)
    if not math.isfinite(value):
        return f"{key}={raw!r} is not a number"  # not remembered: NaN is not equal to itself
    rule = resolved.rule
    value = value * rule.scale + rule.offset
    quantity = QUANTITIES[rule.quantity]
    outcome: Measurement | str
    if not quantity.low <= value <= quantity.high:
        outcome = (
            f"{rule.quantity}={value:g} {quantity.unit} outside plausible range "
            f"{quantity.low:g}..{quantity.high:g} (from {key})"
        )
    else:
        outcome = Measurement(rule.quantity, value, resolved.channel)
    outcomes = resolved.outcomes
    if len(outcomes) >= _VALUES_LIMIT:
        outcomes.clear()
    outcomes[raw] = outcome
    return outcome


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        value = float(raw)
        return value if math.isfinite(value) else None
    return None
