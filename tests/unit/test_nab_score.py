"""NAB scoring on hand-computed cases."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from nab_score import (
    Profile,
    load_profiles,
    normalised,
    perfect_detections,
    probation_rows,
    scaled_sigmoid,
    score_file,
    window_rows,
)

PROFILES = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "nab" / "profiles.json"
STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
ROWS = 100  # probation: the first 15 rows
WINDOW = [(40, 49)]  # ten rows


def test_sigmoid_at_the_published_points() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_rows(100) == 15
    assert probation_rows(22695) == 750


def test_detection_at_the_left_edge_earns_the_full_weight() -> None:
    score = score_file(ROWS, [40], WINDOW, STANDARD)
    assert score.raw == pytest.approx(1.0)
    assert (score.true_positives, score.false_negatives, score.false_positives) == (1, 0, 0)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    # row 45: position -(49 - 45 + 1) / 10 = -0.5, weight 0.84828 / 0.98661
    score = score_file(ROWS, [45, 47, 49], WINDOW, STANDARD)
    assert score.raw == pytest.approx(0.848284 / 0.986614, abs=1e-5)
    assert score.false_positives == 0


def test_no_detection_costs_the_miss() -> None:
    score = score_file(ROWS, [], WINDOW, STANDARD)
    assert score.raw == -1.0
    assert score.false_negatives == 1


def test_false_positive_after_a_window_is_weighted_by_its_distance() -> None:
    # row 59: (59 - 49) / (10 - 1) = 1.111 widths after the window → 2 / (1 + e^5.556) - 1 = -0.99231
    score = score_file(ROWS, [40, 59], WINDOW, STANDARD)
    assert score.raw == pytest.approx(1.0 - 0.11 * 0.99231, abs=1e-5)
    assert score.false_positives == 1
    # just after the window the cost is small: (50 - 49) / 9 → 2 / (1 + e^0.556) - 1 = -0.27085
    assert score_file(ROWS, [40, 50], WINDOW, STANDARD).raw == pytest.approx(1.0 - 0.11 * 0.27085, abs=1e-5)


def test_false_positive_before_any_window_costs_the_full_weight() -> None:
    assert score_file(ROWS, [20], WINDOW, STANDARD).raw == pytest.approx(-1.0 - 0.11)


def test_probationary_detections_are_not_scored() -> None:
    assert score_file(ROWS, [3, 14], WINDOW, STANDARD).raw == -1.0


def test_null_and_perfect_detectors_normalise_to_0_and_100() -> None:
    windows = [(20, 29), (60, 69)]
    null = score_file(ROWS, [], windows, STANDARD).raw
    perfect = score_file(ROWS, perfect_detections(ROWS, windows), windows, STANDARD).raw
    assert (null, perfect) == (-2.0, pytest.approx(2.0))
    assert normalised(null, null, perfect) == 0.0
    assert normalised(perfect, null, perfect) == pytest.approx(100.0)
    one_of_two = score_file(ROWS, [20], windows, STANDARD).raw
    assert normalised(one_of_two, null, perfect) == pytest.approx(50.0)


def test_window_partly_in_probation_is_scored_from_the_first_scorable_row() -> None:
    windows = [(10, 19)]
    assert perfect_detections(ROWS, windows) == [15]
    expected = scaled_sigmoid(-(19 - 15 + 1) / 10) / scaled_sigmoid(-1.0)
    assert score_file(ROWS, [15], windows, STANDARD).raw == pytest.approx(expected)


def test_windows_map_to_rows_by_time() -> None:
    times = [0.0, 60.0, 120.0, 180.0, 240.0]
    assert window_rows(times, [(60.0, 180.0)]) == [(1, 3)]
    with pytest.raises(ValueError, match="holds no row"):
        window_rows(times, [(61.0, 62.0)])


def test_profiles_file_is_read() -> None:
    profiles = load_profiles(PROFILES)
    assert profiles["standard"] == STANDARD
    assert profiles["reward_low_FN_rate"].fn_weight == 2.0
    assert math.isclose(profiles["reward_low_FP_rate"].fp_weight, 0.22)
