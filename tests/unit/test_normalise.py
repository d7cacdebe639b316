"""Decoded data → canonical measurements, as the catalog says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devices.catalog import CatalogError, DeviceModel, QuantityRule, get_model, load_catalog
from ingest.normalise import Normaliser, flatten
from stadtpuls.schema import DeviceClass, Measurement


def model(*rules: QuantityRule) -> DeviceModel:
    return DeviceModel("acme-x", "Acme", "X", DeviceClass.GENERIC, "cayenne_lpp", None, {}, 0, 0, rules)


def test_flatten_nested_data() -> None:
    assert dict(flatten({"a": {"b": 1, "c": [2, 3]}, "d": "x"})) == {"a.b": 1, "a.c.0": 2, "a.c.1": 3, "d": "x"}


def test_cayenne_channels_become_channel_tags() -> None:
    out = Normaliser(get_model("cayenne-lpp")).normalise(
        {"temperature_3": 27.2, "gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}}
    )
    assert out.measurements == [
        Measurement("temperature", 27.2, "3"),
        Measurement("latitude", 42.3519, "1"),
        Measurement("longitude", -87.9094, "1"),
        Measurement("altitude", 10.0, "1"),
    ]
    assert out.implausible == []


def test_units_are_converted_and_booleans_become_numbers() -> None:
    rules = (
        QuantityRule(re.compile(r"barometric_pressure\.value"), "pressure", scale=0.01),
        QuantityRule(re.compile("occupied"), "occupied"),
    )
    out = Normaliser(model(*rules)).normalise({"barometric_pressure": {"value": 96800, "unit": "Pa"}, "occupied": True})
    assert out.measurements == [Measurement("pressure", 968.0), Measurement("occupied", 1.0)]


def test_implausible_values_are_refused_with_value_and_range() -> None:
    out = Normaliser(get_model("cayenne-lpp")).normalise({"relative_humidity_1": 120.0, "temperature_1": 20.0})
    assert out.measurements == [Measurement("temperature", 20.0, "1")]
    assert out.implausible == ["humidity=120 % outside plausible range 0..100 (from relative_humidity_1)"]


def test_text_and_unmapped_keys_are_skipped() -> None:
    out = Normaliser(get_model("cayenne-lpp")).normalise({"type": "heartbeat", "firmware": 3})
    assert out.measurements == []
    assert out.implausible == []


def test_catalog_refuses_unknown_quantities(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("- {model: acme-x, class: generic, codec: cayenne_lpp, quantities: [{match: a, quantity: nope}]}")
    with pytest.raises(CatalogError, match="unknown quantity 'nope'"):
        load_catalog(bad)


def test_catalog_refuses_bad_model_ids(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("- {model: Acme_X, class: generic, codec: cayenne_lpp}")
    with pytest.raises(CatalogError, match="lower case"):
        load_catalog(bad)
