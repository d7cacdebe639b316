"""The JavaScript codec sandbox: vendor codecs run unchanged, hostile ones end in a clear error."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codecs import native_codec
from devices.codecs._frames import approx_equal
from devices.jscodec import JsCodec, JsCodecError
from tests.unit.test_codecs import UNCALIBRATED, frame_of
from tests.unit.test_codecs import VECTORS as MODEL_VECTORS

ROOT = Path(__file__).resolve().parents[2]
SHARED_VECTORS = ROOT.parent / "shared" / "vectors" / "codecs.yaml"  # ../shared beside the checkout
FIXTURES = ROOT / "tests" / "fixtures" / "js"
OUR_CODECS = ROOT / "devices" / "codecs" / "js"
LPP_FRAME = bytes.fromhex("03670110056700FF")
LPP_DATA = {"temperature_3": 27.2, "temperature_5": 25.5}
# What a clean ECMAScript realm (QuickJS) has on its global object: nothing of the host.
STANDARD_GLOBALS = {
    "Object", "Function", "Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError",
    "URIError", "InternalError", "AggregateError", "SuppressedError", "Iterator", "Array", "parseInt",
    "parseFloat", "isNaN", "isFinite", "queueMicrotask", "decodeURI", "decodeURIComponent", "encodeURI",
    "encodeURIComponent", "escape", "unescape", "Infinity", "NaN", "undefined", "eval", "Number", "Boolean",
    "String", "Math", "Reflect", "Symbol", "DisposableStack", "globalThis", "BigInt", "Date", "RegExp", "JSON",
    "Proxy", "Map", "Set", "WeakMap", "WeakSet", "ArrayBuffer", "SharedArrayBuffer", "Uint8ClampedArray",
    "Int8Array", "Uint8Array", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array",
    "BigUint64Array", "Float16Array", "Float32Array", "Float64Array", "DataView", "Atomics", "Promise",
    "AsyncDisposableStack", "WeakRef", "FinalizationRegistry", "DOMException", "btoa", "atob", "performance",
}


@pytest.fixture(scope="module")
def lpp() -> JsCodec:
    return JsCodec(OUR_CODECS / "cayenne-lpp.js")


def hostile(name: str, **limits: Any) -> JsCodec:
    return JsCodec(FIXTURES / name, **limits)


def assert_recovers(codec: JsCodec) -> None:
    """After a hostile call, the same codec decodes a harmless uplink normally."""
    assert codec.decode(1, b"\x01\x02") == {"data": {"length": 2}, "warnings": [], "errors": []}


# Calling convention ----------------------------------------------------------------------------------------


def test_decodes_as_the_network_server_calls_it(lpp: JsCodec) -> None:
    assert lpp.decode(1, LPP_FRAME) == {"data": LPP_DATA, "warnings": [], "errors": []}


def test_input_has_bytes_fport_and_recv_time() -> None:
    codec = JsCodec(
        "function decodeUplink(input) {\n"
        "  return {data: {bytes: input.bytes, fPort: input.fPort, isArray: Array.isArray(input.bytes),\n"
        "                 recv: input.recvTime instanceof Date ? input.recvTime.toISOString() : null}};\n"
        "}"
    )
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    result = codec.decode(7, b"\x00\x7f\x80\xff", recv_time=when)
    assert result["data"] == {"bytes": [0, 127, 128, 255], "fPort": 7, "isArray": True,
                              "recv": "2024-05-01T12:30:00.000Z"}


def test_legacy_entry_points() -> None:
    ttn_v2 = JsCodec("function Decoder(bytes, port) { return {first: bytes[0], port: port}; }")
    chirpstack_v3 = JsCodec("function Decode(fPort, bytes, variables) { return {first: bytes[0], port: fPort}; }")
    assert ttn_v2.decode(3, b"\x09")["data"] == {"first": 9, "port": 3}
    assert chirpstack_v3.decode(4, b"\x08")["data"] == {"first": 8, "port": 4}


def test_codec_errors_and_warnings_pass_through() -> None:
    codec = JsCodec(FIXTURES / "sample-counter.js")
    assert codec.decode(5, b"\x07") == {"data": {}, "warnings": [], "errors": ["unknown frame on fPort 5"]}
    low = codec.decode(1, bytes([1, 0, 1, 0, 2, 0x1C]))
    assert low["warnings"] == ["battery low"]
    assert low["data"]["battery_voltage"] == pytest.approx(2.8)


def test_strings_and_numbers_cross_unchanged() -> None:
    codec = JsCodec(
        "function decodeUplink(i) { return {data: {lone: String.fromCharCode(0xd800), text: 'Stra\\u00dfe \\u00fc',"
        " tiny: 5e-324, big: 1e21, third: 1 / 3, count: 9007199254740991}}; }"
    )
    assert codec.decode(1, b"")["data"] == {
        "lone": "\ud800",  # JSON.stringify escapes a lone surrogate; it comes back as the same code point
        "text": "Stra\u00dfe \u00fc",
        "tiny": 5e-324,
        "big": 1e21,
        "third": 1 / 3,
        "count": 9007199254740991,
    }


def test_a_path_given_as_string() -> None:
    codec = JsCodec(str(OUR_CODECS / "cayenne-lpp.js"))
    assert codec.decode(1, LPP_FRAME)["data"] == LPP_DATA
    assert codec.name.endswith("cayenne-lpp.js")


def test_encode_downlink() -> None:
    codec = JsCodec(FIXTURES / "sample-counter.js")
    assert codec.has_encoder
    assert codec.encode_downlink({"interval": 900}) == {"bytes": [2, 3, 132], "fPort": 2, "warnings": [],
                                                         "errors": []}
    assert codec.encode_downlink({"interval": 0})["errors"] == ["interval must be 1..65535 s"]


def test_missing_encode_downlink_is_an_error_entry(lpp: JsCodec) -> None:
    assert not lpp.has_encoder
    expected: dict[str, Any] = {"bytes": [], "fPort": None, "warnings": [],
                                "errors": ["codec defines no encodeDownlink function"]}
    assert dict(lpp.encode_downlink({"x": 1})) == expected


def test_malformed_downlink() -> None:
    codec = JsCodec(
        "function decodeUplink(i) { return {data: {}}; }\n"
        "function encodeDownlink(i) { return i.data.port ? {bytes: [1], fPort: 300} : {bytes: [256]}; }"
    )
    assert "not a list of integers 0..255" in codec.encode_downlink({})["errors"][0]
    assert "fPort 300" in codec.encode_downlink({"port": 1})["errors"][0]
    assert "not JSON" in codec.encode_downlink({"x": {1, 2}})["errors"][0]


# Loading ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("function decodeUplink(input) { return {data: }", "SyntaxError"),
        ("var x = 1;", "defines no decodeUplink"),
        ("var fs = require('fs');\nfunction decodeUplink(i) { return {data: {}}; }", "require is not defined"),
        ("import * as std from 'std';\nfunction decodeUplink(i) { return {data: {}}; }", "SyntaxError"),
        ("}); globalThis.escaped = 1; (function () {", "not a self-contained script"),
        ("}); while (true) {} (function () {", "took more than"),
    ],
)
def test_unusable_codecs_are_refused_when_loaded(source: str, message: str) -> None:
    with pytest.raises(JsCodecError, match=message):
        JsCodec(source)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JsCodecError, match="cannot read codec file"):
        JsCodec(tmp_path / "absent.js")


# Isolation between uplinks -----------------------------------------------------------------------------------


def test_no_state_carries_from_one_uplink_to_the_next() -> None:
    codec = hostile("leaks-state.js")
    first = codec.decode(1, b"\x01")
    for _ in range(3):
        later = codec.decode(1, b"\x02")
        assert later == first
    assert first["data"] == {
        "calls": 1, "implicit": "undefined", "global_this": "undefined", "object_prototype": "undefined",
        "array_prototype": "undefined", "math": "undefined", "json_parse": "intact", "date_now": False,
        "iterator_prototype": "undefined", "callee": "undefined", "global_proto": "undefined",
    }


def test_implicit_globals_are_removed_without_rebuilding_the_realm() -> None:
    codec = JsCodec(
        "function decodeUplink(input) {\n"
        "  var before = typeof counter === 'number' ? counter : 0;\n"
        "  counter = before + 1; globalThis.other = before;\n"
        "  return {data: {before: before}};\n"
        "}"
    )
    results = [codec.decode(1, b"")["data"]["before"] for _ in range(5)]
    assert results == [0, 0, 0, 0, 0]
    assert codec.realms_built == 1


def test_sloppy_vendor_style_still_works_in_the_hardened_realm() -> None:
    codec = JsCodec(
        "function Reading(v) { this.name = 'Reading'; this.message = 'v=' + v; this.value = v; }\n"
        "Reading.prototype = Object.create(Error.prototype);\n"
        "Reading.prototype.constructor = Reading;\n"
        "Reading.prototype.toString = function () { return 'reading ' + this.value; };\n"
        "function decodeUplink(input) {\n"
        "  var r = new Reading(input.bytes[0]);\n"
        "  for (i = 0; i < 2; i++) {}\n"
        "  return {data: {text: String(r), name: r.name, message: r.message, ctor: r.constructor === Reading,\n"
        "                 loop: i}};\n"
        "}"
    )
    for _ in range(2):
        assert codec.decode(1, b"\x05")["data"] == {"text": "reading 5", "name": "Reading", "message": "v=5",
                                                   "ctor": True, "loop": 2}


def test_builtins_cannot_be_changed() -> None:
    codec = JsCodec(
        "'use strict';\n"
        "function decodeUplink(input) {\n"
        "  try { Array.prototype.push = null; return {data: {changed: true}}; }\n"
        "  catch (e) { return {data: {changed: false, error: e.name}}; }\n"
        "}"
    )
    assert codec.decode(1, b"")["data"] == {"changed": False, "error": "TypeError"}
    assert codec.decode(1, b"")["data"] == {"changed": False, "error": "TypeError"}


def test_fresh_context_mode_isolates_too() -> None:
    codec = JsCodec(FIXTURES / "leaks-state.js", fresh_context=True)
    assert codec.decode(1, b"\x01") == codec.decode(1, b"\x02")
    assert codec.decode(1, b"\x01")["data"]["global_this"] == "undefined"


def test_each_thread_gets_its_own_realm(lpp: JsCodec) -> None:
    results: list[Any] = []
    workers = [threading.Thread(target=lambda: results.append(lpp.decode(1, LPP_FRAME))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [{"data": LPP_DATA, "warnings": [], "errors": []}] * 3


# Hostile codecs ----------------------------------------------------------------------------------------------


def test_endless_loop_times_out() -> None:
    codec = hostile("endless-loop.js", time_limit_ms=50)
    assert codec.decode(66, b"\x01") == {"data": {}, "warnings": [], "errors": ["codec timed out after 50 ms"]}
    assert_recovers(codec)
    assert codec.decode(66, b"\x01")["errors"] == ["codec timed out after 50 ms"]
    assert_recovers(codec)


def test_huge_allocation_hits_the_memory_limit() -> None:
    codec = hostile("huge-allocation.js", memory_limit_bytes=8 * 1024 * 1024)
    assert codec.decode(66, b"\x01")["errors"] == ["codec exceeded the memory limit of 8 MiB"]
    assert_recovers(codec)
    assert codec.decode(66, b"\x01")["errors"] == ["codec exceeded the memory limit of 8 MiB"]
    assert_recovers(codec)


def test_deep_recursion_hits_the_stack_limit() -> None:
    codec = hostile("deep-recursion.js")
    expected = ["codec exceeded the stack limit of 256 KiB (recursion too deep)"]
    assert codec.decode(66, b"\x01")["errors"] == expected
    assert_recovers(codec)
    assert codec.decode(66, b"\x01")["errors"] == expected
    assert_recovers(codec)


def test_throwing_codec() -> None:
    codec = hostile("throws.js")
    assert codec.decode(66, b"\x01")["errors"] == ["codec threw: TypeError: cannot read property 'field' of undefined"]
    assert_recovers(codec)
    thrown_string = JsCodec("function decodeUplink(i) { throw 'bad frame'; }")
    assert thrown_string.decode(1, b"")["errors"] == ["codec threw: bad frame"]
    unprintable = JsCodec("function decodeUplink(i) { throw {toString: function () { throw 1; }}; }")
    assert unprintable.decode(1, b"")["errors"] == ["codec threw: a value that cannot be printed"]


@pytest.mark.parametrize(
    ("f_port", "message"),
    [
        (1, "codec returned int, not an object with data"),
        (2, "codec returned data of type list, expected an object"),
        (3, "codec returned malformed warnings or errors: each must be a list of strings"),
        (4, "codec returned a value that is not JSON: TypeError: circular reference"),
        (5, "codec returned NoneType, not an object with data"),
        (6, "codec returned a value that is not JSON: TypeError: BigInt are forbidden in JSON.stringify"),
    ],
)
def test_malformed_results(f_port: int, message: str) -> None:
    codec = hostile("malformed-result.js")
    assert codec.decode(f_port, b"") == {"data": {}, "warnings": [], "errors": [message]}
    assert codec.realms_built == 1


def test_no_host_access() -> None:
    codec = hostile("host-access.js")
    data = codec.decode(1, b"")["data"]
    reached = {name: kind for name, kind in data.items() if name not in ("globals", "import_std")}
    assert reached
    assert set(reached.values()) == {"undefined"}
    assert set(data["globals"]) <= STANDARD_GLOBALS
    assert data["import_std"] == "pending"  # the promise never runs inside the call ...
    again = codec.decode(1, b"")["data"]  # ... and its pending job discards the realm
    assert again == data
    assert codec.realms_built == 2


def test_dynamic_import_is_refused() -> None:
    codec = JsCodec(
        "function decodeUplink(input) {\n"
        "  var outcome = {};\n"
        "  import('os').then(function () { outcome.loaded = true; }, function (e) { outcome.error = String(e); });\n"
        "  return {data: outcome};\n"
        "}"
    )
    assert codec.decode(1, b"") == {"data": {}, "warnings": [], "errors": []}
    assert codec.decode(1, b"") == {"data": {}, "warnings": [], "errors": []}
    assert codec.realms_built == 2  # the promise job left pending discards the realm after each call


def test_undeletable_global_discards_the_realm() -> None:
    codec = JsCodec(
        "function decodeUplink(input) {\n"
        "  var seen = typeof pinned;\n"
        "  Object.defineProperty(globalThis, 'pinned', {value: 1});\n"
        "  return {data: {seen: seen}};\n"
        "}"
    )
    assert [codec.decode(1, b"")["data"]["seen"] for _ in range(3)] == ["undefined"] * 3
    assert codec.realms_built == 3  # each polluted realm is discarded; the next call builds a new one


# Our JavaScript codecs against the vendor vectors and the native codecs ------------------------------------------


def _shared_vectors(model: str) -> list[dict[str, Any]]:
    if not SHARED_VECTORS.is_file():
        return []
    return [v for v in yaml.safe_load(SHARED_VECTORS.read_text(encoding="utf-8")) if v["model"] == model]


@pytest.mark.parametrize("model", ["cayenne-lpp", "nwave-nps405"])
def test_our_js_codecs_match_the_vendor_vectors(model: str) -> None:
    vectors = _shared_vectors(model)
    if not vectors:
        pytest.skip("shared vectors not available")
    codec = JsCodec(OUR_CODECS / f"{model}.js")
    for vector in vectors:
        result = codec.decode(vector["input"]["fPort"], bytes.fromhex(vector["input"]["hex"]))
        assert approx_equal(result["data"], vector["output"]["data"]), vector["description"]


JS_SAMPLE = JsCodec(FIXTURES / "sample-counter.js")
JS_MODELS = sorted(path.stem for path in OUR_CODECS.glob("*.js"))
_JS = {model: JsCodec(OUR_CODECS / f"{model}.js") for model in JS_MODELS}
UNUSED_PORT = 224  # LoRaWAN keeps fPort 224 for its MAC-layer test protocol: no model sends application data on it


def _model_vectors(model: str) -> list[dict[str, Any]]:
    """The vectors of ``tests/vectors/<model>.yaml`` and ``tests/vectors/uncalibrated/<model>.yaml``."""
    return [example for name, example in MODEL_VECTORS + UNCALIBRATED if name == model]


def test_every_native_codec_has_a_js_codec() -> None:
    from devices.codecs import NATIVE_CODECS

    assert {model.replace("-", "_") for model in JS_MODELS} == set(NATIVE_CODECS)


@pytest.mark.parametrize("model", JS_MODELS)
def test_our_js_codecs_decode_the_model_vectors(model: str) -> None:
    vectors = _model_vectors(model)
    assert vectors, f"no vectors for {model}"
    for vector in vectors:
        where = f"{model}: {vector['description']}"
        result = _JS[model].decode(*frame_of(vector))
        expected = vector["output"]
        assert result["errors"] == expected.get("errors", []), where
        assert approx_equal(result["data"], expected.get("data", {})), where
        if "warnings" in expected:
            assert result["warnings"] == expected["warnings"], where


# Per model: the fPorts its vectors use plus one it does not use, and its vector payloads to vary.
_PORTS = {model: sorted({frame_of(v)[0] for v in _model_vectors(model)} | {UNUSED_PORT}) for model in JS_MODELS}
_SEEDS = {model: [frame_of(v)[1] for v in _model_vectors(model)] for model in JS_MODELS}


@st.composite
def _payloads(draw: st.DrawFn, model: str) -> bytes:
    """Up to 64 random bytes, or a vector payload cut short, extended and with one byte changed (random bytes
    alone seldom get past a protocol header).
    """
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    frame = bytearray(draw(st.sampled_from(_SEEDS[model])))
    del frame[draw(st.integers(0, len(frame))) :]
    frame += draw(st.binary(max_size=8))
    if frame and draw(st.booleans()):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[:64])


@pytest.mark.parametrize("model", JS_MODELS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_js_and_native_codecs_agree_on_any_bytes(model: str, data: st.DataObject) -> None:
    f_port = data.draw(st.sampled_from(_PORTS[model]), label="f_port")
    payload = data.draw(_payloads(model), label="payload")
    js_result = _JS[model].decode(f_port, payload)
    native_result = native_codec(model.replace("-", "_")).decode(f_port, payload)
    assert approx_equal(dict(js_result), dict(native_result)), (js_result, native_result)


@settings(max_examples=200, deadline=None)
@given(f_port=st.integers(0, 255), payload=st.binary(max_size=64))
def test_vendor_style_codec_never_raises(f_port: int, payload: bytes) -> None:
    result = JS_SAMPLE.decode(f_port, payload)
    assert set(result) == {"data", "warnings", "errors"}
    assert isinstance(result["data"], dict)
    assert bool(result["errors"]) != bool(result["data"])



def test_a_catalog_entry_with_codec_js_needs_no_release(tmp_path: Path) -> None:
    from devices.catalog import load_catalog
    from devices.codecs import codec_for

    entry = tmp_path / "catalog.yaml"
    entry.write_text(
        "- model: nwave-nps405\n"
        "  vendor: Nwave\n"
        "  class: parking\n"
        f"  codec_js: {OUR_CODECS / 'nwave-nps405.js'}\n"
        "  quantities:\n"
        "    - {match: occupied, quantity: occupied}\n",
        encoding="utf-8",
    )
    model = load_catalog(entry)["nwave-nps405"]
    codec = codec_for(model)
    assert isinstance(codec, JsCodec)
    assert codec.decode(1, b"\x95")["data"]["previous_state_duration"] == 74
