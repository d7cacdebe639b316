"""The one retry loop of ingest: try again with exponential backoff until an action succeeds.

Ingest never drops what it was given: storing a batch, moving quarantine records from the local pending folder
into the registry database and draining the spool all wait for their dependency (InfluxDB, the registry
database, free spool space) instead of giving up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 0.5  # s before the first retry
MAX_DELAY = 10.0  # s between retries at most


async def retry(
    action: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    what: str,
    first: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``action`` until it returns, waiting ``first``, then twice as long each time, up to ``max_delay``.

    Args:
        action: makes a fresh awaitable for each attempt.
        retry_on: the exceptions that mean "try again later"; any other one propagates at once.
        what: names the action in the log line of each failed attempt.
        first: seconds before the first retry.
        max_delay: seconds between retries at most.
        on_retry: called with each failure before the wait (e.g. to count it).

    Returns:
        What ``action``'s awaitable returned.
    """
    delay = min(first, max_delay)
    while True:
        try:
            return await action()
        except retry_on as exc:
            if on_retry is not None:
                on_retry(exc)
            log.warning("%s failed, retrying in %.1f s: %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
