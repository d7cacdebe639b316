"""The long fuzz run: every native codec, the JavaScript sandbox and both envelope parsers on random input.

Run: ``.venv/bin/python bench/fuzz_long.py [--examples 20000]``. The test suite runs the same properties with a
few hundred examples each; this run takes tens of thousands per target (hypothesis), then feeds each target
``--soak`` plain random inputs and compares the resident set size after a warm-up with the size at the end: a
target that keeps anything per input would grow. It fails if an exception other than the documented ones
escapes, or if a target's memory grows by more than ``--max-growth-mb``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.codecs import NATIVE_CODECS  # noqa: E402
from devices.jscodec import JsCodec  # noqa: E402
from ingest.envelopes import EnvelopeError, parse_envelope  # noqa: E402

TOPICS = ["v3/app/devices/dev/up", "application/a/device/0101010101010101/event/up"]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


def rss_mb() -> float:
    """Current resident set size of this process, MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-(2**40), 2**40)
    if kind == 3:
        return rng.random() * 1e6
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x250)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(random_json(rng, 3)): random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def soak(name: str, rounds: int, rng: random.Random) -> float:
    """Feed ``rounds`` random inputs to a target; returns its RSS growth (MiB) after a warm-up."""
    if name == "envelopes":

        def one() -> None:
            topic = rng.choice(TOPICS)
            raw = rng.randbytes(rng.randrange(400)) if rng.random() < 0.5 else json.dumps(random_json(rng)).encode()
            with contextlib.suppress(EnvelopeError):
                parse_envelope(topic, raw, arrival_ns=0)
    else:
        decode = DECODERS[name]

        def one() -> None:
            check_result(decode(rng.randrange(256), rng.randbytes(rng.randrange(64))))

    for _ in range(rounds // 10):
        one()
    before = rss_mb()
    for _ in range(rounds):
        one()
    return rss_mb() - before


def check_result(result: object) -> None:
    assert isinstance(result, dict), result
    assert set(result) == {"data", "warnings", "errors"}, result
    assert isinstance(result["data"], dict)
    assert isinstance(result["errors"], list)


DECODERS: dict[str, Callable[[int, bytes], object]] = {}


def codec_target(name: str, decode: Callable[[int, bytes], object]) -> Callable[[int], None]:
    DECODERS[name] = decode

    def run(examples: int) -> None:
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.integers(0, 255), st.binary(max_size=64))
        def prop(f_port: int, payload: bytes) -> None:
            check_result(decode(f_port, payload))

        prop()

    return run


def envelope_target(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(TOPICS), st.one_of(st.binary(max_size=400), JSONISH.map(lambda d: json.dumps(d).encode())))
    def prop(topic: str, raw: bytes) -> None:
        with contextlib.suppress(EnvelopeError):
            parse_envelope(topic, raw, arrival_ns=0)

    prop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="hypothesis examples per target")
    parser.add_argument("--soak", type=int, default=200_000, help="plain random inputs per target")
    parser.add_argument("--max-growth-mb", type=float, default=8.0, help="allowed RSS growth per target")
    args = parser.parse_args()
    targets: dict[str, Callable[[int], None]] = {}
    for name, module in sorted(NATIVE_CODECS.items()):
        targets[f"native {name}"] = codec_target(f"native {name}", module.decode)
    for js in sorted((ROOT / "devices" / "codecs" / "js").glob("*.js")):
        targets[f"js {js.stem}"] = codec_target(f"js {js.stem}", JsCodec(js).decode)
    targets["envelopes"] = envelope_target
    rng = random.Random(7)
    worst = 0.0
    print("| target | hypothesis examples | seconds | random inputs | RSS growth MiB |\n|---|---:|---:|---:|---:|")
    for name, run in targets.items():
        began = time.perf_counter()
        run(args.examples)
        growth = soak(name, args.soak, rng)
        worst = max(worst, growth)
        seconds = time.perf_counter() - began
        print(f"| {name} | {args.examples} | {seconds:.1f} | {args.soak} | {growth:+.1f} |", flush=True)
    verdict = "ok" if worst <= args.max_growth_mb else "TOO MUCH GROWTH"
    print(f"\nno exception escaped; largest RSS growth {worst:+.1f} MiB (limit {args.max_growth_mb:g}): {verdict}")
    return 0 if worst <= args.max_growth_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
