"""The radio and the network server: gateways, signal by distance, loss, duplicates, late delivery, envelopes.

Each device keeps its LoRaWAN session (frame counter, session key, DevAddr); a re-join starts a new session
with the counter at 0. A device's first frame of a run continues the session it joined before the run began,
its counter somewhere past 0 (``RESUMED_F_CNT``), unless the frame itself is a re-join. Each transmitted frame
is heard by the gateways whose link budget allows it (log-distance path loss with shadowing), or lost. The
network server delivers it as a The Things Stack v3 or a ChirpStack v4 uplink envelope; some are delivered twice
(same dedup id and frame counter) or late (published after later uplinks, with the server's receive time of the
original uplink).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from firmware_sim.town import Gateway, Network, SimDevice, distance_m

Format = Literal["tts", "chirpstack", "mixed"]
FORMATS: tuple[str, ...] = ("tts", "chirpstack", "mixed")
Delivery = tuple[int, str, bytes]  # (deliver at, ns since the epoch; MQTT topic; envelope JSON)

TX_POWER_DBM = 14.0
PATH_LOSS_1M_DB = 40.0
PATH_LOSS_EXPONENT = 2.9
NOISE_FLOOR_DBM = -117.0  # 125 kHz bandwidth with the gateway's noise figure
DEMOD_FLOOR_DB = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}  # SNR limit per SF
AIRTIME_S = {7: 0.0566, 8: 0.1028, 9: 0.1853, 10: 0.3707, 11: 0.7414, 12: 1.3189}  # ~12-byte payload
CHANNELS_HZ = (868100000, 868300000, 868500000, 867100000, 867300000, 867500000, 867700000, 867900000)
IN_GROUND_LOSS_DB = 12.0  # a bay sensor under a car, in the asphalt
RESUMED_F_CNT = (200, 60_000)  # range of the frame counter a device has reached when a run begins
ADR_MARGIN_DB = 10.0  # the network server's installation margin when it picks the data rate


def json_text(value: str) -> str:
    """``value`` as a JSON string literal, quoted and escaped (UTF-8 kept as is)."""
    return json.dumps(value, ensure_ascii=False)


def device_format(dev_eui: str, wanted: str) -> str:
    """The envelope format of one device: as asked, or for ``mixed`` half the devices each way (fixed)."""
    if wanted != "mixed":
        return wanted
    return "chirpstack" if zlib.crc32(dev_eui.encode()) % 2 else "tts"


def rfc3339(ns: int) -> str:
    """``2024-05-04T10:15:02.123456789Z`` from ns since the epoch."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{fraction:09d}Z"


@dataclass(slots=True)
class Session:
    """A device's LoRaWAN session."""

    number: int = 0
    f_cnt: int = 0
    dev_addr: str = ""
    session_key_id: str = ""
    token: str = ""  # 24 hex digits naming the session in correlation and deduplication ids


@dataclass(slots=True)
class RadioStats:
    """What happened on the air and at the network server."""

    transmitted: int = 0
    lost: int = 0
    delivered: int = 0  # envelopes published, duplicates included
    duplicates: int = 0
    late: int = 0
    garbled: int = 0
    ghost: int = 0

    def add(self, other: RadioStats) -> None:
        """Add another set of counts to these."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class Link:
    """Static link budget of one device: mean RSSI at each gateway and the spreading factor ADR settles on."""

    rssi: npt.NDArray[np.float64]
    sf: int


@dataclass(slots=True)
class Draws:
    """Per-frame random radio conditions (plain lists, row per frame): RSSI and SNR per gateway, which gateways
    heard it, five uniforms (loss, late, delay, jitter, duplicate) and the channel.
    """

    rssi: list[list[int]]
    snr: list[list[float]]
    heard: list[list[bool]]
    uniform: list[list[float]]
    channels: list[int]


@dataclass
class DeviceRadio:
    """One device as the network server knows it: identity, link and session.

    ``ids`` is the envelope's identity part for this device, its names already escaped as JSON: for The Things
    Stack ``end_device_ids`` up to the DevAddr's opening quote, for ChirpStack the ``deviceInfo`` object. Built
    once per device, so that envelopes are safe for any name at f-string speed.
    """

    device: SimDevice
    dev_eui: str
    format: str
    link: Link
    topic: str
    ids: str
    session: Session = field(default_factory=Session)


def _link(device: SimDevice, gateways: tuple[Gateway, ...]) -> Link:
    extra = IN_GROUND_LOSS_DB if device.kind == "parking" else 0.0
    rssi = np.array([
        TX_POWER_DBM - PATH_LOSS_1M_DB - 10 * PATH_LOSS_EXPONENT * math.log10(max(10.0, distance_m(
            device.lat, device.lon, g.lat, g.lon))) - extra
        for g in gateways
    ])
    snr = float(rssi.max()) - NOISE_FLOOR_DBM
    sf = next((s for s in range(7, 13) if snr - ADR_MARGIN_DB >= DEMOD_FLOOR_DB[s]), 12)
    return Link(rssi=rssi, sf=sf)


class Radio:
    """Turns frames into delivered envelopes for a set of devices sharing one network."""

    def __init__(self, network: Network, *, fmt: str, seed: int) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"envelope format must be one of {FORMATS}, got {fmt!r}")
        self.network = network
        self.fmt = fmt
        self.seed = seed
        self.stats = RadioStats()
        self._gateways = network.gateways
        self._gw_json_tts = [f'{{"gateway_id":{json_text(g.id)},"eui":{json_text(g.eui)}}}' for g in network.gateways]
        self._gw_ids_cs = [json_text(g.eui.lower()) for g in network.gateways]

    def device(self, device: SimDevice, *, dev_eui: str | None = None) -> DeviceRadio:
        """The radio side of ``device`` (``dev_eui`` overrides its identity, for an unregistered twin)."""
        eui = dev_eui or device.dev_eui
        fmt = device_format(eui, self.fmt)
        name = device.name if dev_eui is None else f"unknown-{eui.lower()}"
        net = self.network
        if fmt == "tts":
            topic = f"v3/{net.application}@{net.tenant}/devices/{name}/up"
            ids = (f'{{"device_id":{json_text(name)},"application_ids":{{"application_id":'
                   f'{json_text(net.application)}}},"dev_eui":{json_text(eui)},"dev_addr":"')
        else:
            topic = f"application/{net.chirpstack_application}/device/{eui.lower()}/event/up"
            ids = (f'{{"tenantId":"52f14cd4-c6f1-4fbd-8f87-4025e1d49242","tenantName":{json_text(net.tenant)},'
                   f'"applicationId":{json_text(net.chirpstack_application)},'
                   f'"applicationName":{json_text(net.application)},'
                   f'"deviceProfileName":{json_text(device.model)},"deviceName":{json_text(device.name)},'
                   f'"devEui":{json_text(eui.lower())}}}')
        return DeviceRadio(device, eui, fmt, _link(device, self._gateways), topic, ids)

    def rejoin(self, radio: DeviceRadio) -> None:
        """A new session: new DevAddr and session key, frame counter back to 0."""
        s = radio.session
        s.number += 1
        s.f_cnt = 0
        digest = hashlib.blake2b(f"{self.seed}:{radio.dev_eui}:{s.number}".encode(), digest_size=12).digest()
        s.dev_addr = "26" + digest[:3].hex().upper()
        s.session_key_id = base64.b64encode(digest[3:12]).decode()
        s.token = digest.hex()

    def resume(self, radio: DeviceRadio) -> None:
        """The session the device joined before the run began: its frame counter well past 0."""
        self.rejoin(radio)
        low, high = RESUMED_F_CNT
        digest = hashlib.blake2b(f"{self.seed}:{radio.dev_eui}:resume".encode(), digest_size=4).digest()
        radio.session.f_cnt = low + int.from_bytes(digest, "big") % (high - low)

    def draw(self, links: list[tuple[Link, int]], rng: np.random.Generator) -> Draws:
        """Random radio conditions for a batch of frames: ``links`` gives each device's link and frame count."""
        n = sum(count for _, count in links)
        gws = len(self._gateways)
        if n == 0:
            return Draws([], [], [], [], [])
        mean = np.repeat(np.stack([link.rssi for link, _ in links]), [c for _, c in links], axis=0)
        floor = np.repeat([DEMOD_FLOOR_DB[link.sf] for link, _ in links], [c for _, c in links])
        rssi = mean + rng.normal(0.0, self.network.radio.shadowing_db, (n, gws))
        snr = np.minimum(rssi - NOISE_FLOOR_DBM + rng.normal(0.0, 1.0, (n, gws)), 12.0)
        return Draws(
            rssi=np.round(rssi).astype(np.int64).tolist(),
            snr=np.round(snr, 1).tolist(),
            heard=(snr >= floor[:, None]).tolist(),
            uniform=rng.random((n, 5)).tolist(),
            channels=rng.integers(len(CHANNELS_HZ), size=n).tolist(),
        )

    def transmit(self, radio: DeviceRadio, times: list[float], payloads: list[tuple[int, bytes, bool]],
                 draws: Draws, offset: int = 0) -> list[Delivery]:
        """Send frames of one device (in time order) through the air; returns what the server delivers.

        Row ``offset + i`` of ``draws`` holds the radio conditions of frame ``i``.
        """
        n = len(times)
        settings = self.network.radio
        gws = len(self._gateways)
        rssi_l, snr_l, heard_l, draws_l, channels = draws.rssi, draws.snr, draws.heard, draws.uniform, draws.channels
        out: list[Delivery] = []
        stats = self.stats
        session = radio.session
        airtime_ns = int(AIRTIME_S[radio.link.sf] * 1e9)
        jitter = np.array([draws_l[offset + i][3] for i in range(n)]) * 4e7
        received = (np.array(times) * 1e9).astype(np.int64) + airtime_ns + jitter.astype(np.int64)
        received_l = received.tolist()
        stamps = np.datetime_as_string(received.astype("datetime64[ns]"), unit="ns").tolist()
        for i in range(n):
            f_port, payload, rejoin = payloads[i]
            if rejoin:
                self.rejoin(radio)
            elif not session.session_key_id:
                self.resume(radio)
            f_cnt = session.f_cnt
            session.f_cnt = (f_cnt + 1) % 2**32
            stats.transmitted += 1
            row = offset + i
            draw = draws_l[row]
            flags = heard_l[row]
            if draw[0] < settings.loss or not any(flags):
                stats.lost += 1
                continue
            rx = [(g, rssi_l[row][g], snr_l[row][g]) for g in range(gws) if flags[g]]
            received_ns = received_l[i]
            envelope = self._envelope(radio, stamps[i] + "Z", f_port, f_cnt, payload, rx, CHANNELS_HZ[channels[row]])
            deliver = received_ns + 20_000_000
            if draw[1] < settings.late:
                low, high = settings.late_delay
                deliver += int((low + (high - low) * draw[2]) * 1e9)
                stats.late += 1
            out.append((deliver, radio.topic, envelope))
            if draw[4] < settings.duplicate:
                out.append((deliver + int(50e6 + draw[3] * 2e9), radio.topic, envelope))
                stats.duplicates += 1
        stats.delivered += len(out)
        return out

    def _envelope(self, radio: DeviceRadio, at: str, f_port: int, f_cnt: int, payload: bytes,
                  rx: list[tuple[int, int, float]], frequency: int) -> bytes:
        data = base64.b64encode(payload).decode()
        token = f"{f_cnt:08x}{radio.session.token}"
        if radio.format == "tts":
            return self._tts(radio, at, f_port, f_cnt, data, rx, frequency, token)
        return self._chirpstack(radio, at, f_port, f_cnt, data, rx, frequency, token)

    def _tts(self, radio: DeviceRadio, at: str, f_port: int, f_cnt: int, data: str,
             rx: list[tuple[int, int, float]], frequency: int, token: str) -> bytes:
        meta = ",".join(
            f'{{"gateway_ids":{self._gw_json_tts[g]},"time":"{at}","rssi":{r},"channel_rssi":{r},'
            f'"snr":{s},"uplink_token":"{token[:16]}"}}'
            for g, r, s in rx
        )
        s = radio.session
        counter = f'"f_cnt":{f_cnt},' if f_cnt else ""
        port = f'"f_port":{f_port},' if f_port else ""
        ulid = token[:26].upper()
        return (
            f'{{"end_device_ids":{radio.ids}{s.dev_addr}"}},'
            f'"correlation_ids":["as:up:{ulid}","gs:uplink:{token[6:32].upper()}"],"received_at":"{at}",'
            f'"uplink_message":{{"session_key_id":"{s.session_key_id}",{port}{counter}"frm_payload":"{data}",'
            f'"rx_metadata":[{meta}],"settings":{{"data_rate":{{"lora":{{"bandwidth":125000,'
            f'"spreading_factor":{radio.link.sf},"coding_rate":"4/5"}}}},"frequency":"{frequency}"}},'
            f'"received_at":"{at}","consumed_airtime":"{AIRTIME_S[radio.link.sf]}s"}}}}'
        ).encode()

    def _chirpstack(self, radio: DeviceRadio, at: str, f_port: int, f_cnt: int, data: str,
                    rx: list[tuple[int, int, float]], frequency: int, token: str) -> bytes:
        dedup = f"{token[:8]}-{token[8:12]}-4{token[13:16]}-a{token[17:20]}-{token[20:32]}"
        meta = ",".join(
            f'{{"gatewayId":{self._gw_ids_cs[g]},"uplinkId":{int(token[:8], 16) + g},"rssi":{r},'
            f'"snr":{s},"context":"{token[:8]}","metadata":{{"region_config_id":"eu868",'
            f'"region_common_name":"EU868"}}}}'
            for g, r, s in rx
        )
        counter = f'"fCnt":{f_cnt},' if f_cnt else ""
        port = f'"fPort":{f_port},' if f_port else ""
        dr = 12 - radio.link.sf
        return (
            f'{{"deduplicationId":"{dedup}","time":"{at}","deviceInfo":{radio.ids},'
            f'"devAddr":"{radio.session.dev_addr.lower()}",'
            f'"dr":{dr},{port}{counter}"data":"{data}","rxInfo":[{meta}],"txInfo":{{"frequency":{frequency},'
            f'"modulation":{{"lora":{{"bandwidth":125000,"spreadingFactor":{radio.link.sf},"codeRate":"CR_4_5"}}}}}}}}'
        ).encode()
