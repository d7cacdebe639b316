"""One message in, line protocol out: envelope → dedup → device → codec → normalise → lines.

The pipeline is synchronous and free of I/O except for the device lookup, and imports no ORM, so the MQTT
service, the simulator's backfill and the quarantine replay all run the very same path. An uplink stamped by
the network server further in the future than a window (a wrong clock) is refused: it would be the latest value
forever. The cheap checks come first: a message whose uplink was seen already (a gateway copy, a redelivery)
stops right after its envelope is parsed, before the device lookup and the decoding.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from devices.catalog import DeviceModel, get_model
from devices.codecs import Codec, DecodeResult, codec_for
from devices.records import DeviceInfo
from devices.startup import startup_line
from ingest.dedup import RecentKeys
from ingest.envelopes import EnvelopeError, parse_envelope
from ingest.guard import internal_rejection, oversized_rejection
from ingest.normalise import Normaliser
from ingest.records import Deferred, Message, Outcome, Rejection
from stadtpuls.lineprotocol import LineBuilder, LineProtocolError, format_float, tag_set
from stadtpuls.schema import UPLINK_MEASUREMENT, Uplink

DeviceLookup = Callable[[str], DeviceInfo | None]
MAX_PAYLOAD_BYTES = 64 * 1024  # default cap of one message's payload; real uplink envelopes are 1-3 kB
FUTURE_WINDOW = 900.0  # s a network server's timestamp may lie ahead of its arrival (below any time-zone error)


@dataclass(slots=True)
class _DeviceContext:
    """Everything the hot path needs per device, built once per device."""

    info: DeviceInfo
    entry: DeviceModel
    codec: Codec
    normaliser: Normaliser
    tags: str  # escaped tag set without the channel
    deferred: bool = False  # a JavaScript codec the caller runs elsewhere (see ``defer_js``)


class Pipeline:
    """Turns raw messages into line protocol, or into rejections with a reason.

    Args:
        lookup: finds a registered device by DevEUI (None: unknown).
        dedup: the uplink ids seen already; None keeps every copy (a tool looking at single messages).
        defer_js: leave the decoding by JavaScript codecs to the caller: such an outcome comes back with
            ``deferred`` set, and is complete once ``deferred.complete`` got the codec's result.
        keep_raw_payload: add each uplink's payload (base64, string field ``payload``) to its radio record.
    """

    def __init__(
        self,
        lookup: DeviceLookup,
        *,
        dedup: RecentKeys | None = None,
        max_payload: int = MAX_PAYLOAD_BYTES,
        future_window: float = FUTURE_WINDOW,
        defer_js: bool = False,
        keep_raw_payload: bool = False,
    ) -> None:
        self._lookup = lookup
        self._defer_js = defer_js
        self._keep_raw = keep_raw_payload
        self._dedup = dedup
        self._max_payload = max_payload
        self._future_ns = int(future_window * 1e9)
        self._contexts: dict[str, _DeviceContext] = {}
        self._codecs: dict[str, tuple[Codec, Normaliser]] = {}
        self._lines = LineBuilder("channel")
        self._uplink_prefix = self._lines.prefix(UPLINK_MEASUREMENT)

    def forget(self, dev_eui: str | None = None) -> None:
        """Drop cached device contexts (all, or one) after the registry changed."""
        if dev_eui is None:
            self._contexts.clear()
        else:
            self._contexts.pop(dev_eui, None)

    def process(self, topic: str, payload: bytes, *, arrival_ns: int | None = None) -> Outcome:
        """Run one message given by its parts through the whole path (see :meth:`handle`)."""
        return self.handle(Message(topic, payload, time.time_ns() if arrival_ns is None else arrival_ns))

    def handle(self, message: Message) -> Outcome:
        """Run one message through the whole path; never raises.

        A payload above the size cap is rejected (stage ``size``) with its first bytes; whatever else goes
        wrong while handling the message becomes a rejection of stage ``internal`` (see :mod:`ingest.guard`).
        """
        if len(message.payload) > self._max_payload:
            return Outcome(message, rejection=oversized_rejection(message, self._max_payload))
        try:
            return self._handle(message)
        except Exception as exc:  # noqa: BLE001 - whatever one message raises, it is quarantined, never lost
            return Outcome(message, rejection=internal_rejection(message, exc))

    def _handle(self, message: Message) -> Outcome:
        try:
            uplink = parse_envelope(message.topic, message.payload, arrival_ns=message.arrival_ns)
        except EnvelopeError as exc:
            return Outcome(message, rejection=Rejection(message, "envelope", str(exc)))
        if uplink.received_ns - message.arrival_ns > self._future_ns:
            return Outcome(message, uplink=uplink, rejection=_future(message, uplink, self._future_ns))
        dedup = self._dedup
        if dedup is not None and not dedup.add(uplink.dedup_key):
            known = self._contexts.get(uplink.dev_eui)  # a cache hit only: no lookup for a copy
            return Outcome(message, uplink=uplink, model=known.entry.model if known else "", duplicate=True)
        ctx = self._context(uplink.dev_eui)
        if ctx is None:
            reason = f"unknown device {uplink.dev_eui}: register it with 'stadtpuls devices add'"
            return Outcome(message, uplink=uplink, rejection=Rejection(message, "device", reason, uplink.dev_eui))
        return self._decode(message, uplink, ctx)

    def _decode(self, message: Message, uplink: Uplink, ctx: _DeviceContext) -> Outcome:
        out = Outcome(message, uplink=uplink, model=ctx.entry.model)
        radio = self._uplink_line(uplink, ctx.tags)
        if self._keep_raw:  # the one branch the hot path pays when raw payloads are off
            radio = _with_payload(radio, uplink.payload)
        out.lines.append(radio)
        if uplink.f_port == 0 or not uplink.payload:
            return out  # MAC-only uplink: radio record only
        if ctx.deferred:
            assert ctx.entry.codec_js is not None
            complete = partial(self._apply, out, uplink, ctx)
            out.deferred = Deferred(ctx.entry.codec_js, uplink.f_port, uplink.payload, complete)
            return out
        try:
            result = ctx.codec.decode(uplink.f_port, uplink.payload)
        except Exception as exc:  # noqa: BLE001 - a codec must not raise; if one does, the uplink is kept, not lost
            result = {"data": {}, "warnings": [], "errors": [f"codec raised {exc!r}"]}
        return self._apply(out, uplink, ctx, result)

    def _apply(self, out: Outcome, uplink: Uplink, ctx: _DeviceContext, result: DecodeResult) -> Outcome:
        """Turn the codec's result into the outcome's lines, or its rejection."""
        out.deferred = None
        message = out.message
        if result["errors"]:
            reason = f"codec {ctx.entry.model} (fPort {uplink.f_port}): {'; '.join(result['errors'])}"
            out.rejection = _reject(message, uplink, ctx, "codec", reason)
            return out
        normalised = ctx.normaliser.normalise(result["data"])
        implausible = normalised.implausible
        ts, tags, build = uplink.received_ns, ctx.tags, self._lines.value_line
        for m in normalised.measurements:
            try:
                out.lines.append(build(m.quantity, tags, m.value, ts, m.channel))
            except LineProtocolError as exc:  # e.g. a channel name with a control character
                implausible = [*implausible, f"{m.quantity} {m.channel!r}: {exc}"]
        startup = startup_line(ctx.entry, uplink.f_port, result["data"], tags, ts)  # firmware, reset cause
        if startup is not None:
            out.lines.append(startup)
        if implausible:
            reason = "implausible value: " + "; ".join(implausible)
            out.rejection = _reject(message, uplink, ctx, "normalise", reason)
        return out

    def _uplink_line(self, uplink: Uplink, tags: str) -> str:
        """The radio record: what :meth:`LineBuilder.fields_line` makes of its five fields, written out.

        Frame counter, port and gateway count are integers, so always finite; only the signal values are checked.
        """
        line = (
            f"{self._uplink_prefix}{tags} f_cnt={float(uplink.f_cnt)!r},f_port={float(uplink.f_port)!r},"
            f"gateways={float(uplink.gateways)!r}"
        )
        rssi, snr = uplink.rssi, uplink.snr
        if rssi is not None:
            line += f",rssi={format_float(rssi, 'rssi')}"
        if snr is not None:
            line += f",snr={format_float(snr, 'snr')}"
        return f"{line} {uplink.received_ns}"

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
        ctx = _DeviceContext(info, entry, codec, normaliser, tags, self._defer_js and entry.codec_js is not None)
        self._contexts[dev_eui] = ctx
        return ctx


def _future(message: Message, uplink: Uplink, window_ns: int) -> Rejection:
    ahead = (uplink.received_ns - message.arrival_ns) / 1e9
    reason = (
        f"network server time {uplink.received_ns} ns lies {ahead:.0f} s in the future of its arrival, beyond the "
        f"{window_ns / 1e9:.0f} s window (STADTPULS_FUTURE_WINDOW); check the network server's clock"
    )
    return Rejection(message, "time", reason, uplink.dev_eui)


def _with_payload(line: str, payload: bytes) -> str:
    """The radio record ``line`` with the string field ``payload`` (base64: nothing in it needs escaping)."""
    if not payload:
        return line
    head, _, timestamp = line.rpartition(" ")
    return f'{head},payload="{base64.b64encode(payload).decode()}" {timestamp}'


def _reject(message: Message, uplink: Uplink, ctx: _DeviceContext, stage: str, reason: str) -> Rejection:
    return Rejection(message, stage, reason, uplink.dev_eui, ctx.info.municipality)
