"""One message in, line protocol out: envelope → device → codec → normalise → lines.

The pipeline is synchronous and free of I/O except for the device lookup, so the MQTT service, the
simulator's backfill and the quarantine replay all run the very same path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.catalog import DeviceModel, get_model
from devices.codecs import Codec, codec_for
from devices.records import DeviceInfo
from devices.startup import startup_line
from ingest.envelopes import EnvelopeError, parse_envelope
from ingest.normalise import Normaliser
from ingest.quarantine import Rejection
from stadtpuls.lineprotocol import escape_measurement, format_float, tag_set
from stadtpuls.schema import UPLINK_MEASUREMENT, Uplink

DeviceLookup = Callable[[str], DeviceInfo | None]


@dataclass(slots=True)
class Outcome:
    """What became of one message: lines to write and/or a rejection to keep."""

    lines: list[str] = field(default_factory=list)
    rejection: Rejection | None = None
    uplink: Uplink | None = None
    model: str = ""


@dataclass(slots=True)
class _DeviceContext:
    """Everything the hot path needs per device, built once per device."""

    info: DeviceInfo
    entry: DeviceModel
    codec: Codec
    normaliser: Normaliser
    tags: str  # escaped tag set without the channel


class Pipeline:
    """Turns raw MQTT messages into line protocol, or into rejections with a reason."""

    def __init__(self, lookup: DeviceLookup) -> None:
        self._lookup = lookup
        self._contexts: dict[str, _DeviceContext] = {}
        self._codecs: dict[str, tuple[Codec, Normaliser]] = {}

    def forget(self, dev_eui: str | None = None) -> None:
        """Drop cached device contexts (all, or one) after the registry changed."""
        if dev_eui is None:
            self._contexts.clear()
        else:
            self._contexts.pop(dev_eui, None)

    def process(self, topic: str, payload: bytes, *, arrival_ns: int | None = None) -> Outcome:
        """Run one message through the whole path."""
        arrival = arrival_ns if arrival_ns is not None else time.time_ns()
        try:
            uplink = parse_envelope(topic, payload, arrival_ns=arrival)
        except EnvelopeError as exc:
            return Outcome(rejection=Rejection(topic, payload, "envelope", str(exc)))
        ctx = self._context(uplink.dev_eui)
        if ctx is None:
            reason = f"unknown device {uplink.dev_eui}: register it with 'stadtpuls devices add'"
            return Outcome(
                uplink=uplink, rejection=Rejection(topic, payload, "device", reason, uplink.dev_eui)
            )
        return self._decode(uplink, ctx, payload)

    def _decode(self, uplink: Uplink, ctx: _DeviceContext, payload: bytes) -> Outcome:
        out = Outcome(uplink=uplink, model=ctx.entry.model)
        out.lines.append(_uplink_line(uplink, ctx.tags))
        if uplink.f_port == 0 or not uplink.payload:
            return out  # MAC-only uplink: radio record only
        try:
            result = ctx.codec.decode(uplink.f_port, uplink.payload)
        except Exception as exc:  # a codec must not raise; if one does, the uplink is kept, not lost
            result = {"data": {}, "warnings": [], "errors": [f"codec raised {exc!r}"]}
        if result["errors"]:
            reason = f"codec {ctx.entry.model} (fPort {uplink.f_port}): {'; '.join(result['errors'])}"
            out.rejection = self._reject(uplink, ctx, payload, "codec", reason)
            return out
        normalised = ctx.normaliser.normalise(result["data"])
        ts = uplink.received_ns
        for m in normalised.measurements:
            channel = f",channel={m.channel}" if m.channel else ""
            out.lines.append(f"{m.quantity}{ctx.tags}{channel} value={format_float(m.value)} {ts}")
        startup = startup_line(ctx.entry, uplink.f_port, result["data"], ctx.tags, ts)  # firmware, reset cause
        if startup is not None:
            out.lines.append(startup)
        if normalised.implausible:
            reason = "implausible value: " + "; ".join(normalised.implausible)
            out.rejection = self._reject(uplink, ctx, payload, "normalise", reason)
        return out

    @staticmethod
    def _reject(uplink: Uplink, ctx: _DeviceContext, payload: bytes, stage: str, reason: str) -> Rejection:
        return Rejection(uplink.topic, payload, stage, reason, uplink.dev_eui, ctx.info.municipality)

    def _context(self, dev_eui: str) -> _DeviceContext | None:
        ctx = self._contexts.get(dev_eui)
        if ctx is not None:
            return ctx
        info = self._lookup(dev_eui)
        if info is None:
            return None
        entry = get_model(info.model)
        if entry.model not in self._codecs:
            self._codecs[entry.model] = (codec_for(entry), Normaliser(entry))
        codec, normaliser = self._codecs[entry.model]
        tags = tag_set(
            {
                "municipality": info.municipality,
                "site": info.site,
                "class": info.device_class,
                "model": info.model,
                "dev_eui": info.dev_eui,
            }
        )
        ctx = _DeviceContext(info, entry, codec, normaliser, tags)
        self._contexts[dev_eui] = ctx
        return ctx


def _uplink_line(uplink: Uplink, tags: str) -> str:
    fields = [
        f"f_cnt={float(uplink.f_cnt)!r}",
        f"f_port={float(uplink.f_port)!r}",
        f"gateways={float(uplink.gateways)!r}",
    ]
    if uplink.rssi is not None:
        fields.append(f"rssi={format_float(uplink.rssi)}")
    if uplink.snr is not None:
        fields.append(f"snr={format_float(uplink.snr)}")
    return f"{escape_measurement(UPLINK_MEASUREMENT)}{tags} {','.join(fields)} {uplink.received_ns}"
