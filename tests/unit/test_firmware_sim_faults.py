"""Labelled faults: spec → faults → effects on the data → ground truth."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from devices.records import DeviceInfo
from firmware_sim.faults import (
    FAULT_KINDS,
    FaultSpecError,
    ground_truth,
    load_spec,
    parse_duration,
    resolve_faults,
    write_ground_truth,
)
from firmware_sim.town import Town
from ingest.pipeline import Pipeline
from tests.unit.test_firmware_sim_support import SATURDAY, day_start, decoded, simulate, small_town, uplinks

HOUR = 3600.0


def _faults(town: Town, entries: list[dict[str, Any]], **random: Any) -> list[Any]:
    start = day_start(town, SATURDAY)
    spec: dict[str, Any] = {"faults": entries}
    if random:
        spec["random"] = random
    return resolve_faults(spec, town, start=start, end=start + 86400, seed=9)


def _pipeline(town: Town) -> Pipeline:
    infos = {d.dev_eui: DeviceInfo(d.dev_eui, d.name, d.model, d.catalog.device_class.value, d.site,
                                   d.municipality, d.lat, d.lon) for d in town.devices}
    return Pipeline(lookup=infos.get)


def test_every_kind_yields_a_ground_truth_entry(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    devices = {"parking": "lot-001", "footfall": "c-vs133", "air": "a-pm"}
    entries = [{"kind": kind, "device": devices[sorted(classes)[0]], "after": "2h", "duration": "3h"}
               for kind, (classes, _) in FAULT_KINDS.items()]
    faults = _faults(town, entries)
    start = day_start(town, SATURDAY)
    truth = ground_truth(faults, town, start=start, end=start + 86400, seed=9)
    path = tmp_path / "truth" / "faults.json"
    write_ground_truth(path, truth)
    back = json.loads(path.read_text(encoding="utf-8"))
    assert [e["kind"] for e in back["faults"]] == list(FAULT_KINDS)
    for entry in back["faults"]:
        assert entry["end_ns"] - entry["start_ns"] == 3 * 3600 * 10**9
        assert entry["start"].endswith("Z")
        assert entry["device"]
        assert len(entry["dev_eui"]) == 16
        assert entry["expect"]
    ghost = next(e for e in back["faults"] if e["kind"] == "unknown_device")
    assert ghost["dev_eui"].startswith("DEADBEEF")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "melted", "device": "a-pm"}, "unknown fault kind 'melted'"),
        ({"kind": "drift", "device": "lot-001"}, "drift applies to air devices"),
        ({"kind": "spike", "device": "nobody"}, "no device named 'nobody'"),
        ({"kind": "spike", "device": "a-pm", "quantity": "no2"}, "has no fault quantity 'no2'"),
        ({"kind": "offline", "device": "a-pm", "duration": "soon"}, "must be a duration"),
        ({"kind": "offline", "device": "a-pm", "start": "tomorrow"}, "must be an ISO date-time"),
    ],
)
def test_a_bad_spec_is_refused_with_the_reason(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        _faults(small_town(tmp_path), [entry])


def test_spec_files_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("faults:\n  - {kind: offline, device: a-pm, start: '2025-03-08T10:00', duration: 90m}\n")
    faults = resolve_faults(load_spec(path), small_town(tmp_path), start=0, end=1e10, seed=1)
    assert faults[0].end - faults[0].start == 5400
    assert parse_duration("1.5h", "x") == 5400
    assert parse_duration(30, "x") == 30
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(FaultSpecError, match="mapping"):
        load_spec(tmp_path / "list.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("faults:\n  - {kind: melted, device: a-pm}\n", "faults[0] (a-pm).kind: unknown fault kind 'melted'"),
        ("faults:\n  - {kind: spike, device: a-pm, after: soon}\n", "faults[0] (a-pm).after: must be a duration"),
        ("faults:\n  - {kind: spike, device: a-pm, start: '2025-03-08T10:00', after: 1h}\n",
         "faults[0] (a-pm): give start or after, not both"),
        ("faults:\n  - {kind: spike, device: a-pm, colour: red}\n", "faults[0] (a-pm).colour: Extra inputs"),
        ("faults:\n  - {kind: drift, device: lot-001}\n", "faults[0] (lot-001).kind: drift applies to air devices"),
        ("faults:\n  - {kind: spike, device: nobody}\n", "faults[0] (nobody).device: town 'small' has no device"),
        ("random: {count: -1}\n", "random.count: Input should be greater than or equal to 0"),
        ("random: {kinds: [spike, melted]}\n", "random.kinds[1]: unknown fault kind 'melted'"),
        ("random: {duration: [2h, 30m]}\n", "random: duration must be [shortest, longest]"),
        ("faults: {kind: spike}\n", "faults: Input should be a valid list"),
        ("- 1\n", "must be a mapping"),
    ],
)
def test_spec_errors_name_file_place_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FaultSpecError) as caught:
        resolve_faults(load_spec(path), small_town(tmp_path), start=0, end=1e10, seed=1)
    assert f"{path}: " in str(caught.value)
    assert message in str(caught.value)


def test_a_spec_file_that_is_missing_or_not_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FaultSpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("faults: [unclosed\n", encoding="utf-8")
    with pytest.raises(FaultSpecError, match="not valid YAML"):
        load_spec(tmp_path / "bad.yaml")


def test_random_faults_are_reproducible_and_fit_their_devices(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    first = _faults(town, [], count=18)
    assert first == _faults(town, [], count=18)
    assert {f.kind for f in first} == set(FAULT_KINDS)
    kinds = {d.dev_eui: d.kind for d in town.devices}
    assert all(kinds[f.dev_eui] in FAULT_KINDS[f.kind][0] for f in first)


def _rejections(town: Town, faults: list[Any]) -> dict[str, list[int]]:
    pipeline = _pipeline(town)
    out: dict[str, list[int]] = defaultdict(list)
    for ns, topic, payload in simulate(town, SATURDAY, faults=faults):
        outcome = pipeline.process(topic, payload, arrival_ns=ns)
        if outcome.rejection is not None:
            out[outcome.rejection.stage].append(outcome.uplink.received_ns if outcome.uplink else ns)
    return out


@pytest.mark.parametrize(
    ("kind", "device", "stage"),
    [("implausible_value", "a-pm", "normalise"), ("garbled_payload", "lot-003", "codec"),
     ("garbled_payload", "c-imb", "codec"), ("garbled_payload", "a-co2", "codec"),
     ("unknown_device", "c-vs135", "device")],
)
def test_quarantine_faults_are_rejected_inside_their_window_only(tmp_path: Path, kind: str, device: str,
                                                                 stage: str) -> None:
    town = small_town(tmp_path)
    faults = _faults(town, [{"kind": kind, "device": device, "after": "9h", "duration": "4h"}])
    rejected = _rejections(town, faults)
    assert set(rejected) == {stage}
    assert all(faults[0].start * 1e9 <= ns < faults[0].end * 1e9 + 10**9 for ns in rejected[stage])
    assert len(rejected[stage]) >= (1 if device.startswith("lot") else 10)


def test_offline_device_is_silent_in_its_window(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    faults = _faults(town, [{"kind": "offline", "device": "a-pm", "after": "6h", "duration": "5h"}])
    eui = town.device("a-pm").dev_eui
    times = [u.received_ns / 1e9 for u in uplinks(simulate(town, SATURDAY, faults=faults)) if u.dev_eui == eui]
    assert not [t for t in times if faults[0].start <= t < faults[0].end]
    assert len(times) == 144 - 30


def _series(town: Town, faults: list[Any], device: str, key: str) -> list[tuple[float, Any]]:
    eui = town.device(device).dev_eui
    out = []
    for u in sorted(uplinks(simulate(town, SATURDAY, faults=faults)), key=lambda u: u.received_ns):
        if u.dev_eui == eui:
            data = decoded(town, u)
            value = data[key]["value"] if isinstance(data[key], dict) else data[key]
            out.append((u.received_ns / 1e9, value))
    return out


def test_stuck_spike_and_drift_change_the_values_in_the_window(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    clean = _series(town, [], "a-pm", "pm2_5_mass_concentration")
    for kind in ("stuck_value", "spike", "drift"):
        faults = _faults(town, [{"kind": kind, "device": "a-pm", "after": "8h", "duration": "4h"}])
        faulty = _series(town, faults, "a-pm", "pm2_5_mass_concentration")
        window = faults[0]
        pairs = list(zip(clean, faulty, strict=True))
        inside = [(c[1], f[1]) for c, f in pairs if window.start <= c[0] < window.end]
        outside = [(c[1], f[1]) for c, f in pairs if not window.start <= c[0] < window.end]
        assert len(inside) == 24
        assert all(c == f for c, f in outside)
        if kind == "stuck_value":
            assert len({f for _, f in inside}) == 1
            assert len({c for c, _ in inside}) > 5
        elif kind == "spike":
            assert all(f > 5 * c for c, f in inside if c > 1)
        else:
            assert inside[-1][1] - inside[-1][0] > inside[0][1] - inside[0][0]


def test_flatline_and_reset_of_a_counter(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    flat = _faults(town, [{"kind": "flatline_counter", "device": "c-vs135", "after": "10h", "duration": "3h"}])
    totals = _series(town, flat, "c-vs135", "line_1_total_in")
    inside = [v for t, v in totals if flat[0].start <= t < flat[0].end]
    assert len(inside) == 18
    assert len(set(inside)) == 1
    reset = _faults(town, [{"kind": "counter_reset", "device": "c-vs135", "after": "12h"}])
    totals = _series(town, reset, "c-vs135", "line_1_total_in")
    drops = [(a, b) for (_, a), (_, b) in pairwise(totals) if b < a]
    assert len(drops) == 1
    assert drops[0][1] == 0


def test_a_stuck_parking_sensor_stops_reporting_changes(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    faults = _faults(town, [{"kind": "stuck_value", "device": "lot-005", "after": "8h", "duration": "8h"}])
    eui = town.device("lot-005").dev_eui
    changes = [u for u in uplinks(simulate(town, SATURDAY, faults=faults)) if u.dev_eui == eui and u.f_port == 1
               and faults[0].start <= u.received_ns / 1e9 < faults[0].end - 1]
    assert changes == []
