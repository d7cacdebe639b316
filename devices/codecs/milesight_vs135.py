"""Milesight VS135 (and newer VS133 firmware) AI ToF people counter: flat keys, fPort 85.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/milesight-iot/vs135.js``).
A frame is a run of ``[channel id][channel type][value]`` items, little-endian:

* ``ff 01`` / ``ff 09`` / ``ff 1f`` / ``ff 16``: protocol, hardware, firmware version, serial number;
* ``03|06|09|0c d2`` / ``04|07|0a|0d d2``: cumulative in / out of lines 1..4 (uint32), ``11..1b d2`` the same
  for children; ``05|08|0b|0e cc`` (``13|16|19|1c cc`` children): in / out of the last period (2 × uint16);
* ``0f e3`` / ``1d e3``: people in regions 1..4 (4 × uint8); ``10 e4`` / ``1e e4``: region dwell time;
* ``50 fc``: occlusion alarm; ``20 ce``: a history record; ``fe``/``ff``/``f8``/``f9``: replies to downlinks.

The vendor codec names the child period-out key after the last plain period channel; this codec names it
``line_<n>_child_period_out`` for the line it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.codecs._frames import pack, uint, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PORT = 85
LINES = 4
_ENABLE = {0: "disable", 1: "enable"}
_RESULT = {0: "success", 1: "forbidden", 2: "invalid parameter"}
_LOG_LEVEL = {1: "fatal", 2: "error", 3: "warning", 4: "debug", 5: "trace"}
_ALARM = {0: "alarm_released", 1: "alarm_triggered"}
UNKNOWN = "unknown"


class FrameError(ValueError):
    """A frame that cannot be decoded: the message names the byte at fault."""


def _label(table: dict[int, str], code: int) -> str:
    return table.get(code, UNKNOWN)


def _code(table: dict[int, str], label: Any, what: str) -> int:
    for code, name in table.items():
        if name == label:
            return code
    if label == UNKNOWN:
        return 0xFF
    raise CodecError(f"{what} must be one of {sorted(table.values())}, got {label!r}")


@dataclass
class _Reader:
    """A cursor over one frame."""

    payload: bytes
    pos: int = 0

    def take(self, size: int, what: str) -> bytes:
        if self.pos + size > len(self.payload):
            raise FrameError(f"truncated {what} at byte {self.pos}: needs {size} bytes")
        chunk = self.payload[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return uint(self.take(2, what), little=True)

    def u32(self, what: str) -> int:
        return uint(self.take(4, what), little=True)


# --- line counters ------------------------------------------------------------------------------------

_TOTAL_IN = {0x03 + 3 * n: n + 1 for n in range(LINES)}
_TOTAL_OUT = {0x04 + 3 * n: n + 1 for n in range(LINES)}
_PERIOD = {0x05 + 3 * n: n + 1 for n in range(LINES)}
_CHILD_TOTAL_IN = {0x11 + 3 * n: n + 1 for n in range(LINES)}
_CHILD_TOTAL_OUT = {0x12 + 3 * n: n + 1 for n in range(LINES)}
_CHILD_PERIOD = {0x13 + 3 * n: n + 1 for n in range(LINES)}
TYPE_TOTAL, TYPE_PERIOD = 0xD2, 0xCC
_TOTALS = (
    (_TOTAL_IN, "total_in"),
    (_TOTAL_OUT, "total_out"),
    (_CHILD_TOTAL_IN, "child_total_in"),
    (_CHILD_TOTAL_OUT, "child_total_out"),
)
_PERIODS = ((_PERIOD, ""), (_CHILD_PERIOD, "child_"))


def _read_line(channel: int, kind: int, reader: _Reader, out: dict[str, Any]) -> bool:
    if kind == TYPE_TOTAL:
        for table, suffix in _TOTALS:
            if channel in table:
                out[f"line_{table[channel]}_{suffix}"] = reader.u32(f"line {suffix}")
                return True
    if kind == TYPE_PERIOD:
        for table, prefix in _PERIODS:
            if channel in table:
                line = table[channel]
                out[f"line_{line}_{prefix}period_in"] = reader.u16("period in")
                out[f"line_{line}_{prefix}period_out"] = reader.u16("period out")
                return True
    return False


# --- history records (channel 20 ce) ------------------------------------------------------------------


def _history_layouts() -> dict[int, tuple[str, ...]]:
    """History data type → the keys its 4 value bytes carry (``dwell`` types carry region + uint16)."""
    layouts: dict[int, tuple[str, ...]] = {}
    for table, suffix in _TOTALS:
        for channel, line in table.items():
            layouts[channel] = (f"line_{line}_{suffix}",)
    for table, prefix in _PERIODS:
        for channel, line in table.items():
            layouts[channel] = (f"line_{line}_{prefix}period_in", f"line_{line}_{prefix}period_out")
    layouts[0x0F] = tuple(f"region_{r}_count" for r in range(1, 5))
    layouts[0x1D] = tuple(f"region_{r}_child_count" for r in range(1, 5))
    return layouts


_HISTORY = _history_layouts()
_HISTORY_DWELL = {0x10: "avg_dwell", 0x20: "max_dwell", 0x1E: "child_avg_dwell", 0x3C: "child_max_dwell"}


def _read_history(reader: _Reader) -> dict[str, Any]:
    record: dict[str, Any] = {"timestamp": reader.u32("history timestamp")}
    data_type = reader.u8("history data type")
    if data_type in _HISTORY_DWELL:
        region = reader.u8("history region")
        record[f"region_{region}_{_HISTORY_DWELL[data_type]}"] = reader.u16("history dwell")
        return record
    keys = _HISTORY.get(data_type)
    if keys is None:
        raise FrameError(f"unknown history data type 0x{data_type:02x} at byte {reader.pos - 1}")
    if len(keys) == 1:
        record[keys[0]] = reader.u32("history counter")
    elif len(keys) == 2:
        record[keys[0]], record[keys[1]] = reader.u16("history period"), reader.u16("history period")
    else:
        record.update({key: reader.u8("history region count") for key in keys})
    return record


# --- replies to downlinks -----------------------------------------------------------------------------


def _enable(key: str) -> Callable[[_Reader], dict[str, Any]]:
    return lambda r: {key: _label(_ENABLE, r.u8(key))}


def _yes(key: str) -> Callable[[_Reader], dict[str, Any]]:
    def read(reader: _Reader) -> dict[str, Any]:
        reader.u8(key)
        return {key: "yes"}

    return read


def _interval(reader: _Reader) -> dict[str, Any]:
    kind, value = reader.u8("interval type"), reader.u16("interval")
    return {0: {"retransmit_interval": value}, 1: {"resend_interval": value}}.get(kind, {})


_REPLIES: dict[int, Callable[[_Reader], dict[str, Any]]] = {
    0x03: lambda r: {"report_interval": r.u16("report_interval")},
    0x04: _enable("confirm_mode_enable"),
    0x10: _yes("reboot"),
    0x11: lambda r: {"timestamp": r.u32("timestamp")},
    0x27: _yes("clear_history"),
    0x40: _enable("adr_enable"),
    0x42: _enable("wifi_enable"),
    0x43: _enable("periodic_report_enable"),
    0x44: _enable("trigger_report_enable"),
    0x51: _yes("clear_total_count"),
    0x68: _enable("history_enable"),
    0x69: _enable("retransmit_enable"),
    0x6A: _interval,
    0x6D: _yes("stop_transmit"),
}
_EXT_REPLIES: dict[int, Callable[[_Reader], dict[str, Any]]] = {
    0x84: lambda r: {
        "sync_time_from_gateway_config": {"enable": _label(_ENABLE, r.u8("enable")), "period": r.u16("period")}
    },
    0x85: lambda r: {"rejoin_config": {"enable": _label(_ENABLE, r.u8("enable")), "max_count": r.u8("max_count")}},
    0x86: lambda r: {"data_rate": r.u8("data_rate")},
    0x87: lambda r: {"tx_power_level": r.u8("tx_power_level")},
    0x88: lambda r: {
        "log_config": {
            "console_log_level": _label(_LOG_LEVEL, r.u8("console log level")),
            "file_log_level": _label(_LOG_LEVEL, r.u8("file log level")),
        }
    },
}
CHANNEL_EXT_RESULT, CHANNEL_EXT = 0xF8, 0xF9


def _read_ext_reply(channel: int, kind: int, reader: _Reader) -> dict[str, Any]:
    handler = _EXT_REPLIES.get(kind)
    if handler is None:
        raise FrameError(f"unknown downlink reply 0x{channel:02x} 0x{kind:02x} at byte {reader.pos - 2}")
    reply = handler(reader)
    if channel == CHANNEL_EXT_RESULT:
        result = reader.u8("result")
        if result:
            return {
                "device_response_result": {"channel_type": kind, "result": _label(_RESULT, result), "request": reply}
            }
    return reply


# --- item dispatch ------------------------------------------------------------------------------------


def _read_info(kind: int, reader: _Reader) -> dict[str, Any] | None:
    if kind == 0x01:
        version = reader.u8("ipso_version")
        return {"ipso_version": f"v{version >> 4}.{version & 0x0F}"}
    if kind == 0x09:
        return {"hardware_version": "v{}.{}".format(*reader.take(2, "hardware_version"))}
    if kind == 0x1F:
        return {"firmware_version": "v{}.{}.{}.{}".format(*reader.take(4, "firmware_version"))}
    if kind == 0x16:
        return {"sn": reader.take(8, "sn").hex()}
    return None


def _read_regions(channel: int, kind: int, reader: _Reader) -> dict[str, Any] | None:
    child = "child_" if channel in (0x1D, 0x1E) else ""
    if channel in (0x0F, 0x1D) and kind == 0xE3:
        return {f"region_{r}_{child}count": reader.u8("region count") for r in range(1, 5)}
    if channel in (0x10, 0x1E) and kind == 0xE4:
        region = reader.u8("region")
        return {
            f"region_{region}_{child}avg_dwell": reader.u16("avg dwell"),
            f"region_{region}_{child}max_dwell": reader.u16("max dwell"),
        }
    if channel == 0x50 and kind == 0xFC:
        reader.u8("alarm type")
        node = reader.u8("node id")
        name = "master" if node == 0 else f"node_{node}"
        return {f"{name}_occlusion_alarm": _label(_ALARM, reader.u8("alarm"))}
    return None


def _read_item(channel: int, kind: int, reader: _Reader, out: dict[str, Any]) -> bool:
    """Decode one item into ``out``; False when the channel is not known."""
    if _read_line(channel, kind, reader, out):
        return True
    item = _read_info(kind, reader) if channel == 0xFF else None
    item = item if item is not None else _read_regions(channel, kind, reader)
    if item is None and channel == 0x20 and kind == 0xCE:
        out.setdefault("history", []).append(_read_history(reader))
        return True
    if item is None and channel in (0xFE, 0xFF):
        handler = _REPLIES.get(kind)
        if handler is None:
            raise FrameError(f"unknown downlink reply 0x{channel:02x} 0x{kind:02x} at byte {reader.pos - 2}")
        item = handler(reader)
    if item is None and channel in (CHANNEL_EXT_RESULT, CHANNEL_EXT):
        item = _read_ext_reply(channel, kind, reader)
    if item is None:
        return False
    out.update(item)
    return True


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one VS135 uplink into flat keys (``line_1_total_in`` ...)."""
    if f_port != PORT:
        return unknown_port(f_port, (PORT,))
    reader = _Reader(bytes(payload))
    data: dict[str, Any] = {}
    warnings: list[str] = []
    try:
        while reader.pos < len(reader.payload):
            start = reader.pos
            channel, kind = reader.u8("channel id"), reader.u8("channel type")
            if not _read_item(channel, kind, reader, data):
                warnings.append(f"unknown channel 0x{channel:02x} 0x{kind:02x} at byte {start}; rest ignored")
                break
    except FrameError as exc:
        return fail(str(exc))
    if not data:
        return fail(warnings[0] if warnings else "the frame carries no readings")
    return ok(data, warnings)


# --- encoding -----------------------------------------------------------------------------------------


def _u32(value: Any, what: str) -> bytes:
    return pack(value, 4, what, little=True)


def _u16(value: Any, what: str) -> bytes:
    return pack(value, 2, what, little=True)


def _take(data: dict[str, Any], key: str) -> Any:
    return data.pop(key)


def _encode_lines(data: dict[str, Any]) -> bytes:
    out = bytearray()
    for table, suffix in _TOTALS:
        for channel, line in table.items():
            key = f"line_{line}_{suffix}"
            if key in data:
                out += bytes([channel, TYPE_TOTAL]) + _u32(_take(data, key), key)
    for table, prefix in _PERIODS:
        for channel, line in table.items():
            keys = (f"line_{line}_{prefix}period_in", f"line_{line}_{prefix}period_out")
            if keys[0] in data or keys[1] in data:
                out += bytes([channel, TYPE_PERIOD])
                out += b"".join(_u16(data.pop(k, None), k) for k in keys)
    return bytes(out)


def _encode_info(data: dict[str, Any]) -> bytes:
    out = bytearray()
    if "ipso_version" in data:
        major, minor = _version(_take(data, "ipso_version"), 2, "ipso_version")
        out += bytes([0xFF, 0x01, (major << 4) | minor])
    for key, kind, parts in (("hardware_version", 0x09, 2), ("firmware_version", 0x1F, 4)):
        if key in data:
            out += bytes([0xFF, kind, *_version(_take(data, key), parts, key)])
    if "sn" in data:
        try:
            serial = bytes.fromhex(str(_take(data, "sn")))
        except ValueError as exc:
            raise CodecError("sn must be 16 hex digits") from exc
        out += bytes([0xFF, 0x16]) + serial
    return bytes(out)


def _version(text: Any, parts: int, what: str) -> list[int]:
    pieces = str(text).removeprefix("v").split(".")
    if len(pieces) != parts or not all(p.isdigit() and int(p) < 256 for p in pieces):
        raise CodecError(f"{what} must look like 'v{'.'.join(['1'] * parts)}', got {text!r}")
    return [int(p) for p in pieces]


def _encode_regions(data: dict[str, Any]) -> bytes:
    out = bytearray()
    for channel, prefix in ((0x0F, ""), (0x1D, "child_")):
        keys = [f"region_{r}_{prefix}count" for r in range(1, 5)]
        if any(k in data for k in keys):
            out += bytes([channel, 0xE3]) + b"".join(pack(data.pop(k, None), 1, k) for k in keys)
    for key in [k for k in data if k.startswith("region_") and k.endswith("avg_dwell")]:
        region, _, rest = key.removeprefix("region_").partition("_")
        child = rest.startswith("child_")
        max_key = key.replace("avg_dwell", "max_dwell")
        out += bytes([0x1E if child else 0x10, 0xE4]) + pack(int(region), 1, "region")
        out += _u16(_take(data, key), key) + _u16(data.pop(max_key, None), max_key)
    for key in [k for k in data if k.endswith("_occlusion_alarm")]:
        name = key.removesuffix("_occlusion_alarm")
        node = 0 if name == "master" else int(name.removeprefix("node_"))
        out += bytes([0x50, 0xFC, 0]) + pack(node, 1, "node") + bytes([_code(_ALARM, _take(data, key), key)])
    return bytes(out)


def _encode_history(records: Any) -> bytes:
    if not isinstance(records, list):
        raise CodecError("history must be a list of records")
    return b"".join(_encode_record(dict(r)) for r in records)


def _encode_record(record: dict[str, Any]) -> bytes:
    head = bytes([0x20, 0xCE]) + _u32(record.pop("timestamp", None), "history timestamp")
    for data_type, keys in _HISTORY.items():
        if set(keys) == set(record):
            if len(keys) == 1:
                body = _u32(record[keys[0]], keys[0])
            elif len(keys) == 2:
                body = _u16(record[keys[0]], keys[0]) + _u16(record[keys[1]], keys[1])
            else:
                body = b"".join(pack(record[k], 1, k) for k in keys)
            return head + bytes([data_type]) + body
    for data_type, suffix in _HISTORY_DWELL.items():
        for key, value in record.items():
            region = key.removeprefix("region_").removesuffix(f"_{suffix}")
            if key.endswith(f"_{suffix}") and region.isdigit():
                return head + bytes([data_type]) + pack(int(region), 1, "region") + _u16(value, key)
    raise CodecError(f"not a history record the VS135 sends: {record!r}")


def _encode_replies(data: dict[str, Any]) -> bytes:
    out = bytearray()
    for key in list(data):
        for kind, frame in _reply_frames(key, data[key]):
            out += bytes([0xFF, kind]) + frame
            data.pop(key, None)
    return bytes(out)


_ENABLE_REPLIES = {
    "confirm_mode_enable": 0x04,
    "adr_enable": 0x40,
    "wifi_enable": 0x42,
    "periodic_report_enable": 0x43,
    "trigger_report_enable": 0x44,
    "history_enable": 0x68,
    "retransmit_enable": 0x69,
}
_YES_REPLIES = {"reboot": 0x10, "clear_history": 0x27, "clear_total_count": 0x51, "stop_transmit": 0x6D}


def _reply_frames(key: str, value: Any) -> list[tuple[int, bytes]]:
    if key in _ENABLE_REPLIES:
        return [(_ENABLE_REPLIES[key], bytes([_code(_ENABLE, value, key)]))]
    if key in _YES_REPLIES:
        return [(_YES_REPLIES[key], b"\x01")]
    if key == "report_interval":
        return [(0x03, _u16(value, key))]
    if key == "timestamp":
        return [(0x11, _u32(value, key))]
    if key in ("retransmit_interval", "resend_interval"):
        return [(0x6A, bytes([0 if key == "retransmit_interval" else 1]) + _u16(value, key))]
    return []


def _encode_ext(data: dict[str, Any]) -> bytes:
    out = bytearray()
    if "device_response_result" in data:
        failed = data.pop("device_response_result")
        if not isinstance(failed, dict) or not isinstance(failed.get("request"), dict):
            raise CodecError("device_response_result needs 'channel_type', 'result' and 'request'")
        body = _ext_body(dict(failed["request"]))
        out += bytes([CHANNEL_EXT_RESULT]) + body + bytes([_code(_RESULT, failed.get("result"), "result")])
    body = _ext_body(data)
    while body:
        out += bytes([CHANNEL_EXT]) + body
        body = _ext_body(data)
    return bytes(out)


def _ext_body(data: dict[str, Any]) -> bytes:
    """One extended reply's type and value bytes, taken out of ``data`` (b"" when none is left)."""
    if "sync_time_from_gateway_config" in data:
        cfg = data.pop("sync_time_from_gateway_config")
        return bytes([0x84, _code(_ENABLE, cfg.get("enable"), "enable")]) + _u16(cfg.get("period"), "period")
    if "rejoin_config" in data:
        cfg = data.pop("rejoin_config")
        enable = _code(_ENABLE, cfg.get("enable"), "enable")
        return bytes([0x85, enable]) + pack(cfg.get("max_count"), 1, "max_count")
    if "data_rate" in data:
        return bytes([0x86]) + pack(data.pop("data_rate"), 1, "data_rate")
    if "tx_power_level" in data:
        return bytes([0x87]) + pack(data.pop("tx_power_level"), 1, "tx_power_level")
    if "log_config" in data:
        cfg = data.pop("log_config")
        return bytes(
            [
                0x88,
                _code(_LOG_LEVEL, cfg.get("console_log_level"), "console_log_level"),
                _code(_LOG_LEVEL, cfg.get("file_log_level"), "file_log_level"),
            ]
        )
    return b""


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``data`` (flat VS135 keys) as one fPort 85 frame (inverse of :func:`decode`).

    Raises:
        CodecError: wrong fPort, a key the VS135 does not send, or a value out of range.
    """
    if f_port != PORT:
        raise CodecError(f"unknown fPort {f_port}; the VS135 sends on fPort {PORT}")
    rest = dict(data)
    history = rest.pop("history", [])
    try:
        frame = _encode_info(rest) + _encode_lines(rest) + _encode_regions(rest)
        frame += _encode_ext(rest) + _encode_replies(rest) + _encode_history(history)
    except (AttributeError, TypeError, ValueError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"malformed VS135 data: {exc}") from exc
    if rest:
        raise CodecError(f"keys the VS135 does not send: {sorted(rest)}")
    return verified(decode, f_port, data, frame)
