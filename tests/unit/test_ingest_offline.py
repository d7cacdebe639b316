"""The offline entry: messages in, stored points and quarantine out, with the live path's dedup and bisection."""

from __future__ import annotations

from devices.records import DeviceInfo
from ingest.dedup import RecentKeys
from ingest.offline import OfflineIngest
from ingest.pipeline import Pipeline
from ingest.records import AckToken, Message, Outcome, Rejection
from stadtpuls.influx import InfluxClient
from tests.unit.test_ingest_batcher import FakeInflux, Token
from tests.unit.test_pipeline import CountingLookup, message


def offline(influx: FakeInflux, rejected: list[Rejection], acked: list[int], **kwargs: int) -> OfflineIngest:
    async def keep(rejections: list[Rejection]) -> None:
        rejected.extend(rejections)

    def on_stored(acks: list[AckToken]) -> None:
        acked.extend(a.mid for a in acks if isinstance(a, Token))

    def lookup(dev_eui: str) -> DeviceInfo | None:
        info = CountingLookup()(dev_eui)
        return DeviceInfo(dev_eui, "b", info.model, info.device_class, "bad", "x", None, None) if (
            info and dev_eui.endswith("BD")) else info

    fake: InfluxClient = influx  # type: ignore[assignment]
    return OfflineIngest(Pipeline(lookup, dedup=RecentKeys(100)), fake, keep, on_stored=on_stored, **kwargs)


async def test_copies_are_stored_once_and_every_message_is_released() -> None:
    influx, rejected, acked = FakeInflux(), [], []  # type: ignore[var-annotated]
    entry = offline(influx, rejected, acked, batch_lines=3)
    outcomes: list[Outcome] = []
    await entry.feed((message(Token(mid), f_cnt=100 + mid // 2) for mid in range(6)), outcomes.append)  # twice each
    assert [o.duplicate for o in outcomes] == [False, True] * 3
    counts = await entry.flush()
    assert (counts.messages, counts.duplicates) == (6, 3)
    per_uplink = len(Pipeline(CountingLookup()).handle(message()).lines)
    assert counts.lines == len(influx.lines) == 3 * per_uplink  # three distinct uplinks
    assert sorted(acked) == list(range(6))
    assert rejected == []


async def test_garbage_and_refused_lines_go_to_quarantine_with_their_message() -> None:
    influx, rejected, acked = FakeInflux(), [], []  # type: ignore[var-annotated]
    entry = offline(influx, rejected, acked)
    await entry.feed([Message("v3/app/devices/x/up", b"{not json", 1, Token(1)), message(Token(2))])
    refused = message(Token(3), f_cnt=9)  # a device whose site InfluxDB refuses (see FakeInflux)
    refused = refused._replace(payload=refused.payload.replace(b"70B3D5E75E000001", b"70B3D5E75E0000BD"))
    await entry.feed([refused, message(Token(4), f_cnt=10)])
    counts = await entry.flush()
    assert rejected[0].stage == "envelope"
    assert rejected[0].message.payload == b"{not json"
    assert (rejected[1].stage, rejected[1].message) == ("write", refused)  # the message record, unchanged
    assert len(rejected) == 2
    assert counts.rejected == {"envelope": 1, "write": 1}
    assert sorted(acked) == [1, 2, 3, 4]
    per_uplink = len(Pipeline(CountingLookup()).handle(message()).lines)
    assert counts.lines == 2 * per_uplink
    assert all("bad" not in line for line in influx.lines)
