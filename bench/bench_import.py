"""Bulk import of devices: seconds to check, write and re-import CSV files of 50 and 5,000 devices.

Run: ``.venv/bin/python bench/bench_import.py [--postgres URL]`` (prints a markdown table). Each figure is the
median of three runs, every run on a fresh database (SQLite file, or a PostgreSQL database created and dropped).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devices.importer import run_import  # noqa: E402
from devices.registry import DeviceRegistry  # noqa: E402
from stadtpuls.db import open_database  # noqa: E402

MODELS = ("nwave-nps405", "bosch-tps110", "milesight-vs133", "decentlab-dl-pm", "cayenne-lpp")


def csv_file(rows: int) -> bytes:
    """A ``;`` file with BOM and decimal commas, 50 devices per site."""
    lines = ["dev_eui;name;model;site;lat;lon;installed_on;notes"]
    lines += [
        f"70B3D5E7{i:08X};Sensor {i};{MODELS[i % 5]};Site {i // 50};50,{100000 + i};8,{200000 + i};2026-11-20;pole {i}"
        for i in range(rows)
    ]
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def timed(url: str, data: bytes) -> tuple[float, float, float]:
    registry = DeviceRegistry(url)
    marks = [time.perf_counter()]
    for dry_run in (True, False, False):
        run_import(registry, data, municipality="Benchstadt", by="bench", dry_run=dry_run)
        marks.append(time.perf_counter())
    open_database(url).kw["bind"].dispose()
    open_database.cache_clear()
    return marks[1] - marks[0], marks[2] - marks[1], marks[3] - marks[2]


def fresh_urls(postgres: str | None) -> list[tuple[str, str]]:
    urls = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")]
    if postgres:
        name = f"stadtpuls_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        urls.append(("PostgreSQL", postgres.rsplit("/", 1)[0] + f"/{name}"))
    return urls


def drop(postgres: str, url: str) -> None:
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=None, help="admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1/postgres")
    args = parser.parse_args()
    print("| store | devices | check (--dry-run) s | import s | import again s |")
    print("|---|---:|---:|---:|---:|")
    for rows in (50, 5000):
        data = csv_file(rows)
        results: dict[str, list[tuple[float, float, float]]] = {}
        for _ in range(3):
            for label, url in fresh_urls(args.postgres):
                results.setdefault(label, []).append(timed(url, data))
                if label == "PostgreSQL":
                    drop(args.postgres, url)
        for label, runs in results.items():
            medians = [statistics.median(run[i] for run in runs) for i in range(3)]
            print(f"| {label} | {rows:,} | {medians[0]:.2f} | {medians[1]:.2f} | {medians[2]:.2f} |")


if __name__ == "__main__":
    main()
