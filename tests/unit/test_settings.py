"""Settings from the environment, validated before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from stadtpuls.errors import EX_CONFIG, ConfigError
from stadtpuls.settings import Settings, load_settings, parse_mqtt_url


def test_mqtt_url_parts() -> None:
    target = parse_mqtt_url("mqtts://city%40ttn:s3cr%2Ft@broker.example:8883")
    assert (target.host, target.port, target.tls, target.username, target.password) == (
        "broker.example", 8883, True, "city@ttn", "s3cr/t"
    )
    assert parse_mqtt_url("mqtt://127.0.0.1").port == 1883


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STADTPULS_MQTT_URL", "mqtt://10.0.0.5:1884")
    monkeypatch.setenv("STADTPULS_INFLUX_URL", "http://influx:8086/")
    monkeypatch.setenv("STADTPULS_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.mqtt.target.port == 1884
    assert settings.influx.url == "http://influx:8086"
    assert settings.influx.db == "stadtpuls"
    assert settings.registry_url == f"sqlite:///{tmp_path / 'stadtpuls.sqlite3'}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STADTPULS_MQTT_URL", "http://x", "mqtt:// or mqtts://"),
        ("STADTPULS_MQTT_URL", "mqtt://", "no host"),
        ("STADTPULS_INFLUX_URL", "influx:8086", "http"),
        ("STADTPULS_BATCH_SIZE", "0", "greater than or equal to 1"),
        ("STADTPULS_METRICS_PORT", "x", "valid integer"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}: .*{message}"):
        load_settings()


def test_cli_names_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from stadtpuls.cli import main
    from stadtpuls.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setenv("STADTPULS_MQTT_URL", "http://x")
    result = CliRunner().invoke(main, ["devices", "list"])
    get_settings.cache_clear()
    assert result.exit_code == EX_CONFIG
    assert "STADTPULS_MQTT_URL: Value error" in result.output
