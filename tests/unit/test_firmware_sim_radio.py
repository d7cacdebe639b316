"""The radio and the network server: envelopes, duplicates, late delivery, frame counters."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from firmware_sim.radio import device_format, rfc3339
from stadtpuls.schema import Source
from tests.unit.test_firmware_sim_support import SATURDAY, simulate, small_town, uplinks


@pytest.mark.parametrize(("fmt", "source"), [("tts", Source.TTS), ("chirpstack", Source.CHIRPSTACK)])
def test_both_envelope_formats_parse_in_ingest(tmp_path: Path, fmt: str, source: Source) -> None:
    town = small_town(tmp_path)
    parsed = uplinks(simulate(town, SATURDAY, fmt=fmt))
    assert parsed
    assert all(u.source is source for u in parsed)
    assert all(u.rssi is not None and u.gateways >= 1 for u in parsed)
    names = {d.dev_eui: d.name for d in town.devices}
    if fmt == "tts":
        assert all(u.device_id == names[u.dev_eui] for u in parsed)


def test_mixed_format_uses_both_servers(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    sources = {u.source for u in uplinks(simulate(town, SATURDAY, fmt="mixed"))}
    assert sources == {Source.TTS, Source.CHIRPSTACK}
    assert device_format("70B3D5E700000001", "mixed") == device_format("70B3D5E700000001", "mixed")


def test_duplicates_carry_the_same_dedup_id_and_frame_counter(tmp_path: Path) -> None:
    town = small_town(tmp_path, duplicate=1.0)
    deliveries = simulate(town, SATURDAY)
    by_envelope: dict[bytes, int] = defaultdict(int)
    for _, _, payload in deliveries:
        by_envelope[payload] += 1
    assert set(by_envelope.values()) == {2}
    parsed = uplinks(deliveries)
    keys: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for u in parsed:
        keys[u.dedup_key].add((u.f_cnt, u.received_ns))
    assert len(keys) == len(parsed) // 2
    assert all(len(v) == 1 for v in keys.values())


def test_late_uplinks_keep_the_server_time_of_the_original(tmp_path: Path) -> None:
    town = small_town(tmp_path, late=0.3)
    deliveries = sorted(simulate(town, SATURDAY))
    late = [(ns, u) for (ns, _, _), u in zip(deliveries, uplinks(deliveries), strict=True)
            if ns - u.received_ns > 50 * 10**9]
    assert late
    low, high = town.network.radio.late_delay
    assert all(low * 1e9 <= ns - u.received_ns <= high * 1e9 + 10**8 for ns, u in late)
    received = [u.received_ns for u in uplinks(deliveries)]
    assert received != sorted(received)  # delivered out of order


def test_frame_counters_count_up_and_a_rejoin_restarts_them(tmp_path: Path) -> None:
    town = small_town(tmp_path, rejoin_per_year=365.0 * 0.5)
    counters: dict[str, list[tuple[int, int, str, int]]] = defaultdict(list)
    for u in uplinks(simulate(town, SATURDAY)):
        counters[u.dev_eui].append((u.received_ns, u.f_cnt, u.dedup_key, u.f_port))
    restarts = 0
    for dev_eui, frames in counters.items():
        frames.sort()
        assert frames[0][1] > 0 or frames[0][3] == 3  # a session from before the run, unless reset at once
        for before, after in pairwise(frames):
            if after[1] == 0:
                restarts += 1
                assert before[2] != after[2]  # a new session
                if dev_eui.startswith(("70B3D5E7", "00A0B7C1")):
                    assert after[3] == 3  # a parking sensor announces the reset with a startup frame
            else:
                assert after[1] == before[1] + 1
    assert restarts > 5


def test_lossy_radio_leaves_frame_counter_gaps(tmp_path: Path) -> None:
    town = small_town(tmp_path, loss=0.3)
    counters: dict[str, list[int]] = defaultdict(list)
    for u in uplinks(simulate(town, SATURDAY)):
        counters[u.dev_eui].append(u.f_cnt)
    gaps = total = 0
    for sent in counters.values():
        seen = sorted(set(sent))
        gaps += sum(b - a - 1 for a, b in pairwise(seen))
        total += seen[-1] - seen[0] + 1
    assert 0.2 < gaps / total < 0.4


def test_rfc3339_keeps_nanoseconds() -> None:
    assert rfc3339(1_714_817_702_123_456_789) == "2024-05-04T10:15:02.123456789Z"


@pytest.mark.parametrize("fmt", ["tts", "chirpstack"])
def test_envelopes_are_valid_json_for_any_name(tmp_path: Path, fmt: str) -> None:
    """Names with quotes and backslashes (device, gateway, application) are escaped, not pasted."""
    hostile = 'c-"vs133"\\nord'
    town = small_town(tmp_path)
    town = dataclasses.replace(
        town,
        network=dataclasses.replace(
            town.network,
            application='app "x"\\',
            gateways=tuple(dataclasses.replace(g, id=f'{g.id}"\\') for g in town.network.gateways),
        ),
        sites=tuple(
            dataclasses.replace(site, devices=tuple(
                dataclasses.replace(d, name=hostile) if d.name == "c-vs133" else d for d in site.devices))
            for site in town.sites
        ),
    )
    deliveries = simulate(town, SATURDAY, fmt=fmt)
    documents = [json.loads(payload) for _, _, payload in deliveries]
    eui = next(d.dev_eui for d in town.devices if d.name == hostile)
    if fmt == "tts":
        mine = [doc for doc in documents if doc["end_device_ids"]["dev_eui"] == eui]
        assert mine
        assert all(doc["end_device_ids"]["device_id"] == hostile for doc in mine)
        assert all(doc["end_device_ids"]["application_ids"]["application_id"] == 'app "x"\\' for doc in documents)
        gateways = {m["gateway_ids"]["gateway_id"] for doc in documents for m in doc["uplink_message"]["rx_metadata"]}
        assert gateways <= {'gw-a"\\', 'gw-b"\\'}
        assert gateways
    else:
        mine = [doc for doc in documents if doc["deviceInfo"]["devEui"] == eui.lower()]
        assert mine
        assert all(doc["deviceInfo"]["deviceName"] == hostile for doc in mine)
        assert all(doc["deviceInfo"]["applicationName"] == 'app "x"\\' for doc in documents)
    assert len(uplinks(deliveries)) == len(deliveries)
