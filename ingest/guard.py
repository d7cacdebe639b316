"""What ingest does when handling one message goes wrong in a way nobody planned for.

Whatever a single message makes fail (a ``RecursionError`` in a decoder, a codec that cannot load, a bug), the
message must not be lost, must not block the broker's in-flight window and must not stop the next one: it becomes
a rejection of stage ``internal`` (kept in quarantine, acknowledged like any other), it is counted, and it is
logged, at most a few lines a minute however many such messages arrive.
"""

from __future__ import annotations

import logging
import time

from ingest import metrics
from ingest.records import Message, Rejection

log = logging.getLogger(__name__)

INTERNAL = "internal"  # the stage of a message whose handling raised
REASON_CHARS = 500  # characters of the exception text kept in the reason


class RateLimitedLog:
    """Logs at most ``burst`` lines per ``period`` seconds; says how many it left out when it logs again.

    Args:
        logger: where lines go.
        burst: lines per period.
        period: seconds.
    """

    def __init__(self, logger: logging.Logger, *, burst: int = 5, period: float = 60.0) -> None:
        self._log = logger
        self._burst = burst
        self._period = period
        self._window = -period
        self._used = 0
        self.suppressed = 0

    def error(self, text: str, *args: object) -> None:
        """Log one error line unless this period's lines are used up."""
        now = time.monotonic()
        if now - self._window >= self._period:
            if self.suppressed:
                self._log.error("%d more such errors in the last %.0f s were not logged", self.suppressed,
                                self._period)
            self._window, self._used, self.suppressed = now, 0, 0
        if self._used >= self._burst:
            self.suppressed += 1
            return
        self._used += 1
        self._log.error(text, *args)


_LOG = RateLimitedLog(log)


def internal_rejection(message: Message, exc: BaseException) -> Rejection:
    """The rejection of a message whose handling raised ``exc``: counted and logged (rate-limited)."""
    text = str(exc)
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS] + "..."
    reason = f"internal: {type(exc).__name__}: {text}"
    metrics.INTERNAL_ERRORS.labels(type(exc).__name__).inc()
    _LOG.error("message on %r could not be handled, kept in quarantine: %s", message.topic[:200], reason)
    return Rejection(message, INTERNAL, reason)


def oversized_rejection(message: Message, limit: int, keep: int = 1024) -> Rejection:
    """The rejection of a payload larger than ``limit`` bytes: its first ``keep`` bytes are kept, and its size."""
    size = len(message.payload)
    reason = (
        f"payload of {size} bytes exceeds the limit of {limit} bytes (STADTPULS_MAX_PAYLOAD_BYTES); "
        f"the first {min(keep, size)} bytes are kept"
    )
    return Rejection(message._replace(payload=message.payload[:keep]), "size", reason)
