"""The processing store: points formatted in bulk exactly as one by one, reads grouped by quantity, batched writes."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from processing import store as store_module
from processing.store import NS, Points, ProcessingStore
from stadtpuls.influx import InfluxClient

NAN = float("nan")


def _one_by_one(policy: str, measurement: str, tags: dict[str, str], times: np.ndarray,
                fields: dict[str, np.ndarray]) -> list[str]:
    points = Points()
    for n, ns in enumerate(times.tolist()):
        points.add(policy, measurement, tags, {k: float(v[n]) for k, v in fields.items()}, ns)
    return points.by_policy.get(policy, [])


@pytest.mark.parametrize(
    ("measurement", "tags"),
    [
        ("pm2_5", {"site": "Markt", "dev_eui": "0011", "channel": ""}),
        ("occ 100%", {"site": "a,b=c d%s", "class": "100%%"}),  # escaping, and % kept literally
    ],
)
def test_bulk_lines_equal_the_lines_of_single_points(measurement: str, tags: dict[str, str]) -> None:
    rng = np.random.default_rng(3)
    n = 200
    times = 1_700_000_000_000_000_000 + 60_000_000_000 * np.arange(n, dtype=np.int64)
    fields = {
        "count": rng.integers(0, 5, n),
        "mean": rng.normal(20, 5, n) / 3,
        "min": np.where(rng.random(n) < 0.3, NAN, rng.normal(0, 1e-7, n)),
        "max": np.where(rng.random(n) < 0.5, NAN, rng.normal(0, 1e12, n)),
    }
    fields["mean"][rng.random(n) < 0.2] = NAN
    everything_missing = {k: v.astype(float) for k, v in fields.items()}
    for values in everything_missing.values():
        values[7] = NAN  # a row without any field is not written
    bulk = Points()
    bulk.add_many("r1h", measurement, tags, times, everything_missing)
    expected = _one_by_one("r1h", measurement, tags, times, everything_missing)
    assert bulk.by_policy["r1h"] == expected
    assert len(expected) == n - 1
    assert not any(f" {times[7]}" in text for text in expected)


def test_bulk_lines_without_missing_values_and_empty_input() -> None:
    times = np.array([1, 2, 3], dtype=np.int64)
    fields = {"coverage": np.array([1.0, 0.5, 1 / 3]), "bays": np.full(3, 12.0)}
    points = Points()
    points.add_many("", "lot_occupancy", {"site": "P1"}, times, fields)
    points.add_many("", "lot_occupancy", {"site": "P1"}, times[:0], {k: v[:0] for k, v in fields.items()})
    assert points.by_policy[""] == [
        "lot_occupancy,site=P1 coverage=1.0,bays=12.0 1",
        "lot_occupancy,site=P1 coverage=0.5,bays=12.0 2",
        "lot_occupancy,site=P1 coverage=0.3333333333333333,bays=12.0 3",
    ]


class _FakeClient:
    def __init__(self, answer: list[dict[str, Any]] | None = None) -> None:
        self.answer = answer or []
        self.queries: list[str] = []
        self.compressed: list[bool] = []
        self.writes: list[tuple[str, bytes]] = []
        self.precisions: list[str] = []

    async def query(self, influxql: str, *, epoch: str = "ns", compressed: bool = True) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        self.compressed.append(compressed)
        return self.answer

    async def write(self, body: bytes, *, retention_policy: str = "", precision: str = "ns") -> None:
        self.writes.append((retention_policy, body))
        self.precisions.append(precision)


def _store(client: _FakeClient) -> ProcessingStore:
    return ProcessingStore(client)  # type: ignore[arg-type]  # the store uses only query and write


async def test_one_query_reads_every_quantity_grouped_by_measurement() -> None:
    client = _FakeClient([
        {"name": "pm2_5", "tags": {"dev_eui": "A", "channel": ""}, "values": [[10, 1.5], [20, None]]},
        {"name": "no2", "tags": {"dev_eui": "A", "channel": ""}, "values": [[10, 40.0]]},
        {"name": "pm2_5", "tags": {"dev_eui": "B", "channel": "1"}, "values": []},
    ])
    raw = await _store(client).read(["no2", "pm2_5"], municipality="M", site="S'1", start=0, end=100)
    assert len(client.queries) == 1
    assert client.compressed == [False]  # raw windows come without gzip
    assert 'FROM "no2","pm2_5" WHERE' in client.queries[0]
    assert "'S\\'1'" in client.queries[0]
    assert list(raw) == ["no2", "pm2_5"]
    a, b = raw["pm2_5"]
    assert a.tags == {"dev_eui": "A"}
    assert b.tags == {"dev_eui": "B", "channel": "1"}
    assert a.times.tolist() == [10, 20]
    assert a.values[0] == 1.5
    assert np.isnan(a.values[1])
    assert b.times.size == 0
    assert await _store(client).read([], municipality="M", site="S", start=0, end=1) == {}


async def test_writes_are_batched_per_policy_and_all_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "WRITE_BATCH", 3)
    points = Points()
    points.add_many("r1h", "x", {"site": "s"}, np.arange(7, dtype=np.int64), {"v": np.arange(7.0)})
    points.add_many("", "y", {"site": "s"}, np.arange(2, dtype=np.int64), {"v": np.ones(2)})
    client = _FakeClient()
    assert await _store(client).write(points) == 9
    assert sorted((policy, body.count(b"\n") + 1) for policy, body in client.writes) == [
        ("", 2), ("r1h", 1), ("r1h", 3), ("r1h", 3)]
    sent = b"\n".join(body for policy, body in client.writes if policy == "r1h").decode().splitlines()
    assert sorted(sent) == sorted(points.by_policy["r1h"])



async def test_points_in_seconds_are_stamped_and_written_in_seconds() -> None:
    points = Points(precision="s")
    points.add_many("r1h", "x", {"site": "s"}, np.array([3600, 7200], dtype=np.int64) * NS, {"v": np.ones(2)})
    points.add("", "y", {"site": "s"}, {"v": 2.0}, 60 * NS)
    assert points.by_policy == {"r1h": ["x,site=s v=1.0 3600", "x,site=s v=1.0 7200"], "": ["y,site=s v=2.0 60"]}
    client = _FakeClient()
    assert await _store(client).write(points) == 3
    assert client.precisions == ["s", "s"]


def test_a_time_the_precision_cannot_express_is_refused() -> None:
    points = Points(precision="s")
    with pytest.raises(ValueError, match=r"not (a )?whole numbers? of s"):
        points.add_many("r1h", "x", {"site": "s"}, np.array([NS, NS + 1], dtype=np.int64), {"v": np.ones(2)})
    with pytest.raises(ValueError, match=r"not (a )?whole numbers? of s"):
        points.add("", "y", {"site": "s"}, {"v": 2.0}, NS + 5)
    with pytest.raises(ValueError, match="precision must be one of"):
        Points(precision="ms")


async def test_an_answer_without_gzip_is_asked_for_on_request() -> None:
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("accept-encoding"))
        return httpx.Response(200, json={"results": [{"series": [{"name": "x", "values": [[1, 2.0]]}]}]})

    client = InfluxClient("http://127.0.0.1:9", "db")
    await client.close()
    client._http = httpx.AsyncClient(base_url=client.url, transport=httpx.MockTransport(answer))
    async with client:
        assert await client.query("SELECT 1", compressed=False) == [{"name": "x", "values": [[1, 2.0]]}]
        await client.query("SELECT 1")
    assert asked[0] == "identity"
    assert "gzip" in (asked[1] or "")
