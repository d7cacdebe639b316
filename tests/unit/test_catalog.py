"""The device catalog: every entry has a codec, passing vectors, and rules that yield canonical quantities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.catalog import CatalogError, DeviceModel, catalog, load_catalog
from devices.codecs import NATIVE_CODECS, codec_for
from ingest.normalise import Normaliser
from stadtpuls.schema import QUANTITIES
from tests.unit.test_codecs import frame_of, same

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"


def load_vectors(model: str) -> list[dict[str, Any]]:
    """The examples of ``tests/vectors/<model>.yaml`` (none when the file is missing)."""
    path = VECTOR_DIR / f"{model}.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or []) if path.is_file() else []


MODELS = sorted(catalog().values(), key=lambda m: m.model)
MODEL_IDS = [m.model for m in MODELS]
VECTORS_BY_MODEL = {m.model: load_vectors(m.model) for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_codec_exists(model: DeviceModel) -> None:
    if model.codec:
        assert model.codec in NATIVE_CODECS, f"{model.model}: no native codec {model.codec!r}"
    else:
        assert model.codec_js is not None, f"{model.model}: missing {model.codec_js}"
        assert model.codec_js.is_file(), f"{model.model}: missing {model.codec_js}"


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_entry_is_complete(model: DeviceModel) -> None:
    assert model.vendor
    assert model.name
    assert model.fports
    assert all(isinstance(text, str) and text != "None" for text in model.fports.values())
    assert model.report_interval >= 0
    assert model.heartbeat_interval >= 0
    assert model.report_interval or model.heartbeat_interval, "a device must be heard from at least daily"
    assert model.rules
    assert all(rule.quantity in QUANTITIES for rule in model.rules)


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_vectors_pass(model: DeviceModel) -> None:
    vectors = VECTORS_BY_MODEL[model.model]
    assert (VECTOR_DIR / f"{model.model}.yaml").is_file()
    assert any("data" in example["output"] for example in vectors), f"{model.model} has no data vector"
    codec = codec_for(model)
    for example in vectors:
        result = codec.decode(*frame_of(example))
        if "data" in example["output"]:
            assert result["errors"] == [], example["description"]
            assert same(result["data"], example["output"]["data"]), example["description"]
        else:
            assert result["errors"], example["description"]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_rules_turn_vectors_into_quantities(model: DeviceModel) -> None:
    """Every vector's values are plausible, and together the vectors exercise every rule of the model."""
    normaliser = Normaliser(model)
    seen: set[str] = set()
    for example in VECTORS_BY_MODEL[model.model]:
        if "data" not in example["output"]:
            continue
        result = normaliser.normalise(example["output"]["data"])
        assert result.implausible == [], example["description"]
        seen.update(m.quantity for m in result.measurements)
    assert seen, f"{model.model}: no vector yields a canonical quantity"
    assert seen == model.quantities, f"{model.model}: rules no vector exercises: {model.quantities - seen}"


# Keys the vendors' codecs decode that a model's own frames do not carry: the Elsys codec decodes the whole Elsys
# range, of which an ERS CO2 measures temperature, humidity, light, motion and CO2; the VS135 examples include the
# history a counter sends on request and its region and child counts. None of them is stored, and one that arrives
# is counted and logged as a key no rule takes, instead of vanishing silently.
NOT_SENT = {
    "elsys-ers-co2": {
        "accMotion", "analog1", "analog2", "analogUv", "digital", "digital2", "distance", "externalTemperature",
        "externalTemperature2.0", "externalTemperature2.1", "irExternalTemperature", "irInternalTemperature", "lat",
        "long", "occupancy", "pressure", "pulse1", "pulse2", "pulseAbs", "pulseAbs2", "soundAvg", "soundPeak",
        "tvoc", "waterleak", "x", "y", "z",
    },
    "milesight-vs135": {
        "history.0.line_1_total_in", "history.0.line_2_period_in", "history.0.line_2_period_out",
        "history.0.region_1_count", "history.0.region_2_count", "history.0.region_3_count",
        "history.0.region_4_count", "history.0.timestamp", "history.1.region_3_max_dwell", "history.1.timestamp",
        "line_1_child_total_in", "line_1_child_total_out", "region_1_child_avg_dwell", "region_1_child_count",
        "region_1_child_max_dwell", "region_1_count", "region_2_avg_dwell", "region_2_child_count",
        "region_2_count", "region_2_max_dwell", "region_3_child_count", "region_3_count", "region_4_child_count",
        "region_4_count",
    },
}


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_every_decoded_key_is_stored_or_declared_not_stored(model: DeviceModel) -> None:
    """A key of the model's own frames that no rule takes is declared in ``not_stored``, so that the unmatched-key
    log and counter are left for real surprises (a field renamed by a firmware update).
    """
    normaliser = Normaliser(model)
    for example in VECTORS_BY_MODEL[model.model]:
        if "data" in example["output"]:
            normaliser.normalise(example["output"]["data"])
    assert set(normaliser.unmatched) == NOT_SENT.get(model.model, set())


def test_a_not_stored_pattern_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "- {model: acme-x1, class: generic, codec: cayenne_lpp, report_interval: 60,\n"
        "   quantities: [{match: x, quantity: temperature}], not_stored: ['(unclosed']}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match=r"not_stored.*\(unclosed"):
        load_catalog(path)


def test_people_counter_channels() -> None:
    by_model = {m.model: Normaliser(m) for m in MODELS}
    vs133 = by_model["milesight-vs133"].normalise({"line_2": {"total_in": 5, "period_out": 1}}).measurements
    assert {(m.quantity, m.value, m.channel) for m in vs133} == {
        ("people_in_total", 5.0, "2"),
        ("people_out", 1.0, "2"),
    }
    imb = by_model["imbuildings-people-counter"].normalise({"counter_a": 3, "total_counter_b": 9}).measurements
    assert {(m.quantity, m.value, m.channel) for m in imb} == {("people_in", 3.0, ""), ("people_out_total", 9.0, "")}


def test_decentlab_pressure_is_stored_in_hectopascal() -> None:
    model = catalog()["decentlab-dl-pm"]
    data = {"barometric_pressure": {"displayName": "Barometric pressure", "unit": "Pa", "value": 96800}}
    (measurement,) = Normaliser(model).normalise(data).measurements
    assert measurement.quantity == "pressure"
    assert measurement.value == pytest.approx(968.0)


def test_parking_state_is_stored_as_one_or_zero() -> None:
    normaliser = Normaliser(catalog()["nwave-nps405"])
    values = [normaliser.normalise({"occupied": state}).measurements[0].value for state in (True, False)]
    assert values == [1.0, 0.0]


def test_unknown_quantity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "- {model: acme-x1, class: generic, codec: cayenne_lpp, quantities: [{match: x, quantity: flux}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match="flux"):
        load_catalog(path)
