"""Scoring of the Numenta Anomaly Benchmark (NAB), written from its published rules.

A detector is scored row by row on each data file:

* the first 15 % of the rows (at most 750) are a probationary period and are not scored;
* each labelled window is a range of rows; only the earliest detection inside a window counts, weighted by
  the scaled sigmoid ``2 * sigmoid(-5 * y) - 1`` of its relative position ``y`` (-1 at the window's left
  edge, 0 just past its right edge), divided by the weight at the left edge so an immediate detection
  earns the full true-positive weight;
* a window without a detection costs the false-negative weight;
* a detection outside every window is a false positive costing the false-positive weight times the scaled
  sigmoid of its distance after the previous window (in window widths; full cost before the first window
  and from three widths on).

The raw scores of all files are summed per profile and normalised: the null detector (never detects) scores
0, the perfect detector (detects at the first scorable row of every window) scores 100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROBATION_FRACTION = 0.15
PROBATION_CAP_ROWS = 5000  # the probationary period never exceeds 15 % of this many rows


@dataclass(frozen=True, slots=True)
class Profile:
    """A NAB cost profile: what a true positive earns and what a miss and a false alarm cost."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


@dataclass(frozen=True, slots=True)
class FileScore:
    """The raw score of one file under one profile, with its counts."""

    raw: float
    true_positives: int  # windows with a detection
    false_negatives: int  # windows without one
    false_positives: int  # scored detections outside every window


def load_profiles(path: Path) -> dict[str, Profile]:
    """The profiles of NAB's ``profiles.json`` (name → :class:`Profile`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Profile(name, entry["CostMatrix"]["tpWeight"], entry["CostMatrix"]["fpWeight"],
                      entry["CostMatrix"]["fnWeight"])
        for name, entry in data.items()
    }


def scaled_sigmoid(position: float) -> float:
    """``2 * sigmoid(-5 * position) - 1``, and -1 from three window widths after a window on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n_rows: int) -> float:
    """Rows at the start of a file that are not scored."""
    return min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_FRACTION * PROBATION_CAP_ROWS)


def window_rows(times: Sequence[float], windows: Iterable[tuple[float, float]]) -> list[tuple[int, int]]:
    """First and last row index inside each window ``(start, end)`` (inclusive times), windows in time order.

    Args:
        times: the file's row times, ascending.
        windows: NAB's labelled windows as times.

    Raises:
        ValueError: for a window that holds no row.
    """
    rows = []
    for start, end in sorted(windows):
        inside = [i for i, t in enumerate(times) if start <= t <= end]
        if not inside:
            raise ValueError(f"window {start}..{end} holds no row")
        rows.append((inside[0], inside[-1]))
    return rows


def score_file(
    n_rows: int, detections: Iterable[int], windows: Sequence[tuple[int, int]], profile: Profile
) -> FileScore:
    """The raw NAB score of one file.

    Args:
        n_rows: number of rows in the file.
        detections: row indices where the detector raised an alarm (duplicates are ignored).
        windows: first and last row of each labelled window, in order, not overlapping.
        profile: the cost profile.

    Returns:
        The raw score and the counts behind it.
    """
    probation = probation_rows(n_rows)
    max_tp = scaled_sigmoid(-1.0)
    scorable = [w for w in windows if w[1] >= probation]
    best: dict[int, float] = {}
    false_positives = 0
    fp_total = 0.0
    for row in sorted(set(detections)):
        if row < probation or not 0 <= row < n_rows:
            continue
        index, inside = locate(row, windows)
        if inside:
            first, last = windows[index]
            position = -(last - row + 1) / (last - first + 1)
            weight = scaled_sigmoid(position) * profile.tp_weight / max_tp
            best[index] = max(best.get(index, -math.inf), weight)
            continue
        false_positives += 1
        if index < 0:
            fp_total += -profile.fp_weight
        else:
            first, last = windows[index]
            distance = (row - last) / max(last - first, 1)
            fp_total += scaled_sigmoid(distance) * profile.fp_weight
    window_total = 0.0
    for index, window in enumerate(windows):
        if window in scorable:
            window_total += best.get(index, -profile.fn_weight)
    detected = sum(1 for index, window in enumerate(windows) if window in scorable and index in best)
    return FileScore(window_total + fp_total, detected, len(scorable) - detected, false_positives)


def locate(row: int, windows: Sequence[tuple[int, int]]) -> tuple[int, bool]:
    """The window holding ``row`` (index, True), else the last window before it (index or -1, False)."""
    previous = -1
    for index, (first, last) in enumerate(windows):
        if first <= row <= last:
            return index, True
        if last < row:
            previous = index
    return previous, False


def perfect_detections(n_rows: int, windows: Sequence[tuple[int, int]]) -> list[int]:
    """The perfect detector's alarms: the first scorable row of every window."""
    probation = probation_rows(n_rows)
    return [max(first, math.ceil(probation)) for first, last in windows if last >= probation]


def normalised(raw: float, null: float, perfect: float) -> float:
    """``100 * (raw - null) / (perfect - null)``: the null detector scores 0, the perfect one 100."""
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)
