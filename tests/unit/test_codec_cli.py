"""``stadtpuls codec decode`` and ``stadtpuls codec test``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from devices.catalog import catalog
from devices.codec_cli import codec_group, differences

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "js"
OUR_CODECS = ROOT / "devices" / "codecs" / "js"
SAMPLE_YAML = FIXTURES / "sample-counter-codec.yaml"


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(codec_group, [str(a) for a in args])
    return result.exit_code, result.output


# decode ------------------------------------------------------------------------------------------------------


def test_decode_with_a_catalog_model() -> None:
    code, output = invoke("decode", "cayenne-lpp", "--fport", "1", "--hex", "03670110056700FF")
    assert code == 0
    assert json.loads(output) == {"data": {"temperature_3": 27.2, "temperature_5": 25.5}, "warnings": [],
                                  "errors": []}


def test_decode_with_a_js_file() -> None:
    code, output = invoke("decode", "--js", OUR_CODECS / "nwave-nps405.js", "--fport", "1", "--hex", "95")
    assert code == 0
    assert json.loads(output)["data"]["previous_state_duration"] == 74


def test_decode_accepts_spaced_and_prefixed_hex() -> None:
    code, output = invoke("decode", "--js", OUR_CODECS / "cayenne-lpp.js", "--fport", "1", "--hex", "0x0367 0110")
    assert code == 0
    assert json.loads(output)["data"] == {"temperature_3": 27.2}


def test_decode_exits_1_when_the_result_has_errors() -> None:
    code, output = invoke("decode", "--js", OUR_CODECS / "nwave-nps405.js", "--fport", "7", "--hex", "01")
    assert code == 1
    assert json.loads(output)["errors"] == ["unknown fPort 7; this model sends on fPort 1, 2, 3, 6, 10"]


def test_decode_reports_a_sandbox_error_as_a_result() -> None:
    code, output = invoke("decode", "--js", FIXTURES / "throws.js", "--fport", "66", "--hex", "01")
    assert code == 1
    assert json.loads(output)["errors"] == ["codec threw: TypeError: cannot read property 'field' of undefined"]


def test_bad_hex_is_a_usage_error() -> None:
    code, output = invoke("decode", "cayenne-lpp", "--fport", "1", "--hex", "0367zz")
    assert code == 2
    assert "'0367zz' is not hexadecimal" in output


def test_unknown_model_names_the_known_ones() -> None:
    code, output = invoke("decode", "acme-nothing", "--fport", "1", "--hex", "00")
    assert code == 2
    assert "unknown device model 'acme-nothing'" in output
    assert "cayenne-lpp" in output


@pytest.mark.parametrize(
    "args",
    [
        ("decode", "--fport", "1", "--hex", "00"),
        ("decode", "cayenne-lpp", "--js", str(OUR_CODECS / "cayenne-lpp.js"), "--fport", "1", "--hex", "00"),
    ],
)
def test_model_or_js_file_exactly_once(args: tuple[str, ...]) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert "either a MODEL_ID or --js" in output


def test_broken_js_file_is_a_usage_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.js"
    broken.write_text("function decodeUplink(input) { return {data: }", encoding="utf-8")
    code, output = invoke("decode", "--js", broken, "--fport", "1", "--hex", "00")
    assert code == 2
    assert "cannot load the JavaScript codec" in output
    assert "SyntaxError" in output


# test --------------------------------------------------------------------------------------------------------


def test_codec_yaml_examples_pass() -> None:
    code, output = invoke("test", SAMPLE_YAML)
    assert code == 0, output
    assert "PASS  uplink: Counts with a low battery" in output
    assert "PASS  downlink: Interval out of range" in output
    assert "6 passed, 0 failed" in output


def test_a_wrong_expectation_fails_and_says_where(tmp_path: Path) -> None:
    document = yaml.safe_load(SAMPLE_YAML.read_text(encoding="utf-8"))
    document["uplinkDecoder"]["examples"][0]["output"]["data"]["people_in"] = 43
    document["uplinkDecoder"]["examples"][2]["output"] = {"errors": ["nope"]}
    changed = tmp_path / "sample-counter-codec.yaml"
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")
    (tmp_path / "sample-counter.js").write_text((FIXTURES / "sample-counter.js").read_text(encoding="utf-8"))
    code, output = invoke("test", changed)
    assert code == 1
    assert "FAIL  uplink: Counts\n      data.people_in: expected 43, got 42" in output
    assert "FAIL  uplink: Configuration\n      errors: expected ['nope'], got []" in output
    assert "4 passed, 2 failed" in output


def test_js_option_overrides_the_file_name() -> None:
    code, output = invoke("test", SAMPLE_YAML, "--js", OUR_CODECS / "cayenne-lpp.js")
    assert code == 1
    assert "FAIL  uplink: Counts" in output


@pytest.mark.parametrize("model", sorted(p.name.removesuffix("-codec.yaml") for p in OUR_CODECS.glob("*-codec.yaml")))
def test_our_codec_yamls_pass_with_js_and_native(model: str) -> None:
    codec_yaml = OUR_CODECS / f"{model}-codec.yaml"
    code, output = invoke("test", codec_yaml)
    assert code == 0, output
    if model not in catalog():
        pytest.skip(f"{model} is not in the catalog")
    code, output = invoke("test", codec_yaml, "--model", model)
    assert code == 0, output
    assert "0 failed" in output


def test_model_option_with_an_unknown_model() -> None:
    code, output = invoke("test", SAMPLE_YAML, "--model", "acme-nothing")
    assert code == 2
    assert "unknown device model 'acme-nothing'" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("examples: []\n", "needs an 'uplinkDecoder' section"),
        ("uplinkDecoder: {fileName: absent.js}\n", "'absent.js' not found"),
        ("uplinkDecoder: [unclosed\n", "cannot read codec file"),
    ],
)
def test_unusable_codec_yaml_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    codec_yaml = tmp_path / "x-codec.yaml"
    codec_yaml.write_text(content, encoding="utf-8")
    code, output = invoke("test", codec_yaml)
    assert code == 2
    assert message in output


def test_yaml_without_examples_fails(tmp_path: Path) -> None:
    codec_yaml = tmp_path / "x-codec.yaml"
    codec_yaml.write_text("uplinkDecoder: {fileName: x.js}\n", encoding="utf-8")
    (tmp_path / "x.js").write_text("function decodeUplink(i) { return {data: {}}; }", encoding="utf-8")
    code, output = invoke("test", codec_yaml)
    assert code == 1
    assert "no examples to run" in output


def test_malformed_example_fails(tmp_path: Path) -> None:
    codec_yaml = tmp_path / "x-codec.yaml"
    codec_yaml.write_text(
        "uplinkDecoder:\n  fileName: x.js\n  examples:\n"
        "    - {description: bad, input: {fPort: 1, bytes: [300]}, output: {data: {}}}\n",
        encoding="utf-8",
    )
    (tmp_path / "x.js").write_text("function decodeUplink(i) { return {data: {}}; }", encoding="utf-8")
    code, output = invoke("test", codec_yaml)
    assert code == 1
    assert "malformed example: input.bytes must be a list of byte values 0..255" in output


def test_differences_tolerate_float_noise_only() -> None:
    assert list(differences({"v": 3.6, "n": [1, 2]}, {"v": 3.6 + 1e-12, "n": [1, 2.0]})) == []
    assert list(differences({"v": 3.6}, {"v": 3.7})) == ["v: expected 3.6, got 3.7"]
    assert list(differences({"b": True}, {"b": 1})) == ["b: expected True, got 1"]
    assert list(differences({"a": 1}, {"b": 1})) == ["a: missing (expected 1)", "b: unexpected (got 1)"]
    assert list(differences([1, 2], [1])) == ["value: expected [1, 2], got [1]"]


def test_decode_a_model_whose_catalog_entry_names_a_js_codec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from devices import codec_cli
    from devices.catalog import load_catalog

    entry = tmp_path / "catalog.yaml"
    entry.write_text(
        f"- model: nwave-nps405\n  class: parking\n  codec_js: {OUR_CODECS / 'nwave-nps405.js'}\n", encoding="utf-8"
    )
    monkeypatch.setattr(codec_cli, "get_model", load_catalog(entry).__getitem__)
    code, output = invoke("decode", "nwave-nps405", "--fport", "2", "--hex", "00D3D800590B")
    assert code == 0
    assert json.loads(output)["data"]["battery_voltage"] == pytest.approx(3.344)


def test_decode_prints_a_lone_surrogate_escaped(tmp_path: Path) -> None:
    odd = tmp_path / "odd.js"
    odd.write_text("function decodeUplink(i) { return {data: {s: String.fromCharCode(0xD800)}}; }", encoding="utf-8")
    code, output = invoke("decode", "--js", odd, "--fport", "1", "--hex", "00")
    assert code == 0
    assert '"s": "\\ud800"' in output


VENDOR_VECTORS = [
    pytest.param(path.stem, example, id=f"{path.stem}-{index}")
    for path in sorted((ROOT / "tests" / "vectors").rglob("*.yaml"))
    for index, example in enumerate(yaml.safe_load(path.read_text()))
    if "data" in example["output"]
]


@pytest.mark.parametrize(("model", "example"), VENDOR_VECTORS)
def test_every_vendor_example_through_the_cli(model: str, example: dict[str, object]) -> None:
    given = example["input"]
    assert isinstance(given, dict)
    code, output = invoke("decode", model, "--fport", str(given["fPort"]), "--hex", given["hex"])
    assert code == 0, output
    expected = example["output"]
    assert isinstance(expected, dict)
    assert list(differences(expected["data"], json.loads(output)["data"])) == []
