"""The compiled benchmark publisher (``bench/cpub/mqttpub.c``): built on first use, fed prepared messages.

Python publishers (paho) reach 5,000-10,000 QoS 1 messages/s on two cores and then set the pace of an end-to-end
run; the C program against libmosquitto (Debian's ``libmosquitto-dev``) publishes several times faster while
keeping a window of unacknowledged QoS 1 messages, and exits only when the broker has acknowledged every one.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "cpub" / "mqttpub.c"
BUILD_DIR = HERE.parent / ".bench" / "cpub"
BINARY = BUILD_DIR / "mqttpub"
WINDOW = 1000  # QoS 1 messages in flight per publisher: the broker's max_inflight_messages in the benchmark


@dataclass(frozen=True, slots=True)
class Published:
    """One publishing run: how many, when it started (wall clock, s) and how long until the last PUBACK."""

    messages: int
    started: float
    seconds: float

    @property
    def rate(self) -> float:
        """Messages/s."""
        return self.messages / self.seconds if self.seconds else float("nan")


def build() -> Path:
    """Compile the publisher when its binary is missing or older than its source; returns the binary."""
    if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler: install the Debian package 'gcc' (make bench-ingest does)")
    if not Path("/usr/include/mosquitto.h").exists():
        raise RuntimeError("mosquitto.h not found: install the Debian package 'libmosquitto-dev' "
                           "(make bench-ingest does)")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([cc, "-O2", "-o", str(BINARY), str(SOURCE), "-lmosquitto", "-lpthread"], check=True)
    return BINARY


def write_messages(path: Path, messages: Iterable[tuple[str, bytes]]) -> int:
    """Write (topic, payload) pairs in the publisher's record format; returns how many."""
    n = 0
    with path.open("wb") as out:
        for topic, payload in messages:
            t = topic.encode()
            out.write(struct.pack("!H", len(t)) + t + struct.pack("!I", len(payload)) + payload)
            n += 1
    return n


def publish_files(host: str, port: int, files: list[Path], *, qos: int = 1, rate: float = 0.0,
                  window: int = WINDOW) -> Published:
    """Publish each file from its own publisher process, all at once; wait for all of them.

    ``rate`` (messages/s, 0 = as fast as possible) is shared among the processes.
    """
    binary = build()
    procs = [
        subprocess.Popen([str(binary), host, str(port), str(f), str(qos), str(window), str(rate / len(files))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for f in files
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"mqttpub failed ({proc.returncode}): {err.decode(errors='replace')}")
        results.append(json.loads(out))
    started = min(r["start_ns"] for r in results) / 1e9
    ended = max(r["start_ns"] / 1e9 + r["seconds"] for r in results)
    return Published(sum(r["messages"] for r in results), started, ended - started)
