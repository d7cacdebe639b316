"""Bulk import of devices from CSV: all rows checked first, every problem reported, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.importer import MAX_IMPORT_BYTES, ImportFileError, normalise_header, parse, run_import
from devices.registry import DeviceRegistry
from tests.unit.test_registry import postgres_url  # noqa: F401  (the fixture)

HEADER = "dev_eui,name,model,site,lat,lon,installed_on,notes\n"


def fifty() -> bytes:
    lines = [HEADER]
    for i in range(50):
        site = "P1 Rathaus" if i < 40 else "Marktplatz"
        model = "nwave-nps405" if i < 40 else "milesight-vs133"
        lines.append(f"70B3D5E75E{i:06X},Bay {i},{model},{site},50.{1000 + i},8.{2000 + i},2026-11-20,\n")
    return "".join(lines).encode()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> DeviceRegistry:
    """A registry on SQLite, and on PostgreSQL (a database of the test's own, see test_registry)."""
    if request.param == "sqlite":
        return DeviceRegistry(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    return DeviceRegistry(request.getfixturevalue("postgres_url"))


def test_fifty_devices_import_once_and_reimport_changes_nothing(registry: DeviceRegistry) -> None:
    dry = run_import(registry, fifty(), municipality="Musterstadt", by="anna", dry_run=True)
    assert (dry.count("create"), dry.written) == (50, False)
    assert dry.new_sites == ["Marktplatz (Musterstadt)", "P1 Rathaus (Musterstadt)"]
    assert registry.list() == []
    done = run_import(registry, fifty(), municipality="Musterstadt", by="anna")
    assert (done.count("create"), done.written) == (50, True)
    devices = registry.list()
    assert len(devices) == 50
    assert {d.status for d in devices} == {"installed"}
    assert registry.history(devices[0].dev_eui)[0].changed_by == "anna"
    before = [(d, registry.history(d.dev_eui)) for d in devices]
    again = run_import(registry, fifty(), municipality="Musterstadt", by="ben")
    assert (again.count("unchanged"), again.written) == (50, False)
    assert [(d, registry.history(d.dev_eui)) for d in registry.list()] == before


def test_a_changed_row_is_an_update_of_just_its_fields(registry: DeviceRegistry) -> None:
    run_import(registry, fifty(), municipality="Musterstadt", by="anna")
    changed = fifty().replace(b"Bay 7,", b"Bay 7 Ost,")
    result = run_import(registry, changed, municipality="Musterstadt", by="anna", dry_run=True)
    updates = [c for c in result.changes if c.action == "update"]
    assert [(c.dev_eui, c.fields) for c in updates] == [("70B3D5E75E000007", ("name",))]
    assert registry.get("70B3D5E75E000007").name == "Bay 7"  # type: ignore[union-attr]


def test_every_bad_row_is_reported_and_nothing_is_written(registry: DeviceRegistry) -> None:
    data = (
        HEADER
        + "70B3D5E75E000001,Good,cayenne-lpp,Markt,,,,\n"
        + "XYZ,Bad eui,cayenne-lpp,Markt,,,,\n"
        + "70B3D5E75E000003,Bad model,acme-x,Markt,,,,\n"
        + "70B3D5E75E000004,Bad lat,cayenne-lpp,Markt,95,8,,\n"
        + "70B3D5E75E000005,Bad date,cayenne-lpp,Markt,,,yesterday,\n"
        + "70B3D5E75E000001,Twice,cayenne-lpp,Markt,,,,\n"
        + "70B3D5E75E000006,Too,many,fields,,,,,,x\n"
        + "70B3D5E75E000007,,cayenne-lpp,Markt,,,,\n"
    ).encode()
    with pytest.raises(ImportFileError) as caught:
        run_import(registry, data, municipality="M", by="anna")
    found = [(p.line, p.field) for p in caught.value.problems]
    assert found == [(3, "dev_eui"), (4, "model"), (5, "lat"), (6, "installed_on"), (7, "dev_eui"), (8, ""),
                     (9, "name")]
    text = str(caught.value)
    assert "7 of 8 rows are invalid; nothing was imported" in text
    assert "line 7: dev_eui: DevEUI 70B3D5E75E000001 is on line 2 too" in text
    assert "line 4: model: unknown device model 'acme-x'" in text
    assert registry.list() == []


def test_aliases_semicolons_bom_decimal_commas_and_multiline_values(registry: DeviceRegistry) -> None:
    data = (
        "\ufeffDevEUI;Device ID;Model;Site;Latitude;Longitude;Description;JoinEUI;AppKey\r\n"
        '70-b3-d5-e7-5e-00-00-01;bay-1;nwave-nps405;P1;50,1234;8,5678;"pole 4;\nbehind the sign";'
        "0000000000000000;00112233445566778899AABBCCDDEEFF\r\n"
        "\r\n"
        "70b3d5e75e000002;bay-2;nwave-nps405;P1;;;;;\r\n"
    ).encode()
    specs = parse(data, municipality="M")
    assert [line for line, _ in specs] == [2, 5]
    first = specs[0][1]
    assert (first.dev_eui, first.name, first.lat, first.lon) == ("70B3D5E75E000001", "bay-1", 50.1234, 8.5678)
    assert first.notes == "pole 4;\nbehind the sign"
    run_import(registry, data, municipality="M", by="anna")
    assert registry.get("70B3D5E75E000002").name == "bay-2"  # type: ignore[union-attr]


def test_the_things_stack_and_chirpstack_shapes(registry: DeviceRegistry) -> None:
    tts = (
        b"id;dev_eui;join_eui;name;frequency_plan_id;lorawan_version;model;site\n"
        b"eui-70b3d5e75e000001;70B3D5E75E000001;0000000000000000;Rathaus;EU_863_870_TTN;MAC_V1_0_3;cayenne-lpp;R\n"
    )
    chirpstack = (
        b"dev_eui,name,description,device_profile_id,application_id,nwk_key,model,site,latitude,longitude\n"
        b"0101010101010101,Bahnhof,north entrance,8d6,3f1,00,elsys-ers-co2,B,50.1,8.6\n"
    )
    assert parse(tts, municipality="M")[0][1].name == "Rathaus"
    cs = parse(chirpstack, municipality="M")[0][1]
    assert (cs.notes, cs.lat) == ("north entrance", 50.1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"dev_eui,name,model\n", r"missing column\(s\) site"),
        (b"eui;label;model;site\n", r"missing column\(s\) name"),
        (b"dev_eui,name,model,site\n", "no rows"),
        (b"lat,latitude,dev_eui,name,model,site\n", "both give lat"),
        ("dev_eui,name,model,site\n0101010101010101,Stra\xdfe,cayenne-lpp,S\n".encode("latin-1"),
         r"line 2 is not UTF-8 \(byte 0xDF\)"),
        (b"PK\x03\x04\x00\x00", "NUL bytes"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        parse(data, municipality="M")


def test_a_50_mb_file_is_refused_before_it_is_read() -> None:
    with pytest.raises(ImportFileError, match=r"52\.4 MB is too large; an import takes at most 5 MB"):
        parse(b"x" * (50 * 1024 * 1024), municipality="M")
    assert MAX_IMPORT_BYTES < 50 * 1024 * 1024


def test_other_municipalities_devices_are_refused(registry: DeviceRegistry) -> None:
    registry.upsert("70B3D5E75E000001", model="cayenne-lpp", name="theirs", site="S", municipality="Nachbarort")
    data = (HEADER + "70B3D5E75E000001,mine,cayenne-lpp,Markt,,,,\n70B3D5E75E000002,ok,cayenne-lpp,Markt,,,,\n")
    with pytest.raises(ImportFileError, match=r"1 of 2 rows are invalid(.|\n)*registered by another municipality"):
        run_import(registry, data.encode(), municipality="Musterstadt", by="x", owner="Musterstadt")
    with_column = "municipality," + HEADER + "Nachbarort,70B3D5E75E000009,x,cayenne-lpp,Markt,,,,\n"
    with pytest.raises(ImportFileError, match=r"line 2: municipality: .* is not yours"):
        run_import(registry, with_column.encode(), municipality="Musterstadt", by="x", owner="Musterstadt")
    assert [d.name for d in registry.list()] == ["theirs"]


def test_a_status_column_moves_devices_along_their_lifecycle(registry: DeviceRegistry) -> None:
    planned = HEADER.replace("\n", ",status\n") + "70B3D5E75E000001,A,cayenne-lpp,S,,,,,planned\n"
    run_import(registry, planned.encode(), municipality="M", by="x")
    run_import(registry, planned.replace(",planned", ",installed").encode(), municipality="M", by="y")
    assert [h.to_status for h in registry.history("70B3D5E75E000001")] == ["planned", "installed"]
    with pytest.raises(ImportFileError, match="cannot change from installed to planned"):
        run_import(registry, planned.encode(), municipality="M", by="x")


def test_header_names_are_normalised() -> None:
    assert normalise_header(" Dev-EUI ") == "dev_eui"
    assert normalise_header("location.latitude") == "location_latitude"
