"""Ingest self-metrics (Prometheus counters and gauges), served on ``/metrics`` by ``stadtpuls ingest``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("stadtpuls_ingest_messages_total", "MQTT messages received", ["source", "model"])
DUPLICATES = Counter(
    "stadtpuls_ingest_duplicates_total", "uplinks already seen (retransmissions, gateway copies)"
)
DECODED = Counter("stadtpuls_ingest_decoded_total", "uplinks decoded into measurements", ["model"])
QUARANTINED = Counter("stadtpuls_ingest_quarantined_total", "messages kept in quarantine", ["stage"])
POINTS = Counter("stadtpuls_ingest_points_written_total", "points acknowledged by InfluxDB")
BATCHES = Counter("stadtpuls_ingest_batches_total", "batches written", ["outcome"])
RETRIES = Counter(
    "stadtpuls_ingest_write_retries_total", "InfluxDB write attempts that failed and were retried"
)
BATCH_SECONDS = Histogram(
    "stadtpuls_ingest_batch_write_seconds",
    "time to write one batch to InfluxDB",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("stadtpuls_ingest_queue_depth", "batches waiting to be written")
PENDING = Gauge("stadtpuls_ingest_pending_messages", "messages received but not yet acknowledged")
SPOOL_BYTES = Gauge("stadtpuls_ingest_spool_bytes", "bytes in the on-disk spool waiting for InfluxDB")
