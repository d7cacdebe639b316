"""Worker supervision: restart with doubling delays, start over after a stable run, give up on a crash loop."""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import dataclass
from itertools import pairwise

import pytest

from ingest.workers import POLL_INTERVAL, RestartPolicy, Supervisor, WorkerCrashLoop, WorkerProcess


class FakeClock:
    """Time that moves only when the supervisor sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProcess:
    """A worker that lives ``lifetime`` seconds of fake time, then exits with ``code``."""

    name: str
    clock: FakeClock
    lifetime: float
    code: int = 1
    started: float = 0.0
    terminated: bool = False
    pid: int | None = 4242

    @property
    def exitcode(self) -> int | None:
        if self.terminated:
            return -15
        return None if self.is_alive() else self.code

    def is_alive(self) -> bool:
        return not self.terminated and self.clock.now - self.started < self.lifetime

    def terminate(self) -> None:
        self.terminated = True

    def join(self, timeout: float | None = None) -> None:
        pass


class Factory:
    """Starts fake workers and remembers when each was started."""

    def __init__(self, clock: FakeClock, lifetimes: list[float], *, default: float = 0.0) -> None:
        self.clock = clock
        self.lifetimes = lifetimes
        self.default = default
        self.starts: list[tuple[int, float]] = []
        self.processes: list[FakeProcess] = []

    def __call__(self, index: int) -> WorkerProcess:
        lifetime = self.lifetimes.pop(0) if self.lifetimes else self.default
        self.starts.append((index, self.clock.now))
        process = FakeProcess(f"w{index}", self.clock, lifetime, started=self.clock.now)
        self.processes.append(process)
        return process


def gaps(starts: list[tuple[int, float]], index: int = 0) -> list[float]:
    """Seconds between consecutive starts of worker ``index``."""
    times = [t for i, t in starts if i == index]
    return [round(b - a, 1) for a, b in pairwise(times)]


def test_a_crashing_worker_is_restarted_with_doubling_delays_then_given_up() -> None:
    clock = FakeClock()
    factory = Factory(clock, [], default=0.0)  # every worker dies at once
    policy = RestartPolicy(first_delay=1.0, max_delay=60.0, max_crashes=5, window=300.0)
    supervisor = Supervisor(factory, 1, policy=policy, clock=clock, sleep=clock.sleep)
    with pytest.raises(WorkerCrashLoop, match=r"ingest worker w0 crashed 5 times within 300 s \(last exit code 1\)"):
        supervisor.run()
    assert len(factory.starts) == 5
    # each delay is the backoff plus at most one look at the workers
    for gap, delay in zip(gaps(factory.starts), [1.0, 2.0, 4.0, 8.0], strict=True):
        assert delay <= gap <= delay + 2 * POLL_INTERVAL


def test_the_delay_stops_doubling_at_the_maximum() -> None:
    clock = FakeClock()
    factory = Factory(clock, [], default=0.0)
    policy = RestartPolicy(first_delay=1.0, max_delay=4.0, max_crashes=7, window=1000.0)
    with pytest.raises(WorkerCrashLoop):
        Supervisor(factory, 1, policy=policy, clock=clock, sleep=clock.sleep).run()
    assert [round(g) for g in gaps(factory.starts)] == [1, 2, 4, 4, 4, 4]


def test_crashes_far_apart_never_give_up_and_a_stable_run_resets_the_delay() -> None:
    clock = FakeClock()
    # two quick crashes (delays 1, 2; the next would be 4), then long runs that each crash after 200 s
    factory = Factory(clock, [0.0, 0.0, 200.0, 200.0, 200.0, 200.0, 200.0, 200.0], default=1e9)
    policy = RestartPolicy(first_delay=1.0, stable_after=120.0, max_crashes=3, window=60.0)
    supervisor = Supervisor(factory, 1, policy=policy, clock=clock, sleep=clock.sleep)

    def stop_later(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 2000:
            supervisor.stop()

    supervisor._sleep = stop_later
    assert supervisor.run() == 0  # the last worker was stopped by SIGTERM, which is no failure
    starts = gaps(factory.starts)
    assert [round(g) for g in starts[:2]] == [1, 2]
    # after every 200 s run the delay is the first one again, not 4, 8, 16, ...
    assert len(starts) == 8
    assert all(200 + 1 <= g <= 200 + 1 + 2 * POLL_INTERVAL for g in starts[2:])
    assert factory.processes[-1].terminated


def test_only_the_crashing_worker_is_restarted_and_the_others_are_stopped_on_giving_up() -> None:
    clock = FakeClock()
    factory = Factory(clock, [1e9, 0.0], default=0.0)  # worker 0 stays up, worker 1 keeps crashing
    policy = RestartPolicy(first_delay=0.5, max_crashes=3, window=100.0)
    with pytest.raises(WorkerCrashLoop, match="worker w1 crashed 3 times"):
        Supervisor(factory, 2, policy=policy, clock=clock, sleep=clock.sleep).run()
    assert [i for i, _ in factory.starts].count(0) == 1
    assert [i for i, _ in factory.starts].count(1) == 3
    assert factory.processes[0].terminated


def exit_at_once() -> None:
    """A worker target that fails straight away, as one with a broken configuration does."""
    sys.exit(3)


def test_real_processes_that_crash_are_given_up_on() -> None:
    ctx = multiprocessing.get_context("spawn")
    started: list[int] = []

    def start(index: int) -> WorkerProcess:
        process = ctx.Process(target=exit_at_once, name=f"crasher-{index}")
        process.start()
        started.append(index)
        return process

    policy = RestartPolicy(first_delay=0.05, max_delay=0.2, max_crashes=3, window=60.0)
    with pytest.raises(WorkerCrashLoop, match=r"crasher-0 crashed 3 times within 60 s \(last exit code 3\)"):
        Supervisor(start, 1, policy=policy).run()
    assert started == [0, 0, 0]
