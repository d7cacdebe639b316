"""Settings from environment variables (``STADTPULS_*``), validated before anything connects."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class MqttTarget(BaseModel):
    """A parsed ``mqtt://`` / ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


class Settings(BaseSettings):
    """All settings of every Stadtpuls service. Each field maps to ``STADTPULS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STADTPULS_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = "stadtpuls-ingest"
    mqtt_qos: int = Field(default=1, ge=0, le=1)
    mqtt_share_group: str = ""
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "stadtpuls"
    influx_username: str | None = None
    influx_password: str | None = None
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    default_municipality: str = "Stadtpuls"
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    batch_interval: float = Field(default=0.2, gt=0, le=60.0)  # seconds
    api_keys_file: Path | None = None
    catalog: Path | None = None  # a town's own device catalog, merged with the built-in one

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"STADTPULS_INFLUX_URL must be http(s)://host[:port], got {value!r}")
        return value.rstrip("/")

    @property
    def mqtt(self) -> MqttTarget:
        return parse_mqtt_url(self.mqtt_url)

    @property
    def registry_url(self) -> str:
        """The SQLAlchemy URL of the device registry; a SQLite file in the data folder by default."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'stadtpuls.sqlite3').resolve()}"


def parse_mqtt_url(url: str) -> MqttTarget:
    """Parse ``mqtt[s]://[user[:pass]@]host[:port]`` into its parts.

    Raises:
        ValueError: the scheme is not mqtt/mqtts or the host is missing.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"STADTPULS_MQTT_URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"STADTPULS_MQTT_URL has no host: {url!r}")
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
