"""The technicians' page in a real headless Chromium, against a running API, broker, ingest and InfluxDB.

Needs Debian's ``chromium`` and Playwright's Python package (``make deps`` and the ``dev`` extra install them)
and, for the accessibility check, axe-core (``make deps`` unpacks it into ``.venv/share/axe-core``).
``STADTPULS_SCREENSHOTS=folder`` keeps the phone-sized screenshots (the README's come from here).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from api.keys import KeyStore
from devices.codecs import cayenne_lpp, nwave_nps405
from devices.registry import DeviceRegistry
from devtools.localstack import MosquittoServer
from ingest.service import IngestOptions, IngestService
from stadtpuls.settings import Settings
from tests.integration.support import publish
from tests.integration.technician import tts_uplink

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(os.environ.get("STADTPULS_AXE_JS", ROOT / ".venv" / "share" / "axe-core" / "axe.min.js"))
HAVE_AXE = AXE.exists()
HAVE_CHROMIUM = Path(CHROMIUM).exists()
KEYS: dict[str, str] = {}  # name → a real technician key, made when the server starts
PHONE = {"width": 390, "height": 844}
NEW = "70B3D5E75E00B001"
HOSTILE = "70B3D5E75E00B002"
TIRED = "70B3D5E75E00B003"
SILENT = "70B3D5E75E00B004"
HOSTILE_NAME = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api_server(settings: Settings) -> Iterator[str]:
    """The API (with the page) served by uvicorn on a free port, in a thread of its own."""
    app = create_app(settings)
    KEYS["anna"] = KeyStore(settings.registry_url).create("technician", municipality="Musterstadt", name="anna")[1]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[DeviceRegistry]:
    registry = DeviceRegistry(settings.registry_url)
    registry.upsert(HOSTILE, model="cayenne-lpp", name=HOSTILE_NAME, site="Markt", municipality="Musterstadt",
                    lat=50.1, lon=8.6)
    registry.upsert(TIRED, model="nwave-nps405", name="Bay 3", site="P1 Rathaus", municipality="Musterstadt")
    registry.upsert(SILENT, model="nwave-nps405", name="Bay 4", site="P1 Rathaus", municipality="Musterstadt",
                    status="active", installed_on=date.today() - timedelta(days=3))
    service = IngestService(settings, IngestOptions(client_id=f"test-ingest-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    yield registry
    service.stop()
    await asyncio.wait_for(task, timeout=30)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("STADTPULS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _axe(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now (skipped without axe-core)."""
    if not HAVE_AXE:
        return []
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => { const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']});"
        " return {passes: r.passes.length,"
        " violations: r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))}; }"
    )
    assert result["passes"] > 10  # axe ran and checked something
    return list(result["violations"])


async def test_register_a_device_and_watch_its_first_uplink_arrive(
    ingest: DeviceRegistry, api_server: str, settings: Settings, mosquitto: MosquittoServer, shots: Path
) -> None:
    async_api = pytest.importorskip("playwright.async_api")
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (make deps installs it)")
    beat = nwave_nps405.encode(2, {"type": "heartbeat", "occupied": True, "hw_health_status": 1, "temperature": 12.0,
                                   "battery_voltage": 3.0, "battery_health": "normal"})
    await asyncio.to_thread(publish, mosquitto.port, [
        tts_uplink(TIRED, at=datetime.now(UTC), f_cnt=1, f_port=2, payload=beat, rssi=[-101], snr=[4.0])
    ])
    violations: dict[str, list[str]] = {}
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                            geolocation={"latitude": 50.11, "longitude": 8.68},
                                            permissions=["geolocation"],
                                            # lets axe be injected; the escaping is then tested without the policy
                                            bypass_csp=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{api_server}/technician")
        await page.screenshot(path=str(shots / "technician-sign-in.png"))
        await page.get_by_label("Technician key").fill("wrong")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Your key was not accepted").wait_for()
        await page.get_by_label("Technician key").fill(KEYS["anna"])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("anna, Musterstadt").wait_for()

        # a device named like markup is shown as text, and nothing of it runs
        await page.get_by_label("DevEUI, name or site").fill("onerror")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_text(HOSTILE_NAME).wait_for()
        assert await page.evaluate("window.pwned") is None
        assert await page.locator("#results img, #results script").count() == 0
        await page.screenshot(path=str(shots / "technician-find.png"))

        # register: position from GPS, then a tap on the map moves it
        await page.get_by_role("button", name="Register").first.click()
        await page.get_by_label("DevEUI (16 hex digits)").fill(NEW.lower())
        await page.get_by_label("Name", exact=True).fill("Marktplatz Klima")
        await page.get_by_label("Model", exact=True).select_option("cayenne-lpp")
        await page.get_by_label("Site", exact=True).fill("Marktplatz")
        await page.get_by_role("button", name="Use my position (GPS)").click()
        await page.get_by_text("Position found").wait_for()
        assert await page.get_by_label("Latitude", exact=True).input_value() == "50.110000"
        await page.locator("#map").click(position={"x": 300, "y": 60})
        tapped = float(await page.get_by_label("Latitude", exact=True).input_value())
        assert 50.110 < tapped < 50.111  # north-east of the centre, a few tens of metres at zoom 17
        assert float(await page.get_by_label("Longitude", exact=True).input_value()) > 8.68
        await page.get_by_label("Notes").fill("on the lamp post, 3 m")
        await page.screenshot(path=str(shots / "technician-register.png"), full_page=True)
        violations["register"] = await _axe(page)
        await page.get_by_role("button", name="Register", exact=True).last.click()
        await page.get_by_text("Waiting for the first uplink…").wait_for(timeout=15_000)
        await page.screenshot(path=str(shots / "technician-waiting.png"))
        device = ingest.get(NEW)
        assert device is not None
        assert device.name == "Marktplatz Klima"
        assert device.status == "installed"
        assert ingest.history(NEW)[0].changed_by == "anna"

        # the sensor sends until ingest knows it (ingest reloads the registry every few seconds)
        lpp = cayenne_lpp.encode(1, {"temperature_1": 21.5})
        deadline = time.monotonic() + 60
        counter = 0
        while time.monotonic() < deadline:
            await asyncio.to_thread(publish, mosquitto.port, [
                tts_uplink(NEW, at=datetime.now(UTC), f_cnt=counter, f_port=1, payload=lpp, rssi=[-95, -108],
                           snr=[6.5, -2.0])
            ])
            counter += 1
            if await page.get_by_role("cell", name="21.5 °C").count():
                break
            await asyncio.sleep(2)
        await page.get_by_role("cell", name="21.5 °C").wait_for(timeout=10_000)
        await page.get_by_text("Last uplink").wait_for()
        await page.get_by_text("RSSI -95 dBm, SNR 6.5 dB").wait_for()
        await page.screenshot(path=str(shots / "technician-first-uplink.png"), full_page=True)
        violations["device"] = await _axe(page)

        # alarms: the quiet bay and the tired one
        await page.get_by_role("button", name="Alarms").click()
        await page.get_by_role("button", name="Check now").click()
        await page.get_by_text("never seen: Bay 4").wait_for(timeout=15_000)
        await page.get_by_text("low battery: Bay 3").wait_for()
        await page.get_by_text("battery 3.00 V, below 3.20 V").wait_for()
        await page.screenshot(path=str(shots / "technician-alarms.png"), full_page=True)
        violations["alarms"] = await _axe(page)
        await browser.close()
    assert errors == []
    assert ingest.get(NEW).status == "active"  # type: ignore[union-attr]  # the check saw its first uplink
    if HAVE_AXE:
        assert violations == {"register": [], "device": [], "alarms": []}
