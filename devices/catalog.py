"""The device catalog: what each device model is, which codec speaks it, and what its values mean.

The catalog is data: the built-in ``catalog.yaml`` and, when the setting ``STADTPULS_CATALOG`` names one, a
town's own catalog file of the same form. This module loads and checks them once, before anything connects:
every entry is validated, every codec is resolved (a native module found, a JavaScript file read and compiled
in the sandbox), and a model id defined twice is refused. Code that only reads what the models are
(processing, the registry) asks :func:`models` or :func:`get_model`, which do not compile codecs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from devices.specfile import read_yaml, validate
from stadtpuls.errors import ConfigError
from stadtpuls.schema import QUANTITIES, DeviceClass

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
_MODEL_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)+$"


class CatalogError(ConfigError, ValueError):
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
    source: Path | None = field(default=None, compare=False)  # the catalog file that defines it
    not_stored: re.Pattern[str] | None = None  # decoded keys no rule takes on purpose (metadata, raw signals)

    def stores_nothing_of(self, key: str) -> bool:
        """True when ``key`` is declared in the entry's ``not_stored``: decoded, known, deliberately not stored."""
        return self.not_stored is not None and self.not_stored.fullmatch(key) is not None

    @property
    def quantities(self) -> set[str]:
        """The canonical quantities this model can yield."""
        return {rule.quantity for rule in self.rules}


# The file's form -------------------------------------------------------------------------------------------


def _text_map(value: Any) -> Any:
    """The fPort descriptions: YAML keys are often numbers; both sides become text."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: str
    quantity: str
    scale: float = 1.0
    offset: float = 0.0
    channel: str = ""

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("quantity")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in QUANTITIES:
            raise ValueError(f"unknown quantity {value!r}; see stadtpuls/schema.py")
        return value


class _ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str
    vendor: str = ""
    name: str = ""
    device_class: DeviceClass = Field(alias="class")
    codec: str = ""
    codec_js: str = ""
    fports: Annotated[dict[str, str], BeforeValidator(_text_map)] = Field(default_factory=dict)
    report_interval: int = Field(default=0, ge=0)  # s
    heartbeat_interval: int = Field(default=0, ge=0)  # s
    quantities: list[_RuleSpec] = Field(default_factory=list)
    not_stored: list[str] = Field(default_factory=list)  # regular expressions of decoded keys kept out on purpose

    @field_validator("not_stored")
    @classmethod
    def _all_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _model_id(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.match(_MODEL_ID, value):
            raise ValueError(f"model id {value!r} must be <vendor>-<model> in lower case")
        return value

    @model_validator(mode="after")
    def _one_codec(self) -> _ModelSpec:
        if bool(self.codec) == bool(self.codec_js):
            raise ValueError("name exactly one of codec (a native codec) and codec_js (a JavaScript file)")
        return self


_CATALOG_FILE_FORM = TypeAdapter(list[_ModelSpec])


def _entry(spec: _ModelSpec, path: Path) -> DeviceModel:
    return DeviceModel(
        model=spec.model,
        vendor=spec.vendor,
        name=spec.name or spec.model,
        device_class=spec.device_class,
        codec=spec.codec,
        codec_js=path.parent / spec.codec_js if spec.codec_js else None,
        fports=spec.fports,
        report_interval=spec.report_interval,
        heartbeat_interval=spec.heartbeat_interval,
        rules=tuple(
            QuantityRule(re.compile(r.match), r.quantity, scale=r.scale, offset=r.offset, channel=r.channel)
            for r in spec.quantities
        ),
        source=path,
        not_stored=re.compile("|".join(f"(?:{p})" for p in spec.not_stored)) if spec.not_stored else None,
    )


# Loading ---------------------------------------------------------------------------------------------------


def _resolve_codec(entry: DeviceModel, path: Path) -> None:
    """Find or compile the entry's codec now, so that a broken one stops the start, not the first uplink."""
    from devices.codecs import codec_for  # the codecs load only when the catalog is checked
    from devices.jscodec import JsCodecError  # the JavaScript engine loads only when a catalog names JS codecs

    try:
        codec_for(entry)
    except KeyError as exc:
        raise CatalogError(f"{path}: model {entry.model!r}: {exc.args[0]}") from exc
    except JsCodecError as exc:
        raise CatalogError(f"{path}: model {entry.model!r}: codec_js: {exc}") from exc


def load_catalog(path: Path = CATALOG_FILE, *, codecs: bool = True) -> dict[str, DeviceModel]:
    """Load and check one catalog file, resolving every entry's codec.

    ``codec_js`` paths are relative to the file.

    Args:
        path: the catalog file.
        codecs: resolve (find or compile) every entry's codec; without, only the entries are checked, for
            callers that read the models' metadata and decode nothing.

    Raises:
        CatalogError: the file cannot be read, an entry is malformed (the message names the file, the entry
            and the field), a model id appears twice, or a codec is unknown, missing or does not compile.
    """
    document = read_yaml(path, CatalogError)
    specs = validate(_CATALOG_FILE_FORM, [] if document is None else document, path=path, error=CatalogError,
                     labels=("model",))
    models: dict[str, DeviceModel] = {}
    for spec in specs:
        if spec.model in models:
            raise CatalogError(f"{path}: model {spec.model!r} appears twice")
        entry = _entry(spec, path)
        if codecs:
            _resolve_codec(entry, path)
        models[entry.model] = entry
    return models


def merge_catalogs(paths: Iterable[Path], *, codecs: bool = True) -> dict[str, DeviceModel]:
    """The catalogs of ``paths`` loaded and merged, in order.

    Args:
        paths: the catalog files.
        codecs: resolve every entry's codec (see :func:`load_catalog`).

    Raises:
        CatalogError: as :func:`load_catalog`, or a model id is defined in two files (both are named).
    """
    merged: dict[str, DeviceModel] = {}
    for path in paths:
        for model_id, entry in load_catalog(path, codecs=codecs).items():
            earlier = merged.get(model_id)
            if earlier is not None:
                raise CatalogError(f"model {model_id!r} is defined twice: in {earlier.source} and in {path}")
            merged[model_id] = entry
    return merged


def catalog_files() -> list[Path]:
    """The built-in catalog, then the town's own (``STADTPULS_CATALOG``) when it is set."""
    from stadtpuls.settings import get_settings

    town = get_settings().catalog
    return [CATALOG_FILE] if town is None else [CATALOG_FILE, town]


class _Catalog:
    """The catalog in use (built-in plus the town's own), loaded once: checked with its codecs resolved when
    called, or only its entries (:meth:`models`) for code that decodes nothing.
    """

    def __init__(self) -> None:
        self._checked: dict[str, DeviceModel] | None = None
        self._entries: dict[str, DeviceModel] | None = None

    def __call__(self) -> dict[str, DeviceModel]:
        """The catalog in use, loaded and checked once, codecs resolved.

        Raises:
            CatalogError: a catalog file cannot be used (see :func:`merge_catalogs`).
        """
        if self._checked is None:
            self._checked = merge_catalogs(catalog_files())
        return self._checked

    def models(self) -> dict[str, DeviceModel]:
        """The same entries without resolving the codecs when the catalog has not been checked yet.

        Raises:
            CatalogError: an entry of a catalog file cannot be used (codecs are not looked at).
        """
        if self._checked is not None:
            return self._checked
        if self._entries is None:
            self._entries = merge_catalogs(catalog_files(), codecs=False)
        return self._entries

    def cache_clear(self) -> None:
        """Forget what was loaded: the next call loads the catalog files again."""
        self._checked = None
        self._entries = None


catalog = _Catalog()


def models() -> dict[str, DeviceModel]:
    """The catalog in use as :func:`catalog` gives it, but without resolving the codecs when it has not been
    checked yet: for code that reads what models are (processing, the registry) and decodes nothing. Commands
    that decode, and every command's start-up check (:func:`check_catalog`), use :func:`catalog`.

    Raises:
        CatalogError: an entry of a catalog file cannot be used (codecs are not looked at).
    """
    return catalog.models()


def get_model(model: str) -> DeviceModel:
    """The catalog entry for ``model`` (its metadata; the codec is resolved by :func:`catalog`).

    Raises:
        KeyError: the model is not in the catalog.
    """
    known = models()
    entry = known.get(model)
    if entry is None:
        raise KeyError(f"unknown device model {model!r}; known: {', '.join(sorted(known))}")
    return entry


def check_catalog() -> dict[str, DeviceModel]:
    """The catalog in use, loaded and checked; every command calls this first so that a broken one stops it.

    Raises:
        CatalogError: the catalog (built-in or ``STADTPULS_CATALOG``) cannot be used; the text says why.
    """
    try:
        return catalog()
    except CatalogError as exc:
        raise CatalogError(f"the device catalog cannot be used:\n{exc}") from exc
