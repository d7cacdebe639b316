"""``stadtpuls devices`` and ``stadtpuls db`` through the real command line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stadtpuls.cli import main
from stadtpuls.settings import get_settings


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STADTPULS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("STADTPULS_DEFAULT_MUNICIPALITY", "Musterstadt")
    get_settings.cache_clear()

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


def test_a_technicians_day_on_the_command_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0
    assert "revision 0005_quarantine_counts" in upgraded.output  # the newest revision
    assert run("devices", "site", "P1 Rathaus", "--type", "parking_lot", "--capacity", "40").exit_code == 0
    added = run("devices", "add", "--dev-eui", "70B3D5E75E000001", "--model", "nwave-nps405", "--name", "Bay 1",
                "--site", "P1 Rathaus", "--by", "anna", "--status", "planned")
    assert added.exit_code == 0
    assert "registered 70B3D5E75E000001" in added.output
    assert "[planned]" in added.output
    moved = run("devices", "update", "70B3D5E75E000001", "--status", "installed", "--note", "pole 4",
                "--notes", "behind the sign", "--lat", "50.1", "--lon", "8.6", "--by", "ben")
    assert moved.exit_code == 0
    assert "[installed]" in moved.output
    shown = run("devices", "show", "70B3D5E75E000001")
    assert "planned → installed" in shown.output
    assert "by ben  (pole 4)" in shown.output
    assert "behind the sign" in shown.output
    record = json.loads(run("devices", "show", "70B3D5E75E000001", "--json").output)
    assert [h["to_status"] for h in record["history"]] == ["planned", "installed"]
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text("dev_eui;name;model;site\n70B3D5E75E000002;Bay 2;nwave-nps405;P1 Rathaus\n",
                        encoding="utf-8-sig")
    dry = run("devices", "import", str(csv_file), "--dry-run")
    assert "1 rows: 1 new, 0 changed, 0 unchanged" in dry.output
    assert "dry run: nothing written" in dry.output
    assert "1 new" in run("devices", "import", str(csv_file)).output
    assert "nothing to change" in run("devices", "import", str(csv_file)).output
    listed = run("devices", "list", "--search", "bay")
    assert listed.output.count("nwave-nps405") == 2
    retired = run("devices", "retire", "70B3D5E75E000001", "--note", "stolen")
    assert retired.exit_code == 0
    assert run("devices", "list", "--status", "retired", "--json").output.count("70B3D5E75E000001") == 1
    assert "P1 Rathaus" in run("devices", "sites").output


def test_errors_exit_with_a_message_and_no_traceback(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("dev_eui,name,model,site\nnope,x,cayenne-lpp,S\n", encoding="utf-8")
    result = run("devices", "import", str(bad))
    assert result.exit_code == 65
    assert "line 2: dev_eui: DevEUI must be 16 hex digits" in result.output
    missing = run("devices", "show", "0101010101010101")
    assert missing.exit_code == 65
    assert "not registered" in missing.output
    run("devices", "add", "--dev-eui", "0101010101010101", "--model", "cayenne-lpp", "--name", "n", "--site", "s")
    run("devices", "retire", "0101010101010101")
    again = run("devices", "update", "0101010101010101", "--status", "active")
    assert again.exit_code == 65
    assert "retired is final" in again.output
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    too_big = run("devices", "import", str(huge))
    assert too_big.exit_code == 65
    assert "52.4 MB is too large" in too_big.output


def test_alarms_and_health_commands(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert run("alarms").output.strip() == "no open alarms"
    run("devices", "add", "--dev-eui", "0101010101010101", "--model", "cayenne-lpp", "--name", "n", "--site", "s")
    monkeypatch.setenv("STADTPULS_INFLUX_URL", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    health = run("devices", "health")
    assert health.exit_code == 69
    assert "127.0.0.1:9" in health.output
    checked = run("alarms", "check")
    assert checked.exit_code == 69
