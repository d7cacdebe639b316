"""The rollups' retention policies get shard groups long enough that a year of hours or days is a few shards: with
InfluxDB's default of one week for policies kept forever, a year of daily points is spread over 53 shards and
every query over it opens each of them.
"""

from __future__ import annotations

import pytest

from processing.store import RESOLUTIONS, ProcessingStore
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings

pytestmark = pytest.mark.integration


async def _shard_durations(client: InfluxClient) -> dict[str, str]:
    response = await client._request("GET", "/query", params={"q": f'SHOW RETENTION POLICIES ON "{client.database}"'})
    series = response.json()["results"][0]["series"][0]
    column = series["columns"].index("shardGroupDuration")
    return {row[0]: row[column] for row in series["values"]}


async def test_the_rollup_policies_have_long_shard_groups(settings: Settings) -> None:
    async with InfluxClient.from_settings(settings.influx) as client:
        await ProcessingStore(client).prepare()
        shards = await _shard_durations(client)
    assert shards["r1h"] == "8736h0m0s"  # 52 weeks
    assert shards["r1d"] == "43680h0m0s"  # 260 weeks
    assert shards["r15m"] == "672h0m0s"  # 4 weeks
    assert {r.policy for r in RESOLUTIONS} <= set(shards)


async def test_an_existing_policy_gets_the_shard_groups_for_new_data(settings: Settings) -> None:
    async with InfluxClient.from_settings(settings.influx) as client:
        await client.create_database()
        await client.create_retention_policy("r1d", duration="INF")  # as before: InfluxDB's default, one week
        assert (await _shard_durations(client))["r1d"] == "168h0m0s"
        await ProcessingStore(client).prepare()
        assert (await _shard_durations(client))["r1d"] == "43680h0m0s"


async def test_a_shard_duration_must_be_a_duration(settings: Settings) -> None:
    async with InfluxClient.from_settings(settings.influx) as client:
        with pytest.raises(ValueError, match="shard duration"):
            await client.create_retention_policy("r9", duration="INF", shard_duration="1w; DROP DATABASE x")
