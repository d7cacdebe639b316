"""The long fuzz run: every native codec, the JavaScript sandbox and both envelope parsers on random input.

Run: ``.venv/bin/python bench/fuzz_long.py [--examples 20000]``. The test suite runs the same properties with a
few hundred examples each; this run takes tens of thousands per target and also watches memory: the resident
set size after each target is printed, and the run fails if any target raised an exception other than the
documented ones or if memory grew by more than ``--max-growth-mb`` over the whole run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_result(result: object) -> None:
    assert isinstance(result, dict) and set(result) == {"data", "warnings", "errors"}, result
    assert isinstance(result["data"], dict) and isinstance(result["errors"], list)


def codec_target(decode: Callable[[int, bytes], object]) -> Callable[[int], None]:
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
    parser.add_argument("--examples", type=int, default=20_000, help="examples per target")
    parser.add_argument("--max-growth-mb", type=float, default=64.0, help="allowed RSS growth over the run")
    args = parser.parse_args()
    targets: dict[str, Callable[[int], None]] = {
        f"native {name}": codec_target(module.decode) for name, module in sorted(NATIVE_CODECS.items())
    }
    for js in sorted((ROOT / "devices" / "codecs" / "js").glob("*.js")):
        targets[f"js {js.stem}"] = codec_target(JsCodec(js).decode)
    targets["envelopes"] = envelope_target
    start_rss = rss_mb()
    print("| target | examples | seconds | peak RSS MiB |\n|---|---:|---:|---:|")
    for name, run in targets.items():
        began = time.perf_counter()
        run(args.examples)
        print(f"| {name} | {args.examples} | {time.perf_counter() - began:.1f} | {rss_mb():.0f} |", flush=True)
    growth = rss_mb() - start_rss
    print(f"\nno exception escaped; peak RSS grew by {growth:.0f} MiB over the run (limit {args.max_growth_mb:g})")
    return 0 if growth <= args.max_growth_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
