"""``stadtpuls codec``: decode one payload, and run a TTN Device Repository codec YAML's examples.

``decode`` prints the codec's JSON result (exit 1 if it has errors); ``test`` reports pass/fail per
example (exit 1 if any fails). Usage errors (bad hex, unknown model, unreadable file) exit 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from devices.catalog import check_catalog, get_model
from devices.codecs import codec_for
from devices.codecs.base import Codec
from devices.jscodec import JsCodec, JsCodecError

TOLERANCE = 1e-9  # floats closer than this are equal, as the TTN Device Repository compares them
_JS_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("codec")
def codec_group() -> None:
    """Decode payloads and test codecs (native or TTN Device Repository JavaScript)."""
    check_catalog()


# Loading codecs ----------------------------------------------------------------------------------------------


def _load_js(path: Path) -> JsCodec:
    try:
        return JsCodec(path)
    except JsCodecError as exc:
        raise click.UsageError(f"cannot load the JavaScript codec: {exc}") from exc


def _model_codec(model_id: str) -> Codec:
    """The codec the catalog names for ``model_id`` (resolved when the catalog loaded)."""
    try:
        model = get_model(model_id)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    return codec_for(model)


def _parse_hex(ctx: click.Context, param: click.Parameter, value: str) -> bytes:
    text = value.replace(" ", "").replace(":", "")
    text = text[2:] if text.lower().startswith("0x") else text
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not hexadecimal bytes (e.g. 03670110)") from exc


def _print_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a codec returned a lone surrogate: print it escaped
        text = json.dumps(value, indent=2)
    click.echo(text)


# decode ------------------------------------------------------------------------------------------------------


@codec_group.command("decode")
@click.argument("model_id", required=False)
@click.option("--js", "js_file", type=_JS_FILE, help="A TTN Device Repository codec file instead of a model.")
@click.option("--fport", "f_port", type=click.IntRange(0, 255), required=True, help="The uplink's fPort.")
@click.option("--hex", "payload", required=True, callback=_parse_hex, help="The payload as hex.")
def decode_command(model_id: str | None, js_file: Path | None, f_port: int, payload: bytes) -> None:
    """Decode one payload with MODEL_ID's codec (or --js FILE) and print the JSON result."""
    if (model_id is None) == (js_file is None):
        raise click.UsageError("name either a MODEL_ID or --js FILE.js")
    codec = _load_js(js_file) if js_file is not None else _model_codec(str(model_id))
    result = codec.decode(f_port, payload)
    _print_json(result)
    if result["errors"]:
        raise SystemExit(1)


# test --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One example's verdict."""

    description: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the codec's output matched the example."""
        return not self.problems


def differences(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    """Where ``actual`` differs from ``expected``; numbers may differ by :data:`TOLERANCE`."""
    where = path or "value"
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                yield f"{sub}: missing (expected {expected[key]!r})"
            elif key not in expected:
                yield f"{sub}: unexpected (got {actual[key]!r})"
            else:
                yield from differences(expected[key], actual[key], sub)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from differences(left, right, f"{path}[{index}]")
    elif not _same_scalar(expected, actual):
        yield f"{where}: expected {expected!r}, got {actual!r}"


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=0.0, abs_tol=TOLERANCE)
    return bool(expected == actual)


def _example_bytes(raw: Any) -> bytes:
    if not isinstance(raw, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in raw):
        raise ValueError(f"input.bytes must be a list of byte values 0..255, got {raw!r}")
    return bytes(raw)


def _compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Compare what an example expects (``data``, ``errors``, ``warnings``, ``bytes``, ``fPort``)."""
    problems: list[str] = []
    for key in ("data", "bytes", "fPort", "errors", "warnings"):
        if key in expected:
            problems += differences(expected[key], actual.get(key), key)
    if "errors" not in expected and actual.get("errors"):
        problems.append(f"errors: expected none, got {actual['errors']!r}")
    return problems


def run_uplink_example(codec: Codec, example: dict[str, Any]) -> Outcome:
    """Decode one ``uplinkDecoder`` example and compare it with its ``output``."""
    description = str(example.get("description", "(no description)"))
    try:
        given, expected = example["input"], example["output"]
        payload = _example_bytes(given.get("bytes"))
        f_port = int(given["fPort"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Outcome(description, (f"malformed example: {exc}",))
    actual = codec.decode(f_port, payload)
    return Outcome(description, tuple(_compare(expected or {}, dict(actual))))


def run_downlink_example(codec: JsCodec, example: dict[str, Any]) -> Outcome:
    """Encode one ``downlinkEncoder`` example and compare it with its ``output``."""
    description = str(example.get("description", "(no description)"))
    try:
        data, expected = example["input"]["data"], example["output"]
    except (KeyError, TypeError) as exc:
        return Outcome(description, (f"malformed example: {exc}",))
    actual = codec.encode_downlink(data if isinstance(data, dict) else {})
    return Outcome(description, tuple(_compare(expected or {}, dict(actual))))


def _read_codec_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read codec file {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("uplinkDecoder"), dict):
        raise click.UsageError(f"{path}: not a TTN codec file (it needs an 'uplinkDecoder' section)")
    return document


def _codec_for_yaml(document: dict[str, Any], path: Path, js_file: Path | None, model_id: str | None) -> Codec:
    if js_file is not None and model_id is not None:
        raise click.UsageError("give at most one of --js and --model")
    if model_id is not None:
        return _model_codec(model_id)
    if js_file is not None:
        return _load_js(js_file)
    file_name = document["uplinkDecoder"].get("fileName")
    if not file_name:
        raise click.UsageError(f"{path}: uplinkDecoder names no fileName; pass --js FILE.js or --model MODEL_ID")
    script = path.parent / str(file_name)
    if not script.is_file():
        raise click.UsageError(f"{path}: uplinkDecoder.fileName {file_name!r} not found next to it ({script})")
    return _load_js(script)


def _examples(section: Any) -> list[dict[str, Any]]:
    examples = section.get("examples") if isinstance(section, dict) else None
    return [e for e in examples or [] if isinstance(e, dict)]


def run_codec_yaml(
    path: Path, *, js_file: Path | None = None, model_id: str | None = None
) -> list[tuple[str, Outcome]]:
    """Run every uplink example (and, for a JavaScript codec, every downlink example) of a codec YAML.

    Returns:
        ``(section, outcome)`` per example, in file order.

    Raises:
        click.UsageError: the YAML, the codec file or the model cannot be used.
    """
    document = _read_codec_yaml(path)
    codec = _codec_for_yaml(document, path, js_file, model_id)
    outcomes = [("uplink", run_uplink_example(codec, e)) for e in _examples(document["uplinkDecoder"])]
    downlinks = _examples(document.get("downlinkEncoder"))
    if downlinks and isinstance(codec, JsCodec):
        outcomes += [("downlink", run_downlink_example(codec, e)) for e in downlinks]
    elif downlinks:
        click.echo(f"skipped {len(downlinks)} downlinkEncoder example(s): only JavaScript codecs encode downlinks")
    return outcomes


@codec_group.command("test")
@click.argument("codec_yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--js", "js_file", type=_JS_FILE, help="Run this JavaScript file instead of uplinkDecoder.fileName.")
@click.option("--model", "model_id", help="Run the examples against this catalog model's codec instead.")
def test_command(codec_yaml: Path, js_file: Path | None, model_id: str | None) -> None:
    """Run the examples of a TTN Device Repository CODEC_YAML (<model>-codec.yaml); exit 1 if any fails."""
    outcomes = run_codec_yaml(codec_yaml, js_file=js_file, model_id=model_id)
    if not outcomes:
        click.echo(f"{codec_yaml}: no examples to run")
        raise SystemExit(1)
    for section, outcome in outcomes:
        click.echo(f"{'PASS' if outcome.passed else 'FAIL'}  {section}: {outcome.description}")
        for problem in outcome.problems:
            click.echo(f"      {problem}")
    failed = sum(not outcome.passed for _, outcome in outcomes)
    click.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)
