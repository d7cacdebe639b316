"""Uplinks as The Things Stack v3 sends them, for technician tests: any device, time, port, counter, signal."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelopes"


@cache
def _template() -> dict[str, Any]:
    return json.loads((VECTORS / "ttn-v3-up.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def tts_uplink(
    dev_eui: str, *, at: datetime, f_cnt: int, f_port: int, payload: bytes, rssi: list[float], snr: list[float]
) -> tuple[str, bytes]:
    """Topic and body of one uplink of ``dev_eui`` received at ``at`` by one gateway per RSSI value."""
    doc = copy.deepcopy(_template())
    body = doc["payload"]
    device_id = f"eui-{dev_eui.lower()}"
    body["end_device_ids"]["dev_eui"] = dev_eui
    body["end_device_ids"]["device_id"] = device_id
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body["received_at"] = stamp
    message = body["uplink_message"]
    message.pop("decoded_payload", None)
    message.update(f_port=f_port, f_cnt=f_cnt, frm_payload=base64.b64encode(payload).decode(), received_at=stamp)
    gateway = message["rx_metadata"][0]
    message["rx_metadata"] = [
        gateway | {"gateway_ids": {"gateway_id": f"gw-{i}"}, "rssi": r, "channel_rssi": r, "snr": s}
        for i, (r, s) in enumerate(zip(rssi, snr, strict=True))
    ]
    return f"v3/city-parking@ttn/devices/{device_id}/up", json.dumps(body).encode()
