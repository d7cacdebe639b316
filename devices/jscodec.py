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

DEFAULT_TIME_LIMIT_MS = 100  # ms of CPU time per call, as The Things Stack and ChirpStack allow
DEFAULT_MEMORY_LIMIT_BYTES = 16 * 1024 * 1024  # bytes per realm
DEFAULT_STACK_LIMIT_BYTES = 256 * 1024  # bytes of JS stack


_OUT_OF_MEMORY = "InternalError: out of memory"
_STACK_OVERFLOW = "RangeError: Maximum call stack size exceeded"
_SETUP_TIME_LIMIT_S = 1.0  # s of CPU time for compiling the codec and hardening the realm

# The runner, evaluated once per realm: called with the compiled codec (a function that runs the codec's
# top-level code and returns its entry points), it returns run(op, a, b, c) -> a JSON answer
# {result|threw|missing|malformed: ...}. The isolating runner hardens the realm first and wraps the answer of
# a call it could not clean up after as {"dirty": answer}. Answers stay single flat strings (the engine
# cannot hand concatenated strings to Python).
_RUNNER_HEAD_JS = r"""
(function (codec) {
  "use strict";
  var g = globalThis;
  var freeze = Object.freeze, ownKeys = Reflect.ownKeys, getDesc = Object.getOwnPropertyDescriptor;
  var defProp = Object.defineProperty, getProto = Object.getPrototypeOf, isExtensible = Object.isExtensible;
  var deleteProperty = Reflect.deleteProperty, stringify = JSON.stringify, parse = JSON.parse;
  var MakeDate = Date, MakeSet = Set;
"""

_HARDEN_JS = r"""
  var TAMED = ["constructor", "toString", "toLocaleString", "valueOf", "toJSON", "name", "message",
               "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"];

  function tame(obj, key, value, enumerable) {
    var accessor = {
      get value() { return value; },
      set value(v) {
        if (this === obj) { throw new TypeError("cannot assign to read-only property '" + key + "'"); }
        defProp(this, key, {value: v, writable: true, enumerable: true, configurable: true});
      }
    };
    var d = getDesc(accessor, "value");
    freeze(d.get);
    freeze(d.set);
    defProp(obj, key, {get: d.get, set: d.set, enumerable: enumerable, configurable: false});
  }

  function reachable(roots) {
    var seen = new MakeSet([g]), found = [], stack = roots.slice(), o, keys, d, i;
    while (stack.length) {
      o = stack.pop();
      if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) { continue; }
      seen.add(o);
      found.push(o);
      stack.push(getProto(o));
      keys = ownKeys(o);
      for (i = 0; i < keys.length; i++) {
        d = getDesc(o, keys[i]);
        if (!d) { continue; }
        if ("value" in d) { stack.push(d.value); } else { stack.push(d.get, d.set); }
      }
    }
    return found;
  }

  function hiddenIntrinsics() {
    var list = [function* () {}, async function () {}, async function* () {}, (function* () {})(),
                (async function* () {})(), [][Symbol.iterator](), new Map()[Symbol.iterator](),
                new Set()[Symbol.iterator](), ""[Symbol.iterator](), "a".matchAll(/a/g), arguments];
    if (typeof Iterator === "function" && typeof Iterator.from === "function") {
      list.push([].values().map(function (x) { return x; }),
                Iterator.from({next: function () { return {done: true, value: undefined}; }}));
    }
    return list;
  }

  function hardenIntrinsics() {
    var keys = ownKeys(g), roots = hiddenIntrinsics(), all, o, d, i, j;
    for (i = 0; i < keys.length; i++) {
      d = getDesc(g, keys[i]);
      if ("value" in d) { roots.push(d.value); } else { roots.push(d.get, d.set); }
    }
    all = reachable(roots);
    for (i = 0; i < all.length; i++) {
      o = all[i];
      if (o !== Object.prototype && !getDesc(o, "constructor")) { continue; }
      for (j = 0; j < TAMED.length; j++) {
        d = getDesc(o, TAMED[j]);
        if (d && "value" in d && d.writable && d.configurable) { tame(o, TAMED[j], d.value, d.enumerable); }
      }
    }
    for (i = 0; i < all.length; i++) { freeze(all[i]); }
  }

  function lockGlobals() {
    var keys = ownKeys(g), d, i;
    for (i = 0; i < keys.length; i++) {
      d = getDesc(g, keys[i]);
      if ("value" in d) { defProp(g, keys[i], {writable: false, configurable: false}); }
      else { defProp(g, keys[i], {configurable: false}); }
    }
  }

  hardenIntrinsics();
  lockGlobals();
  freeze(codec);
  var baseKeys = new MakeSet(ownKeys(g)), baseCount = baseKeys.size, baseProto = getProto(g);

  // Deletes the globals a call created; false if the realm cannot be brought back.
  function restore() {
    var keys = ownKeys(g), i;
    if (keys.length !== baseCount) {
      for (i = 0; i < keys.length; i++) {
        if (!baseKeys.has(keys[i]) && !deleteProperty(g, keys[i])) { return false; }
      }
    }
    return getProto(g) === baseProto && isExtensible(g);
  }

"""

_RUNNER_CORE_JS = r"""
  function describe(e) {
    try {
      if (e !== null && typeof e === "object" && typeof e.message === "string") {
        var name = e.name;
        return (typeof name === "string" && name ? name : "Error") + ": " + e.message;
      }
      return "" + e;
    } catch (ignored) {
      return "a value that cannot be printed";
    }
  }

  function entries() {
    var found = codec.call(g);
    if (found === null || typeof found !== "object") { throw new TypeError("codec top level returned early"); }
    return found;
  }

  function decode(text, fPort, recvMs) {
    var bytes = [], n = text.length, i, found = entries();
    for (i = 0; i < n; i++) { bytes[i] = text.charCodeAt(i); }
    if (found.decodeUplink) {
      return {result: found.decodeUplink({bytes: bytes, fPort: fPort, recvTime: new MakeDate(recvMs)})};
    }
    if (found.Decoder) { return {result: {data: found.Decoder(bytes, fPort)}}; }
    if (found.Decode) { return {result: {data: found.Decode(fPort, bytes, {})}}; }
    return {missing: "decodeUplink"};
  }

  function encode(dataJson) {
    var found = entries();
    if (!found.encodeDownlink) { return {missing: "encodeDownlink"}; }
    return {result: found.encodeDownlink({data: parse(dataJson)})};
  }

  function probe() {
    var found = entries();
    return {result: {decodeUplink: !!found.decodeUplink, encodeDownlink: !!found.encodeDownlink,
                     Decoder: !!found.Decoder, Decode: !!found.Decode}};
  }

  function answer(op, a, b, c) {
    var out;
    try {
      out = op === "decode" ? decode(a, b, c) : op === "encode" ? encode(a) : probe();
    } catch (e) {
      return stringify({threw: describe(e)});
    }
    try {
      return stringify(out) || stringify({malformed: "undefined"});
    } catch (e) {
      return stringify({malformed: describe(e)});
    }
  }

"""

_ISOLATING_RUNNER_JS = (
    _RUNNER_HEAD_JS + _HARDEN_JS + _RUNNER_CORE_JS
    + "  return function run(op, a, b, c) {\n"
    + "    var out = answer(op, a, b, c);\n"
    + "    return restore() ? out : stringify({dirty: out});\n"
    + "  };\n})"
)
_PLAIN_RUNNER_JS = _RUNNER_HEAD_JS + _RUNNER_CORE_JS + "  return answer;\n})"

# The entry points the compiled codec hands to the runner, looked up in the codec's own scope.
_ENTRIES_JS = (
    "return {decodeUplink: typeof decodeUplink === 'function' ? decodeUplink : null, "
    "encodeDownlink: typeof encodeDownlink === 'function' ? encodeDownlink : null, "
    "Decoder: typeof Decoder === 'function' ? Decoder : null, "
    "Decode: typeof Decode === 'function' ? Decode : null};"
)


class JsCodecError(ValueError):
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
        except Exception as exc:  # anything from the engine discards the realm
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
            run = context.eval(_PLAIN_RUNNER_JS if self.fresh_context else _ISOLATING_RUNNER_JS)(compiled)
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
            return context.eval(f"(function () {{ {_ENTRIES_JS} }})")
        text = f"(function () {{\n{self.source}\n;{_ENTRIES_JS}\n}})"
        compiled = context.eval(text)
        # A source that closes the wrapper early would yield a shorter function: refuse it.
        if context.eval("(function (f) { return Function.prototype.toString.call(f); })")(compiled) != text[1:-1]:
            raise JsCodecError("not a self-contained script (unbalanced braces)")
        return compiled


_ANSWER = msgspec.json.Decoder(dict[str, Any])


def _parse_answer(text: str) -> dict[str, Any]:
    """The runner's JSON answer. msgspec reads it several times faster than ``json``; the JSON that
    ``JSON.stringify`` writes for a string with a lone surrogate (``"\\ud800"``) it refuses, ``json`` takes."""
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
