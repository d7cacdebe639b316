"""Spikes that must be short and return; events that know their onset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from processing.detect import LEVEL, detect

T0 = 1_750_000_000.0


def noisy(days: int = 3, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = T0 + np.arange(0, days * 86400.0, 600.0)
    return times, np.round(20 + rng.normal(0, 1, times.size), 1)


def spikes(times: np.ndarray, values: np.ndarray, **options: object) -> list[float]:
    settings = replace(LEVEL, **options)  # type: ignore[arg-type]
    return [e.start for e in detect(times, values, settings=settings, interval=600) if e.kind == "spike"]


def test_a_short_excursion_that_returns_is_a_spike() -> None:
    times, values = noisy()
    values[300:303] = 160.0
    found = spikes(times, values, spike_max_duration=3600.0, spike_must_return=True)
    assert found == [times[300]]


def test_a_level_that_stays_up_is_no_spike_when_it_must_return() -> None:
    times, values = noisy()
    values[300:] += 140.0
    assert spikes(times, values)  # the plain Hampel test flags the step
    assert spikes(times, values, spike_must_return=True) == []


def test_a_long_excursion_is_no_spike() -> None:
    times, values = noisy()
    values[300:320] = 160.0  # over three hours
    assert spikes(times, values, spike_max_duration=3600.0) == []
    assert spikes(times, values, spike_max_duration=3600.0 * 4) == [times[300]]


def test_a_spike_at_the_last_reading_waits_for_the_next() -> None:
    times, values = noisy()
    values[-1] = 160.0
    assert spikes(times, values, spike_must_return=True) == []
    assert spikes(times, values) == [times[-1]]


def test_stuck_and_gap_events_carry_their_onset() -> None:
    times, values = noisy(days=5)
    values[400:460] = 21.5  # ten hours frozen
    keep = np.ones(times.size, dtype=bool)
    keep[600:640] = False  # nearly seven hours silent
    events = {e.kind: e for e in detect(times[keep], values[keep], interval=600)}
    assert events["stuck"].onset == times[400]
    assert events["stuck"].start > times[400]
    assert events["stuck"].began == times[400]
    assert events["gap"].onset == times[599]
    assert events["gap"].start > times[599]
    assert not events["stuck"].open
    assert events["stuck"].as_json().keys() == {"start", "end", "kind", "score", "reason"}


def test_a_rise_that_crosses_the_threshold_at_its_top_is_no_spike() -> None:
    times, values = noisy()
    values[300:304] = [26.0, 30.0, 33.0, 36.5]  # an evening's rise, reading by reading
    values[304:312] = 32.0  # that stays up a while below its top
    settings = {"spike_threshold": 14.0, "spike_max_duration": 3600.0, "spike_must_return": True}
    # the top alone crosses the threshold and the next reading is just below it: a return by the old measure
    assert spikes(times, values, spike_return_share=1.0, **settings) == [times[303]]
    assert spikes(times, values, spike_return_share=0.5, **settings) == []  # it stands out from neither side
    values[300:303], values[304:312] = 20.0, 20.0  # the same top between usual readings is a spike
    assert spikes(times, values, spike_return_share=0.5, **settings) == [times[303]]


def test_a_value_held_at_the_sensors_floor_is_judged_against_its_nights() -> None:
    rng = np.random.default_rng(5)
    times = T0 + np.arange(0, 40 * 86400.0, 600.0)
    hour = ((times - T0) % 86400.0) / 3600.0
    traffic = np.clip(np.sin((hour - 5.0) / 18.0 * np.pi), 0.0, None)  # nothing between 23:00 and 05:00
    steps = 0.22  # the codec's resolution: at night the value sits at its floor, a step above now and then
    values = 2.42 + steps * np.round((8.0 * traffic * np.exp(rng.normal(0, 0.3, times.size))
                                      + (rng.random(times.size) < 0.12)) / 1.0)
    settings = replace(LEVEL, stuck_floor_quantile=0.05)
    quiet = [e for e in detect(times, values, settings=settings, interval=600) if e.kind == "stuck"]
    assert quiet == []  # six hours at its floor every night are its nights
    plain = [e for e in detect(times, values, interval=600) if e.kind == "stuck"]
    assert plain  # judged against all of its runs, a night at the floor looks frozen
    frozen = values.copy()
    night = (times >= T0 + 30 * 86400.0 - 3600.0) & (times < T0 + 32 * 86400.0)
    frozen[night] = frozen[np.argmax(night)]  # held at the floor for two days
    [found] = [e for e in detect(times, frozen, settings=settings, interval=600) if e.kind == "stuck"]
    assert times[np.argmax(night)] - 6 * 3600.0 <= found.began <= times[np.argmax(night)]
    assert "at its lowest readings it holds a value for up to" in found.reason
