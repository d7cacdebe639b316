"""Native codecs: vendor conformance vectors, encode/decode round trips, and fuzzing with random bytes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import get_model
from devices.codecs import NATIVE_CODECS, CodecError, codec_for, decentlab_dl_ac, decentlab_dl_pm, native_codec
from devices.codecs._decentlab import reading_by_reading

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"
SHARED_VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "codecs.yaml"
TOLERANCE = 1e-9


def load_vectors() -> list[tuple[str, dict[str, Any]]]:
    """Every ``(model id, example)`` of ``tests/vectors/<model id>.yaml``."""
    vectors = []
    for path in sorted(VECTOR_DIR.glob("*.yaml")):
        for example in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            vectors.append((path.stem, example))
    return vectors


def same(left: Any, right: Any) -> bool:
    """Deep equality with floats compared to 1e-9; booleans never equal numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(left, right, rel_tol=0, abs_tol=TOLERANCE)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def frame_of(example: dict[str, Any]) -> tuple[int, bytes]:
    """The fPort and payload bytes of a vector's input."""
    return int(example["input"]["fPort"]), bytes.fromhex(str(example["input"]["hex"]))


VECTORS = load_vectors()
VECTOR_IDS = [f"{model}: {example['description']}" for model, example in VECTORS]
DATA_VECTORS = [(m, e) for m, e in VECTORS if "data" in e["output"]]
DATA_IDS = [f"{m}: {e['description']}" for m, e in DATA_VECTORS]


def test_every_native_codec_has_vectors() -> None:
    models_with_vectors = {model for model, _ in VECTORS}
    for model in models_with_vectors:
        assert (VECTOR_DIR / f"{model}.yaml").is_file()
    codecs_with_vectors = {get_model(model).codec for model in models_with_vectors}
    assert set(NATIVE_CODECS) <= codecs_with_vectors


@pytest.mark.parametrize(("model", "example"), VECTORS, ids=VECTOR_IDS)
def test_vector(model: str, example: dict[str, Any]) -> None:
    f_port, payload = frame_of(example)
    result = codec_for(get_model(model)).decode(f_port, payload)
    if "errors" in example["output"]:
        assert result["errors"] == example["output"]["errors"], result
        assert result["data"] == {}
    else:
        assert result["errors"] == []
        assert same(result["data"], example["output"]["data"]), result["data"]


@pytest.mark.parametrize(("model", "example"), DATA_VECTORS, ids=DATA_IDS)
def test_vector_data_encodes_back(model: str, example: dict[str, Any]) -> None:
    codec = native_codec(get_model(model).codec)
    f_port, _ = frame_of(example)
    data = example["output"]["data"]
    assert same(codec.decode(f_port, codec.encode(f_port, data))["data"], data)


UNCALIBRATED = [
    (path.stem, example)
    for path in sorted((VECTOR_DIR / "uncalibrated").glob("*.yaml"))
    for example in yaml.safe_load(path.read_text(encoding="utf-8")) or []
]


@pytest.mark.parametrize(("model", "example"), UNCALIBRATED, ids=[f"{m}: {e['description']}" for m, e in UNCALIBRATED])
def test_uncalibrated_vendor_example(model: str, example: dict[str, Any]) -> None:
    """Vendor examples with implausible values still decode as the vendor decoder does, and encode back."""
    codec = native_codec(get_model(model).codec)
    f_port, payload = frame_of(example)
    result = codec.decode(f_port, payload)
    assert result["errors"] == []
    assert same(result["data"], example["output"]["data"]), result["data"]
    assert codec.encode(f_port, result["data"]) == payload


@pytest.mark.skipif(not SHARED_VECTORS.is_file(), reason="the shared vector set is not beside this checkout")
def test_shared_vectors_are_in_the_model_files() -> None:
    ours = {(model, example["input"]["fPort"], str(example["input"]["hex"]).upper()) for model, example in VECTORS}
    for vector in yaml.safe_load(SHARED_VECTORS.read_text(encoding="utf-8")):
        key = (vector["model"], vector["input"]["fPort"], str(vector["input"]["hex"]).upper())
        assert key in ours, f"shared vector {vector['description']!r} of {vector['model']} is missing"


# --- valid data per model -----------------------------------------------------------------------------


def _int32_hex(value: int) -> str:
    return f"-{-value:X}" if value < 0 else f"{value:X}"


_NWAVE_PREVIOUS = st.one_of(
    st.integers(0, 89).map(lambda d: (d, 0, False)),
    st.integers(0, 29).map(lambda k: (90 + 5 * k, 4, False)),
    st.integers(0, 6).map(lambda k: (240 + 60 * k, 59, False)),
    st.just((660, None, True)),
)


def _nwave_status(occupied: bool, previous: tuple[int, int | None, bool]) -> dict[str, Any]:
    return {
        "type": "parking_status",
        "occupied": occupied,
        "previous_state_duration": previous[0],
        "previous_state_duration_error": previous[1],
        "previous_state_duration_overflow": previous[2],
    }


def _nwave_heartbeat(occupied: bool, health: int, battery: int, temperature: int) -> dict[str, Any]:
    millivolts, celsius = 2500 + 4 * battery, temperature / 2 + 10
    critical, low = (2900, 3000) if celsius >= -5 else (2800, 2900)
    label = "normal" if millivolts >= low else "low" if millivolts >= critical else "critical"
    return {
        "type": "heartbeat",
        "occupied": occupied,
        "hw_health_status": (health << 1) | occupied,
        "temperature": celsius,
        "battery_voltage": millivolts / 1000,
        "battery_health": label,
    }


def _nwave_registration(
    occupied: bool, previous: tuple[int, int | None, bool], tag: int, tag_battery: int | None
) -> dict[str, Any]:
    data: dict[str, Any] = (
        _nwave_status(True, previous)
        if occupied
        else {
            "occupied": None,
            "previous_state_duration": None,
            "previous_state_duration_error": None,
            "previous_state_duration_overflow": None,
        }
    )
    data["type"] = "user_registration"
    if tag_battery is not None:
        data["tag_battery_voltage"] = tag_battery / 10
    data["tag_id"] = _int32_hex(tag)
    return data


def _startup(version_key: str, cause_key: str, causes: list[str]) -> st.SearchStrategy[Any]:
    def build(version: list[int], cause: str | None, occupied: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "startup", version_key: ".".join(map(str, version))}
        if cause is not None:
            data[cause_key] = cause
        return {**data, "occupied": occupied}

    return st.builds(
        build, st.lists(st.integers(0, 255), min_size=3, max_size=3), st.none() | st.sampled_from(causes), st.booleans()
    )


BYTES_LIST = st.lists(st.integers(0, 255), max_size=12)
NWAVE = st.one_of(
    st.tuples(st.just(1), st.builds(_nwave_status, st.booleans(), _NWAVE_PREVIOUS)),
    st.tuples(
        st.just(2),
        st.builds(_nwave_heartbeat, st.booleans(), st.integers(0, 63), st.integers(0, 255), st.integers(-128, 127)),
    ),
    st.tuples(
        st.just(3),
        _startup(
            "firmware_version",
            "reset_cause",
            ["rejoining_lorawan_network", "watchdog", "power_on", "user_request", "brownout", "other"],
        ),
    ),
    st.tuples(st.just(6), st.builds(lambda b: {"type": "debug", "bytes": b}, BYTES_LIST)),
    st.tuples(
        st.just(10),
        st.builds(
            _nwave_registration,
            st.booleans(),
            _NWAVE_PREVIOUS,
            st.integers(-(2**31), 2**31 - 1),
            st.none() | st.integers(0, 255),
        ),
    ),
)


def _bosch_heartbeat(occupied: bool, temperature: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "heartbeat", "occupied": occupied}
    return data if temperature is None else {**data, "temperature": temperature}


BOSCH = st.one_of(
    st.tuples(st.just(1), st.builds(lambda o: {"type": "parking status", "occupied": o}, st.booleans())),
    st.tuples(st.just(2), st.builds(_bosch_heartbeat, st.booleans(), st.none() | st.integers(-128, 127))),
    st.tuples(
        st.just(3),
        st.builds(
            lambda codes, startup: {
                "type": "startup",
                "debugCodes": codes,
                **{k: v for k, v in startup.items() if k != "type"},
            },
            st.lists(st.integers(1, 4095), max_size=3),
            _startup("firmwareVersion", "resetCause", ["watchdog", "power on", "system request", "other"]),
        ),
    ),
    st.tuples(st.just(4), st.builds(lambda b: {"type": "device information", "bytes": b}, BYTES_LIST)),
    st.tuples(st.just(5), st.builds(lambda b: {"type": "device usage", "bytes": b}, BYTES_LIST)),
    st.tuples(
        st.just(6),
        st.fixed_dictionaries(
            {
                "type": st.just("debug"),
                "timestamp": st.integers(-(2**31), 2**31 - 1),
                "debugCode": st.integers(0, 4095),
                "sequenceNumber": st.integers(0, 65535),
            }
        ),
    ),
)

U32, U16, U8 = st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 255)


def _vs133_line(totals: dict[str, int], period: tuple[int, int] | None) -> dict[str, int]:
    return totals if period is None else {**totals, "period_in": period[0], "period_out": period[1]}


VS133_LINE = st.builds(
    _vs133_line,
    st.fixed_dictionaries({}, optional={"total_in": U32, "total_out": U32}),
    st.none() | st.tuples(U16, U16),
).filter(bool)
VS133 = st.tuples(
    st.just(85), st.dictionaries(st.sampled_from([f"line_{n}" for n in range(1, 5)]), VS133_LINE, min_size=1)
)


def _vs135_lines() -> st.SearchStrategy[dict[str, int]]:
    keys: dict[str, st.SearchStrategy[int]] = {}
    for line in range(1, 5):
        for kind in ("total_in", "total_out", "child_total_in", "child_total_out"):
            keys[f"line_{line}_{kind}"] = U32
    return st.fixed_dictionaries({}, optional=keys)


def _vs135_periods(pairs: list[tuple[str, int, int]]) -> dict[str, int]:
    out = {}
    for prefix, incoming, outgoing in pairs:
        out[f"{prefix}period_in"], out[f"{prefix}period_out"] = incoming, outgoing
    return out


VS135_PERIOD_PREFIXES = [f"line_{n}_{c}" for n in range(1, 5) for c in ("", "child_")]
VS135 = st.tuples(
    st.just(85),
    st.builds(
        lambda lines, periods, regions, info: {**lines, **periods, **regions, **info},
        _vs135_lines(),
        st.lists(st.tuples(st.sampled_from(VS135_PERIOD_PREFIXES), U16, U16), max_size=3).map(_vs135_periods),
        st.one_of(
            st.just({}),
            st.lists(U8, min_size=4, max_size=4).map(lambda c: {f"region_{r + 1}_count": n for r, n in enumerate(c)}),
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "ipso_version": st.tuples(st.integers(0, 15), st.integers(0, 15)).map(lambda v: f"v{v[0]}.{v[1]}"),
                "sn": st.binary(min_size=8, max_size=8).map(bytes.hex),
                "report_interval": U16,
                "adr_enable": st.sampled_from(["enable", "disable"]),
                "history": st.lists(
                    st.builds(lambda t, n: {"timestamp": t, "line_1_total_in": n}, U32, U32), min_size=1, max_size=2
                ),
            },
        ),
    ).filter(bool),
)

DEVICE_ID = st.binary(min_size=8, max_size=8).map(bytes.hex)
BATTERY = st.integers(0, 65535).map(lambda x: x / 100)


def _imbuildings(variant: int) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "device_type_identifier": st.just(2),
        "device_type": st.just("People Counter"),
        "device_type_variant": st.just(variant),
        "device_id": DEVICE_ID,
        "device_status": U8,
        "battery_voltage": BATTERY,
        "sensor_status": U8,
    }
    if variant in (5, 6):
        fields.update(counter_a=U16, counter_b=U16, payload_counter=U8)
    if variant in (6, 7):
        fields.update(total_counter_a=U16, total_counter_b=U16)
    return st.fixed_dictionaries(fields)


IMBUILDINGS = st.one_of(
    *(st.tuples(st.just(1), _imbuildings(v)) for v in (5, 6, 7)),
    st.tuples(
        st.just(26),
        _imbuildings(6).map(
            lambda d: {
                k: v
                for k, v in d.items()
                if k not in ("device_type_identifier", "device_type", "device_type_variant", "device_id")
            }
        ),
    ),
    st.tuples(
        st.just(27), st.fixed_dictionaries({"sensor_status": U8, "total_counter_a": U16, "total_counter_b": U16})
    ),
)

MASS = "µg⋅m⁻³"


def _reading(name: str, unit: str | None, convert: Any) -> st.SearchStrategy[dict[str, Any]]:
    def build(word: int) -> dict[str, Any]:
        reading = {"displayName": name, "value": convert(word)}
        return reading if unit is None else {**reading, "unit": unit}

    return st.integers(0, 65535).map(build)


def _pm_group() -> dict[str, st.SearchStrategy[Any]]:
    group = {
        f"pm{s}_mass_concentration": _reading(f"PM{s.replace('_', '.')} mass concentration", MASS, lambda x: x / 10)
        for s in ("1_0", "2_5", "4", "10")
    }
    group |= {
        f"pm{s}_number_concentration": _reading(f"PM{s.replace('_', '.')} number concentration", None, lambda x: x / 10)
        for s in ("0_5", "1_0", "2_5", "4", "10")
    }
    group["typical_particle_size"] = _reading("Typical particle size", "nm", lambda x: x)
    return group


DL_GROUPS: list[dict[str, st.SearchStrategy[Any]]] = [
    {"battery_voltage": _reading("Battery voltage", "V", lambda x: x / 1000)},
    _pm_group(),
    {
        "air_temperature": _reading("Air temperature", "°C", lambda x: 175.72 * x / 65536 - 46.85),
        "air_humidity": _reading("Air humidity", "%", lambda x: 125 * x / 65536 - 6),
    },
    {"barometric_pressure": _reading("Barometric pressure", "Pa", lambda x: 2 * x)},
]


def _decentlab_frames(groups: list[st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """(fPort 1, readings of a protocol-2 frame carrying any subset of ``groups``, one group per flag bit)."""
    return st.tuples(
        st.just(1),
        st.builds(
            lambda device_id, chosen, values: {
                "protocol_version": 2,
                "device_id": device_id,
                **{k: v for i, g in enumerate(values) if chosen[i] for k, v in g.items()},
            },
            U16,
            st.lists(st.booleans(), min_size=len(groups), max_size=len(groups)),
            st.tuples(*groups),
        ),
    )


DECENTLAB = _decentlab_frames([st.fixed_dictionaries(g) for g in DL_GROUPS])


def _dl_ac_millivolts(x: int) -> float:
    return 3 * (x / 32768 - 1) * 1000


def _dl_ac_cell(channel: int, gas: str, label: str, we_0: float, s: float, aux_0: float) -> st.SearchStrategy[Any]:
    """The four readings of one DL-AC gas cell from its two words (vendor formulas and published calibration)."""
    prefix, title = f"ch{channel}_{gas}", f"CH{channel}: {label}"

    def build(we: int, we_aux: int) -> dict[str, Any]:
        values = {
            "we": ("(we)", "mV", _dl_ac_millivolts(we)),
            "we_aux": ("(we-aux)", "mV", _dl_ac_millivolts(we_aux)),
            "concentration_we": ("concentration (we)", "ppb", (_dl_ac_millivolts(we) - we_0) / s),
            "concentration_we_aux": ("concentration (we-aux)", "ppb", (_dl_ac_millivolts(we_aux) - we_0 + aux_0) / s),
        }
        return {
            f"{prefix}_{key}": {"displayName": f"{title} {suffix}", "value": value, "unit": unit}
            for key, (suffix, unit, value) in values.items()
        }

    return st.builds(build, U16, U16)


def _dl_ac_climate(t: int, h: int) -> dict[str, Any]:
    return {
        "air_temperature": {"displayName": "Air temperature", "value": 175.72 * t / 65536 - 46.85, "unit": "°C"},
        "air_humidity": {"displayName": "Air humidity", "value": 125 * h / 65536 - 6, "unit": "%"},
    }


DL_AC_GROUPS: list[st.SearchStrategy[Any]] = [
    st.builds(_dl_ac_climate, U16, U16),
    _dl_ac_cell(4, "no2", "NO2", 256, 0.256, 227),
    _dl_ac_cell(5, "no", "NO", 320, 0.512, 288),
    _dl_ac_cell(6, "ox", "Ox", 235, 0.345, 200),
    _dl_ac_cell(7, "co", "CO", 544, 0.424, 301),
    U16.map(lambda x: {"battery_voltage": {"displayName": "Battery voltage", "value": x / 1000, "unit": "V"}}),
]
DECENTLAB_AC = _decentlab_frames(DL_AC_GROUPS)


ELSYS = st.tuples(
    st.integers(1, 223),
    st.fixed_dictionaries(
        {},
        optional={
            "temperature": st.integers(-32768, 32767).map(lambda x: x / 10),
            "humidity": U8,
            "light": U16,
            "motion": U8,
            "co2": U16,
            "vdd": U16,
            "pressure": st.integers(-(2**31), 2**31 - 1).map(lambda x: x / 1000),
            "pulseAbs": st.integers(-(2**31), 2**31 - 1),
            "externalTemperature2": st.lists(st.integers(-32768, 32767).map(lambda x: x / 10), min_size=2, max_size=3),
        },
    ).filter(bool),
)

VALID_DATA: dict[str, st.SearchStrategy[tuple[int, dict[str, Any]]]] = {
    "nwave_nps405": NWAVE,
    "bosch_tps110": BOSCH,
    "milesight_vs133": VS133,
    "milesight_vs135": VS135,
    "imbuildings_people_counter": IMBUILDINGS,
    "decentlab_dl_pm": DECENTLAB,
    "decentlab_dl_ac": DECENTLAB_AC,
    "elsys_ers_co2": ELSYS,
}


@pytest.mark.parametrize("name", sorted(VALID_DATA))
def test_round_trip(name: str) -> None:
    codec = native_codec(name)

    @settings(max_examples=150, deadline=None)
    @given(VALID_DATA[name])
    def check(sample: tuple[int, dict[str, Any]]) -> None:
        f_port, data = sample
        result = codec.decode(f_port, codec.encode(f_port, data))
        assert result["errors"] == []
        assert same(result["data"], data), (data, result["data"])

    check()


def test_every_native_codec_but_lpp_has_a_data_strategy() -> None:
    assert set(VALID_DATA) == set(NATIVE_CODECS) - {"cayenne_lpp"}


@pytest.mark.parametrize("name", sorted(NATIVE_CODECS))
def test_random_bytes_never_raise(name: str) -> None:
    codec = native_codec(name)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(0, 255), st.binary(max_size=80))
    def check(f_port: int, payload: bytes) -> None:
        result = codec.decode(f_port, payload)
        assert set(result) == {"data", "warnings", "errors"}
        assert isinstance(result["data"], dict)
        assert all(isinstance(w, str) for w in result["warnings"])
        assert all(isinstance(e, str) and e for e in result["errors"])
        assert not (result["errors"] and result["data"])

    check()


# --- encode refuses what the device cannot send ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "f_port", "data"),
    [
        ("nwave_nps405", 4, {"type": "parking_status"}),
        (
            "nwave_nps405",
            2,
            {
                "type": "heartbeat",
                "occupied": False,
                "hw_health_status": 0,
                "temperature": -10,
                "battery_voltage": 3.3441,
                "battery_health": "normal",
            },
        ),
        (
            "nwave_nps405",
            2,
            {
                "type": "heartbeat",
                "occupied": True,
                "hw_health_status": 2,
                "temperature": -10,
                "battery_voltage": 3.344,
                "battery_health": "normal",
            },
        ),
        (
            "bosch_tps110",
            3,
            {"type": "startup", "debugCodes": [1, 2, 3, 4], "firmwareVersion": "0.29.2", "occupied": True},
        ),
        ("bosch_tps110", 2, {"type": "heartbeat", "occupied": True, "temperature": 200}),
        ("milesight_vs133", 85, {"line_5": {"total_in": 1}}),
        ("milesight_vs133", 85, {"line_1": {"total_in": 2**32}}),
        ("milesight_vs135", 85, {"line_1_total_sideways": 3}),
        ("milesight_vs135", 1, {"line_1_total_in": 3}),
        ("imbuildings_people_counter", 1, {"device_type_variant": 2, "device_id": "0004a30b00f0d40e"}),
        (
            "decentlab_dl_pm",
            1,
            {
                "protocol_version": 2,
                "device_id": 1,
                "air_temperature": {"displayName": "Air temperature", "unit": "°C", "value": 20},
            },
        ),
        (
            "decentlab_dl_pm",
            1,
            {
                "protocol_version": 2,
                "device_id": 1,
                "barometric_pressure": {"displayName": "Barometric pressure", "unit": "Pa", "value": 96801},
            },
        ),
        (
            "decentlab_dl_ac",
            1,
            {
                "protocol_version": 2,
                "device_id": 1,
                "ch4_no2_we": {"displayName": "CH4: NO2 (we)", "unit": "mV", "value": 268.157958984375},
                "ch4_no2_we_aux": {"displayName": "CH4: NO2 (we-aux)", "unit": "mV", "value": 37.17041015625},
                "ch4_no2_concentration_we": {
                    "displayName": "CH4: NO2 concentration (we)",
                    "unit": "ppb",
                    "value": 47.492027282714844,
                },
                "ch4_no2_concentration_we_aux": {
                    "displayName": "CH4: NO2 concentration (we-aux)",
                    "unit": "ppb",
                    "value": 40.0,
                },
            },
        ),
        ("decentlab_dl_ac", 1, {"protocol_version": 2, "device_id": 1, "ch4_no2_we": {"value": 3000.0}}),
        ("elsys_ers_co2", 5, {"temperature": "warm"}),
        ("elsys_ers_co2", 5, {"colour": 3}),
        ("elsys_ers_co2", 0, {"co2": 400}),
    ],
)
def test_encode_refuses(name: str, f_port: int, data: dict[str, Any]) -> None:
    with pytest.raises(CodecError):
        native_codec(name).encode(f_port, data)


def test_encode_writes_the_vendor_frames() -> None:
    assert native_codec("nwave_nps405").encode(1, _nwave_status(True, (74, 0, False))) == bytes.fromhex("95")
    rejoin = {"rejoin_config": {"enable": "enable", "max_count": 10}}
    assert native_codec("milesight_vs135").encode(85, rejoin) == bytes.fromhex("F985010A")
    elsys = {"temperature": 22.6, "humidity": 41, "light": 39, "motion": 6, "co2": 776}
    assert native_codec("elsys_ers_co2").encode(1, elsys) == bytes.fromhex("0100E202290400270506060308")


def test_unknown_channel_stops_with_a_warning() -> None:
    result = native_codec("milesight_vs133").decode(85, bytes.fromhex("03D201000000FF0B01"))
    assert result["data"] == {"line_1": {"total_in": 1}}
    assert result["warnings"]
    assert "0xff" in result["warnings"][0]


# Decentlab sensors that write their readings in one call give what their readings' own ``read`` functions give.
_DECENTLAB_SENSORS = [
    (module.__name__.rsplit(".", 1)[1], bit, sensor)
    for module in (decentlab_dl_ac, decentlab_dl_pm)
    for bit, sensor in enumerate(module._CODEC.sensors)
    if sensor.emit is not None
]


def test_some_decentlab_sensor_writes_its_readings_in_one_call() -> None:
    assert {model for model, _, _ in _DECENTLAB_SENSORS} >= {"decentlab_dl_ac"}


@pytest.mark.parametrize(("model", "bit", "sensor"), _DECENTLAB_SENSORS, ids=lambda v: str(v)[:20])
@settings(max_examples=200)
@given(data=st.data())
def test_decentlab_one_call_emit_matches_reading_by_reading(model: str, bit: int, sensor: Any, data: Any) -> None:
    words = tuple(data.draw(st.lists(st.integers(0, 0xFFFF), min_size=len(sensor.words), max_size=len(sensor.words))))
    fast: dict[str, Any] = {}
    slow: dict[str, Any] = {}
    sensor.emit(words, 0, fast)
    reading_by_reading(sensor.readings)(words, 0, slow)
    assert repr(fast) == repr(slow), (model, bit, words)
