"""Hostile names survive the round trip through a real InfluxDB: written by line protocol (the reference builder
and the pipeline's fast one), found by InfluxQL.
"""

from __future__ import annotations

import pytest

from devtools.localstack import InfluxServer
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line, quote_string
from tests.unit.test_pipeline import HOSTILE_CHANNELS, hostile_pipeline, message

pytestmark = pytest.mark.integration

HOSTILE = [
    "Markt Platz",
    "a,b=c",
    'quote"double',
    "quote'single",
    "back\\slash",
    "back\\,comma",
    "x' OR '1'='1",
    "Straße → Süd",
    "end space ",
    "='",
]


async def test_hostile_site_names_round_trip(influxdb: InfluxServer, influx_db_name: str) -> None:
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        body = "\n".join(
            line("temperature", {"site": site, "dev_eui": f"{i:016X}"}, {"value": float(i)}, 1_000 + i)
            for i, site in enumerate(HOSTILE)
        )
        await influx.write(body)
        for i, site in enumerate(HOSTILE):
            series = await influx.query(f'SELECT "value" FROM "temperature" WHERE "site" = {quote_string(site)}')
            values = [row[1] for s in series for row in s["values"]]
            assert values == [float(i)], site
        injected = await influx.query(f'SELECT "value" FROM "temperature" WHERE "site" = {quote_string(HOSTILE[6])}')
        assert sum(len(s["values"]) for s in injected) == 1


async def test_hostile_channel_names_from_the_pipeline_round_trip(
    influxdb: InfluxServer, influx_db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = [*HOSTILE_CHANNELS, "='", "x' OR '1'='1", "back\\,comma"]
    outcome = hostile_pipeline(monkeypatch, channels).handle(message())
    assert outcome.rejection is None
    assert len(outcome.lines) == 1 + len(channels)
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        await influx.write("\n".join(outcome.lines))
        for i, channel in enumerate(channels):
            query = f'SELECT "value" FROM "temperature" WHERE "channel" = {quote_string(channel)}'
            values = [row[1] for s in await influx.query(query) for row in s["values"]]
            assert values == [20.0 + i], channel
        tags = await influx.query('SHOW TAG VALUES FROM "temperature" WITH KEY = "channel"')
        assert sorted(row[1] for s in tags for row in s["values"]) == sorted(channels)
