"""The anomaly detectors on the NAB subset in ../shared/benchmarks/nab, scored with NAB's rules.

Every data file goes through the function behind ``stadtpuls process detect`` (NYC taxi passengers as
``--kind count``, every other file as ``--kind level``, one parameter set each); the start of each event is a
detection at the first row at or after it. Scores per file and overall for the three profiles, beside NAB's
published baselines.

    .venv/bin/python bench/bench_nab.py [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_score import (
    Profile,
    load_profiles,
    normalised,
    perfect_detections,
    score_file,
    window_rows,
)

from processing.detect_cli import detect_file, read_series

ROOT = Path(__file__).resolve().parents[1]
NAB = ROOT.parent / "shared" / "benchmarks" / "nab"
DOCS = ROOT / "docs" / "benchmarks.md"
COUNT_FILES = ("nyc_taxi.csv",)  # people or vehicles per interval; every other file is a measured level
PROFILE_ORDER = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
# NAB's published scoreboard (whole corpus of 58 files): standard, low FP, low FN
BASELINES = {
    "Numenta HTM": (70.5, 62.6, 75.2),
    "Windowed Gaussian": (39.6, 20.9, 47.4),
    "Random": (11.0, 1.2, 19.5),
}
SECTION = "## Anomaly detection: NAB"


@dataclass
class FileResult:
    """One file's detections and scores."""

    name: str
    kind: str
    rows: int
    windows: int
    events: Counter[str]
    raw: dict[str, float]
    null: dict[str, float]
    perfect: dict[str, float]
    counts: tuple[int, int, int]  # standard profile: windows found, windows missed, false positives


def run_file(path: Path, windows: list[list[str]], profiles: dict[str, Profile]) -> FileResult:
    """Detect on one file and score it under every profile."""
    kind = "count" if path.name in COUNT_FILES else "level"
    events = detect_file(path, kind=kind)
    times, _ = read_series(path)
    reached = np.maximum.accumulate(times)  # a file may step back in time once; rows are scored in file order
    detections = [int(np.searchsorted(reached, event.start, "left")) for event in events]
    limits = [(parse(start), parse(end)) for start, end in windows]
    rows = window_rows(reached.tolist(), limits)
    result = FileResult(path.name, kind, times.size, len(rows), Counter(e.kind for e in events), {}, {}, {}, (0, 0, 0))
    for name, profile in profiles.items():
        score = score_file(times.size, detections, rows, profile)
        result.raw[name] = score.raw
        result.null[name] = score_file(times.size, [], rows, profile).raw
        result.perfect[name] = score_file(times.size, perfect_detections(times.size, rows), rows, profile).raw
        if name == "standard":
            result.counts = (score.true_positives, score.false_negatives, score.false_positives)
    return result


def parse(text: str) -> float:
    """A NAB label time (no zone, read as UTC like the data) in seconds since the epoch."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def run_all() -> list[FileResult]:
    """Every data file of the NAB subset, in name order."""
    profiles = load_profiles(NAB / "profiles.json")
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    results = []
    for path in sorted((NAB / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        results.append(run_file(path, labels[key], profiles))
    return results


def overall(results: list[FileResult], profile: str) -> float:
    """The normalised score of the whole subset: raw, null and perfect scores summed over files first."""
    return normalised(
        sum(r.raw[profile] for r in results),
        sum(r.null[profile] for r in results),
        sum(r.perfect[profile] for r in results),
    )


def table(results: list[FileResult]) -> str:
    """The markdown tables: per file, overall beside the published baselines."""
    lines = [
        "| file | kind | rows | windows | found / missed / false alarms (standard) | events by kind "
        "| standard | low FP | low FN |",
        "|---|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for r in results:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.events.items())) or "none"
        scores = " | ".join(f"{normalised(r.raw[p], r.null[p], r.perfect[p]):.1f}" for p in PROFILE_ORDER)
        found, missed, false = r.counts
        lines.append(f"| {r.name} | {r.kind} | {r.rows:,} | {r.windows} | {found} / {missed} / {false} | {kinds} "
                     f"| {scores} |")
    lines += ["", "| detector | standard | low FP | low FN |", "|---|---:|---:|---:|"]
    ours = " | ".join(f"**{overall(results, p):.1f}**" for p in PROFILE_ORDER)
    lines.append(f"| Stadtpuls detectors (this subset, {len(results)} files) | {ours} |")
    for name, values in BASELINES.items():
        lines.append(f"| {name} (published, whole NAB corpus) | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    lines.append("| null detector / perfect detector | 0.0 / 100.0 | 0.0 / 100.0 | 0.0 / 100.0 |")
    return "\n".join(lines)


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu} ({os.cpu_count()} cores), Python {platform.python_version()}"


def main() -> None:
    """Run, print, and with ``--write-docs`` replace the table in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
    results = run_all()
    text = table(results)
    print(text)
    if args.write_docs:
        write_docs(text)


def write_docs(text: str) -> None:
    """Replace the tables between the NAB section's markers in docs/benchmarks.md."""
    begin, end = "<!-- nab-table-begin -->", "<!-- nab-table-end -->"
    doc = DOCS.read_text(encoding="utf-8")
    if begin not in doc:
        raise SystemExit(f"{DOCS} has no {begin} marker in its '{SECTION}' section")
    stamp = (
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}. "
        "Command: `.venv/bin/python bench/bench_nab.py --write-docs`."
    )
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    DOCS.write_text(f"{head}{begin}\n{stamp}\n\n{text}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
