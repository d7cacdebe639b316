"""Codec throughput: decodes per second on one core, native Python codecs against the same devices' JavaScript.

Run: ``.venv/bin/python bench/bench_codecs.py`` (prints a markdown table);
``--write-docs`` also replaces the "## Codecs" section of ``docs/benchmarks.md``;
``--compare OTHER_CHECKOUT`` measures this checkout's codecs and another's side by side instead (e.g. the code
before a change, from ``git worktree add`` or ``git archive``): child processes pinned to one CPU take turns,
one per checkout per round, and each figure is the median over the rounds.

Every native codec in ``devices.codecs.NATIVE_CODECS`` decodes its conformance vectors (``tests/vectors/`` if
it has any there, else ``/work/shared/vectors/codecs.yaml``) in a loop; the devices that have a JavaScript
codec in ``devices/codecs/js/`` decode the same vectors through the QuickJS sandbox (``JsCodec``, one hardened
realm reused) and, for reference, with a fresh realm per call. Each figure is the median of several runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.codecs import NATIVE_CODECS  # noqa: E402
from devices.codecs.base import DecodeResult  # noqa: E402
from devices.jscodec import JsCodec  # noqa: E402

LOCAL_VECTORS = ROOT / "tests" / "vectors"
SHARED_VECTORS = ROOT.parent / "shared" / "vectors" / "codecs.yaml"
JS_CODECS = ROOT / "devices" / "codecs" / "js"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Codecs"
RUN_SECONDS = 0.4  # s per measurement
REPEATS = 7
EMPTY_CODEC = "function decodeUplink(input) { return {data: {}}; }"

Decoder = Callable[[int, bytes], DecodeResult]
Frame = tuple[int, bytes]
Row = tuple[str, int, str, float, float | None, float | None, float | None]


def _vector_entries(path: Path, model: str | None = None) -> list[dict[str, Any]]:
    """Decodable examples of a vector file; per-model files (``<model>.yaml``) name their model by file name."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    entries = document if isinstance(document, list) else []
    found = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("input"), dict) or "data" not in (e.get("output") or {}):
            continue
        if model is not None:
            e = {**e, "model": model}
        if "model" in e:
            found.append(e)
    return found


def _frames(entries: list[dict[str, Any]]) -> dict[str, list[Frame]]:
    frames: dict[str, list[Frame]] = {}
    for entry in entries:
        given = entry["input"]
        raw = bytes.fromhex(given["hex"]) if "hex" in given else bytes(given.get("bytes", []))
        frames.setdefault(str(entry["model"]), []).append((int(given["fPort"]), raw))
    return frames


def load_vectors() -> tuple[dict[str, list[Frame]], dict[str, str]]:
    """Frames per model id, and where each model's frames came from."""
    local = _frames([e for p in sorted(LOCAL_VECTORS.glob("*.yaml")) for e in _vector_entries(p, p.stem)])
    shared = _frames(_vector_entries(SHARED_VECTORS))
    frames = {**shared, **local}
    origin = {m: ("tests/vectors" if m in local else "shared") for m in frames}
    return frames, origin


def pin_to_one_core() -> str:
    """Run on a single CPU so the figures are per core."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _check(decode: Decoder, frames: list[Frame]) -> None:
    """Warm up, and make sure the vectors decode."""
    for f_port, payload in frames:
        result = decode(f_port, payload)
        if result["errors"]:
            raise SystemExit(f"vector on fPort {f_port} ({payload.hex()}) does not decode: {result['errors']}")


def _one_run(decode: Decoder, frames: list[Frame], seconds: float) -> float:
    """Decodes/s over one run of about ``seconds``."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for f_port, payload in frames:
            decode(f_port, payload)
        count += len(frames)
    return count / elapsed


def decodes_per_second(decode: Decoder, frames: list[Frame], *, seconds: float = RUN_SECONDS) -> float:
    """Median decodes/s over :data:`REPEATS` runs of about ``seconds`` each."""
    _check(decode, frames)
    return statistics.median(_one_run(decode, frames, seconds) for _ in range(REPEATS))


def side_by_side(native: Decoder, js: Decoder, frames: list[Frame]) -> tuple[float, float, float]:
    """Median native/s, median JS/s and the median of the per-round ratios, native and JS taking turns in each
    of :data:`REPEATS` rounds, so that a busy moment of the machine weighs on both sides of a ratio alike.
    """
    _check(native, frames)
    _check(js, frames)
    rounds = [(_one_run(native, frames, RUN_SECONDS), _one_run(js, frames, RUN_SECONDS)) for _ in range(REPEATS)]
    return (
        statistics.median(n for n, _ in rounds),
        statistics.median(j for _, j in rounds),
        statistics.median(n / j for n, j in rounds),
    )


def machine() -> str:
    """CPU model and core count as lscpu reports them."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    model = re.search(r"^Model name:\s*(.+)$", text, re.M)
    cpus = re.search(r"^CPU\(s\):\s*(\d+)$", text, re.M)
    return f"{model.group(1).strip() if model else platform.processor() or 'unknown CPU'}, " \
           f"{cpus.group(1) if cpus else os.cpu_count()} cores"


def _fmt(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:,.0f}"


def measure() -> list[Row]:
    """Rows: model, number of vectors, vector origin, native/s, JS/s, JS with a fresh realm per call/s, and the
    median per-round ratio native/JS.
    """
    frames, origin = load_vectors()
    rows = []
    for name, module in sorted(NATIVE_CODECS.items()):
        model = name.replace("_", "-")
        model_frames = frames.get(model, [])
        if not model_frames:
            print(f"skipped {model}: no vectors", file=sys.stderr)
            continue
        js_file = JS_CODECS / f"{model}.js"
        js = fresh = ratio = None
        if js_file.is_file():
            native, js, ratio = side_by_side(module.decode, JsCodec(js_file).decode, model_frames)
            fresh = decodes_per_second(JsCodec(js_file, fresh_context=True).decode, model_frames, seconds=0.2)
        else:
            native = decodes_per_second(module.decode, model_frames)
        rows.append((model, len(model_frames), origin[model], native, js, fresh, ratio))
    return rows


def sandbox_floor() -> float:
    """Decodes/s of a codec that does nothing: the sandbox's own cost per call."""
    return decodes_per_second(JsCodec(EMPTY_CODEC).decode, [(1, b"\x01")])


def table(rows: list[Row]) -> str:
    """The results as a markdown table."""
    lines = [
        "| device model | vectors | native decodes/s | JS decodes/s (sandbox) | native / JS "
        "| JS decodes/s (fresh realm per call) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model, count, origin, native, js, fresh, ratio in rows:
        times = f"{ratio:.1f}×" if ratio else "–"
        lines.append(f"| {model} | {count} ({origin}) | {_fmt(native)} | {_fmt(js)} | {times} | {_fmt(fresh)} |")
    return "\n".join(lines)


def section(rows: list[Row], pinned: str, floor: float) -> str:
    """The "## Codecs" section of docs/benchmarks.md."""
    versions = f"Python {platform.python_version()}, quickjs-ng {metadata.version('quickjs-ng')}"
    js_rows = [(r[0], r[4], r[6]) for r in rows if r[4] and r[6]]
    slow = [f"{model} ({js:,.0f})" for model, js, _ in js_rows if js < 20_000]
    short = [f"{model} ({ratio:.1f}×)" for model, _, ratio in js_rows if ratio < 10]
    verdict = "\n".join([
        f"Targets, over the {len(js_rows)} models with a JS codec:",
        f"- JS ≥ 20,000 decodes/s: {'met by all' if not slow else 'not met by ' + ', '.join(slow)}"
        f" (slowest {min((js for _, js, _ in js_rows), default=0):,.0f}).",
        f"- Native ≥ 10× JS: {'met by all' if not short else 'not met by ' + ', '.join(short)}"
        f" (lowest {min((ratio for _, _, ratio in js_rows), default=0):.1f}×).",
    ])
    return "\n".join([
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()} ({pinned}); {versions}.",
        f"Median of {REPEATS} runs of {RUN_SECONDS} s, each decoding the model's conformance vectors in a loop;",
        "native and JS take turns run by run, and native / JS is the median of the per-run ratios.",
        "Command: `.venv/bin/python bench/bench_codecs.py --write-docs`.",
        "",
        table(rows),
        "",
        verdict,
        "",
        "The JS codecs are those in `devices/codecs/js/`: codecs in the TTN Device Repository form that decode",
        "exactly as the native ones (`tests/unit/test_jscodec.py` compares them on the vectors and on random",
        "frames); a vendor's own codec file runs in the same sandbox.",
        "A JS decode includes the sandbox's per-call work: the codec's top-level code runs afresh, the result",
        "goes through JSON, and globals the call created are removed. \"Fresh realm per call\" is",
        "`JsCodec(..., fresh_context=True)`: a new QuickJS context for every uplink.",
        f"A codec that does nothing reaches {floor:,.0f} decodes/s ({1e6 / floor:.1f} µs per call): the sandbox's",
        "own cost, which bounds every JS codec.",
        "",
    ])


def write_docs(text: str) -> None:
    """Replace (or append) the "## Codecs" section of docs/benchmarks.md, leaving other sections alone."""
    current = DOCS.read_text(encoding="utf-8") if DOCS.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    DOCS.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


# Run in a child process with a checkout's root as argv[1]: that checkout's codecs decode its vectors (native and
# JS sandbox); prints {model: {"native": decodes/s, "js": decodes/s}} as JSON (CPU time, best of 3 short runs).
_CHILD = """
import json, sys, time
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root))
import yaml
from devices.codecs import NATIVE_CODECS
from devices.jscodec import JsCodec

def rate(decode, frames):
    best = 0.0
    for _ in range(3):
        count, start = 0, time.process_time()
        while time.process_time() - start < 0.25:
            for f_port, payload in frames:
                decode(f_port, payload)
            count += len(frames)
        best = max(best, count / (time.process_time() - start))
    return best

out = {}
for name, module in sorted(NATIVE_CODECS.items()):
    model = name.replace("_", "-")
    path = root / "tests" / "vectors" / f"{model}.yaml"
    if not path.is_file():
        continue
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    frames = [(int(e["input"]["fPort"]), bytes.fromhex(str(e["input"]["hex"]))) for e in entries
              if "data" in (e.get("output") or {})]
    out[model] = {"native": rate(module.decode, frames)}
    js_file = root / "devices" / "codecs" / "js" / f"{model}.js"
    if js_file.is_file():
        out[model]["js"] = rate(JsCodec(js_file).decode, frames)
print(json.dumps(out))
"""


def _child_rates(root: Path, cpu: int) -> dict[str, dict[str, float]]:
    command = [sys.executable, "-c", _CHILD, str(root)]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root)
    rates: dict[str, dict[str, float]] = json.loads(done.stdout)
    return rates


def compare(other: Path, rounds: int) -> str:
    """A markdown table of decodes/s of ``other`` (before) and this checkout (after), and the median per-round
    ratio after / before.
    """
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"before": [], "after": []}
    for n in range(rounds):
        order = [("before", other), ("after", ROOT)]
        for side, root in order if n % 2 == 0 else reversed(order):
            runs[side].append(_child_rates(root, cpu))
    lines = [
        f"{rounds} rounds, before = {other}, after = this checkout; decodes/s per core, median over the rounds.",
        "",
        "| device model | native before | native after | after / before | JS before | JS after | after / before |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model in sorted(runs["after"][0]):
        cells = [model]
        for kind in ("native", "js"):
            pairs = [(b[model][kind], a[model][kind]) for b, a in zip(runs["before"], runs["after"], strict=True)
                     if kind in b.get(model, {}) and kind in a[model]]
            if not pairs:
                cells += ["–", "–", "–"]
                continue
            before = statistics.median(b for b, _ in pairs)
            after = statistics.median(a for _, a in pairs)
            cells += [f"{before:,.0f}", f"{after:,.0f}", f"{statistics.median(a / b for b, a in pairs):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Measure, print the table, and optionally update docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="update the Codecs section of docs/benchmarks.md")
    parser.add_argument("--compare", type=Path, metavar="OTHER_CHECKOUT",
                        help="measure another checkout (before) and this one (after) side by side")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of --compare (default 6)")
    args = parser.parse_args()
    if args.compare is not None:
        print(f"Measured {dt.date.today().isoformat()} on {machine()}.")
        print(compare(args.compare.resolve(), args.rounds))
        return
    pinned = pin_to_one_core()
    rows = measure()
    text = section(rows, pinned, sandbox_floor())
    print(text)
    if args.write_docs:
        write_docs(text)
        print(f"updated {DOCS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
