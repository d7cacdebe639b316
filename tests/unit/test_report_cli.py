"""``stadtpuls report footfall``: its options and the errors it gives before touching a database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stadtpuls.cli import COMMANDS, main
from stadtpuls.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("STADTPULS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTPULS_INFLUX_URL", "http://127.0.0.1:9")  # nothing listens: no test may reach it
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", "footfall", *args])
    return result.exit_code, result.output


def test_the_command_is_registered_by_name() -> None:
    assert COMMANDS["report"] == "reports.cli:report_group"
    code, output = run("--help")
    assert code == 0
    assert "--every-week" in output
    assert "--lang [de|en]" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --week and --out"),
        (("--week", "2026-W47"), "give --week and --out"),
        (("--week", "2026-W54", "--out", "r.pdf"), "2026 has no ISO week 54"),
        (("--week", "47", "--out", "r.pdf"), "week must look like 2026-W47"),
        (("--every-week",), "--every-week needs --to DIR"),
        (("--every-week", "--to", "d", "--week", "2026-W47"), "--every-week needs --to DIR"),
        (("--week", "2026-W47", "--out", "r.pdf", "--lang", "fr"), "'fr' is not one of"),
    ],
)
def test_bad_options_are_named(args: tuple[str, ...], message: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert message in output


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run("--week", "2026-W47", "--out", str(tmp_path / "r.pdf"))
    assert code == 69
    assert "InfluxDB at http://127.0.0.1:9 is unreachable" in output
    assert not (tmp_path / "r.pdf").exists()
