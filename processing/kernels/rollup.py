"""Fixed-interval statistics of a time series: count, sum, min, max and last value per interval."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel


@kernel(
    "void(int64[::1], float64[::1], int64, int64, int64[::1], float64[::1], float64[::1], float64[::1],"
    " float64[::1])"
)
def bin_stats(  # noqa: D417 - the five outputs share one entry
    times: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    start: int,
    step: int,
    count: npt.NDArray[np.int64],
    total: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64],
) -> None:
    """Statistics of ``values`` per interval ``[start + k*step, start + (k+1)*step)``.

    Args:
        times: shape (n,), ns, sorted ascending.
        values: shape (n,); NaN values are skipped.
        start: ns, the start of interval 0.
        step: ns, the interval length (> 0).
        count, total, low, high, last: shape (m,), outputs; overwritten. Intervals without a value have
            count 0, total 0 and NaN for low, high and last. Samples outside the m intervals are ignored.
    """
    m = count.shape[0]
    for k in range(m):
        count[k] = 0
        total[k] = 0.0
        low[k] = math.nan
        high[k] = math.nan
        last[k] = math.nan
    n = times.shape[0]
    stop = start + m * step
    # the open interval's statistics stay in registers and are stored once, when the next interval begins
    k = -1
    edge = start  # end of interval k: the first value at or after it opens a new interval
    c = 0
    s = 0.0
    lo = 0.0
    hi = 0.0
    la = 0.0
    i = 0
    while i < n and times[i] < start:
        i += 1
    for j in range(i, n):
        value = values[j]
        if math.isnan(value):
            continue
        t = times[j]
        if t >= stop:
            break
        if t >= edge:
            if c > 0:
                count[k] = c
                total[k] = s
                low[k] = lo
                high[k] = hi
                last[k] = la
            k = (t - start) // step
            edge = start + (k + 1) * step
            c = 0
            s = 0.0
            lo = value
            hi = value
        c += 1
        s += value
        lo = min(lo, value)
        hi = max(hi, value)
        la = value
    if c > 0:
        count[k] = c
        total[k] = s
        low[k] = lo
        high[k] = hi
        last[k] = la
