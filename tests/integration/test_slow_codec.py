"""A slow JavaScript codec beside a fast native model, through the real broker and InfluxDB: the native model's
uplinks are stored while the slow model's are still being decoded, and every uplink of both is stored once.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from devices.catalog import catalog
from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, Stream, device_eui
from devtools.localstack import InfluxServer, MosquittoServer
from ingest import metrics
from ingest.quarantine import QuarantineStore
from ingest.service import IngestService
from stadtpuls.settings import Settings, get_settings
from tests.integration.support import publish
from tests.integration.test_ingest_delivery import (
    influx_count,
    make_settings,
    service_factory,  # noqa: F401 - a fixture
    wait_for_count,
)

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "js"
SLOW_MODEL = "acme-slowcounter"
SLOW_EUI = "AA00000000000001"
SLOW = 40  # uplinks of the slow model, ~80 ms of decoding each
FAST = 10  # uplinks of the native model, published after them


@pytest.fixture
def slow_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A town catalog with one model whose JavaScript codec takes ~80 ms per uplink."""
    path = tmp_path / "town-catalog.yaml"
    path.write_text(
        f"- model: {SLOW_MODEL}\n"
        "  vendor: Acme\n"
        "  name: Slow people counter\n"
        "  class: footfall\n"
        f"  codec_js: {FIXTURES / 'slow-counter.js'}\n"
        "  quantities:\n"
        "    - {match: people_in, quantity: people_in}\n"
        "    - {match: people_out, quantity: people_out}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("STADTPULS_CATALOG", str(path))
    get_settings.cache_clear()
    catalog.cache_clear()
    yield
    catalog.cache_clear()


def slow_uplinks(count: int) -> list[tuple[str, bytes]]:
    """ChirpStack uplinks of the slow model's device, fPort 1 frames its codec decodes."""
    messages = []
    for topic, body in Stream(count, devices=1, name=f"slow-{uuid.uuid4().hex}").messages():
        doc = orjson.loads(body)
        doc["deviceInfo"]["devEui"] = SLOW_EUI.lower()
        doc["data"] = base64.b64encode(bytes([1, 0, doc["fCnt"] % 256, 0, 1])).decode()
        messages.append((topic.replace(device_eui(0).lower(), SLOW_EUI.lower()), orjson.dumps(doc)))
    return messages


async def test_a_slow_javascript_codec_does_not_hold_up_a_native_model(
    slow_catalog: None, mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,  # noqa: F811
) -> None:
    settings: Settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    registry = DeviceRegistry(settings.registry_url)
    registry.upsert(SLOW_EUI, model=SLOW_MODEL, name="slow", site="Markt", municipality="Musterstadt")
    registry.upsert(device_eui(0), model=MODEL, name="fast", site="Markt", municipality="Musterstadt")
    service: IngestService = await service_factory(settings, f"slow-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    fast = list(Stream(FAST, devices=1, name=f"fast-{uuid.uuid4().hex}").messages())

    await asyncio.to_thread(publish, mosquitto.port, slow_uplinks(SLOW) + fast)  # the slow model's come first

    def native_stored() -> int:
        return influx_count(influxdb.url, influx_db_name, "temperature")

    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, FAST, "temperature") == FAST
    decoded_slow = await asyncio.to_thread(influx_count, influxdb.url, influx_db_name, "people_in")
    # the native uplinks were stored while the slow codec still had uplinks of its own to decode
    assert decoded_slow < SLOW, "the native uplinks waited for the slow codec"

    stored = await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, SLOW, "people_in")
    assert stored == SLOW  # none lost, none doubled
    assert await asyncio.to_thread(influx_count, influxdb.url, influx_db_name, "people_out") == SLOW
    assert await asyncio.to_thread(influx_count, influxdb.url, influx_db_name, "uplink") == SLOW + FAST
    assert native_stored() == FAST
    assert QuarantineStore(settings.registry_url).count() == 0
    deadline = time.monotonic() + 30
    while service._pending and time.monotonic() < deadline:  # every message acknowledged after its batch
        await asyncio.sleep(0.05)
    assert service._pending == 0
    assert metrics.CODEC_BACKLOG.labels(SLOW_MODEL)._value.get() == 0
