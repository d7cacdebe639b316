"""Per-interval counts from cumulative counters (people counters' running totals), resets handled.

People counters report running totals (``people_in_total``); what planners want is people per interval. The
difference of consecutive totals is that count, except where the counter restarted (power loss, re-join,
firmware update): there the total drops, and the new total itself is the count since the restart.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def counter_deltas(totals: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Counts between consecutive readings of a cumulative counter.

    Args:
        totals: shape (n,), readings in time order; NaN marks a missing reading.

    Returns:
        shape (n,): ``out[i]`` is the count between the previous valid reading and reading ``i``; NaN for the
        first valid reading and for missing readings. Where the total went down (a counter reset), the count is
        the new total (everything counted since the reset).
    """
    values = np.asarray(totals, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size < 2:
        return out
    current, previous = values[valid[1:]], values[valid[:-1]]
    out[valid[1:]] = np.where(current >= previous, current - previous, current)
    return out


def counter_resets(totals: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a cumulative counter went down compared with the previous valid reading (shape (n,))."""
    values = np.asarray(totals, dtype=np.float64)
    out = np.zeros(values.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(values))
    out[valid[1:]] = values[valid[1:]] < values[valid[:-1]]
    return out
