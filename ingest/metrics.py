"""Ingest self-metrics (Prometheus counters and gauges), served on ``/metrics`` by ``stadtpuls ingest``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("stadtpuls_ingest_messages_total", "MQTT messages received", ["source", "model"])
DUPLICATES = Counter("stadtpuls_ingest_duplicates_total", "uplinks already seen (retransmissions, gateway copies)")
QUARANTINED = Counter("stadtpuls_ingest_quarantined_total", "messages kept in quarantine", ["stage"])
POINTS = Counter("stadtpuls_ingest_points_written_total", "points acknowledged by InfluxDB")
BATCHES = Counter("stadtpuls_ingest_batches_total", "batches stored, by outcome", ["outcome"])
RETRIES = Counter("stadtpuls_ingest_write_retries_total", "InfluxDB writes of spooled batches that failed and wait")
BATCH_SECONDS = Histogram(
    "stadtpuls_ingest_batch_write_seconds",
    "time to store one batch (InfluxDB or spool, and quarantine)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("stadtpuls_ingest_queue_depth", "closed batches waiting to be written")
PENDING = Gauge("stadtpuls_ingest_pending_acks", "messages received but not yet acknowledged to the broker")
ACKS = Counter("stadtpuls_ingest_acks_total", "acknowledgements released after their batch was stored")
STALE_ACKS = Counter(
    "stadtpuls_ingest_stale_acks_total", "acknowledgements not sent because their connection was lost (redelivered)"
)
PAUSES = Counter("stadtpuls_ingest_read_pauses_total", "times reading from the broker paused for the writer")
SPOOL_BYTES = Gauge("stadtpuls_ingest_spool_bytes", "bytes in the on-disk spool waiting for InfluxDB")
SPOOLED_LINES = Counter("stadtpuls_ingest_spooled_lines_total", "lines written to the spool")
SPOOL_FULL = Counter("stadtpuls_ingest_spool_full_total", "times the spool was full and acknowledgements waited")
INTERNAL_ERRORS = Counter(
    "stadtpuls_ingest_internal_errors_total", "messages whose handling raised unexpectedly (kept in quarantine)",
    ["error"],
)
INFLUX_REFUSALS = Counter(
    "stadtpuls_ingest_influx_refusals_total",
    "writes InfluxDB refused for a reason an operator must fix (401/403, 404 database not found, 413, 429)",
    ["status"],
)
SPOOL_UNREADABLE = Counter("stadtpuls_ingest_spool_unreadable_total", "spool files that could not be read, moved aside")
TASK_FAILURES = Counter("stadtpuls_ingest_task_failures_total", "background tasks that died (ingest then exits)",
                        ["task"])
UNMATCHED_KEYS = Counter(
    "stadtpuls_ingest_unmatched_keys_total", "decoded values whose key no catalog rule matches (not stored)",
    ["model", "key"],
)
QUARANTINE_PENDING = Gauge(
    "stadtpuls_ingest_quarantine_pending_batches", "batches of quarantine records waiting on disk for the database"
)
QUARANTINE_STORE_FAILURES = Counter(
    "stadtpuls_ingest_quarantine_store_failures_total", "attempts to store pending quarantine records that failed"
)
QUARANTINE_DROPPED = Counter(
    "stadtpuls_ingest_quarantine_dropped_total",
    "quarantined messages deleted or not kept: retention, cap (max rows), pending_full, refused (set aside)",
    ["why"],
)
