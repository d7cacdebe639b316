"""The device catalog: what each device model is, which codec speaks it, and what its values mean.

The catalog is data (``catalog.yaml``); this module loads and checks it once, before anything connects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from stadtpuls.schema import QUANTITIES, DeviceClass

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
_MODEL_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")


class CatalogError(ValueError):
    """The catalog contains an entry that cannot work."""


@dataclass(frozen=True)
class QuantityRule:
    """Maps decoded keys (flattened, dotted) to a canonical quantity."""

    pattern: re.Pattern[str]
    quantity: str
    scale: float = 1.0
    offset: float = 0.0
    channel: str = ""


@dataclass(frozen=True)
class DeviceModel:
    """One catalog entry."""

    model: str
    vendor: str
    name: str
    device_class: DeviceClass
    codec: str  # native codec module name, or "" when codec_js is set
    codec_js: Path | None
    fports: dict[str, str]
    report_interval: int  # s, 0 = event driven
    heartbeat_interval: int  # s, 0 = none
    rules: tuple[QuantityRule, ...] = field(default_factory=tuple)

    @property
    def quantities(self) -> set[str]:
        """The canonical quantities this model can yield."""
        return {rule.quantity for rule in self.rules}


def _rule(model: str, raw: dict[str, Any]) -> QuantityRule:
    quantity = str(raw.get("quantity", ""))
    if quantity not in QUANTITIES:
        raise CatalogError(f"{model}: unknown quantity {quantity!r}")
    try:
        pattern = re.compile(str(raw["match"]))
    except (KeyError, re.error) as exc:
        raise CatalogError(
            f"{model}: quantity rule for {quantity!r} needs a valid 'match' regex: {exc}"
        ) from exc
    return QuantityRule(
        pattern=pattern,
        quantity=quantity,
        scale=float(raw.get("scale", 1.0)),
        offset=float(raw.get("offset", 0.0)),
        channel=str(raw.get("channel", "")),
    )


def _entry(raw: dict[str, Any], base: Path) -> DeviceModel:
    model = str(raw.get("model", ""))
    if not _MODEL_ID.match(model):
        raise CatalogError(f"model id {model!r} must be <vendor>-<model> in lower case")
    try:
        device_class = DeviceClass(raw["class"])
    except (KeyError, ValueError) as exc:
        raise CatalogError(f"{model}: class must be one of {[c.value for c in DeviceClass]}") from exc
    codec_js = base / raw["codec_js"] if raw.get("codec_js") else None
    if not raw.get("codec") and codec_js is None:
        raise CatalogError(f"{model}: names neither a native codec nor a codec_js file")
    return DeviceModel(
        model=model,
        vendor=str(raw.get("vendor", "")),
        name=str(raw.get("name", model)),
        device_class=device_class,
        codec=str(raw.get("codec", "")),
        codec_js=codec_js,
        fports={str(k): str(v) for k, v in (raw.get("fports") or {}).items()},
        report_interval=int(raw.get("report_interval", 0)),
        heartbeat_interval=int(raw.get("heartbeat_interval", 0)),
        rules=tuple(_rule(model, r) for r in raw.get("quantities") or []),
    )


def load_catalog(path: Path = CATALOG_FILE) -> dict[str, DeviceModel]:
    """Load and check a catalog file.

    Raises:
        CatalogError: an entry is malformed, duplicated or names an unknown quantity.
    """
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    catalog: dict[str, DeviceModel] = {}
    for raw in entries:
        entry = _entry(raw, path.parent)
        if entry.model in catalog:
            raise CatalogError(f"model {entry.model!r} appears twice in {path}")
        catalog[entry.model] = entry
    return catalog


@lru_cache(maxsize=1)
def catalog() -> dict[str, DeviceModel]:
    """The built-in catalog, loaded once."""
    return load_catalog()


def get_model(model: str) -> DeviceModel:
    """The catalog entry for ``model``.

    Raises:
        KeyError: the model is not in the catalog.
    """
    entry = catalog().get(model)
    if entry is None:
        raise KeyError(f"unknown device model {model!r}; known: {', '.join(sorted(catalog()))}")
    return entry
