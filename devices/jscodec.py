"""Run a vendor's JavaScript payload codec unchanged, sandboxed in QuickJS.

A codec file in the TTN Device Repository form defines ``decodeUplink(input)`` (and optionally
``encodeDownlink(input)``), where ``input = {bytes: [...], fPort: N, recvTime: Date}`` and the result is
``{data, warnings, errors}``; The Things Stack and ChirpStack call it the same way. Legacy entry points are
accepted when ``decodeUplink`` is absent: ``Decoder(bytes, fPort)`` (TTN v2) and ``Decode(fPort, bytes,
variables)`` (ChirpStack v3).

The sandbox:

* a QuickJS realm with no host objects: no ``require``, no modules (``import()`` finds nothing), no
  file or network access, no Python callables;
* per call: a CPU-time limit (QuickJS interrupt handler, measured with ``clock()``, i.e. process CPU
  time), a memory limit for the realm and a stack limit;
* no state from one uplink to the next. By default one realm per codec (and per thread) is reused, and
  isolation is enforced instead of assumed:

  - the codec source is compiled once as the body of a function and that function runs afresh for
    every call, so its top-level ``var``/``let``/``function`` declarations and tables are new each time;
  - every intrinsic reachable from the global object (constructors, prototypes, ``Math``, ``JSON``,
    iterator and generator prototypes ...) is frozen, with the few inherited properties that sloppy
    code commonly assigns on instances (``constructor``, ``toString``, ``name``, ``message`` ...)
    turned into accessors that define an own property instead of failing silently;
  - the built-in globals are made read-only; globals a call creates (``x = 1`` without ``var``,
    ``globalThis.y = ...``) are deleted after the call;
  - anything that cannot be undone that way (an undeletable global, a changed or non-extensible
    global object, a pending promise job, a timeout, running out of memory) discards the realm and
    the next call builds a new one.

  ``fresh_context=True`` instead runs the file as a plain script in a new realm for every call: the
  exact semantics of a one-shot script, at a small fraction of the speed (see ``docs/benchmarks.md``).

Errors never escape :meth:`JsCodec.decode`: a throwing, slow, greedy or malformed codec yields a
:class:`~devices.codecs.base.DecodeResult` whose ``errors`` name the problem.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import msgspec
import quickjs

from devices.codecs.base import DecodeResult
from stadtpuls.errors import ConfigError

DEFAULT_TIME_LIMIT_MS = 100  # ms of CPU time per call, as The Things Stack and ChirpStack allow
DEFAULT_MEMORY_LIMIT_BYTES = 16 * 1024 * 1024  # bytes per realm
DEFAULT_STACK_LIMIT_BYTES = 256 * 1024  # bytes of JS stack


_OUT_OF_MEMORY = "InternalError: out of memory"
_STACK_OVERFLOW = "RangeError: Maximum call stack size exceeded"
_SETUP_TIME_LIMIT_S = 1.0  # s of CPU time for compiling the codec and hardening the realm

# The sandbox's own JavaScript (devices/js/): the runner, evaluated once per realm, and the tail of the function
# a codec is compiled into, which hands the codec's entry points to the runner.
_JS_DIR = Path(__file__).with_name("js")
_RUNNER_JS = (_JS_DIR / "runner.js").read_text(encoding="utf-8")
_ENTRIES_JS = (_JS_DIR / "entries.js").read_text(encoding="utf-8")


class JsCodecError(ConfigError, ValueError):
    """The codec file cannot be used at all (unreadable, not valid JavaScript, no decoder)."""


class DownlinkResult(TypedDict):
    """What ``encodeDownlink`` returns: the frame, its fPort and the usual warnings and errors."""

    bytes: list[int]
    fPort: int | None
    warnings: list[str]
    errors: list[str]


@dataclass
class _Realm:
    context: Any  # quickjs.Context
    run: Any  # quickjs.Object: run(op, a, b, c) -> JSON answer


def _read_source(path_or_source: str | os.PathLike[str]) -> tuple[str, str]:
    """The codec's source text and a name for messages."""
    looks_like_path = isinstance(path_or_source, os.PathLike) or (
        "\n" not in path_or_source and path_or_source.strip().endswith(".js")
    )
    if not looks_like_path:
        return str(path_or_source), "<source>"
    path = Path(path_or_source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise JsCodecError(f"cannot read codec file {path}: {exc}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


class JsCodec:
    """A TTN Device Repository JavaScript codec, run as it is in a QuickJS sandbox.

    Args:
        path_or_source: a path to the ``.js`` file (a :class:`~os.PathLike`, or a one-line string ending
            in ``.js``) or the source text itself.
        time_limit_ms: CPU time one call may take, ms.
        memory_limit_bytes: memory the realm may allocate, bytes (the sandbox itself needs ~0.5 MiB).
        stack_limit_bytes: JavaScript stack, bytes.
        fresh_context: run the file as a script in a new realm for every call instead of reusing one
            hardened realm (slower, exact one-shot semantics).

    Raises:
        JsCodecError: the file cannot be read, is not valid JavaScript, its top-level code throws, or it
            defines no decoder.
    """

    def __init__(
        self,
        path_or_source: str | os.PathLike[str],
        *,
        time_limit_ms: float = DEFAULT_TIME_LIMIT_MS,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
        stack_limit_bytes: int = DEFAULT_STACK_LIMIT_BYTES,
        fresh_context: bool = False,
    ) -> None:
        self.source, self.name = _read_source(path_or_source)
        self.time_limit_ms = time_limit_ms
        self.memory_limit_bytes = memory_limit_bytes
        self.stack_limit_bytes = stack_limit_bytes
        self.fresh_context = fresh_context
        self.realms_built = 0  # how many realms were created (set-up plus every discard)
        self._local = threading.local()
        entries = self._probe()
        if not (entries.get("decodeUplink") or entries.get("Decoder") or entries.get("Decode")):
            raise JsCodecError(f"{self.name}: defines no decodeUplink(input) function")
        self.has_encoder = bool(entries.get("encodeDownlink"))

    def decode(self, f_port: int, payload: bytes, *, recv_time: datetime | None = None) -> DecodeResult:
        """Call the codec's ``decodeUplink({bytes, fPort, recvTime})``; problems become ``errors``.

        Args:
            f_port: the uplink's LoRaWAN port.
            payload: the FRMPayload.
            recv_time: the network server's receive time (default: now).
        """
        recv_ms = recv_time.timestamp() * 1000.0 if recv_time is not None else time.time() * 1000.0
        answer = self._call("decode", payload.decode("latin-1"), f_port, recv_ms)
        return _decode_result(answer)

    def encode_downlink(self, data: dict[str, Any]) -> DownlinkResult:
        """Call the codec's ``encodeDownlink({data})``; a codec without one yields an ``errors`` entry."""
        try:
            data_json = json.dumps(data)
        except (TypeError, ValueError) as exc:
            return _downlink_fail(f"downlink data is not JSON: {exc}")
        return _downlink_result(self._call("encode", data_json, 0, 0.0))

    # The realm -----------------------------------------------------------------------------------------

    def _probe(self) -> dict[str, Any]:
        answer = self._call("probe", "", 0, 0.0)
        failure = _failure_message(answer)
        if failure is not None:
            raise JsCodecError(f"{self.name}: {failure} (while loading)")
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    def _call(self, op: str, a: str, b: int, c: float) -> dict[str, Any]:
        """Run one operation; the answer is ``{result|threw|missing|malformed|error: ...}``."""
        try:
            realm = self._realm()
        except JsCodecError as exc:
            return {"error": str(exc)}
        try:
            text = str(realm.run(op, a, b, c))
            jobs_pending = bool(realm.context.execute_pending_job())
        except Exception as exc:  # noqa: BLE001 - anything from the engine discards the realm
            self._discard()
            return {"error": self._engine_error(exc)}
        answer = _parse_answer(text)
        if "dirty" in answer:
            answer = _parse_answer(answer["dirty"])
            self._discard()
        elif self.fresh_context or jobs_pending:
            self._discard()
        if answer.get("threw") in (_OUT_OF_MEMORY, _STACK_OVERFLOW):
            self._discard()
            return {"error": self._engine_error(RuntimeError(answer["threw"]))}
        return answer

    def _engine_error(self, exc: Exception) -> str:
        message = _first_line(exc)
        if "interrupted" in message:
            return f"codec timed out after {self.time_limit_ms:g} ms"
        if "out of memory" in message:
            return f"codec exceeded the memory limit of {_size(self.memory_limit_bytes)}"
        if message == _STACK_OVERFLOW or isinstance(exc, quickjs.StackOverflow):
            return f"codec exceeded the stack limit of {_size(self.stack_limit_bytes)} (recursion too deep)"
        return f"codec failed in the engine: {message}"

    def _realm(self) -> _Realm:
        realm: _Realm | None = getattr(self._local, "realm", None)
        if realm is None:
            realm = self._build()
            self._local.realm = realm
        return realm

    def _discard(self) -> None:
        self._local.realm = None

    def _build(self) -> _Realm:
        context = quickjs.Context()
        context.set_memory_limit(self.memory_limit_bytes)
        context.set_max_stack_size(self.stack_limit_bytes)
        # Hardening a realm takes a few ms: it gets its own budget; a fresh realm only runs the codec.
        limit_s = self.time_limit_ms / 1000.0
        setup_s = limit_s if self.fresh_context else max(_SETUP_TIME_LIMIT_S, limit_s)
        context.set_time_limit(setup_s)
        try:
            compiled = self._compile(context)
            run = context.eval(_RUNNER_JS)(compiled, not self.fresh_context)
        except quickjs.JSException as exc:
            message = _first_line(exc)
            if "interrupted" in message:
                message = f"loading the codec took more than {setup_s:g} s"
            elif "InternalError" in message:
                message = self._engine_error(exc)
            raise JsCodecError(message) from exc
        context.set_time_limit(limit_s)
        self.realms_built += 1
        return _Realm(context, run)

    def _compile(self, context: Any) -> Any:
        """The codec as a function that runs its top-level code and returns its entry points."""
        if self.fresh_context:
            context.eval(self.source)
            return context.eval(f"(function () {{\n{_ENTRIES_JS}\n}})")
        text = f"(function () {{\n{self.source}\n;{_ENTRIES_JS}\n}})"
        compiled = context.eval(text)
        # A source that closes the wrapper early would yield a shorter function: refuse it.
        if context.eval("(function (f) { return Function.prototype.toString.call(f); })")(compiled) != text[1:-1]:
            raise JsCodecError("not a self-contained script (unbalanced braces)")
        return compiled


_ANSWER = msgspec.json.Decoder(dict[str, Any])


def _parse_answer(text: str) -> dict[str, Any]:
    r"""The runner's JSON answer. msgspec reads it several times faster than ``json``; the JSON that
    ``JSON.stringify`` writes for a string with a lone surrogate (``"\ud800"``) it refuses, ``json`` takes.
    """
    try:
        return _ANSWER.decode(text)
    except msgspec.DecodeError:
        answer: dict[str, Any] = json.loads(text)
        return answer


def _string_list(value: Any) -> list[str] | None:
    """``value`` if it is a list of strings (missing counts as empty), else None."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _decode_fail(message: str) -> DecodeResult:
    return {"data": {}, "warnings": [], "errors": [message]}


def _failure_message(answer: dict[str, Any]) -> str | None:
    if "error" in answer:
        return str(answer["error"])
    if "threw" in answer:
        return f"codec threw: {answer['threw']}"
    if "missing" in answer:
        return f"codec defines no {answer['missing']} function"
    if "malformed" in answer:
        return f"codec returned a value that is not JSON: {answer['malformed']}"
    return None


def _decode_result(answer: dict[str, Any]) -> DecodeResult:
    failure = _failure_message(answer)
    if failure is not None:
        return _decode_fail(failure)
    result = answer.get("result")
    if not isinstance(result, dict):
        return _decode_fail(f"codec returned {type(result).__name__}, not an object with data")
    warnings, errors = _string_list(result.get("warnings")), _string_list(result.get("errors"))
    if warnings is None or errors is None:
        return _decode_fail("codec returned malformed warnings or errors: each must be a list of strings")
    if errors:
        return {"data": {}, "warnings": warnings, "errors": errors}
    data = result.get("data")
    if not isinstance(data, dict):
        what = "no data" if data is None else f"data of type {type(data).__name__}"
        return _decode_fail(f"codec returned {what}, expected an object")
    return {"data": data, "warnings": warnings, "errors": []}


def _downlink_fail(message: str) -> DownlinkResult:
    return {"bytes": [], "fPort": None, "warnings": [], "errors": [message]}


def _downlink_result(answer: dict[str, Any]) -> DownlinkResult:
    failure = _failure_message(answer)
    if failure is not None:
        return _downlink_fail(failure)
    result = answer.get("result")
    if not isinstance(result, dict):
        return _downlink_fail(f"codec returned {type(result).__name__}, not an object with bytes")
    warnings, errors = _string_list(result.get("warnings")), _string_list(result.get("errors"))
    if warnings is None or errors is None:
        return _downlink_fail("codec returned malformed warnings or errors: each must be a list of strings")
    if errors:
        return {"bytes": [], "fPort": None, "warnings": warnings, "errors": errors}
    frame, f_port = result.get("bytes"), result.get("fPort")
    if not isinstance(frame, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in frame):
        return _downlink_fail("codec returned bytes that are not a list of integers 0..255")
    if f_port is not None and not (isinstance(f_port, int) and 1 <= f_port <= 223):
        return _downlink_fail(f"codec returned fPort {f_port!r}, expected 1..223")
    return {"bytes": frame, "fPort": f_port, "warnings": warnings, "errors": []}
