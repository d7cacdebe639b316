"""Milesight VS135 (and newer VS133 firmware) AI ToF people counter: flat keys, fPort 85.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/milesight-iot/vs135.js``).
A frame is a run of ``[channel id][channel type][value]`` items, little-endian, in the framing shared with the
VS133 (:mod:`devices.codecs._milesight`):

* ``ff 01`` / ``ff 09`` / ``ff 1f`` / ``ff 16``: protocol, hardware, firmware version, serial number;
* ``03|06|09|0c d2`` / ``04|07|0a|0d d2``: cumulative in / out of lines 1..4 (uint32), ``11..1b d2`` the same
  for children; ``05|08|0b|0e cc`` (``13|16|19|1c cc`` children): in / out of the last period (2 × uint16);
* ``0f e3`` / ``1d e3``: people in regions 1..4 (4 × uint8); ``10 e4`` / ``1e e4``: region dwell time;
* ``50 fc``: occlusion alarm; ``20 ce``: a history record; ``fe``/``ff``/``f8``/``f9``: replies to downlinks.

The vendor codec names the child period-out key after the last plain period channel; this codec names it
``line_<n>_child_period_out`` for the line it belongs to.

Every item's value is declared as a run of fields (what the field is, its struct format) and a function that
turns the unpacked fields into keys and values; decoding checks the run fits, unpacks it in one call and, when
it does not fit, names the first field cut off.
"""

from __future__ import annotations

from typing import Any

from devices.codecs._frames import pack, verified
from devices.codecs._milesight import (
    LINES,
    PERIOD,
    PORT,
    TOTAL_IN,
    TOTAL_OUT,
    TYPE_PERIOD,
    TYPE_TOTAL,
    Build,
    Field,
    FrameError,
    Item,
    Layout,
    Values,
    built,
    encode_counts,
    frame_decoder,
    header,
    layout,
    stored,
    truncated,
)
from devices.codecs.base import CodecError

__all__ = ["LINES", "PORT", "FrameError", "decode", "encode", "encode_counts"]

_ENABLE = {0: "disable", 1: "enable"}
_RESULT = {0: "success", 1: "forbidden", 2: "invalid parameter"}
_LOG_LEVEL = {1: "fatal", 2: "error", 3: "warning", 4: "debug", 5: "trace"}
_ALARM = {0: "alarm_released", 1: "alarm_triggered"}
UNKNOWN = "unknown"


def _label(table: dict[int, str], code: int) -> str:
    return table.get(code, UNKNOWN)


def _code(table: dict[int, str], label: Any, what: str) -> int:
    for code, name in table.items():
        if name == label:
            return code
    if label == UNKNOWN:
        return 0xFF
    raise CodecError(f"{what} must be one of {sorted(table.values())}, got {label!r}")


# --- line counters ------------------------------------------------------------------------------------

_CHILD_TOTAL_IN = {0x11 + 3 * n: n + 1 for n in range(LINES)}
_CHILD_TOTAL_OUT = {0x12 + 3 * n: n + 1 for n in range(LINES)}
_CHILD_PERIOD = {0x13 + 3 * n: n + 1 for n in range(LINES)}
_TOTALS = (
    (TOTAL_IN, "total_in"),
    (TOTAL_OUT, "total_out"),
    (_CHILD_TOTAL_IN, "child_total_in"),
    (_CHILD_TOTAL_OUT, "child_total_out"),
)
_PERIODS = ((PERIOD, ""), (_CHILD_PERIOD, "child_"))


def _line_items() -> dict[int, Item]:
    items: dict[int, Item] = {}
    for table, suffix in _TOTALS:
        total = layout((f"line {suffix}", "I"))
        for channel, line in table.items():
            items[header(channel, TYPE_TOTAL)] = stored(total, (f"line_{line}_{suffix}",))
    period = layout(("period in", "H"), ("period out", "H"))
    for table, prefix in _PERIODS:
        for channel, line in table.items():
            keys = (f"line_{line}_{prefix}period_in", f"line_{line}_{prefix}period_out")
            items[header(channel, TYPE_PERIOD)] = stored(period, keys)
    return items


# --- regions and alarms -------------------------------------------------------------------------------

_REGION_COUNTS = {0x0F: "", 0x1D: "child_"}  # channel (type e3) → key infix
_REGION_DWELLS = {0x10: "", 0x1E: "child_"}  # channel (type e4) → key infix
CHANNEL_ALARM = 0x50
_ALARM_KEYS = tuple(f"{'master' if node == 0 else f'node_{node}'}_occlusion_alarm" for node in range(256))


def _region_count_keys(infix: str) -> tuple[str, ...]:
    return tuple(f"region_{r}_{infix}count" for r in range(1, 5))


def _region_dwell(infix: str) -> Build:
    keys = tuple((f"region_{r}_{infix}avg_dwell", f"region_{r}_{infix}max_dwell") for r in range(256))

    def build(values: Values) -> dict[str, Any]:
        region, avg, most = values
        avg_key, max_key = keys[region]
        return {avg_key: avg, max_key: most}

    return build


def _alarm(values: Values) -> dict[str, Any]:
    _, node, alarm = values
    return {_ALARM_KEYS[node]: _label(_ALARM, alarm)}


def _region_items() -> dict[int, Item]:
    items: dict[int, Item] = {}
    count = layout(*[("region count", "B")] * 4)
    for channel, infix in _REGION_COUNTS.items():
        items[header(channel, 0xE3)] = stored(count, _region_count_keys(infix))
    dwell = layout(("region", "B"), ("avg dwell", "H"), ("max dwell", "H"))
    for channel, infix in _REGION_DWELLS.items():
        items[header(channel, 0xE4)] = built(dwell, _region_dwell(infix))
    alarm = layout(("alarm type", "B"), ("node id", "B"), ("alarm", "B"))
    items[header(CHANNEL_ALARM, 0xFC)] = built(alarm, _alarm)
    return items


# --- history records (channel 20 ce) ------------------------------------------------------------------

CHANNEL_HISTORY, TYPE_HISTORY = 0x20, 0xCE


def _history_layouts() -> dict[int, tuple[str, ...]]:
    """History data type → the keys its 4 value bytes carry (``dwell`` types carry region + uint16)."""
    layouts: dict[int, tuple[str, ...]] = {}
    for table, suffix in _TOTALS:
        for channel, line in table.items():
            layouts[channel] = (f"line_{line}_{suffix}",)
    for table, prefix in _PERIODS:
        for channel, line in table.items():
            layouts[channel] = (f"line_{line}_{prefix}period_in", f"line_{line}_{prefix}period_out")
    for channel, infix in _REGION_COUNTS.items():
        layouts[channel] = _region_count_keys(infix)
    return layouts


_HISTORY = _history_layouts()
_HISTORY_DWELL = {0x10: "avg_dwell", 0x20: "max_dwell", 0x1E: "child_avg_dwell", 0x3C: "child_max_dwell"}
_HISTORY_HEAD = layout(("history timestamp", "I"), ("history data type", "B"))
_HISTORY_FIELDS = {1: ("history counter", "I"), 2: ("history period", "H"), 4: ("history region count", "B")}


def _history_dwell(suffix: str) -> Build:
    keys = tuple(f"region_{region}_{suffix}" for region in range(256))

    def build(values: Values) -> dict[str, Any]:
        region, dwell = values
        return {keys[region]: dwell}

    return build


def _history_keys(keys: tuple[str, ...]) -> Build:
    fields = tuple(enumerate(keys))

    def build(values: Values) -> dict[str, Any]:
        record = {}
        for index, key in fields:
            record[key] = values[index]
        return record

    return build


# Per history data type: the layout of the record's value and what it gives, derived from the tables above.
_HISTORY_BODIES: dict[int, tuple[Layout, Build]] = {
    **{
        data_type: (layout(*[_HISTORY_FIELDS[len(keys)]] * len(keys)), _history_keys(keys))
        for data_type, keys in _HISTORY.items()
    },
    **{
        data_type: (layout(("history region", "B"), ("history dwell", "H")), _history_dwell(suffix))
        for data_type, suffix in _HISTORY_DWELL.items()
    },
}


def _read_history(payload: bytes, pos: int, length: int, out: dict[str, Any]) -> int:
    """One history record, appended to ``out["history"]``."""
    head_end = pos + _HISTORY_HEAD.size
    if head_end > length:
        raise truncated(_HISTORY_HEAD, payload, pos)
    timestamp, data_type = _HISTORY_HEAD.unpack(payload, pos)
    body = _HISTORY_BODIES.get(data_type)
    if body is None:
        raise FrameError(f"unknown history data type 0x{data_type:02x} at byte {head_end - 1}")
    layout, build = body
    end = head_end + layout.size
    if end > length:
        raise truncated(layout, payload, head_end)
    out.setdefault("history", []).append({"timestamp": timestamp, **build(layout.unpack(payload, head_end))})
    return end


# --- device information and replies to downlinks ------------------------------------------------------

CHANNEL_INFO, CHANNEL_REPLY = 0xFF, 0xFE  # replies come on both
CHANNEL_EXT_RESULT, CHANNEL_EXT = 0xF8, 0xF9
_REPLY_CHANNELS = (CHANNEL_INFO, CHANNEL_REPLY, CHANNEL_EXT_RESULT, CHANNEL_EXT)
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
Value = tuple[tuple[Field, ...], Build]  # an item's fields and what they give


def _enable(key: str) -> Value:
    return ((key, "B"),), lambda values: {key: _label(_ENABLE, values[0])}


def _yes(key: str) -> Value:
    return ((key, "B"),), lambda values: {key: "yes"}


def _number(key: str, codes: str) -> Value:
    return ((key, codes),), lambda values: {key: values[0]}


def _interval(values: Values) -> dict[str, Any]:
    kind, value = values
    return {0: {"retransmit_interval": value}, 1: {"resend_interval": value}}.get(kind, {})


_INFO: dict[int, Value] = {  # channel ff only
    0x01: ((("ipso_version", "B"),), lambda v: {"ipso_version": f"v{v[0] >> 4}.{v[0] & 0x0F}"}),
    0x09: ((("hardware_version", "BB"),), lambda v: {"hardware_version": "v{}.{}".format(*v)}),
    0x1F: ((("firmware_version", "BBBB"),), lambda v: {"firmware_version": "v{}.{}.{}.{}".format(*v)}),
    0x16: ((("sn", "8s"),), lambda v: {"sn": v[0].hex()}),
}
_REPLIES: dict[int, Value] = {  # channels fe and ff
    0x03: _number("report_interval", "H"),
    0x11: _number("timestamp", "I"),
    0x6A: ((("interval type", "B"), ("interval", "H")), _interval),
    **{kind: _enable(key) for key, kind in _ENABLE_REPLIES.items()},
    **{kind: _yes(key) for key, kind in _YES_REPLIES.items()},
}
_EXT_REPLIES: dict[int, Value] = {  # channels f8 and f9
    0x84: (
        (("enable", "B"), ("period", "H")),
        lambda v: {"sync_time_from_gateway_config": {"enable": _label(_ENABLE, v[0]), "period": v[1]}},
    ),
    0x85: (
        (("enable", "B"), ("max_count", "B")),
        lambda v: {"rejoin_config": {"enable": _label(_ENABLE, v[0]), "max_count": v[1]}},
    ),
    0x86: _number("data_rate", "B"),
    0x87: _number("tx_power_level", "B"),
    0x88: (
        (("console log level", "B"), ("file log level", "B")),
        lambda v: {
            "log_config": {"console_log_level": _label(_LOG_LEVEL, v[0]), "file_log_level": _label(_LOG_LEVEL, v[1])}
        },
    ),
}


def _with_result(kind: int, build: Build) -> Build:
    """A channel f8 reply: the request's fields are followed by a result byte; a failure wraps the request."""

    def wrapped(values: Values) -> dict[str, Any]:
        reply, result = build(values[:-1]), values[-1]
        if result:
            return {
                "device_response_result": {"channel_type": kind, "result": _label(_RESULT, result), "request": reply}
            }
        return reply

    return wrapped


def _reply_items() -> dict[int, Item]:
    items: dict[int, Item] = {}
    for kind, (fields, build) in _INFO.items():
        items[header(CHANNEL_INFO, kind)] = built(layout(*fields), build)
    for kind, (fields, build) in _REPLIES.items():
        for channel in (CHANNEL_INFO, CHANNEL_REPLY):
            items[header(channel, kind)] = built(layout(*fields), build)
    for kind, (fields, build) in _EXT_REPLIES.items():
        items[header(CHANNEL_EXT, kind)] = built(layout(*fields), build)
        items[header(CHANNEL_EXT_RESULT, kind)] = built(layout(*fields, ("result", "B")), _with_result(kind, build))
    return items


# --- item dispatch ------------------------------------------------------------------------------------

# Every item the VS135 sends, by header(channel id, channel type), derived once from the tables above.
_ITEMS: dict[int, Item] = {
    **_line_items(),
    **_region_items(),
    header(CHANNEL_HISTORY, TYPE_HISTORY): _read_history,
    **_reply_items(),
}


def _cut_header(pos: int) -> str:
    return f"truncated channel type at byte {pos + 1}: needs 1 bytes"


decode = frame_decoder("VS135", _ITEMS, replies=_REPLY_CHANNELS, cut_header=_cut_header)
"""Decode one VS135 uplink into flat keys (``line_1_total_in`` ...)."""


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
