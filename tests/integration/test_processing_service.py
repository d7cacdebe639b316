"""The processing service against a real InfluxDB filled with a simulated day of the small town."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.localstack import InfluxServer
from firmware_sim.backfill import run_backfill
from processing.airquality import load_bands
from processing.engine import Options
from processing.service import ProcessingService, Shard, load_sites
from processing.store import DAY, HOUR
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line
from stadtpuls.settings import InfluxSettings, Settings
from tests.unit.test_firmware_sim_support import SMALL_TOWN

pytestmark = pytest.mark.integration
DAY_1 = date(2025, 3, 8)
START = int(datetime(2025, 3, 8, tzinfo=UTC).timestamp()) * 10**9


@pytest.fixture(scope="module")
def town_day(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> Settings:
    """The small town from 7 to 9 March (local days), so that the UTC day of 8 March is whole, in its own database."""
    folder = tmp_path_factory.mktemp("processing")
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db="processing_town"), data_dir=folder)
    town = folder / "small.yaml"
    town.write_text(SMALL_TOWN, encoding="utf-8")
    run_backfill(settings, town=town, days=3, start=date(2025, 3, 7), seed=5, workers=1)
    return settings


def options() -> Options:
    return Options(load_bands("2024"))


async def query(settings: Settings, text: str) -> list[dict[str, Any]]:
    async with InfluxClient.from_settings(settings.influx) as client:
        return await client.query(text)


def rows(series: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple([tuple(sorted((s.get("tags") or {}).items())), *v]) for s in series for v in s["values"])


async def test_backfill_writes_rollups_occupancy_footfall_and_eaqi(town_day: Settings) -> None:
    service = ProcessingService(town_day, options())
    report = await service.backfill(START, START + DAY)
    assert report.sites == 4
    assert report.points > 10_000

    # hourly PM2.5 rollups account for every raw reading of the day
    raw = await query(town_day, f'SELECT count("value") FROM "pm2_5" WHERE time >= {START} AND time < {START + DAY}')
    rolled = await query(town_day, 'SELECT sum("count") FROM "r1h"."pm2_5"')
    assert rolled[0]["values"][0][1] == raw[0]["values"][0][1] > 100
    means = await query(town_day, 'SELECT "min", "mean", "max", "coverage" FROM "r1h"."pm2_5"')
    for _, low, mean, high, coverage in means[0]["values"]:
        assert low <= mean <= high
        assert 0 < coverage <= 1

    # the lot's occupancy per hour is a share, known for the whole day, and the per-site series carry the tags
    lot = await query(town_day, "SELECT \"occupancy\", \"coverage\" FROM \"r1h\".\"lot_occupancy\" "
                                "WHERE \"site\" = 'lot' AND \"municipality\" = 'Teststadt'")
    values = lot[0]["values"]
    assert len(values) == 24
    assert all(0 <= v[1] <= 1 for v in values)
    assert max(v[1] for v in values) > 0.1
    assert all(v[2] > 0.99 for v in values)

    # people per hour: the hours add up to the day, and the day is close to the counters' own period counts
    hours = await query(town_day, "SELECT sum(\"count\") FROM \"r1h\".\"footfall\" WHERE \"direction\" = 'in' "
                                  "GROUP BY \"dev_eui\"")
    day = await query(town_day, "SELECT sum(\"count\") FROM \"r1d\".\"footfall\" WHERE \"direction\" = 'in' "
                                "GROUP BY \"dev_eui\"")
    period = await query(town_day, f"SELECT sum(\"value\") FROM \"people_in\" WHERE time > {START} "
                                   f"AND time <= {START + DAY} GROUP BY \"dev_eui\"")
    by_device = {s["tags"]["dev_eui"]: s["values"][0][1] for s in period}
    assert len(hours) == 3
    for h, d in zip(sorted(hours, key=str), sorted(day, key=str), strict=True):
        assert h["values"][0][1] == pytest.approx(d["values"][0][1])
        assert d["values"][0][1] == pytest.approx(by_device[d["tags"]["dev_eui"]], rel=0.05)

    # an index per station and hour, from the PM sensor's pollutants
    eaqi = await query(town_day, 'SELECT "index", "pm2_5", "pm10" FROM "r1h"."eaqi"')
    assert len(eaqi[0]["values"]) == 24
    assert all(1 <= v[1] <= 6 for v in eaqi[0]["values"])


async def test_backfill_again_writes_the_same_points(town_day: Settings) -> None:
    service = ProcessingService(town_day, options())
    await service.backfill(START, START + DAY)
    measurement = 'SELECT * FROM "r15m"."occupancy" GROUP BY *'
    before = rows(await query(town_day, measurement))
    await service.backfill(START, START + DAY)
    assert rows(await query(town_day, measurement)) == before
    assert len(before) > 1000


async def test_a_pass_recomputes_what_late_data_touched(town_day: Settings) -> None:
    service = ProcessingService(town_day, options(), late=HOUR)
    now = START + DAY - 1
    first = await service.run_pass(now=now)
    assert first.sites == 4
    assert not first.errors
    availability = await query(town_day, "SELECT \"free\", \"occupied\", \"unknown\", \"capacity\" "
                                         "FROM \"lot_availability\" WHERE \"site\" = 'lot'")
    _, free, occupied, unknown, capacity = availability[0]["values"][-1]
    assert capacity == 40
    assert free + occupied + unknown == 40

    hour = START + 10 * HOUR
    check = f'SELECT "max", "count" FROM "r1h"."pm2_5" WHERE time = {hour}'
    _, before_max, before_count = (await query(town_day, check))[0]["values"][0]
    device = (await query(town_day, f'SELECT "value", "dev_eui" FROM "pm2_5" WHERE time >= {hour} LIMIT 1'))
    dev_eui = device[0]["values"][0][2]
    late = line("pm2_5", {"dev_eui": dev_eui, "municipality": "Nachbarort", "site": "air",
                          "class": "air_quality", "model": "decentlab-dl-pm"}, {"value": 999.0}, hour + 7 * 10**9)
    async with InfluxClient.from_settings(town_day.influx) as client:
        await client.write(late)
    second = await service.run_pass(now=now + 60 * 10**9)
    assert second.sites == 4
    _, after_max, after_count = (await query(town_day, check))[0]["values"][0]
    assert (after_max, after_count) == (999.0, before_count + 1)
    assert before_max < 999.0


async def test_shards_split_the_sites(town_day: Settings) -> None:
    whole = {s.key for s in load_sites(town_day, Shard())}
    halves = [{s.key for s in load_sites(town_day, Shard(i, 2))} for i in range(2)]
    assert halves[0] | halves[1] == whole
    assert not halves[0] & halves[1]
    assert [Shard.parse("1/2").index, Shard.parse("1/2").count] == [1, 2]
    with pytest.raises(ValueError, match="shard"):
        Shard.parse("2/2")


def test_cli_backfill(town_day: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from processing.cli import process_group

    monkeypatch.setenv("STADTPULS_INFLUX_URL", town_day.influx.url)
    monkeypatch.setenv("STADTPULS_INFLUX_DB", town_day.influx.db)
    monkeypatch.setenv("STADTPULS_DATA_DIR", str(town_day.data_dir))
    result = CliRunner().invoke(process_group, ["backfill", "--start", "2025-03-08", "--end", "2025-03-09"])
    assert result.exit_code == 0, result.output
    assert "1 days, 4 sites" in result.output
    count = f'SELECT count("index") FROM "r1h"."eaqi" WHERE time >= {START} AND time < {START + DAY}'
    assert asyncio.run(query(town_day, count))[0]["values"][0][1] == 24
    once = CliRunner().invoke(process_group, ["--once", "--shard", "1/2"])
    assert once.exit_code == 0, once.output
    owned = len(load_sites(town_day, Shard(1, 2)))
    assert once.output.startswith(f"{owned} sites")
    bad = CliRunner().invoke(process_group, ["--once", "--shard", "2/2"])
    assert bad.exit_code != 0
    assert "shard" in bad.output
