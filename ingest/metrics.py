"""Ingest self-metrics (Prometheus counters and gauges), served on ``/metrics`` by ``stadtpuls ingest``, with its
liveness (``/livez``) and readiness (``/readyz``) on the same port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

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
CODEC_BACKLOG = Gauge(
    "stadtpuls_ingest_codec_backlog", "uplinks waiting for a JavaScript codec's worker process", ["model"]
)
CODEC_OVERFLOW = Counter(
    "stadtpuls_ingest_codec_overflow_total",
    "uplinks quarantined undecoded because their JavaScript codec's queue was full", ["model"],
)
CODEC_RESTARTS = Counter(
    "stadtpuls_ingest_codec_worker_restarts_total",
    "JavaScript codec worker processes replaced after a timeout or a crash", ["model"],
)
LAST_WRITE = Gauge("stadtpuls_ingest_last_write_timestamp_seconds", "when InfluxDB last acknowledged a write (Unix s)")

# A probe answers (healthy, details): details is a JSON object shown to whoever asks (a port inside the stack).
Probe = Callable[[], tuple[bool, dict[str, Any]]]
HEALTH_PATHS = ("/livez", "/readyz")


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Health checks every few seconds would flood the log: nothing is logged."""


def health_app(live: Probe, ready: Probe) -> Callable[..., Iterable[bytes]]:
    """A WSGI app: ``/livez`` and ``/readyz`` (200 or 503 with a JSON body), everything else Prometheus'."""
    metrics_app = make_wsgi_app()
    probes = dict(zip(HEALTH_PATHS, (live, ready), strict=True))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        probe = probes.get(environ.get("PATH_INFO", ""))
        if probe is None:
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        ok, details = probe()
        body = json.dumps(details, default=str).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve(port: int, addr: str, *, live: Probe, ready: Probe) -> Callable[[], None]:
    """Serve ``/metrics``, ``/livez`` and ``/readyz`` on ``addr:port`` in a daemon thread; returns a stop function."""
    server = make_server(addr, port, health_app(live, ready), ThreadingWSGIServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
