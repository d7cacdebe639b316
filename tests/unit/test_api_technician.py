"""The technician routes: keys, one municipality's devices only, provisioning, upload limits, the page's safety."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore
from devices.importer import MAX_IMPORT_BYTES
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings

ANNA: dict[str, str] = {}  # the headers of each caller, filled with real keys by the fixture
OTTO: dict[str, str] = {}
RITA: dict[str, str] = {}
ALL: dict[str, str] = {}  # an admin key of every municipality
THEIRS = "0101010101010101"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # nothing listens on these: InfluxDB is unreachable, so health answers that it is
    settings = Settings(mqtt=MqttSettings(url="mqtt://127.0.0.1:9"), influx=InfluxSettings(url="http://127.0.0.1:9"),
                        data_dir=tmp_path, map_tiles='https://tiles.example/{z}/{x}/{y}.png?a="b"')
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        keys = KeyStore(settings.registry_url)
        for headers, role, municipality, name in ((ANNA, "technician", "Musterstadt", "anna"),
                                                  (OTTO, "technician", "Nachbarort", "otto"),
                                                  (RITA, "reader", "Musterstadt", "rita"),
                                                  (ALL, "admin", None, "root")):
            headers["X-API-Key"] = keys.create(role, municipality=municipality, name=name)[1]
        app.state.registry.upsert(THEIRS, model="cayenne-lpp", name="Bahnhof", site="B", municipality="Nachbarort")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
            yield http


def params(response: httpx.Response) -> list[str]:
    """The parameters a problem+json answer names as at fault."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [p["name"] for p in response.json()["invalid_params"]]


DEVICE = {"dev_eui": "70b3d5e75e000001", "name": "<script>alert(1)</script>", "model": "nwave-nps405",
          "site": "P1 Rathaus", "lat": 50.1, "lon": 8.6}


async def test_keys_are_required_and_roles_checked(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/technician/devices")).status_code == 401
    assert (await client.get("/v1/technician/devices", headers={"X-API-Key": "nope"})).status_code == 401
    assert (await client.get("/v1/technician/devices", headers=RITA)).status_code == 403
    unbound = await client.get("/v1/technician/devices", headers=ALL)  # the tools act for one municipality
    assert unbound.status_code == 403
    assert unbound.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/technician/me", headers=ANNA)).json()["municipality"] == "Musterstadt"


async def test_register_find_change_and_retire(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/technician/devices", json=DEVICE, headers=ANNA)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["dev_eui"], body["municipality"], body["status"], body["name"]) == (
        "70B3D5E75E000001", "Musterstadt", "installed", "<script>alert(1)</script>")
    found = (await client.get("/v1/technician/devices", params={"q": "script"}, headers=ANNA)).json()
    assert [d["dev_eui"] for d in found] == ["70B3D5E75E000001"]
    assert (await client.post("/v1/technician/devices", json=DEVICE, headers=ANNA)).status_code == 409
    changed = await client.patch("/v1/technician/devices/70B3D5E75E000001", json={"notes": "pole 4"}, headers=ANNA)
    assert changed.json()["notes"] == "pole 4"
    retired = await client.post("/v1/technician/devices/70B3D5E75E000001/status", json={"status": "retired"},
                                headers=ANNA)
    assert retired.json()["status"] == "retired"
    assert retired.json()["status_changed_by"] == "anna"
    again = await client.post("/v1/technician/devices/70B3D5E75E000001/status", json={"status": "active"},
                              headers=ANNA)
    assert again.status_code == 422
    assert params(again) == ["status"]
    detail = (await client.get("/v1/technician/devices/70B3D5E75E000001", headers=ANNA)).json()
    assert [h["to_status"] for h in detail["history"]] == ["installed", "retired"]
    assert detail["problem"].startswith("time-series store unavailable")


async def test_bad_devices_name_their_field(client: httpx.AsyncClient) -> None:
    for change, field in (({"dev_eui": "12"}, "dev_eui"), ({"model": "acme-x"}, "model"), ({"lat": 95}, "lat")):
        response = await client.post("/v1/technician/devices", json=DEVICE | change, headers=ANNA)
        assert response.status_code == 422
        assert params(response) == [field]
    missing = await client.post("/v1/technician/devices", json={"name": "x"}, headers=ANNA)
    assert missing.status_code == 422
    assert "dev_eui" in params(missing)
    unknown = await client.get("/v1/technician/devices/70B3D5E75E00FFFF", headers=ANNA)
    assert unknown.status_code == 404
    assert params(unknown) == ["dev_eui"]
    malformed = await client.get("/v1/technician/devices/xyz", headers=ANNA)
    assert malformed.status_code == 422
    assert params(malformed) == ["dev_eui"]


async def test_another_municipalitys_devices_are_out_of_reach(client: httpx.AsyncClient) -> None:
    theirs = await client.get(f"/v1/technician/devices/{THEIRS}", headers=ANNA)
    nobodys = await client.get("/v1/technician/devices/70B3D5E75E00FFFF", headers=ANNA)
    assert theirs.status_code == nobodys.status_code == 404
    assert params(theirs) == ["dev_eui"]
    assert theirs.json()["detail"] == f"device {THEIRS} is not registered"  # the same answer as for no device
    assert (await client.patch(f"/v1/technician/devices/{THEIRS}", json={"name": "x"}, headers=ANNA)).status_code == 404
    retire = await client.post(f"/v1/technician/devices/{THEIRS}/status", json={"status": "retired"}, headers=ANNA)
    assert retire.status_code == 404
    steal = await client.post("/v1/technician/devices", json=DEVICE | {"dev_eui": THEIRS}, headers=ANNA)
    assert steal.status_code == 409
    assert "another municipality" in steal.json()["detail"]
    assert params(steal) == ["dev_eui"]
    assert (await client.get("/v1/technician/devices", headers=ANNA)).json() == []
    assert [d["name"] for d in (await client.get("/v1/technician/devices", headers=OTTO)).json()] == ["Bahnhof"]


async def test_a_cross_site_form_post_cannot_register(client: httpx.AsyncClient) -> None:
    # what another site can make a browser send: a form, no custom header, no JSON
    form = await client.post("/v1/technician/devices", data={"dev_eui": "70B3D5E75E000009", "name": "x"})
    assert form.status_code == 401
    with_key_as_form = await client.post("/v1/technician/devices", data=DEVICE, headers=ANNA)
    assert with_key_as_form.status_code == 422
    assert (await client.get("/v1/technician/devices", headers=ANNA)).json() == []


async def test_uploads_are_checked_whole_and_bounded(client: httpx.AsyncClient) -> None:
    csv = "dev_eui;name;model;site\n70B3D5E75E000001;A;cayenne-lpp;S\n70B3D5E75E000002;B;cayenne-lpp;S\n"
    dry = await client.post("/v1/technician/import", params={"dry_run": True}, content=csv, headers=ANNA)
    assert dry.json() | {"new_sites": []} == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "new_sites": [],
                                              "written": False, "dry_run": True}
    done = (await client.post("/v1/technician/import", content=csv, headers=ANNA)).json()
    assert (done["created"], done["written"]) == (2, True)
    again = (await client.post("/v1/technician/import", content=csv, headers=ANNA)).json()
    assert (again["unchanged"], again["written"]) == (2, False)
    bad = await client.post("/v1/technician/import", content=csv + f"{THEIRS};C;cayenne-lpp;S\nxx;D;cayenne-lpp;S\n",
                            headers=ANNA)
    assert bad.status_code == 422
    assert params(bad) == ["line 4: dev_eui", "line 5: dev_eui"]
    assert bad.json()["status"] == 422
    assert bad.json()["instance"] == "/v1/technician/import"
    stolen = await client.post("/v1/technician/import", content=csv + f"{THEIRS};C;cayenne-lpp;S\n", headers=ANNA)
    assert stolen.status_code == 422
    assert "another municipality" in stolen.text
    huge = await client.post("/v1/technician/import", content=b"x" * (MAX_IMPORT_BYTES + 1), headers=ANNA)
    assert huge.status_code == 413
    assert "at most 5 MB" in huge.json()["detail"]
    assert huge.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(60):
            yield b"y" * (1024 * 1024)

    streamed = await client.post("/v1/technician/import", content=chunks(), headers=ANNA)
    assert streamed.status_code == 413


async def test_health_says_when_influxdb_is_unreachable(client: httpx.AsyncClient) -> None:
    await client.post("/v1/technician/devices", json=DEVICE, headers=ANNA)
    response = await client.get("/v1/technician/health", headers=ANNA)
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/technician/alarms", headers=ANNA)).json() == []


async def test_the_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/technician")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "img-src 'self' data: https://tiles.example" in policy
    assert 'data-tiles="https://tiles.example/{z}/{x}/{y}.png?a=&quot;b&quot;"' in page.text
    assert "http" not in page.text.replace("https://tiles.example", "")  # nothing from elsewhere
    script = await client.get("/technician/static/technician.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text
    assert (await client.get("/technician/static/../app.py")).status_code == 404
    assert (await client.get("/technician/static/secret.txt")).status_code == 404
